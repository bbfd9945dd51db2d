//! The runtime of `CORSMiddleware`.

use std::borrow::Cow;

use http::header::{
    ACCESS_CONTROL_ALLOW_CREDENTIALS, ACCESS_CONTROL_ALLOW_HEADERS, ACCESS_CONTROL_ALLOW_METHODS,
    ACCESS_CONTROL_ALLOW_ORIGIN, ACCESS_CONTROL_EXPOSE_HEADERS, ACCESS_CONTROL_MAX_AGE, ACCESS_CONTROL_REQUEST_HEADERS,
    ACCESS_CONTROL_REQUEST_METHOD, ORIGIN, VARY,
};
use http::{HeaderMap, HeaderValue, Method, StatusCode};
use seam_core::{Body, Carry, Request, Response, Step};

use crate::origin::Subdomains;

/// Which origins may read answers.
pub(crate) enum Origins {
    /// `*`.
    All,
    /// Normalised origins, and subdomain patterns.
    Listed { exact: Vec<String>, subdomains: Vec<Subdomains> },
}

pub(crate) struct CorsMiddleware {
    pub(crate) origins: Origins,
    pub(crate) allow_methods: Option<HeaderValue>,
    pub(crate) allow_headers: Option<HeaderValue>,
    pub(crate) allow_credentials: bool,
    pub(crate) expose_headers: Option<HeaderValue>,
    pub(crate) max_age: Option<HeaderValue>,
}

/// Adds `name` to `Vary`, once.
fn vary(headers: &mut HeaderMap, name: &'static str) {
    let present = headers
        .get_all(VARY)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .any(|v| v.trim().eq_ignore_ascii_case(name) || v.trim() == "*");
    if !present {
        headers.append(VARY, HeaderValue::from_static(name));
    }
}

impl CorsMiddleware {
    /// The `Access-Control-Allow-Origin` for `origin` (as sent), if it is allowed.
    fn allowed(&self, raw: &HeaderValue, lower: &str) -> Option<HeaderValue> {
        match &self.origins {
            Origins::All => Some(HeaderValue::from_static("*")),
            Origins::Listed { exact, subdomains } => {
                (exact.iter().any(|o| o == lower) || subdomains.iter().any(|s| s.matches(lower))).then(|| raw.clone())
            }
        }
    }

    /// The headers of every CORS answer (Fiber's `setCORSHeaders` of v2.52).
    fn set_headers(&self, headers: &mut HeaderMap, allow_origin: Option<HeaderValue>, requested: Option<&HeaderValue>) {
        if let Some(origin) = allow_origin {
            headers.insert(ACCESS_CONTROL_ALLOW_ORIGIN, origin);
            if self.allow_credentials {
                headers.insert(ACCESS_CONTROL_ALLOW_CREDENTIALS, HeaderValue::from_static("true"));
            }
        }
        match (&self.allow_headers, requested) {
            (Some(allowed), _) => {
                headers.insert(ACCESS_CONTROL_ALLOW_HEADERS, allowed.clone());
            }
            (None, Some(requested)) => {
                headers.insert(ACCESS_CONTROL_ALLOW_HEADERS, requested.clone());
            }
            (None, None) => {}
        }
        if let Some(max_age) = &self.max_age {
            headers.insert(ACCESS_CONTROL_MAX_AGE, max_age.clone());
        }
        if let Some(expose) = &self.expose_headers {
            headers.insert(ACCESS_CONTROL_EXPOSE_HEADERS, expose.clone());
        }
    }
}

/// What `before` found, in [`Carry::bits`].
const NOT_CORS: u32 = 0;
/// An `OPTIONS` request with an `Origin` that is not a preflight.
const OPTIONS_NOT_PREFLIGHT: u32 = 1;
/// A CORS request: `value` holds the `Access-Control-Allow-Origin` to send (if allowed),
/// `second` the `Access-Control-Request-Headers` it sent.
const CORS_REQUEST: u32 = 2;

/// CORS needs no `await`: a step of the chain (see `seam_core::step`). A preflight is
/// answered in `before`; every other request gets its headers in `after`.
impl Step for CorsMiddleware {
    fn before(&self, req: &mut Request) -> Result<Carry, Response> {
        let Some(origin) = req.headers().get(ORIGIN).filter(|o| !o.is_empty()) else {
            return Ok(Carry { bits: NOT_CORS, ..Carry::default() });
        };
        let preflight = req.method() == Method::OPTIONS;
        if preflight && !req.headers().contains_key(ACCESS_CONTROL_REQUEST_METHOD) {
            return Ok(Carry { bits: OPTIONS_NOT_PREFLIGHT, ..Carry::default() });
        }
        // Listed origins are lowercase; most clients send them so, and then nothing is copied.
        let raw = match origin.to_str() {
            Ok(text) => Cow::Borrowed(text),
            Err(_) => String::from_utf8_lossy(origin.as_bytes()),
        };
        let lower = match raw.bytes().any(|b| b.is_ascii_uppercase()) {
            true => Cow::Owned(raw.to_ascii_lowercase()),
            false => raw,
        };
        let allow_origin = self.allowed(origin, &lower);
        let requested = req.headers().get(ACCESS_CONTROL_REQUEST_HEADERS).cloned();
        if !preflight {
            return Ok(Carry { bits: CORS_REQUEST, value: allow_origin, second: requested, ..Carry::default() });
        }
        // A preflight: answered here, the chain stops.
        let mut response = Response::new(Body::empty());
        *response.status_mut() = StatusCode::NO_CONTENT;
        let headers = response.headers_mut();
        vary(headers, "Access-Control-Request-Method");
        vary(headers, "Access-Control-Request-Headers");
        vary(headers, "Origin");
        self.set_headers(headers, allow_origin, requested.as_ref());
        if let Some(methods) = &self.allow_methods {
            headers.insert(ACCESS_CONTROL_ALLOW_METHODS, methods.clone());
        }
        Err(response)
    }

    fn after(&self, carry: Carry, response: &mut Response) {
        let headers = response.headers_mut();
        // The answer varies with `Origin` unless every origin gets the same one; an `OPTIONS`
        // that is not a preflight says so either way.
        if carry.bits == OPTIONS_NOT_PREFLIGHT || !matches!(self.origins, Origins::All) {
            vary(headers, "Origin");
        }
        if carry.bits == CORS_REQUEST {
            self.set_headers(headers, carry.value, carry.second.as_ref());
        }
    }
}

seam_core::step_middleware!(CorsMiddleware);
