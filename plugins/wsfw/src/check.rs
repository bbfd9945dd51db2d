//! `CheckWebSocketUpgradeMiddleware`: only WebSocket handshakes pass.

use std::sync::Arc;

use http::StatusCode;
use http::header::{CONNECTION, UPGRADE};
use seam_core::{BuildContext, BuildError, Component, Middleware, Next, Request, Response, async_trait, json_error};

/// Lets only WebSocket handshakes through (`Connection: upgrade` and `Upgrade: websocket`); anything else gets 426 Upgrade Required.
#[seam_core::component(name = "plugins.wsfw.middlewares.CheckWebSocketUpgradeMiddleware")]
#[derive(Clone, Debug, Default)]
pub struct CheckWebSocketUpgradeMiddlewareConfig {}

/// Whether `headers` ask for a WebSocket upgrade (token matches, any case).
pub fn is_websocket_upgrade(headers: &http::HeaderMap) -> bool {
    let has = |name: http::header::HeaderName, token: &str| {
        headers
            .get_all(name)
            .iter()
            .filter_map(|v| v.to_str().ok())
            .flat_map(|v| v.split(','))
            .any(|t| t.trim().eq_ignore_ascii_case(token))
    };
    has(CONNECTION, "upgrade") && has(UPGRADE, "websocket")
}

/// The 426 answer.
pub fn upgrade_required() -> Response {
    let mut response = json_error(StatusCode::UPGRADE_REQUIRED, "this route serves WebSocket connections only");
    response.headers_mut().insert(UPGRADE, http::HeaderValue::from_static("websocket"));
    response.headers_mut().insert(CONNECTION, http::HeaderValue::from_static("Upgrade"));
    response
}

struct CheckWebSocketUpgrade;

#[async_trait]
impl Middleware for CheckWebSocketUpgrade {
    async fn handle(&self, req: Request, next: Next) -> Response {
        if is_websocket_upgrade(req.headers()) { next.run(req).await } else { upgrade_required() }
    }
}

#[async_trait]
impl Component for CheckWebSocketUpgradeMiddlewareConfig {
    type Output = dyn Middleware;

    async fn build(&self, _cx: &BuildContext<'_>) -> Result<Arc<dyn Middleware>, BuildError> {
        Ok(Arc::new(CheckWebSocketUpgrade))
    }
}
