//! The command line.

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Args, Parser, Subcommand};

use crate::commands;

/// seam: a YAML-configured API gateway.
#[derive(Debug, Parser)]
#[command(name = "seam", version, about, propagate_version = true)]
pub struct Cli {
    /// What to do.
    #[command(subcommand)]
    pub command: Command,
}

/// Where the document is.
#[derive(Debug, Args, Clone, Default)]
pub struct ConfigArgs {
    /// Config files or folders (a folder's *.yaml/*.yml files are merged).
    #[arg(value_name = "CONFIG")]
    pub configs: Vec<PathBuf>,
    /// A config file or folder (repeatable); same as a positional CONFIG.
    #[arg(short = 'c', long = "config", value_name = "CONFIG")]
    pub config: Vec<PathBuf>,
}

/// seam's commands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Serve the gateway until SIGINT or SIGTERM.
    Run {
        #[command(flatten)]
        config: ConfigArgs,
        /// Log format: `text` or `json`.
        #[arg(long, value_name = "FORMAT", default_value = "text", value_parser = ["text", "json"])]
        log_format: String,
        /// Workers: threads that each accept and serve their own connections on the same
        /// address (SO_REUSEPORT), nothing handed between them (default: one per core).
        #[arg(long, value_name = "N", env = "SEAM_WORKERS")]
        workers: Option<usize>,
        /// Reload when a config file changes (as SIGHUP does); the folders holding the
        /// config are watched, so editors' atomic saves and Kubernetes ConfigMap updates count.
        #[arg(long)]
        watch: bool,
    },
    /// Load and validate a document, build every component, print the resolved graph.
    Check {
        #[command(flatten)]
        config: ConfigArgs,
        /// Do not connect to storages' servers.
        #[arg(long)]
        offline: bool,
    },
    /// Print the JSON Schema of the document (for editors).
    Schema {
        /// Write it to FILE instead of standard output.
        #[arg(long, short, value_name = "FILE")]
        output: Option<PathBuf>,
    },
    /// Operator access to the storage NAME of the config (keys relative to its prefix).
    Storage {
        /// The storage's name in `storages:`.
        name: String,
        /// The config file or folder (repeatable).
        #[arg(short = 'c', long = "config", value_name = "CONFIG", global = true)]
        config: Vec<PathBuf>,
        #[command(subcommand)]
        command: commands::storage::StorageCommand,
    },
    /// Operator actions on the response cache NAME of the config.
    #[cfg(feature = "cache")]
    Cache {
        /// The config file or folder (repeatable).
        #[arg(short = 'c', long = "config", value_name = "CONFIG", global = true)]
        config: Vec<PathBuf>,
        #[command(subcommand)]
        command: commands::cache::CacheCommand,
    },
    /// List the registered components.
    List {
        /// Only this kind: storage, middleware or action.
        #[arg(long, value_name = "K")]
        kind: Option<String>,
        /// Print JSON instead of a table.
        #[arg(long)]
        json: bool,
    },
}

/// Parses arguments and runs the command.
pub fn run() -> ExitCode {
    let cli = Cli::parse();
    // Held to the end: the log's last lines are written when it drops.
    let _log = match &cli.command {
        Command::Run { log_format, .. } => crate::logging::init("info", log_format == "json", true),
        _ => crate::logging::init("warn", false, false),
    };
    let result = match cli.command {
        Command::Run { config, workers, watch, .. } => commands::run::run(&config, workers, watch),
        Command::Check { config, offline } => commands::check::run(&config, offline),
        Command::Schema { output } => commands::schema::run(output.as_deref()),
        Command::List { kind, json } => commands::list::run(kind.as_deref(), json),
        Command::Storage { name, config, command } => {
            let config = ConfigArgs { configs: Vec::new(), config };
            commands::storage::run(&config, &name, &command)
        }
        #[cfg(feature = "cache")]
        Command::Cache { config, command } => {
            let config = ConfigArgs { configs: Vec::new(), config };
            commands::cache::run(&config, &command)
        }
    };
    match result {
        Ok(code) => code,
        Err(message) => {
            eprintln!("error: {message}");
            ExitCode::FAILURE
        }
    }
}
