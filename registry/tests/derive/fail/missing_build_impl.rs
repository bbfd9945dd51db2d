use schemars::JsonSchema;
use serde::Deserialize;

/// Has no BuildStorage impl.
#[derive(Deserialize, JsonSchema, seam_registry::Storage)]
#[seam(name = "plugins.demo.storages.Forgotten")]
struct ForgottenConfig {}

fn main() {}
