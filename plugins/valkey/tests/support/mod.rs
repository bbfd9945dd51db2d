//! Shared by this crate's test binaries.
#![allow(dead_code)]

pub mod cached;

use std::sync::Arc;

use seam_config::Diagnostic;
use seam_config::document;
use seam_config::resolver::{self, Options};
use seam_core::Storage;
use seam_plugin_valkey::{ValkeyStorage, ValkeyStorageConfig};
use serde_json::{Value, json};

/// A config from JSON (as the document would give it).
pub fn config(value: Value) -> ValkeyStorageConfig {
    serde_json::from_value(value).expect("config deserializes")
}

/// A storage on `127.0.0.1:port` with `prefix`.
pub fn storage(port: u16, prefix: &str) -> ValkeyStorage {
    let config = config(json!({ "host": "127.0.0.1", "port": port, "prefix": prefix }));
    ValkeyStorage::from_config("Test", &config).expect("storage")
}

/// Resolves a YAML document and returns its storage `name`, or every error.
pub async fn resolve_storage(yaml: &str, name: &str) -> Result<Arc<dyn Storage>, Vec<Diagnostic>> {
    let loaded = document::load_str("test.yaml", yaml);
    assert!(!loaded.has_errors(), "{:#?}", loaded.diagnostics);
    let gateway = resolver::resolve(&loaded.document, Options::default()).await?;
    Ok(gateway.storages[name].instance.clone())
}

/// The message of the first error, for asserting.
pub fn first_error(errors: &[Diagnostic]) -> String {
    errors.iter().find(|d| d.is_error()).map(ToString::to_string).unwrap_or_default()
}
