//! A route's resolved chain, ready to serve requests.

use std::sync::Arc;

use crate::handler::{Action, Middleware, Next, Request, Response};

/// The middlewares of one route (global, then service, then route) and its action.
#[derive(Clone)]
pub struct Pipeline {
    middlewares: Arc<[Arc<dyn Middleware>]>,
    action: Arc<dyn Action>,
}

impl Pipeline {
    /// A pipeline running `middlewares` in order, then `action`.
    pub fn new(middlewares: Vec<Arc<dyn Middleware>>, action: Arc<dyn Action>) -> Self {
        Pipeline { middlewares: middlewares.into(), action }
    }

    /// Runs the request through the whole chain.
    pub async fn run(&self, req: Request) -> Response {
        Next::new(self.middlewares.clone(), self.action.clone()).run(req).await
    }
}
