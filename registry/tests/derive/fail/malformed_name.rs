use schemars::JsonSchema;
use serde::Deserialize;

#[derive(Deserialize, JsonSchema, seam_registry::Storage)]
#[seam(name = "plugins.demo.Forgotten")]
struct ShortConfig {}

#[derive(Deserialize, JsonSchema, seam_registry::Storage)]
#[seam(name = "extensions.demo.storages.Thing")]
struct PrefixConfig {}

#[derive(Deserialize, JsonSchema, seam_registry::Storage)]
#[seam(name = "plugins.Demo.storages.Thing")]
struct PluginCaseConfig {}

#[derive(Deserialize, JsonSchema, seam_registry::Storage)]
#[seam(name = "plugins.demo.storages.thing")]
struct TypeCaseConfig {}

#[derive(Deserialize, JsonSchema, seam_registry::Storage)]
#[seam(name = "plugins.demo.caches.Thing")]
struct KindConfig {}

fn main() {}
