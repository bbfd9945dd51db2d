#[seam_core::component]
struct NamelessConfig {}

#[seam_core::component(name = "plugins.demo.actions.Typo", alias = ["x"])]
struct TypoConfig {}

fn main() {}
