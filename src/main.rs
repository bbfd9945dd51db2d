fn main() -> std::process::ExitCode {
    seam::main()
}
