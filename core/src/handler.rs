//! The request-handling traits: [`Middleware`], [`Action`] and the [`Next`] that links them.

use std::sync::Arc;

use async_trait::async_trait;

use crate::body::Body;
use crate::step::{Carry, Step};

/// A request as middlewares and actions see it.
pub type Request = http::Request<Body>;
/// A response as middlewares and actions produce it.
pub type Response = http::Response<Body>;

/// The boxed future [`Middleware::handle`] and [`Action::handle`] return (what
/// `#[async_trait]` makes of an `async fn handle`). A hot middleware may implement the method
/// by its desugared signature and build this future from [`Next::run_then`]: an `async fn`
/// keeps each argument twice (the request included) for the whole request.
pub type Responding<'a> = std::pin::Pin<Box<dyn Future<Output = Response> + Send + 'a>>;

/// Runs around a request: it may answer early, change the request, call the rest of the
/// chain through [`Next::run`], and change the response on its way back.
///
/// ```ignore
/// #[async_trait]
/// impl Middleware for AddHeader {
///     async fn handle(&self, mut req: Request, next: Next) -> Response {
///         req.headers_mut().insert("x-seen", "1".parse().unwrap());
///         next.run(req).await
///     }
/// }
/// ```
#[async_trait]
pub trait Middleware: Send + Sync + 'static {
    /// Handles one request; `next` runs the middlewares after this one, then the action.
    async fn handle(&self, req: Request, next: Next) -> Response;

    /// The middleware as a [`Step`], when its work needs no `await`: the chain then runs
    /// [`Step::before`] and [`Step::after`] in its own loop instead of calling
    /// [`Middleware::handle`] (which such a middleware implements with
    /// [`crate::step::handle`]). The default: not a step.
    fn as_step(&self) -> Option<&dyn Step> {
        None
    }

    /// Called once when the gateway stops (or the graph holding it is replaced): flush what
    /// is buffered (telemetry, logs). Bounded by the caller; the default does nothing.
    async fn close(&self) {}
}

/// Answers a request at the end of a route's chain.
#[async_trait]
pub trait Action: Send + Sync + 'static {
    /// Produces the response to `req`.
    async fn handle(&self, req: Request) -> Response;

    /// Called once when the gateway stops (or the graph holding it is replaced); the default
    /// does nothing.
    async fn close(&self) {}
}

/// The middlewares of a chain, in order, and its action.
#[derive(Clone)]
pub(crate) struct Chain {
    middlewares: Box<[Arc<dyn Middleware>]>,
    action: Arc<dyn Action>,
}

impl Chain {
    /// `middlewares` in order, then `action`.
    pub(crate) fn new(middlewares: Vec<Arc<dyn Middleware>>, action: Arc<dyn Action>) -> Self {
        Chain { middlewares: middlewares.into(), action }
    }
}

/// The rest of a chain: the middlewares after the current one, then the action.
#[derive(Clone)]
pub struct Next {
    chain: Arc<Chain>,
    position: usize,
}

impl Next {
    /// The whole of `chain` (a route's chain is run through [`crate::pipeline::Pipeline`]).
    pub(crate) fn start(chain: Arc<Chain>) -> Self {
        Next { chain, position: 0 }
    }

    /// Runs the rest of the chain on `req`, then `after` on its answer, without an `async`
    /// block: for a middleware that changes the request before and the response after.
    pub fn run_then<'a>(self, req: Request, after: impl FnOnce(Response) -> Response + Send + 'a) -> Responding<'a> {
        Box::pin(futures_util::FutureExt::map(self.run(req), after))
    }

    /// Runs the rest of the chain on `req`. Middlewares that are [`Step`]s run in a loop
    /// here, their `after`s in reverse order on the answer; the first one that is not (or
    /// the action) is called and awaited. (Not an `async fn`: one keeps its arguments twice,
    /// and this future is in every request.)
    #[allow(clippy::manual_async_fn)]
    pub fn run(self, mut req: Request) -> impl Future<Output = Response> + Send + 'static {
        async move {
            // The chain's one reference count is taken, not the middleware's: `Pipeline` hands
            // each worker thread a chain of its own, so nothing here is shared between workers.
            let chain = self.chain;
            let mut position = self.position;
            // Each step that ran, with what its `before` carried for its `after`.
            let mut carried: smallvec::SmallVec<[(&dyn Step, Carry); 4]> = smallvec::SmallVec::new();
            let mut response = loop {
                match chain.middlewares.get(position) {
                    Some(middleware) => match middleware.as_step() {
                        Some(step) => match step.before(&mut req) {
                            Ok(carry) => {
                                carried.push((step, carry));
                                position += 1;
                            }
                            Err(answer) => break answer,
                        },
                        None => {
                            let next = Next { chain: chain.clone(), position: position + 1 };
                            break middleware.handle(req, next).await;
                        }
                    },
                    None if req.extensions().get::<crate::extensions::PreflightOnly>().is_some() => {
                        break json_error(http::StatusCode::METHOD_NOT_ALLOWED, "the route does not serve OPTIONS");
                    }
                    None => break chain.action.handle(req).await,
                }
            };
            for (step, carry) in carried.into_iter().rev() {
                step.after(carry, &mut response);
            }
            response
        }
    }
}

/// A JSON response `{"error": <reason phrase>, "detail": <detail>}` with `status`: the one
/// shape every component answers errors in.
pub fn json_error(status: http::StatusCode, detail: &str) -> Response {
    json_response(
        status,
        &serde_json::json!({ "error": status.canonical_reason().unwrap_or("error"), "detail": detail }),
    )
}

/// A response with `value` as its JSON body.
pub fn json_response(status: http::StatusCode, value: &serde_json::Value) -> Response {
    let mut response = Response::new(Body::from(value.to_string()));
    *response.status_mut() = status;
    response.headers_mut().insert(http::header::CONTENT_TYPE, http::HeaderValue::from_static("application/json"));
    response
}

/// Milliseconds since the Unix epoch (0 if the clock is before it).
pub fn unix_ms() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX))
        .unwrap_or(0)
}
