use std::sync::Arc;

use seam_core::{BuildContext, BuildError, Component, Middleware, async_trait};

/// Named a storage, but builds a middleware.
#[seam_core::component(name = "plugins.demo.storages.NotAMiddleware")]
struct WrongConfig {}

#[async_trait]
impl Component for WrongConfig {
    type Output = dyn Middleware;

    async fn build(&self, _cx: &BuildContext<'_>) -> Result<Arc<dyn Middleware>, BuildError> {
        unimplemented!()
    }
}

/// An alias of another kind than the name.
#[seam_core::component(name = "plugins.demo.actions.Fine", aliases = ["plugins.demo.middlewares.Wrong"])]
struct WrongAliasConfig {}

/// Only a storage can be the default storage.
#[seam_core::component(name = "plugins.demo.actions.Default", default_storage)]
struct DefaultActionConfig {}

fn main() {}
