use std::sync::Arc;

use http::HeaderName;
use seam_core::interned::interned_name;
use seam_core::per_thread::PerThread;
use seam_core::{BuildContext, BuildError, Component, Middleware, Problem, async_trait};

use crate::middleware::RequestIdMiddleware;

/// Gives every request an id: the client's own `X-Request-ID` when it is a sane token (1 to 128 characters of letters, digits and `-_.:+/=`), else a new random UUID v4.
///
/// The id is sent to the upstream in the same header (replacing whatever the client sent),
/// set on the response, kept in the request's locals under `contextKey`, and written on the
/// access log line (`request_id`).
#[seam_core::component(name = "plugins.requestid.middlewares.RequestIdMiddleware")]
#[derive(Clone, Debug)]
#[serde(default)]
pub struct RequestIdMiddlewareConfig {
    /// The header the id is read from and written to.
    #[schemars(extend("x-seam-request-header" = "name"))]
    pub header_name: String,
    /// The name the id is kept under in the request's locals (a logger reads it as `${locals:requestId}`).
    pub context_key: String,
}

impl Default for RequestIdMiddlewareConfig {
    fn default() -> Self {
        RequestIdMiddlewareConfig { header_name: "X-Request-ID".into(), context_key: "requestId".into() }
    }
}

#[async_trait]
impl Component for RequestIdMiddlewareConfig {
    type Output = dyn Middleware;

    async fn build(&self, _cx: &BuildContext<'_>) -> Result<Arc<dyn Middleware>, BuildError> {
        let header = HeaderName::from_bytes(self.header_name.as_bytes())
            .map_err(|_| Problem::field("headerName", format!("`{}` is not a valid header name", self.header_name)))?;
        if self.context_key.is_empty() {
            return Err(Problem::field("contextKey", "contextKey must not be empty").into());
        }
        let names = (header, Arc::<str>::from(self.context_key.as_str()));
        let names = PerThread::new(names, |(header, key)| (interned_name(header), Arc::from(&**key)));
        Ok(Arc::new(RequestIdMiddleware { names }))
    }
}
