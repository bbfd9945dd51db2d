#[seam_core::component(name = "plugins.demo.Forgotten")]
struct ShortConfig {}

#[seam_core::component(name = "extensions.demo.storages.Thing")]
struct PrefixConfig {}

#[seam_core::component(name = "plugins.Demo.storages.Thing")]
struct PluginCaseConfig {}

#[seam_core::component(name = "plugins.demo.storages.thing")]
struct TypeCaseConfig {}

#[seam_core::component(name = "plugins.demo.caches.Thing")]
struct KindConfig {}

fn main() {}
