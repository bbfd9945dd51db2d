//! Every plugin the host is built with must keep its registrations (a crate that is never
//! referenced is not linked, and its `inventory` entries vanish).

use std::process::Command;

const EXPECTED: &[&str] = &[
    "plugins.cache.middlewares.CacheMiddleware",
    "plugins.httpfw.actions.BalancerHttpAction",
    "plugins.httpfw.actions.HttpAction",
    "plugins.limiter.middlewares.LimiterMiddleware",
    "plugins.memory.storages.MemoryStorage",
    "plugins.opentelemetry.middlewares.OpenTelemetryMiddleware",
    "plugins.respond.actions.RespondAction",
    "plugins.sessions.middlewares.MapSessionToHeaderMiddleware",
    "plugins.sessions.middlewares.SessionMiddleware",
    "plugins.valkey.storages.ValkeyStorage",
];

#[test]
fn the_binary_registers_every_expected_component() {
    let output = Command::new(env!("CARGO_BIN_EXE_seam")).args(["list", "--json"]).output().unwrap();
    assert!(output.status.success());
    let items: serde_json::Value = serde_json::from_slice(&output.stdout).unwrap();
    let names: Vec<&str> = items.as_array().unwrap().iter().map(|i| i["name"].as_str().unwrap()).collect();
    for name in EXPECTED {
        assert!(names.contains(name), "`{name}` is not registered; registered: {names:?}");
    }
    let mut sorted = names.clone();
    sorted.sort();
    assert_eq!(names, sorted, "seam list is sorted by name");
}

#[test]
fn the_registry_has_no_duplicate_names_with_every_plugin_linked() {
    // Link what the binary links, so the registry here is the binary's.
    seam::ensure_linked();
    let names: Vec<&str> = seam_core::registration::all().iter().map(|r| r.name).collect();
    for name in EXPECTED {
        assert!(names.contains(name), "`{name}` is not linked into this test; linked: {names:?}");
    }
    assert_eq!(seam_core::registration::duplicates(), Vec::<String>::new());
    assert_eq!(
        seam_core::registration::default_storage().map(|r| r.name),
        Some("plugins.memory.storages.MemoryStorage"),
        "exactly one default storage, declared by the memory plugin"
    );
}

#[test]
fn seam_names_of_the_session_plugin_resolve() {
    use seam_plugin_sessions as _;
    for alias in [
        "plugins.session.middlewares.LoadSessionMiddleware",
        "plugins.session.middlewares.MapSessionToHeaderMiddleware",
    ] {
        assert!(seam_core::registration::find(alias).is_some(), "{alias}");
    }
    assert_eq!(seam_core::registration::plugin("session"), Some("sessions"));
}
