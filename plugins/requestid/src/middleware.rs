//! The runtime of `RequestIdMiddleware`.

use std::sync::Arc;

use http::{HeaderName, HeaderValue};
use seam_core::extensions::{Locals, RequestId};
use seam_core::per_thread::PerThread;
use seam_core::{Carry, Request, Response, Step};

/// Longest client-supplied id kept.
const MAX_LEN: usize = 128;

pub(crate) struct RequestIdMiddleware {
    /// The header's name and the `contextKey`, a copy per worker thread.
    pub(crate) names: PerThread<(HeaderName, Arc<str>)>,
}

/// A client-supplied id worth keeping: short, and nothing that could break a log line or a
/// header (no spaces, quotes, control characters).
pub fn is_sane(id: &[u8]) -> bool {
    !id.is_empty()
        && id.len() <= MAX_LEN
        && id.iter().all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.' | b':' | b'+' | b'/' | b'='))
}

/// The request id needs no `await`: a step of the chain (see `seam_core::step`).
impl Step for RequestIdMiddleware {
    /// Sets the id on the request; carries its header value and its text to the answer.
    fn before(&self, req: &mut Request) -> Result<Carry, Response> {
        let (header, context_key) = self.names.get();
        let supplied = req.headers().get(header).filter(|v| is_sane(v.as_bytes())).cloned();
        let value = supplied.unwrap_or_else(|| {
            // A thread-local generator (uuid's `fast-rng`): no system call per request.
            let mut buffer = uuid::Uuid::encode_buffer();
            let id = uuid::Uuid::new_v4().hyphenated().encode_lower(&mut buffer);
            HeaderValue::from_str(id).expect("a UUID is a valid header value")
        });
        // `is_sane` admits only visible ASCII, so the value is text.
        let id: Arc<str> = value.to_str().unwrap_or_default().into();
        req.headers_mut().insert(header.clone(), value.clone());
        req.extensions_mut().insert(RequestId(id.clone()));
        Locals::set(req.extensions_mut(), context_key.clone(), id.clone());
        Ok(Carry { value: Some(value), text: Some(id), ..Carry::default() })
    }

    fn after(&self, carry: Carry, response: &mut Response) {
        let (header, _) = self.names.get();
        if let Some(value) = carry.value {
            response.headers_mut().insert(header.clone(), value);
        }
        if let Some(id) = carry.text {
            response.extensions_mut().insert(RequestId(id));
        }
    }
}

seam_core::step_middleware!(RequestIdMiddleware);
