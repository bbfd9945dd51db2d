use seam_example_custom_storage as _;

fn main() -> std::process::ExitCode {
    seam::main()
}
