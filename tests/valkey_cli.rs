//! `seam check` and `seam storage` against a live Valkey started by the test.

use std::process::{Command, Output};

use redis::Commands;
use seam_testkit::{Server, free_port};

fn seam(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_seam")).args(args).env_remove("SEAM_CONFIG").output().unwrap()
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

fn config(dir: &std::path::Path, port: u16) -> String {
    let path = dir.join("seam.yaml");
    std::fs::write(
        &path,
        format!(
            "storages:\n  ValkeySessionStorage:\n    use: plugins.valkey.storages.ValkeyStorage\n    config:\n      prefix: \"session_\"\n      host: 127.0.0.1\n      port: {port}\n"
        ),
    )
    .unwrap();
    path.display().to_string()
}

#[test]
fn check_pings_valkey_and_names_an_unreachable_one() {
    let server = Server::start();
    let dir = tempfile::tempdir().unwrap();
    let good = config(dir.path(), server.port());
    let out = seam(&["check", &good]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert!(text(&out.stdout).contains("ValkeySessionStorage [plugins.valkey.storages.ValkeyStorage]"));

    let dead_port = free_port();
    let bad = config(dir.path(), dead_port);
    let out = seam(&["check", &bad]);
    assert_eq!(out.status.code(), Some(1));
    let stderr = text(&out.stderr);
    assert!(stderr.contains("error: storage `ValkeySessionStorage` does not answer"), "{stderr}");
    assert!(stderr.contains(&format!("127.0.0.1:{dead_port}")), "{stderr}");
    assert!(stderr.contains("connection refused"), "{stderr}");
    assert!(stderr.contains("seam.yaml:2:3"), "{stderr}");

    let out = seam(&["check", "--offline", &bad]);
    assert!(out.status.success(), "--offline does not connect: {}", text(&out.stderr));
}

#[test]
fn storage_commands_round_trip_through_the_prefix() {
    let server = Server::start();
    let dir = tempfile::tempdir().unwrap();
    let cfg = config(dir.path(), server.port());
    let storage = |args: &[&str]| {
        let mut all = vec!["storage", "ValkeySessionStorage", "--config", &cfg];
        all.extend_from_slice(args);
        seam(&all)
    };
    let mut raw = server.client();

    let out = storage(&["set", "abc", "hello", "--ttl", "30s"]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert_eq!(raw.get::<_, String>("session_abc").unwrap(), "hello");
    let pttl: i64 = raw.pttl("session_abc").unwrap();
    assert!((1..=30_000).contains(&pttl), "{pttl}");

    assert_eq!(text(&storage(&["get", "abc"]).stdout), "hello\n");
    raw.set::<_, _, ()>("session_bin", &[0u8, 255, b'a', b'\n'][..]).unwrap();
    assert_eq!(text(&storage(&["get", "bin"]).stdout), "\\x00\\xffa\\n\n", "binary values are escaped");
    raw.set::<_, _, ()>("other_key", "not ours").unwrap();

    assert_eq!(text(&storage(&["keys"]).stdout), "abc\nbin\n");
    assert_eq!(text(&storage(&["keys", "a*"]).stdout), "abc\n");
    let missing = storage(&["get", "nope"]);
    assert_eq!(missing.status.code(), Some(1));
    assert!(text(&missing.stderr).contains("key `nope` not found"));

    assert_eq!(text(&storage(&["delete", "abc"]).stdout), "deleted\n");
    assert_eq!(text(&storage(&["delete", "abc"]).stdout), "not found\n");

    let refused = storage(&["reset"]);
    assert_eq!(refused.status.code(), Some(1));
    assert!(text(&refused.stderr).contains("--yes"));
    assert!(raw.exists::<_, bool>("session_bin").unwrap(), "nothing removed without --yes");
    assert!(storage(&["reset", "--yes"]).status.success());
    assert!(!raw.exists::<_, bool>("session_bin").unwrap());
    assert_eq!(raw.get::<_, String>("other_key").unwrap(), "not ours", "reset spares other prefixes");

    let unknown = seam(&["storage", "ValkeySesionStorage", "--config", &cfg, "keys"]);
    assert_eq!(unknown.status.code(), Some(1));
    assert!(text(&unknown.stderr).contains("did you mean `ValkeySessionStorage`?"), "{}", text(&unknown.stderr));
}

#[test]
fn reset_of_a_storage_with_an_empty_prefix_needs_all_keys() {
    let server = Server::start();
    let mut raw = server.client();
    let _: () = raw.set("someone_elses_key", "kept").unwrap();
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("seam.yaml");
    std::fs::write(
        &path,
        format!(
            "storages:\n  Everything:\n    use: plugins.valkey.storages.ValkeyStorage\n    config: {{ prefix: \"\", host: 127.0.0.1, port: {} }}\n",
            server.port()
        ),
    )
    .unwrap();
    let path = path.display().to_string();
    let refused = seam(&["storage", "-c", &path, "Everything", "reset", "--yes"]);
    assert_eq!(refused.status.code(), Some(1), "{}", text(&refused.stdout));
    assert!(text(&refused.stderr).contains("empty prefix"), "{}", text(&refused.stderr));
    assert_eq!(raw.get::<_, String>("someone_elses_key").unwrap(), "kept", "nothing was removed");
    let forced = seam(&["storage", "-c", &path, "Everything", "reset", "--yes", "--all-keys"]);
    assert!(forced.status.success(), "{}", text(&forced.stderr));
    assert!(!raw.exists::<_, bool>("someone_elses_key").unwrap());
}
