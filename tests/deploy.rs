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

/// The document of the profile-guided build's training run (`deploy/pgo/train.sh`), with the
/// shell's variables filled in as the script fills them (its files under `work`).
fn training_document(work: &Path) -> String {
    let script = read("deploy/pgo/train.sh");
    let start = script.find("<<CONF\n").expect("the training document's heredoc") + "<<CONF\n".len();
    let end = start + script[start..].find("\nCONF\n").expect("the heredoc's end");
    script[start..end]
        .replace("$gw", "18090")
        .replace("$vk", "16379")
        .replace("$up", "18091")
        .replace("$work", work.to_str().unwrap())
        .replace("$secret", "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef")
        // An unquoted heredoc: `\$` is `$` and `\\` is `\`.
        .replace("\\$", "$")
        .replace("\\\\", "\\")
}

#[test]
fn the_profile_guided_builds_training_document_passes_seam_check() {
    let work = tempfile::tempdir().unwrap();
    let document = training_document(work.path());
    assert!(!document.contains("$gw") && document.contains("${requestId}"), "{document}");
    check("pgo-training.yaml", &document);
}

#[test]
fn the_training_run_trains_every_route_of_its_document() {
    let script = read("deploy/pgo/train.sh");
    let document = training_document(Path::new("/nonexistent"));
    let routes: Vec<&str> = document
        .lines()
        .skip_while(|l| *l != "routes:")
        .skip(1)
        .filter_map(|l| l.split("gatewayPath: /").nth(1))
        .map(|rest| rest.split(['/', ',', ' ']).next().unwrap())
        .collect();
    assert!(routes.len() >= 7, "{routes:?}");
    for route in routes {
        assert!(
            script.contains(&format!("$base/{route}/")) || script.contains(&format!("$base/{route}\"")),
            "the training run never loads /{route}"
        );
    }
}
