// mimalloc: a per-thread, size-classed allocator; with one worker per core every request's
// allocations stay on the worker's own heap (about 5 % of the proxy path was glibc malloc).
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() -> std::process::ExitCode {
    seam::main()
}
