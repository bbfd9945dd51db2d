//! The runtime of `HelmetMiddleware`.

use http::header::STRICT_TRANSPORT_SECURITY;
use http::{HeaderMap, HeaderName, HeaderValue};
use seam_core::extensions::RequestScheme;
use seam_core::{Middleware, Next, Request, Responding, async_trait};

pub(crate) struct HelmetMiddleware {
    /// Every header but HSTS, values checked at build (interned: setting them counts nothing).
    pub(crate) headers: Vec<(HeaderName, HeaderValue)>,
    /// `Strict-Transport-Security`, sent only over HTTPS.
    pub(crate) hsts: Option<HeaderValue>,
    pub(crate) override_upstream: bool,
}

impl HelmetMiddleware {
    /// Sets `name` unless the upstream did and `override` is off; one lookup either way.
    fn put(&self, headers: &mut HeaderMap, name: &HeaderName, value: &HeaderValue) {
        if self.override_upstream {
            headers.insert(name, value.clone());
        } else if let http::header::Entry::Vacant(slot) = headers.entry(name) {
            slot.insert(value.clone());
        }
    }
}

#[async_trait]
impl Middleware for HelmetMiddleware {
    // `handle` by its desugared signature: see `seam_core::Responding`.
    fn handle<'s, 'f>(&'s self, req: Request, next: Next) -> Responding<'f>
    where
        's: 'f,
        Self: 'f,
    {
        let https = req.extensions().get::<RequestScheme>().is_some_and(|s| s.0 == "https");
        next.run_then(req, move |mut response| {
            let headers = response.headers_mut();
            headers.reserve(self.headers.len() + 1);
            for (name, value) in &self.headers {
                self.put(headers, name, value);
            }
            if https && let Some(hsts) = &self.hsts {
                self.put(headers, &STRICT_TRANSPORT_SECURITY, hsts);
            }
            response
        })
    }
}
