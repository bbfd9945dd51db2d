//! Any bytes as a document: the loader and the resolver (offline) give diagnostics, never a
//! panic.
#![no_main]

use libfuzzer_sys::fuzz_target;
use seam_config::document;
use seam_config::resolver::{self, Options};

fuzz_target!(|data: &[u8]| {
    seam::ensure_linked();
    let text = String::from_utf8_lossy(data);
    let loaded = document::load_str("fuzz.yaml", &text);
    let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
    let _ = runtime.block_on(resolver::resolve(&loaded.document, Options { offline: true }));
    for d in &loaded.diagnostics {
        let _ = d.to_string();
    }
});
