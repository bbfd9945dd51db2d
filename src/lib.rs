//! seam: a YAML-configured API gateway on a compile-time component registry.
//!
//! The host is also a library so that a binary can add components of its own:
//!
//! ```ignore
//! use my_storage as _; // links the crate, so its #[derive(Storage)] registration is kept
//! fn main() -> std::process::ExitCode { seam::main() }
//! ```

mod access_log;
mod cli;
mod commands;
mod config_paths;
mod linked;
mod logging;
pub mod server;

pub use cli::{Cli, Command};
pub use linked::ensure_linked;

/// seam's command-line entry point: parses `std::env::args` and runs the command.
pub fn main() -> std::process::ExitCode {
    linked::ensure_linked();
    cli::run()
}
