//! Every YAML block of README.md and every document under examples/ passes
//! `seam check --offline`, so a documented example cannot break unnoticed.

use std::path::{Path, PathBuf};
use std::process::Command;

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// The ```yaml blocks of a Markdown file, with the line each starts on.
fn yaml_blocks(markdown: &str) -> Vec<(usize, String)> {
    let mut blocks = Vec::new();
    let mut current: Option<(usize, String)> = None;
    for (i, line) in markdown.lines().enumerate() {
        match &mut current {
            None if line.trim_start().starts_with("```yaml") => current = Some((i + 1, String::new())),
            Some(_) if line.trim_start().starts_with("```") => blocks.extend(current.take()),
            Some((_, text)) => {
                text.push_str(line);
                text.push('\n');
            }
            None => {}
        }
    }
    blocks
}

fn check(path: &Path) -> Result<(), String> {
    // The README's TLS example reads its files from the environment.
    let certs = seam_testkit::TestCerts::generate();
    let out = Command::new(env!("CARGO_BIN_EXE_seam"))
        .args(["check", "--offline"])
        .arg(path)
        .env("VALKEY_PASSWORD", "example-password")
        .env("VALKEY_CA_FILE", certs.ca())
        .env("VALKEY_CERT_FILE", certs.client_cert())
        .env("VALKEY_KEY_FILE", certs.client_key())
        .output()
        .map_err(|e| e.to_string())?;
    if out.status.success() { Ok(()) } else { Err(String::from_utf8_lossy(&out.stderr).into_owned()) }
}

#[test]
fn readme_yaml_blocks_pass_check() {
    let dir = tempfile::tempdir().unwrap();
    let readme = std::fs::read_to_string(root().join("README.md")).unwrap();
    let blocks = yaml_blocks(&readme);
    assert!(blocks.len() >= 5, "README.md has {} yaml blocks", blocks.len());
    let mut failures = Vec::new();
    for (line, text) in blocks {
        let file = dir.path().join(format!("readme-line-{line}.yaml"));
        std::fs::write(&file, text).unwrap();
        if let Err(e) = check(&file) {
            failures.push(format!("README.md block at line {line}:\n{e}"));
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

#[test]
fn example_documents_pass_check() {
    let examples = root().join("examples");
    let mut checked = 0;
    let mut failures = Vec::new();
    // The folder layout is one document; the other YAML files are one each; `broken/` is
    // broken on purpose (tests/cli.rs asserts its every mistake).
    let mut documents = vec![examples.join("seam-layout")];
    for entry in std::fs::read_dir(&examples).unwrap() {
        let path = entry.unwrap().path();
        if path.extension().is_some_and(|e| e == "yaml" || e == "yml") {
            documents.push(path);
        }
    }
    for document in documents {
        checked += 1;
        if let Err(e) = check(&document) {
            failures.push(format!("{}:\n{e}", document.display()));
        }
    }
    assert!(checked >= 2);
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}
