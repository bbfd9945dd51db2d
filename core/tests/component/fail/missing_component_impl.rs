/// Has no `Component` impl.
#[seam_core::component(name = "plugins.demo.storages.Forgotten")]
struct ForgottenConfig {}

fn main() {}
