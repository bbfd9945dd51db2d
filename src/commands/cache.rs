//! `seam cache purge NAME [--path PREFIX | --all]`: removes a cache's entries from its shared
//! storage, and tells every running instance to drop its in-process copies.

use std::process::ExitCode;

use clap::Subcommand;
use seam_config::document;
use seam_config::suggest;
use seam_core::Capability;
use seam_plugin_cache::purge::{Selection, purge};

use crate::cli::ConfigArgs;
use crate::commands::check::report;
use crate::commands::storage::with_storage;
use crate::config_paths;

/// The canonical name of the cache middleware.
const CACHE: &str = "plugins.cache.middlewares.CacheMiddleware";

/// What to do with a cache.
#[derive(Debug, Subcommand)]
pub enum CacheCommand {
    /// Remove the cache NAME's entries (all, or those under a path) from its storage; the
    /// running instances drop their in-process copies.
    Purge {
        /// The cache middleware's name in `middlewares:`.
        name: String,
        /// Only entries whose path starts with PREFIX (`/api/users` takes `/api/users/7`).
        #[arg(long, value_name = "PREFIX", conflicts_with = "all", required_unless_present = "all")]
        path: Option<String>,
        /// Every entry of the cache.
        #[arg(long)]
        all: bool,
    },
}

/// Runs one cache command.
pub fn run(config: &ConfigArgs, command: &CacheCommand) -> Result<ExitCode, String> {
    let CacheCommand::Purge { name, path, all } = command;
    let selection = match (path, all) {
        (Some(prefix), false) if prefix.starts_with('/') => Selection::PathPrefix(prefix.clone()),
        (Some(prefix), false) => return Err(format!("--path `{prefix}` must start with `/`")),
        _ => Selection::All,
    };
    let paths = config_paths::resolve(&config.configs, &config.config)?;
    let loaded = document::load(&paths);
    if loaded.has_errors() {
        report(loaded.diagnostics);
        return Ok(ExitCode::FAILURE);
    }
    let caches: Vec<&str> = loaded
        .document
        .middlewares
        .iter()
        .filter(|(_, def)| seam_core::registration::find(&def.uses.name).is_some_and(|r| r.name == CACHE))
        .map(|(name, _)| name.as_str())
        .collect();
    let Some(def) = loaded.document.middlewares.get(name).filter(|_| caches.contains(&name.as_str())) else {
        let hint = suggest::help_for(name, caches.iter().copied()).unwrap_or_else(|| match caches.is_empty() {
            true => "the config has no CacheMiddleware".to_owned(),
            false => format!("the caches are: {}", caches.join(", ")),
        });
        return Err(format!("no cache `{name}` in the config; {hint}"));
    };
    let Some(storage) = def.config.as_ref().and_then(|c| c.get("storage")).and_then(|s| s.as_str()) else {
        return Err(format!(
            "cache `{name}` has no `storage`: its entries live in each instance's memory, not in a storage this \
             command can reach; they expire on their own (or restart the instances)"
        ));
    };
    let storage_name = storage;
    with_storage(&loaded.document, storage_name, |storage| async move {
        let removed = purge(&*storage, name, &selection).await.map_err(|e| format!("cache `{name}`: {e}"))?;
        let what = match &selection {
            Selection::All => "entries".to_owned(),
            Selection::PathPrefix(prefix) => format!("entries under `{prefix}`"),
        };
        println!("purged {removed} {what} of cache `{name}` from storage `{storage_name}`");
        if !storage.capabilities().has(Capability::Broadcast) {
            println!(
                "storage `{storage_name}` cannot broadcast: running instances keep local copies until they expire (localMaxAge)"
            );
        }
        Ok(ExitCode::SUCCESS)
    })
}
