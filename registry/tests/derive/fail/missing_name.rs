use schemars::JsonSchema;
use serde::Deserialize;

#[derive(Deserialize, JsonSchema, seam_registry::Action)]
struct NamelessConfig {}

#[derive(Deserialize, JsonSchema, seam_registry::Action)]
#[seam(name = "plugins.demo.actions.Typo", alias = ["x"])]
struct TypoConfig {}

fn main() {}
