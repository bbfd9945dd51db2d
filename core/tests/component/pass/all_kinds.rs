use std::sync::Arc;

use seam_core::{
    Action, BuildContext, BuildError, Component, Middleware, Next, Request, Response,
    Storage, async_trait,
};

/// A storage that delegates to another.
#[seam_core::component(name = "plugins.demo.storages.AliasStorage")]
struct AliasStorageConfig {
    target: String,
}

#[async_trait]
impl Component for AliasStorageConfig {
    type Output = dyn Storage;

    async fn build(&self, cx: &BuildContext<'_>) -> Result<Arc<dyn Storage>, BuildError> {
        cx.storage(&self.target).await
    }
}

/// Passes requests on.
#[seam_core::component(name = "plugins.demo.middlewares.PassMiddleware", aliases = ["plugins.legacy.middlewares.Pass"])]
struct PassConfig {}

struct Pass;

#[async_trait]
impl Middleware for Pass {
    async fn handle(&self, req: Request, next: Next) -> Response {
        next.run(req).await
    }
}

#[async_trait]
impl Component for PassConfig {
    type Output = dyn Middleware;

    async fn build(&self, _cx: &BuildContext<'_>) -> Result<Arc<dyn Middleware>, BuildError> {
        Ok(Arc::new(Pass))
    }
}

/// Answers 204.
#[seam_core::component(name = "plugins.demo.actions.NoContentAction")]
struct NoContentConfig {}

struct NoContent;

#[async_trait]
impl Action for NoContent {
    async fn handle(&self, _req: Request) -> Response {
        let mut res = Response::new(seam_core::Body::empty());
        *res.status_mut() = http::StatusCode::NO_CONTENT;
        res
    }
}

#[async_trait]
impl Component for NoContentConfig {
    type Output = dyn Action;

    async fn build(&self, _cx: &BuildContext<'_>) -> Result<Arc<dyn Action>, BuildError> {
        Ok(Arc::new(NoContent))
    }
}

fn main() {
    assert_eq!(AliasStorageConfig::COMPONENT_NAME, "plugins.demo.storages.AliasStorage");
    let reg = seam_core::registration::find("plugins.legacy.middlewares.Pass").unwrap();
    assert_eq!(reg.name, "plugins.demo.middlewares.PassMiddleware");
    assert_eq!(reg.plugin, "demo");
    assert_eq!(reg.description, "Passes requests on.");
    assert_eq!(seam_core::registration::all().len(), 3);
}
