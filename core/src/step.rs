//! Middlewares that need no `await`: a [`Step`] works on the request before the rest of the
//! chain and on the answer after it, and the chain runs it in a loop, without a future, a
//! box and a hand-over of its own (each of those costs every request several hundred
//! instructions per middleware; `bench/instructions` counts them).
//!
//! ```ignore
//! struct AddHeader;
//!
//! impl Step for AddHeader {
//!     fn before(&self, req: &mut Request) -> Result<Carry, Response> {
//!         req.headers_mut().insert("x-seen", HeaderValue::from_static("1"));
//!         Ok(Carry::default())
//!     }
//!     fn after(&self, _carry: Carry, response: &mut Response) {
//!         response.headers_mut().insert("x-served", HeaderValue::from_static("1"));
//!     }
//! }
//!
//! seam_core::step_middleware!(AddHeader);
//! ```

use std::any::Any;
use std::sync::Arc;

use http::HeaderValue;

use crate::handler::{Next, Request, Responding, Response};

/// What a [`Step`] hands from [`Step::before`] to [`Step::after`] of the same request. Each
/// slot is optional, so the usual cases (flags, one or two header values, a shared text)
/// need no allocation; anything else goes in `boxed`.
#[derive(Default)]
pub struct Carry {
    /// Flags, or a small number, as the step defines them (whether the request came over
    /// HTTPS, say).
    pub bits: u32,
    /// A header value (the request id to put on the answer, the origin to allow).
    pub value: Option<HeaderValue>,
    /// A second header value.
    pub second: Option<HeaderValue>,
    /// A shared text.
    pub text: Option<Arc<str>>,
    /// Anything else.
    pub boxed: Option<Box<dyn Any + Send>>,
}

/// A middleware's synchronous work, run by the chain without a future of its own (see the
/// module's documentation). A middleware offers it through
/// [`Middleware::as_step`](crate::Middleware::as_step).
pub trait Step: Send + Sync + 'static {
    /// Runs before the rest of the chain: changes `req` and returns what [`Step::after`]
    /// needs, or answers in place of the rest of the chain (then `after` does not run). (An
    /// early answer is rare and moved once, so it is not boxed.)
    #[allow(clippy::result_large_err)]
    fn before(&self, req: &mut Request) -> Result<Carry, Response>;

    /// Runs on the answer of the rest of the chain, with what `before` returned.
    fn after(&self, carry: Carry, response: &mut Response);
}

/// [`Middleware::handle`](crate::Middleware::handle) of a middleware that is a [`Step`]:
/// the same work as the chain's loop does, for a caller that runs it as a middleware.
pub fn handle<'f, S: Step>(step: &'f S, mut req: Request, next: Next) -> Responding<'f> {
    match step.before(&mut req) {
        Ok(carry) => next.run_then(req, move |mut response| {
            step.after(carry, &mut response);
            response
        }),
        Err(answer) => Box::pin(std::future::ready(answer)),
    }
}

/// Implements [`Middleware`](crate::Middleware) for a type that is a [`Step`]: `handle`
/// through [`handle`], and `as_step` offering it to the chain.
///
/// ```ignore
/// impl Step for AddHeader { /* before, after */ }
/// seam_core::step_middleware!(AddHeader);
/// ```
#[macro_export]
macro_rules! step_middleware {
    ($step:ty) => {
        #[$crate::async_trait]
        impl $crate::Middleware for $step {
            // `handle` by its desugared signature: see `seam_core::Responding`.
            fn handle<'s, 'f>(&'s self, req: $crate::Request, next: $crate::Next) -> $crate::Responding<'f>
            where
                's: 'f,
                Self: 'f,
            {
                $crate::step::handle(self, req, next)
            }

            fn as_step(&self) -> Option<&dyn $crate::Step> {
                Some(self)
            }
        }
    };
}
