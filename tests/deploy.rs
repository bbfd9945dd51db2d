//! The deployment examples carry seam documents: the Kubernetes ConfigMap's `seam.yaml` and
//! the compose example's. Both must pass `seam check --offline` (with the Secret's variable
//! set), so the examples never drift from what seam accepts. Their Kubernetes and Compose
//! schemas are checked by deploy/validate.py in CI.

use std::path::Path;

/// The literal block under `key: |` in `text`, dedented.
fn block(text: &str, key: &str) -> String {
    let mut lines = text.lines().skip_while(|l| l.trim() != format!("{key}: |"));
    let header = lines.next().unwrap_or_else(|| panic!("no `{key}: |` block"));
    let indent = header.len() - header.trim_start().len() + 2;
    lines
        .take_while(|l| l.trim().is_empty() || l.len() - l.trim_start().len() >= indent)
        .map(|l| if l.len() >= indent { &l[indent..] } else { "" })
        .collect::<Vec<_>>()
        .join("\n")
}

fn check(name: &str, document: &str) {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join(name);
    std::fs::write(&path, document).unwrap();
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_seam"))
        .args(["check", "--offline", path.to_str().unwrap()])
        .env("VALKEY_PASSWORD", "example")
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{name} does not pass seam check:\n{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}

fn read(path: &str) -> String {
    std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join(path)).unwrap()
}

#[test]
fn the_kubernetes_configmaps_document_passes_seam_check() {
    let document = block(&read("deploy/kubernetes/configmap.yaml"), "seam.yaml");
    assert!(document.contains("storages:"), "{document}");
    check("configmap-seam.yaml", &document);
}

#[test]
fn the_compose_examples_document_passes_seam_check() {
    check("compose-seam.yaml", &read("deploy/compose/seam.yaml"));
}

#[test]
fn the_secret_feeds_the_variable_the_document_uses() {
    let deployment = read("deploy/kubernetes/deployment.yaml");
    let document = read("deploy/kubernetes/configmap.yaml");
    assert!(document.contains("${VALKEY_PASSWORD}") && deployment.contains("name: VALKEY_PASSWORD"));
    assert!(deployment.contains("secretKeyRef: { name: seam-valkey, key: password }"));
    assert!(read("deploy/kubernetes/secret.yaml").contains("name: seam-valkey"));
}
