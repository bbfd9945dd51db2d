use schemars::JsonSchema;
use serde::Deserialize;

#[derive(Deserialize, JsonSchema, seam_registry::Middleware)]
#[seam(name = "plugins.demo.storages.NotAMiddleware")]
struct WrongConfig {}

#[derive(Deserialize, JsonSchema, seam_registry::Action)]
#[seam(name = "plugins.demo.actions.Fine", aliases = ["plugins.demo.middlewares.Wrong"])]
struct WrongAliasConfig {}

fn main() {}
