//! The runtime of `MapSessionToHeaderMiddleware`.

use http::{HeaderName, HeaderValue};
use seam_core::extensions::{PerClient, Session};
use seam_core::interned::interned_name;
use seam_core::{Carry, Request, Response, Step};
use serde_json::Value;

/// Copies session values into request headers.
pub struct MapSessionToHeaderMiddleware {
    /// Header name (interned) → session key.
    headers: Vec<(HeaderName, String)>,
}

impl MapSessionToHeaderMiddleware {
    /// Header name → session key.
    pub fn new(headers: Vec<(HeaderName, String)>) -> Self {
        let headers = headers.iter().map(|(name, key)| (interned_name(name), key.clone())).collect();
        MapSessionToHeaderMiddleware { headers }
    }
}

/// Header names equal when `-` and `_` are taken as the same (names are lower-case already).
fn same_name(a: &str, b: &str) -> bool {
    a.len() == b.len()
        && a.bytes().zip(b.bytes()).all(|(x, y)| x == y || (x == b'_' || x == b'-') && (y == b'_' || y == b'-'))
}

/// The header value for a session value (`null`, or one that cannot be a header value: none).
fn as_header(value: &Value) -> Option<HeaderValue> {
    match value {
        Value::Null => None,
        Value::String(s) => HeaderValue::from_str(s).ok(),
        Value::Bool(_) | Value::Number(_) => HeaderValue::from_str(&value.to_string()).ok(),
        Value::Array(_) | Value::Object(_) => {
            serde_json::to_string(value).ok().and_then(|s| HeaderValue::from_str(&s).ok())
        }
    }
}

/// Mapping needs no `await`: a step of the chain (see `seam_core::step`).
impl Step for MapSessionToHeaderMiddleware {
    /// Strips the client's copies of the mapped headers and sets them from the session;
    /// bit 0 of the carry says whether any was set.
    fn before(&self, req: &mut Request) -> Result<Carry, Response> {
        // A client must never be able to set these headers itself, not even as `X_User_Id`,
        // which WSGI, CGI and Rack upstreams read as `X-User-Id`.
        let mine = &self.headers;
        let spoofed: Vec<HeaderName> = req
            .headers()
            .keys()
            .filter(|sent| mine.iter().any(|(name, _)| same_name(sent.as_str(), name.as_str())))
            .cloned()
            .collect();
        for name in spoofed {
            req.headers_mut().remove(name);
        }
        let mut mapped = false;
        if let Some(session) = req.extensions().get::<Session>().cloned() {
            for (name, key) in mine {
                if let Some(value) = session.with(key, |value| value.and_then(as_header)) {
                    req.headers_mut().insert(name.clone(), value);
                    mapped = true;
                }
            }
        }
        Ok(Carry { bits: u32::from(mapped), ..Carry::default() })
    }

    fn after(&self, carry: Carry, response: &mut Response) {
        if carry.bits & 1 != 0 && response.extensions().get::<PerClient>().is_none() {
            // Built from this client's session values: no shared cache may store it.
            response.extensions_mut().insert(PerClient);
        }
    }
}

seam_core::step_middleware!(MapSessionToHeaderMiddleware);
