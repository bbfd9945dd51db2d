//! The committed schema in yaml-language-server, the engine of VS Code's YAML extension:
//! completion of `use` values and config keys, hover text, and errors on misspelled keys.

use std::path::PathBuf;
use std::process::Command;

#[test]
fn the_schema_works_in_yaml_language_server() {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("config-schema/editor-check");
    let install = "npm ci --prefix config-schema/editor-check";
    assert!(
        dir.join("node_modules/yaml-language-server").exists(),
        "yaml-language-server is not installed; run `{install}` (Node.js and npm from Debian's packages)"
    );
    let output = Command::new("node")
        .arg(dir.join("check.js"))
        .output()
        .unwrap_or_else(|e| panic!("cannot run node ({e}); install Node.js, then run `{install}`"));
    let report = String::from_utf8_lossy(&output.stdout);
    assert!(output.status.success(), "{report}{}", String::from_utf8_lossy(&output.stderr));
    assert!(report.contains("all editor checks passed"), "{report}");
}
