//! The committed JSON Schema accepts every example and rejects broken documents.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use seam_config::diagnostic::SourceFile;
use seam_config::document::node;
use serde_json::Value;

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

fn validator() -> jsonschema::Validator {
    let text = std::fs::read_to_string(root().join("config-schema/seam.schema.json")).unwrap();
    let schema: Value = serde_json::from_str(&text).unwrap();
    jsonschema::draft7::new(&schema).expect("the schema compiles")
}

fn yaml_to_json(path: &Path, text: &str) -> Value {
    // The loader asks the registry which fields are templates (the logger's `format`).
    seam::ensure_linked();
    let file = Arc::new(SourceFile { path: path.into(), text: text.into() });
    node::parse(&file).unwrap_or_else(|e| panic!("{}: {e:?}", path.display())).to_json()
}

fn errors(validator: &jsonschema::Validator, doc: &Value) -> Vec<String> {
    validator.iter_errors(doc).map(|e| format!("{} at {}", e, e.instance_path())).collect()
}

fn example_files() -> Vec<PathBuf> {
    let mut out = Vec::new();
    let mut stack = vec![root().join("examples")];
    while let Some(dir) = stack.pop() {
        for entry in std::fs::read_dir(dir).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                if !path.ends_with("target") {
                    stack.push(path);
                }
            } else if matches!(path.extension().and_then(|e| e.to_str()), Some("yaml" | "yml")) {
                out.push(path);
            }
        }
    }
    out.sort();
    out
}

#[test]
fn every_example_has_the_modeline_and_validates() {
    let validator = validator();
    let files = example_files();
    assert!(files.len() >= 8, "{files:?}");
    for path in files {
        let text = std::fs::read_to_string(&path).unwrap();
        let relative = path.strip_prefix(root()).unwrap();
        if relative.starts_with("examples/custom-storage") {
            // Written for the binary with the example storage linked in; its own test checks it.
            continue;
        }
        let modeline = text.lines().next().unwrap_or_default();
        assert!(
            modeline.starts_with("# yaml-language-server: $schema=")
                && modeline.ends_with("config-schema/seam.schema.json"),
            "{} must start with the schema modeline",
            relative.display()
        );
        let target = modeline.trim_start_matches("# yaml-language-server: $schema=");
        assert!(
            path.parent().unwrap().join(target).exists(),
            "{}: the modeline's path does not exist",
            relative.display()
        );
        if relative.starts_with("examples/broken") {
            continue;
        }
        let doc = yaml_to_json(&path, &text);
        let problems = errors(&validator, &doc);
        assert!(problems.is_empty(), "{}: {problems:#?}", relative.display());
    }
}

#[test]
fn broken_documents_are_rejected() {
    let validator = validator();
    let cases = [
        ("wrong type", "server:\n  bodyLimit: lots\n"),
        ("unknown section key", "servces: {}\n"),
        ("unknown key in an entry", "routes:\n  R: { gatewayPath: /, action: A, middleware: [] }\n"),
        ("unknown use", "storages:\n  S: { use: plugins.memory.storages.MemoryStorag }\n"),
        (
            "misspelled config key",
            "storages:\n  S:\n    use: plugins.memory.storages.MemoryStorage\n    config: { maxEntrys: 3 }\n",
        ),
        (
            "wrong config value type",
            "actions:\n  A:\n    use: plugins.respond.actions.RespondAction\n    config: { status: ok }\n",
        ),
        (
            "config key of another component",
            "actions:\n  A:\n    use: plugins.respond.actions.RespondAction\n    config: { maxEntries: 3 }\n",
        ),
        ("storage component in actions", "actions:\n  A: { use: plugins.memory.storages.MemoryStorage }\n"),
        ("route without action", "routes:\n  R: { gatewayPath: / }\n"),
        ("bad method", "routes:\n  R: { gatewayPath: /, methods: [FETCH], action: A }\n"),
    ];
    for (what, text) in cases {
        let doc = yaml_to_json(Path::new("case.yaml"), text);
        assert!(!errors(&validator, &doc).is_empty(), "the schema accepts a document with a {what}:\n{text}");
    }
    let ok = "storages:\n  S:\n    use: plugins.memory.storages.MemoryStorage\n    config:\nmiddlewares:\n";
    let problems = errors(&validator, &yaml_to_json(Path::new("ok.yaml"), ok));
    assert!(problems.is_empty(), "null config and null sections are valid: {problems:?}");
}

/// The loader and the schema read one definition of routes, services and plugins: what one
/// accepts the other accepts, and what one refuses the other refuses.
#[test]
fn the_loader_and_the_schema_agree_on_the_document_shape() {
    let validator = validator();
    let actions = "actions:\n  A: { use: plugins.respond.actions.RespondAction }\n";
    let cases = [
        (true, "routes:\n  R: { gatewayPath: /, methods: [Get, post, PUT, all], action: A }\n"),
        (false, "routes:\n  R: { gatewayPath: /, methods: [FETCH], action: A }\n"),
        (false, "routes:\n  R: { gatewayPath: /, action: A, middleware: [] }\n"),
        (false, "routes:\n  R: { gatewayPath: /, methods: GET, action: A }\n"),
        (true, "routes:\n  R: { gatewayPath: /, action: A }\nservices:\n  S: { gatewayBasePath: /api, routes: [R] }\n"),
        (false, "services:\n  S: { basePath: /api }\n"),
        (true, "plugins:\n  - name: respond\n  - path: /plugins/respond.so\n"),
        (false, "plugins:\n  - { name: respond, version: 2 }\n"),
        (false, "plugins:\n  - { config: {} }\n"),
    ];
    for (valid, text) in cases {
        let text = format!("{actions}{text}");
        let by_schema = errors(&validator, &yaml_to_json(Path::new("case.yaml"), &text)).is_empty();
        let loaded = seam_config::document::load_str("case.yaml", &text);
        let by_loader = !loaded.has_errors();
        assert_eq!((by_schema, by_loader), (valid, valid), "schema and loader on:\n{text}\n{:#?}", loaded.diagnostics);
    }
}

#[test]
fn use_values_and_descriptions_come_from_the_registry() {
    let text = std::fs::read_to_string(root().join("config-schema/seam.schema.json")).unwrap();
    let schema: Value = serde_json::from_str(&text).unwrap();
    assert_eq!(schema["$schema"], "http://json-schema.org/draft-07/schema#");
    let storage_use = &schema["properties"]["storages"]["additionalProperties"]["properties"]["use"];
    assert_eq!(
        storage_use["enum"],
        serde_json::json!(["plugins.memory.storages.MemoryStorage", "plugins.valkey.storages.ValkeyStorage"])
    );
    assert!(storage_use["markdownEnumDescriptions"][0].as_str().unwrap().starts_with("In-process storage"));
    let max = &schema["definitions"]["MemoryStorageConfig"]["properties"]["maxBytes"];
    assert_eq!(max["default"], 64 * 1024 * 1024);
    assert!(max["description"].as_str().unwrap().contains("least recently used"));
}
