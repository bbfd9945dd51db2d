//! `seam storage NAME get|set|delete|keys|reset`: operator access to a configured storage.

use std::process::ExitCode;
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use clap::Subcommand;
use seam_config::document;
use seam_config::resolver::{self, Options};
use seam_config::suggest;
use seam_core::Storage;

use crate::cli::ConfigArgs;
use crate::commands::check::report;
use crate::config_paths;

/// What to do with the storage. Keys are relative to the storage's prefix.
#[derive(Debug, Subcommand)]
pub enum StorageCommand {
    /// Print the value under KEY (binary bytes escaped).
    Get {
        /// The key, without the storage's prefix.
        key: String,
    },
    /// Store VALUE under KEY.
    Set {
        /// The key, without the storage's prefix.
        key: String,
        /// The value (stored as its UTF-8 bytes).
        value: String,
        /// Expire after this long (`30s`, `1h`, `500ms`); left out: never.
        #[arg(long, value_parser = parse_duration)]
        ttl: Option<Duration>,
    },
    /// Remove KEY.
    Delete {
        /// The key, without the storage's prefix.
        key: String,
    },
    /// List the keys matching PATTERN (glob: `*`, `?`, `[...]`), without the prefix.
    Keys {
        /// Glob pattern.
        #[arg(default_value = "*")]
        pattern: String,
    },
    /// Remove every key of this storage (and only those); needs --yes.
    Reset {
        /// Confirm the removal.
        #[arg(long)]
        yes: bool,
        /// Also when the storage's namespace is the whole server (a Valkey storage with an
        /// empty prefix): every key of the database is removed, not only seam's.
        #[arg(long)]
        all_keys: bool,
    },
}

fn parse_duration(text: &str) -> Result<Duration, String> {
    seam_core::duration::parse(text)
}

/// Escapes bytes that are not printable UTF-8 (`\x00`, `\n`, ...), so output is always safe
/// in a terminal.
pub fn printable(bytes: &[u8]) -> String {
    match std::str::from_utf8(bytes) {
        Ok(text) if !text.chars().any(|c| c.is_control()) => text.to_owned(),
        Ok(text) => text.chars().flat_map(char::escape_default).collect(),
        Err(_) => bytes.escape_ascii().to_string(),
    }
}

/// Runs one storage command.
pub fn run(config: &ConfigArgs, name: &str, command: &StorageCommand) -> Result<ExitCode, String> {
    if let StorageCommand::Reset { yes: false, .. } = command {
        return Err(format!("`reset` removes every key of storage `{name}`; run it again with --yes to confirm"));
    }
    let paths = config_paths::resolve(&config.configs, &config.config)?;
    let loaded = document::load(&paths);
    if loaded.has_errors() {
        report(loaded.diagnostics);
        return Ok(ExitCode::FAILURE);
    }
    if !loaded.document.storages.contains_key(name) {
        let names: Vec<&str> = loaded.document.storages.keys().map(String::as_str).collect();
        let hint = suggest::help_for(name, names.iter().copied())
            .unwrap_or_else(|| format!("the storages are: {}", names.join(", ")));
        return Err(format!("no storage `{name}` in the config; {hint}"));
    }
    with_storage(&loaded.document, name, |storage| async move { execute(&storage, name, command).await })
}

/// Builds the document offline (only storage `name` is contacted, on its first operation),
/// runs `op` on that storage, and closes the storages.
pub fn with_storage<F, Fut>(document: &document::Document, name: &str, op: F) -> Result<ExitCode, String>
where
    F: FnOnce(Arc<dyn Storage>) -> Fut,
    Fut: Future<Output = Result<ExitCode, String>>,
{
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|e| format!("cannot start the async runtime: {e}"))?;
    runtime.block_on(async {
        let gateway = match resolver::resolve(document, Options { offline: true }).await {
            Ok(gateway) => gateway,
            Err(diagnostics) => {
                report(diagnostics);
                return Ok(ExitCode::FAILURE);
            }
        };
        let storage = gateway.storages[name].instance.clone();
        let result = op(storage).await;
        gateway.close(Duration::from_secs(5)).await;
        result
    })
}

async fn execute(storage: &Arc<dyn Storage>, name: &str, command: &StorageCommand) -> Result<ExitCode, String> {
    let fail = |e: seam_core::StorageError| format!("storage `{name}`: {e}");
    match command {
        StorageCommand::Get { key } => match storage.get(key).await.map_err(fail)? {
            Some(value) => {
                println!("{}", printable(&value));
                Ok(ExitCode::SUCCESS)
            }
            None => {
                eprintln!("key `{}` not found in storage `{name}`", printable(key.as_bytes()));
                Ok(ExitCode::FAILURE)
            }
        },
        StorageCommand::Set { key, value, ttl } => {
            storage.set(key, Bytes::from(value.clone()), *ttl).await.map_err(fail)?;
            println!("OK");
            Ok(ExitCode::SUCCESS)
        }
        StorageCommand::Delete { key } => {
            let existed = storage.delete(key).await.map_err(fail)?;
            println!("{}", if existed { "deleted" } else { "not found" });
            Ok(ExitCode::SUCCESS)
        }
        StorageCommand::Keys { pattern } => {
            for key in storage.scan(pattern).await.map_err(fail)? {
                println!("{}", printable(key.as_bytes()));
            }
            Ok(ExitCode::SUCCESS)
        }
        StorageCommand::Reset { all_keys, .. } => {
            if storage.owns_whole_server() && !all_keys {
                return Err(format!(
                    "storage `{name}` has an empty prefix, so its keys are every key of the database: `reset` would \
                     remove what other programs keep there too; give it a prefix, or run again with --all-keys"
                ));
            }
            storage.reset().await.map_err(fail)?;
            println!("storage `{name}` reset");
            Ok(ExitCode::SUCCESS)
        }
    }
}
