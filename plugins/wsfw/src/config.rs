use std::sync::Arc;
use std::time::Duration;

use seam_core::{Action, BuildContext, BuildError, Component, GoDuration, PathStep, Problem, Problems, async_trait};

use crate::action::WebSocketAction;

/// Forwards WebSocket connections to `upstreamEndpoint` (`ws://` or `wss://`), frame by frame: text and binary messages, pings and pongs, and close codes pass both ways.
///
/// The upstream is dialled before the client is answered, so an unreachable upstream is a
/// 502, not a broken connection. The gateway pings the client every `pingInterval` and
/// closes a client that does not answer within `pongTimeout`; a connection with no message
/// either way for `maxInactivity` is closed, and so is one whose client or upstream stops
/// reading: a write that waits longer than `writeTimeout`. The route's `*` remainder and `:params` fill the
/// endpoint's path as with HttpAction; the query is kept.
#[seam_core::component(name = "plugins.wsfw.actions.WebSocketAction")]
#[derive(Clone, Debug)]
#[serde(default)]
pub struct WebSocketActionConfig {
    /// The upstream WebSocket URL, `ws://host[:port]/path` or `wss://...`. Credentials in it (`user:pass@`) are not sent, as Seam's dialer refuses them.
    pub upstream_endpoint: String,
    /// How often the client is pinged (Seam spells it `pongInterval`; both are read).
    #[serde(alias = "pongInterval")]
    pub ping_interval: GoDuration,
    /// How long the client has to answer a ping before it is taken as gone.
    pub pong_timeout: GoDuration,
    /// A connection with no message in either direction for this long is closed; `0s`: never.
    pub max_inactivity: GoDuration,
    /// Longest time the upstream's handshake may take; `0s`: 45s.
    pub handshake_timeout: GoDuration,
    /// Longest one write to the client or the upstream may wait for it to take the bytes (the messages passed on at once, or a ping). A side that stops reading is then taken as gone: the connection is closed and the other side told (1001, "the client stopped reading"). Raise it for very large messages to slow clients.
    pub write_timeout: GoDuration,
    /// Subprotocols the gateway accepts from the client and offers the upstream; the upstream's choice is answered.
    pub subprotocols: Vec<String>,
    /// Origins allowed to connect (`*`: any); others get 403.
    pub origins: Vec<String>,
    /// Read buffer of each connection, in bytes.
    pub read_buffer_size: usize,
    /// Write buffer of each connection, in bytes.
    pub write_buffer_size: usize,
    /// Negotiate permessage-deflate (RFC 7692) with clients that offer it, without context takeover, as Seam does: messages to and from the client travel compressed; the upstream side stays uncompressed. `maxMessageSize` bounds each message after inflation.
    pub enable_compression: bool,
    /// Largest message accepted from either side, in bytes; a larger one closes the connection (1009).
    pub max_message_size: usize,
}

impl Default for WebSocketActionConfig {
    fn default() -> Self {
        WebSocketActionConfig {
            upstream_endpoint: String::new(),
            ping_interval: GoDuration::from_secs(15),
            pong_timeout: GoDuration::from_secs(1),
            max_inactivity: GoDuration::from_secs(30),
            handshake_timeout: GoDuration::default(),
            write_timeout: GoDuration::from_secs(30),
            subprotocols: Vec::new(),
            origins: vec!["*".into()],
            read_buffer_size: 1024,
            write_buffer_size: 1024,
            enable_compression: false,
            max_message_size: 16 * 1024 * 1024,
        }
    }
}

#[async_trait]
impl Component for WebSocketActionConfig {
    type Output = dyn Action;

    async fn build(&self, _cx: &BuildContext<'_>) -> Result<Arc<dyn Action>, BuildError> {
        let mut problems = Problems::new();
        let endpoint = parse_endpoint(&self.upstream_endpoint);
        if let Err(message) = &endpoint {
            problems.push(Problem::field("upstreamEndpoint", message.clone()).about_url(&self.upstream_endpoint));
        }
        problems.ensure(!self.ping_interval.get().is_zero(), || {
            Problem::field("pingInterval", "pingInterval must be more than 0")
        });
        problems.ensure(!self.pong_timeout.get().is_zero(), || {
            Problem::field("pongTimeout", "pongTimeout must be more than 0")
        });
        problems.ensure(!self.write_timeout.get().is_zero(), || {
            Problem::field("writeTimeout", "writeTimeout must be more than 0")
        });
        problems.ensure(self.max_message_size >= 1024, || {
            Problem::field("maxMessageSize", "maxMessageSize must be at least 1024 bytes")
        });
        for (i, origin) in self.origins.iter().enumerate() {
            problems.ensure(origin == "*" || origin.contains("://"), || {
                Problem::at(
                    vec![PathStep::Key("origins".into()), PathStep::Index(i)],
                    format!("`{origin}` is not `*` or an origin like `https://app.example.com`"),
                )
            });
        }
        problems.into_result()?;
        let _ = rustls::crypto::ring::default_provider().install_default();
        let handshake = match self.handshake_timeout.get() {
            d if d.is_zero() => Duration::from_secs(45),
            d => d,
        };
        let mut ws = tokio_tungstenite::tungstenite::protocol::WebSocketConfig::default();
        ws.read_buffer_size = self.read_buffer_size.max(1024);
        ws.write_buffer_size = self.write_buffer_size;
        ws.max_write_buffer_size = self.max_message_size.saturating_mul(2).max(ws.write_buffer_size + 1);
        ws.max_message_size = Some(self.max_message_size);
        ws.max_frame_size = Some(self.max_message_size);
        Ok(Arc::new(WebSocketAction {
            endpoint: endpoint.expect("checked above"),
            origins: if self.origins.iter().any(|o| o == "*") {
                None
            } else {
                Some(self.origins.iter().map(|o| o.trim_end_matches('/').to_ascii_lowercase()).collect())
            },
            subprotocols: self.subprotocols.clone(),
            handshake,
            timers: crate::pump::Timers {
                ping_interval: self.ping_interval.get(),
                pong_timeout: self.pong_timeout.get(),
                max_inactivity: (!self.max_inactivity.get().is_zero()).then(|| self.max_inactivity.get()),
                write_timeout: self.write_timeout.get(),
            },
            ws,
            deflate: self.enable_compression.then(|| {
                crate::deflate::options(
                    self.max_message_size,
                    self.read_buffer_size.max(1024),
                    self.write_buffer_size.max(1024),
                )
            }),
        }))
    }
}

/// The `upstreamEndpoint` as dialled: `ws://` or `wss://` with a host. Credentials in the URL
/// (`ws://user:pass@svc`) are not sent — Seam's dialer refuses them, and tungstenite would
/// drop them from `Host` anyway — so they are removed here, where no log line, error or
/// trace can show them afterwards.
fn parse_endpoint(text: &str) -> Result<http::Uri, String> {
    let shown = seam_core::secret::mask_written_url(text);
    let not_a_url = || format!("`{shown}` is not a ws:// or wss:// URL");
    let uri = text.parse::<http::Uri>().map_err(|_| not_a_url())?;
    if !matches!(uri.scheme_str(), Some("ws" | "wss")) || uri.host().is_none_or(str::is_empty) {
        return Err(not_a_url());
    }
    let mut parts = uri.into_parts();
    parts.authority = parts
        .authority
        .as_ref()
        .map(|a| seam_core::secret::authority_without_credentials(a).ok_or_else(not_a_url))
        .transpose()?;
    http::Uri::from_parts(parts).map_err(|_| not_a_url())
}

#[cfg(test)]
mod tests {
    use super::parse_endpoint;

    #[test]
    fn credentials_in_the_endpoint_are_dropped_and_never_shown() {
        let uri = parse_endpoint("ws://user:s3cret@svc:9000/chat?room=1").unwrap();
        assert_eq!(uri.to_string(), "ws://svc:9000/chat?room=1");
        let uri = parse_endpoint("wss://svc/chat").unwrap();
        assert_eq!(uri.to_string(), "wss://svc/chat");
        for bad in ["http://user:s3cret@svc:9000", "ws://user:s3cret@", "user:s3cret@svc", "ws://user:s3cret@svc:1:2/x"]
        {
            let message = parse_endpoint(bad).unwrap_err();
            assert!(!message.contains("s3cret"), "{bad}: {message}");
            assert!(message.contains("not a ws:// or wss:// URL"), "{bad}: {message}");
        }
    }
}
