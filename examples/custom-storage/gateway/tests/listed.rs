//! The example storage, linked into a binary of its own, shows up beside the built-ins.

use std::process::Command;

#[test]
fn the_example_storage_appears_in_list_and_schema() {
    let exe = env!("CARGO_BIN_EXE_seam-with-custom-storage");
    let list = Command::new(exe).args(["list", "--json"]).output().unwrap();
    assert!(list.status.success());
    let items: serde_json::Value = serde_json::from_slice(&list.stdout).unwrap();
    let names: Vec<&str> = items.as_array().unwrap().iter().map(|i| i["name"].as_str().unwrap()).collect();
    assert!(names.contains(&"plugins.example.storages.HashMapStorage"), "{names:?}");
    assert!(names.contains(&"plugins.memory.storages.MemoryStorage"), "{names:?}");

    let schema = Command::new(exe).arg("schema").output().unwrap();
    assert!(String::from_utf8_lossy(&schema.stdout).contains("plugins.example.storages.HashMapStorage"));

    let doc = concat!(env!("CARGO_MANIFEST_DIR"), "/../custom-storage.yaml");
    let check = Command::new(exe).args(["check", doc]).output().unwrap();
    assert!(check.status.success(), "{}", String::from_utf8_lossy(&check.stderr));
    assert!(String::from_utf8_lossy(&check.stdout).contains("Scratch [plugins.example.storages.HashMapStorage]"));
}
