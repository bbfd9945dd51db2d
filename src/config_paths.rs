//! Where the document comes from: arguments, `-c/--config`, `$SEAM_CONFIG`, `./seam.yaml`.

use std::path::PathBuf;

/// The document's files and folders: the positional arguments and `-c/--config` values,
/// else `$SEAM_CONFIG`, else `./seam.yaml`.
pub fn resolve(positional: &[PathBuf], options: &[PathBuf]) -> Result<Vec<PathBuf>, String> {
    let given: Vec<PathBuf> = positional.iter().chain(options).cloned().collect();
    if !given.is_empty() {
        return Ok(given);
    }
    if let Some(env) = std::env::var_os("SEAM_CONFIG").filter(|v| !v.is_empty()) {
        return Ok(vec![PathBuf::from(env)]);
    }
    let default = PathBuf::from("seam.yaml");
    if default.exists() {
        return Ok(vec![default]);
    }
    Err("no config given: pass CONFIG (a file or a folder of *.yaml), use -c/--config, set SEAM_CONFIG, or create ./seam.yaml".into())
}
