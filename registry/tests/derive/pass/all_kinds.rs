use std::sync::Arc;

use schemars::JsonSchema;
use seam_registry::{
    Action, BuildAction, BuildContext, BuildError, BuildMiddleware, BuildStorage, Middleware, Next, Request, Response,
    Storage, async_trait,
};
use serde::Deserialize;

/// A storage that delegates to another.
#[derive(Deserialize, JsonSchema, seam_registry::Storage)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
#[seam(name = "plugins.demo.storages.AliasStorage")]
struct AliasStorageConfig {
    target: String,
}

#[async_trait]
impl BuildStorage for AliasStorageConfig {
    async fn build(&self, cx: &BuildContext<'_>) -> Result<Arc<dyn Storage>, BuildError> {
        cx.storage(&self.target).await
    }
}

/// Passes requests on.
#[derive(Deserialize, JsonSchema, seam_registry::Middleware)]
#[seam(name = "plugins.demo.middlewares.PassMiddleware", aliases = ["plugins.legacy.middlewares.Pass"])]
struct PassConfig {}

struct Pass;

#[async_trait]
impl Middleware for Pass {
    async fn handle(&self, req: Request, next: Next) -> Response {
        next.run(req).await
    }
}

#[async_trait]
impl BuildMiddleware for PassConfig {
    async fn build(&self, _cx: &BuildContext<'_>) -> Result<Arc<dyn Middleware>, BuildError> {
        Ok(Arc::new(Pass))
    }
}

/// Answers 204.
#[derive(Deserialize, JsonSchema, seam_registry::Action)]
#[seam(name = "plugins.demo.actions.NoContentAction")]
struct NoContentConfig {}

struct NoContent;

#[async_trait]
impl Action for NoContent {
    async fn handle(&self, _req: Request) -> Response {
        let mut res = Response::new(seam_registry::Body::empty());
        *res.status_mut() = http::StatusCode::NO_CONTENT;
        res
    }
}

#[async_trait]
impl BuildAction for NoContentConfig {
    async fn build(&self, _cx: &BuildContext<'_>) -> Result<Arc<dyn Action>, BuildError> {
        Ok(Arc::new(NoContent))
    }
}

fn main() {
    assert_eq!(AliasStorageConfig::COMPONENT_NAME, "plugins.demo.storages.AliasStorage");
    let reg = seam_registry::registration::find("plugins.legacy.middlewares.Pass").unwrap();
    assert_eq!(reg.name, "plugins.demo.middlewares.PassMiddleware");
    assert_eq!(reg.plugin, "demo");
    assert_eq!(reg.description, "Passes requests on.");
    assert_eq!(seam_registry::registration::all().len(), 3);
}
