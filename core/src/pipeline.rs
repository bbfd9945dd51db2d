//! A route's resolved chain, ready to serve requests.

use std::sync::Arc;

use crate::handler::{Action, Chain, Middleware, Next, Request, Response};
use crate::per_thread::PerThread;

/// The middlewares of one route (global, then service, then route) and its action.
#[derive(Clone)]
pub struct Pipeline {
    /// Each worker thread runs its own copy of the chain (the same components): a request
    /// counts references on that copy only.
    chain: Arc<PerThread<Arc<Chain>>>,
}

impl Pipeline {
    /// A pipeline running `middlewares` in order, then `action`.
    pub fn new(middlewares: Vec<Arc<dyn Middleware>>, action: Arc<dyn Action>) -> Self {
        let chain = Arc::new(Chain::new(middlewares, action));
        Pipeline { chain: Arc::new(PerThread::new(chain, |chain| Arc::new(Chain::clone(chain)))) }
    }

    /// Runs the request through the whole chain. (Not an `async fn`: the chain's own future
    /// is returned as it is, without a layer that would carry a second copy of the request.)
    pub fn run(&self, req: Request) -> impl Future<Output = Response> + Send + 'static {
        Next::start(self.chain.get().clone()).run(req)
    }
}
