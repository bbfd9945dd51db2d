//! Durations as Seam reads them: a bare integer is nanoseconds (Go's `time.Duration`), so a
//! Seam document that says `expiration: 60000000000` means one minute here too; a tiny
//! integer gets a warning at its line.

use std::time::Duration;

use seam_config::document;
use seam_config::resolver::{self, Options};

const DOC: &str = "storages:\n  Mem: { use: plugins.memory.storages.MemoryStorage }\n\
middlewares:\n  Limit:\n    use: plugins.limiter.middlewares.LimiterMiddleware\n    config: { storage: Mem, maxConnections: 3, expiration: EXP }\n\
actions:\n  A: { use: plugins.respond.actions.RespondAction }\n\
routes:\n  R: { gatewayPath: /x, middlewares: [Limit], action: A }\n";

#[test]
fn a_bare_integer_is_nanoseconds() {
    let d: seam_core::GoDuration = serde_json::from_value(serde_json::json!(60_000_000_000u64)).unwrap();
    assert_eq!(d.get(), Duration::from_secs(60));
    let d: seam_core::GoDuration = serde_json::from_value(serde_json::json!("1m30s")).unwrap();
    assert_eq!(d.get(), Duration::from_secs(90));
    let refused = serde_json::from_value::<seam_core::GoDuration>(serde_json::json!(1.5)).unwrap_err().to_string();
    assert!(refused.contains("with a unit"), "{refused}");
}

#[tokio::test]
async fn seams_nanosecond_durations_load_and_tiny_ones_are_warned_about() {
    seam::ensure_linked();
    let minute = DOC.replace("EXP", "60000000000");
    let loaded = document::load_str("seam.yaml", &minute);
    assert!(!loaded.has_errors());
    let gateway =
        resolver::resolve(&loaded.document, Options { offline: true }).await.unwrap_or_else(|d| panic!("{d:?}"));
    assert!(gateway.warnings.iter().all(|w| !w.to_string().contains("ns")), "one minute is not warned about");

    let tiny = DOC.replace("EXP", "30");
    let loaded = document::load_str("seam.yaml", &tiny);
    let diagnostics = match resolver::resolve(&loaded.document, Options { offline: true }).await {
        Ok(gateway) => gateway.warnings,
        Err(diagnostics) => diagnostics,
    };
    let warning =
        diagnostics.iter().map(ToString::to_string).find(|d| d.contains("30 ns")).expect("a warning about 30 ns");
    assert!(warning.contains("seam.yaml:6:"), "{warning}");
    assert!(warning.contains("did you mean `30s`?"), "{warning}");
}
