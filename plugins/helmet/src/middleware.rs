//! The runtime of `HelmetMiddleware`.

use http::header::STRICT_TRANSPORT_SECURITY;
use http::{HeaderMap, HeaderName, HeaderValue};
use seam_core::extensions::Client;
use seam_core::{Carry, Request, Response, Step};

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

/// Helmet's work needs no `await`: a step of the chain (see `seam_core::step`).
impl Step for HelmetMiddleware {
    /// Notes whether the request came over HTTPS (bit 0), for HSTS.
    fn before(&self, req: &mut Request) -> Result<Carry, Response> {
        let https = req.extensions().get::<Client>().is_some_and(Client::https);
        Ok(Carry { bits: u32::from(https), ..Carry::default() })
    }

    fn after(&self, carry: Carry, response: &mut Response) {
        let headers = response.headers_mut();
        headers.reserve(self.headers.len() + 1);
        for (name, value) in &self.headers {
            self.put(headers, name, value);
        }
        if carry.bits & 1 != 0
            && let Some(hsts) = &self.hsts
        {
            self.put(headers, &STRICT_TRANSPORT_SECURITY, hsts);
        }
    }
}

seam_core::step_middleware!(HelmetMiddleware);
