//! `seam schema [--output FILE]`.

use std::path::Path;
use std::process::ExitCode;

/// Prints or writes the document's JSON Schema.
pub fn run(output: Option<&Path>) -> Result<ExitCode, String> {
    let text = seam_config_schema::document_schema_text();
    match output {
        Some(path) => std::fs::write(path, text).map_err(|e| format!("cannot write {}: {e}", path.display()))?,
        None => print!("{text}"),
    }
    Ok(ExitCode::SUCCESS)
}
