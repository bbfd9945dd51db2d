//! Property tests of the document front end on hostile input (the fuzz target `document`
//! checks the same on any bytes): diagnostics, never a panic.

use proptest::prelude::*;
use seam_config::document;
use seam_config::resolver::{self, Options};
use seam_plugin_memory as _;
use seam_plugin_respond as _;

/// Text made of the pieces YAML documents and attacks are made of.
fn yamlish() -> impl Strategy<Value = String> {
    let piece = prop_oneof![
        Just("\n".to_owned()),
        Just("  ".to_owned()),
        Just(": ".to_owned()),
        Just("- ".to_owned()),
        Just("[".to_owned()),
        Just("]".to_owned()),
        Just("{".to_owned()),
        Just("}".to_owned()),
        Just("&a ".to_owned()),
        Just("*a".to_owned()),
        Just("${X}".to_owned()),
        Just("routes".to_owned()),
        Just("storages".to_owned()),
        Just("use: plugins.memory.storages.MemoryStorage".to_owned()),
        Just("gatewayPath: /a/*/b".to_owned()),
        Just("action: A".to_owned()),
        Just("config".to_owned()),
        "[a-zA-Z0-9_./%:#'\"]{1,6}",
    ];
    proptest::collection::vec(piece, 0..40).prop_map(|pieces| pieces.concat())
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(128))]

    #[test]
    fn any_document_gives_diagnostics_never_a_panic(text in yamlish()) {
        let loaded = document::load_str("p.yaml", &text);
        for d in &loaded.diagnostics {
            let _ = d.to_string();
        }
        let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
        if let Err(diagnostics) = runtime.block_on(resolver::resolve(&loaded.document, Options { offline: true })) {
            for d in diagnostics {
                prop_assert!(d.is_error() || !d.message.is_empty());
                let _ = d.to_string();
            }
        }
    }

    #[test]
    fn any_bytes_as_text_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..512)) {
        let text = String::from_utf8_lossy(&bytes);
        let _ = document::load_str("p.yaml", &text);
    }
}
