//! `seam check`, `seam list` and `seam schema` as a user runs them.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

fn seam(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_seam")).args(args).current_dir(root()).env_remove("SEAM_CONFIG").output().unwrap()
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

/// `seam check --offline` on `document` written to a file of its own: the exit code and
/// what it printed on stderr.
fn check_document(document: &str) -> (Option<i32>, String) {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("seam.yaml");
    std::fs::write(&path, document).unwrap();
    let out = seam(&["check", "--offline", &path.display().to_string()]);
    (out.status.code(), text(&out.stderr))
}

#[test]
fn check_quickstart_prints_the_graph() {
    let out = seam(&["check", "examples/quickstart.yaml"]);
    let stdout = text(&out.stdout);
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert!(stdout.contains("LocalStorage [plugins.memory.storages.MemoryStorage]"), "{stdout}");
    assert!(stdout.contains("GET,POST /users/:id (route UserRoute)"), "{stdout}");
    assert!(stdout.contains("-> Echo"), "{stdout}");
}

#[test]
fn check_seam_layout_folder() {
    let out = seam(&["check", "examples/seam-layout/"]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert!(text(&out.stdout).contains("GET / (route HomeRoute via service HelloWorldService)"));
}

#[test]
fn config_comes_from_option_or_environment() {
    let out = seam(&["check", "-c", "examples/quickstart.yaml", "--offline"]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let out = Command::new(env!("CARGO_BIN_EXE_seam"))
        .arg("check")
        .env("SEAM_CONFIG", root().join("examples/seam-layout"))
        .current_dir(std::env::temp_dir())
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", text(&out.stderr));
}

#[test]
fn no_config_is_a_clear_error() {
    let dir = tempfile::tempdir().unwrap();
    let out = Command::new(env!("CARGO_BIN_EXE_seam"))
        .arg("check")
        .env_remove("SEAM_CONFIG")
        .current_dir(dir.path())
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    assert!(text(&out.stderr).contains("no config given"), "{}", text(&out.stderr));
}

/// The committed broken document: every mistake reported in one run, each with its place.
#[test]
fn broken_document_reports_every_mistake_at_once() {
    let out = seam(&["check", "examples/broken/seam.yaml"]);
    assert_eq!(out.status.code(), Some(1));
    let stderr = text(&out.stderr);
    let file = Path::new("examples/broken/seam.yaml").display().to_string();
    let expected = [
        ("server: invalid type: string \"lots\", expected u64", 6, 14, None),
        ("unknown section `servces`", 8, 1, Some("did you mean `services`?")),
        ("storage `Store`: unknown config key `maxEntrys`", 14, 7, Some("did you mean `maxEntries`?")),
        (
            "storage `Other`: unknown component `plugins.memory.storages.MemoryStorag`",
            16,
            10,
            Some("did you mean `plugins.memory.storages.MemoryStorage`?"),
        ),
        (
            "route `EchoRoute` refers to action `Helo`, which is not defined in `actions:`",
            31,
            13,
            Some("did you mean `Hello`?"),
        ),
        ("`Store` is a storage; route `StoreRoute` needs an action here", 34, 13, None),
        ("route `HelloRoute`: unknown key `middleware`", 28, 5, Some("did you mean `middlewares`?")),
        (
            "middleware `Sessions` refers to storage `Stor`, which is not defined in `storages:`",
            40,
            16,
            Some("did you mean `Store`?"),
        ),
    ];
    for (message, line, column, help) in expected {
        let block = stderr
            .split("\n\n")
            .find(|b| b.contains(message))
            .unwrap_or_else(|| panic!("missing `{message}` in:\n{stderr}"));
        assert!(block.contains(&format!("--> {file}:{line}:{column}")), "wrong place for `{message}`:\n{block}");
        if let Some(help) = help {
            assert!(block.contains(&format!("= help: {help}")), "no help for `{message}`:\n{block}");
        }
    }
    assert_eq!(stderr.matches("\nerror: ").count() + usize::from(stderr.starts_with("error: ")), 9, "{stderr}");
    assert!(stderr.contains("error: the config has 8 errors"), "{stderr}");
}

#[test]
fn list_filters_by_kind_and_prints_json() {
    let out = seam(&["list", "--kind", "storage", "--json"]);
    assert!(out.status.success());
    let items: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let items = items.as_array().unwrap();
    assert!(items.iter().all(|i| i["kind"] == "storage"));
    let memory = items.iter().find(|i| i["name"] == "plugins.memory.storages.MemoryStorage").expect("memory storage");
    assert_eq!(memory["plugin"], "memory");
    assert!(memory["description"].as_str().unwrap().starts_with("In-process storage"));

    let table = text(&seam(&["list"]).stdout);
    assert!(table.starts_with("NAME"));
    assert!(table.contains("plugins.respond.actions.RespondAction"));

    let bad = seam(&["list", "--kind", "widget"]);
    assert_eq!(bad.status.code(), Some(1));
    assert!(text(&bad.stderr).contains("unknown kind `widget`"));
}

#[test]
fn committed_schema_matches_seam_schema() {
    let out = seam(&["schema"]);
    assert!(out.status.success());
    let committed = std::fs::read_to_string(root().join("config-schema/seam.schema.json")).unwrap();
    assert!(
        committed == text(&out.stdout),
        "config-schema/seam.schema.json is stale: run `cargo run -- schema --output config-schema/seam.schema.json`"
    );
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("s.json");
    assert!(seam(&["schema", "--output", file.to_str().unwrap()]).status.success());
    assert_eq!(std::fs::read_to_string(file).unwrap(), committed);
}

/// WebSocketAction's clocks cannot be switched off where that would let a peer that reads
/// nothing, or answers nothing, hold a connection for ever: `0s` is refused at its place.
#[test]
fn check_refuses_websocket_clocks_of_zero() {
    let (code, stderr) = check_document(
        "actions:
  Ws:
    use: plugins.wsfw.actions.WebSocketAction
    config:
      upstreamEndpoint: ws://127.0.0.1:9/
      pongTimeout: 0s
      writeTimeout: 0s
routes:
  Socket: { gatewayPath: /ws, action: Ws }
",
    );
    assert_eq!(code, Some(1), "{stderr}");
    for (message, line) in [("pongTimeout must be more than 0", 6), ("writeTimeout must be more than 0", 7)] {
        let block = stderr
            .split("\n\n")
            .find(|b| b.contains(message))
            .unwrap_or_else(|| panic!("missing `{message}` in:\n{stderr}"));
        assert!(block.contains(&format!("seam.yaml:{line}:")), "wrong place for `{message}`:\n{block}");
    }
}

/// What `seam run` refuses, `seam check` refuses first, each at its place: paths the router
/// cannot serve, a malformed `trustedProxies` entry, unreadable TLS files, a bad address.
#[test]
fn check_refuses_everything_run_would() {
    let dir = tempfile::tempdir().unwrap();
    let document = dir.path().join("refused.yaml");
    std::fs::write(
        &document,
        "server:
  address: nowhere
  tls: true
  certFile: /nope/cert.pem
  keyFile: /nope/key.pem
  trustedProxies: [10.0.0.0/8, not-an-ip]
actions:
  A: { use: plugins.respond.actions.RespondAction }
routes:
  Middle: { gatewayPath: /a/*/b, action: A }
  Mixed: { gatewayPath: /img-:id, action: A }
",
    )
    .unwrap();
    let file = document.display().to_string();
    let check: &[&str] = &["check", "--offline", &file];
    let run: &[&str] = &["run", &file, "--workers", "1"];
    for args in [check, run] {
        let out = seam(args);
        assert_eq!(out.status.code(), Some(1), "{args:?}");
        let stderr = text(&out.stderr);
        let expected = [
            ("server.address `nowhere` has no `:port`", 2, 12),
            ("server.certFile `/nope/cert.pem` cannot be read", 4, 13),
            ("server.trustedProxies: `not-an-ip` is not an IP address or CIDR block", 6, 32),
            ("route `Middle`: `/a/*/b` cannot be served: `*` is only supported as the last segment", 10, 26),
            ("route `Mixed`: `/img-:id` cannot be served", 11, 25),
        ];
        for (message, line, column) in expected {
            let block = stderr
                .split("\n\n")
                .find(|b| b.contains(message))
                .unwrap_or_else(|| panic!("{args:?}: missing `{message}` in:\n{stderr}"));
            assert!(block.contains(&format!("--> {file}:{line}:{column}")), "wrong place for `{message}`:\n{block}");
        }
        assert!(stderr.contains("error: the config has 5 errors"), "{stderr}");
    }
}

/// A secret written with the wrong type is reported without its value, not even in the
/// source line the error shows.
#[test]
fn check_never_shows_a_secret_in_its_snippet() {
    let (code, stderr) = check_document(
        "storages:\n  S:\n    use: plugins.valkey.storages.ValkeyStorage\n    config: { host: h, port: 1, password: [84629173] }\n",
    );
    assert_eq!(code, Some(1));
    assert!(stderr.contains("storages.S.config.password"), "{stderr}");
    assert!(!stderr.contains("84629173"), "{stderr}");
}

/// A URL's user and password never appear in `seam check`'s output: not in the message, not
/// in the source line, whichever way the URL is wrong.
#[test]
fn check_never_shows_url_credentials() {
    let (code, stderr) = check_document(
        "actions:\n  A: { use: plugins.httpfw.actions.HttpAction, config: { upstreamEndpoint: \"ftp://user:s3cret@svc:80\" } }\n  B: { use: plugins.httpfw.actions.HttpAction, config: { upstreamEndpoint: \"http://user:s3cret@svc:80:99/x\" } }\n  C: { use: plugins.httpfw.actions.HttpAction, config: { upstreamEndpoint: \"user:s3cret@svc\" } }\nroutes:\n  A: { gatewayPath: /a, action: A }\n  B: { gatewayPath: /b, action: B }\n  C: { gatewayPath: /c, action: C }\n",
    );
    assert_eq!(code, Some(1));
    assert!(stderr.contains("error: the config has 3 errors"), "{stderr}");
    assert!(stderr.contains("ftp://***@svc:80"), "{stderr}");
    assert!(!stderr.contains("s3cret"), "{stderr}");
}

#[test]
fn logs_to_a_pipe_carry_no_colour_codes() {
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("seam.yaml");
    std::fs::write(
        &config,
        "server: { address: 127.0.0.1:0 }\nactions:\n  A: { use: plugins.respond.actions.RespondAction }\nroutes:\n  R: { gatewayPath: /, action: A }\n",
    )
    .unwrap();
    let mut child = Command::new(env!("CARGO_BIN_EXE_seam"))
        .args(["run", config.to_str().unwrap(), "--workers", "1"])
        .env("RUST_LOG", "info")
        .stderr(std::process::Stdio::piped())
        .stdout(std::process::Stdio::null())
        .spawn()
        .unwrap();
    std::thread::sleep(std::time::Duration::from_millis(1500));
    let _ = child.kill();
    let out = child.wait_with_output().unwrap();
    let stderr = text(&out.stderr);
    assert!(stderr.contains("listening on"), "{stderr}");
    assert!(!stderr.contains('\u{1b}'), "escape codes in a piped log: {stderr:?}");
}
