//! The runtime of `WebSocketAction`: the handshake on both sides, then the pump.

use std::time::Duration;

use http::header::{
    CONNECTION, ORIGIN, SEC_WEBSOCKET_ACCEPT, SEC_WEBSOCKET_KEY, SEC_WEBSOCKET_PROTOCOL, SEC_WEBSOCKET_VERSION, UPGRADE,
};
use http::{HeaderValue, StatusCode};
use hyper_util::rt::TokioIo;
use seam_core::extensions::PathParams;
use seam_core::{Action, Body, Request, Response, async_trait, json_error};
use tokio_tungstenite::WebSocketStream;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;
use tokio_tungstenite::tungstenite::handshake::derive_accept_key;
use tokio_tungstenite::tungstenite::protocol::{Role, WebSocketConfig};

use crate::check::{is_websocket_upgrade, upgrade_required};
use crate::deflate::Deflating;
use crate::pump::{Timers, pump};

pub(crate) struct WebSocketAction {
    pub(crate) endpoint: http::Uri,
    /// Allowed origins, lower case; `None`: any.
    pub(crate) origins: Option<Vec<String>>,
    pub(crate) subprotocols: Vec<String>,
    pub(crate) handshake: Duration,
    pub(crate) timers: Timers,
    pub(crate) ws: WebSocketConfig,
    /// With `enableCompression`: the compressing client side's options.
    pub(crate) deflate: Option<yawc::Options>,
}

impl WebSocketAction {
    /// The upstream URL for a request: the endpoint's path with `:params` filled and the
    /// route's `*` remainder appended, and the request's query.
    fn target(&self, req: &Request) -> String {
        let params = req.extensions().get::<PathParams>();
        let mut path = String::new();
        for segment in self.endpoint.path().trim_end_matches('/').split('/').skip(1) {
            path.push('/');
            match segment.strip_prefix(':').and_then(|name| params.and_then(|p| p.get(name))) {
                Some(value) => path.push_str(value),
                None => path.push_str(segment),
            }
        }
        if let Some(rest) =
            params.and_then(PathParams::wildcard).map(|r| r.trim_start_matches('/')).filter(|r| !r.is_empty())
        {
            path.push('/');
            path.push_str(rest);
        }
        if path.is_empty() {
            path.push('/');
        }
        let scheme = self.endpoint.scheme_str().unwrap_or("ws");
        let authority = self.endpoint.authority().map_or("", |a| a.as_str());
        match req.uri().query() {
            Some(query) => format!("{scheme}://{authority}{path}?{query}"),
            None => format!("{scheme}://{authority}{path}"),
        }
    }

    /// The client's subprotocols this gateway accepts, in the client's order.
    fn offered(&self, req: &Request) -> Vec<String> {
        req.headers()
            .get_all(SEC_WEBSOCKET_PROTOCOL)
            .iter()
            .filter_map(|v| v.to_str().ok())
            .flat_map(|v| v.split(','))
            .map(|p| p.trim().to_owned())
            .filter(|p| self.subprotocols.iter().any(|s| s == p))
            .collect()
    }
}

#[async_trait]
impl Action for WebSocketAction {
    async fn handle(&self, mut req: Request) -> Response {
        let version_13 = req.headers().get(SEC_WEBSOCKET_VERSION).is_some_and(|v| v == "13");
        let key = req.headers().get(SEC_WEBSOCKET_KEY).cloned();
        let (true, true, Some(key)) = (is_websocket_upgrade(req.headers()), version_13, key) else {
            let mut refused = upgrade_required();
            refused.headers_mut().insert(SEC_WEBSOCKET_VERSION, HeaderValue::from_static("13"));
            return refused;
        };
        if let Some(allowed) = &self.origins {
            let origin = req.headers().get(ORIGIN).and_then(|o| o.to_str().ok()).map(str::to_ascii_lowercase);
            if !origin.is_some_and(|o| allowed.contains(&o)) {
                return json_error(StatusCode::FORBIDDEN, "this origin may not open a WebSocket here");
            }
        }
        if req.extensions().get::<hyper::upgrade::OnUpgrade>().is_none() {
            return upgrade_required();
        }
        // The upstream first: an upstream that cannot be reached is an HTTP error, not a
        // connection that opens and dies.
        let target = self.target(&req);
        let offered = self.offered(&req);
        let mut upstream_request = match target.as_str().into_client_request() {
            Ok(request) => request,
            Err(e) => return json_error(StatusCode::BAD_GATEWAY, &format!("bad upstream URL: {e}")),
        };
        if !offered.is_empty()
            && let Ok(value) = HeaderValue::from_str(&offered.join(", "))
        {
            upstream_request.headers_mut().insert(SEC_WEBSOCKET_PROTOCOL, value);
        }
        let dialled = tokio::time::timeout(
            self.handshake,
            tokio_tungstenite::connect_async_with_config(upstream_request, Some(self.ws), false),
        )
        .await;
        let (upstream, upstream_response) = match dialled {
            Ok(Ok(pair)) => pair,
            Ok(Err(e)) => {
                tracing::warn!(upstream = %target, "WebSocket upstream refused: {e}");
                return json_error(StatusCode::BAD_GATEWAY, "the WebSocket upstream could not be reached");
            }
            Err(_) => {
                return json_error(
                    StatusCode::GATEWAY_TIMEOUT,
                    "the WebSocket upstream did not complete its handshake in time",
                );
            }
        };
        let chosen = upstream_response.headers().get(SEC_WEBSOCKET_PROTOCOL).cloned();
        let (timers, ws) = (self.timers, self.ws);
        let lifecycle = req.extensions().get::<seam_core::extensions::Lifecycle>().cloned();
        let hold = lifecycle.as_ref().map(seam_core::extensions::Lifecycle::hold);
        if let Some(deflate) = &self.deflate {
            // yawc answers the handshake: it agrees on permessage-deflate when the client
            // offers it, and takes the connection over once the 101 is sent.
            let (handshake, upgrading) = match yawc::WebSocket::upgrade_with_options(&mut req, deflate.clone()) {
                Ok(pair) => pair,
                Err(e) => {
                    tracing::debug!("WebSocket handshake refused: {e}");
                    return upgrade_required();
                }
            };
            let (parts, _) = handshake.into_parts();
            let mut response = Response::from_parts(parts, Body::empty());
            if let Some(chosen) = chosen {
                response.headers_mut().insert(SEC_WEBSOCKET_PROTOCOL, chosen);
            }
            tokio::spawn(async move {
                let _hold = hold;
                match upgrading.await {
                    Ok(client) => pump(Deflating(client), upstream, timers, lifecycle).await,
                    Err(e) => tracing::debug!("WebSocket client upgrade failed: {e}"),
                }
            });
            return response;
        }
        let Some(on_upgrade) = req.extensions_mut().remove::<hyper::upgrade::OnUpgrade>() else {
            return upgrade_required();
        };
        let mut response = Response::new(Body::empty());
        *response.status_mut() = StatusCode::SWITCHING_PROTOCOLS;
        let headers = response.headers_mut();
        headers.insert(UPGRADE, HeaderValue::from_static("websocket"));
        headers.insert(CONNECTION, HeaderValue::from_static("Upgrade"));
        if let Ok(accept) = HeaderValue::from_str(&derive_accept_key(key.as_bytes())) {
            headers.insert(SEC_WEBSOCKET_ACCEPT, accept);
        }
        if let Some(chosen) = chosen {
            headers.insert(SEC_WEBSOCKET_PROTOCOL, chosen);
        }
        tokio::spawn(async move {
            let _hold = hold;
            match on_upgrade.await {
                Ok(upgraded) => {
                    let client = WebSocketStream::from_raw_socket(TokioIo::new(upgraded), Role::Server, Some(ws)).await;
                    pump(client, upstream, timers, lifecycle).await;
                }
                Err(e) => tracing::debug!("WebSocket client upgrade failed: {e}"),
            }
        });
        response
    }
}
