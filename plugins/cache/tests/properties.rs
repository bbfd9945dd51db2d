//! Property tests of the cache's header parsing (the fuzz target `cache_headers` checks the
//! same on any bytes).

use proptest::prelude::*;

fn header_text() -> impl Strategy<Value = String> {
    let piece = prop_oneof![
        Just("max-age=".to_owned()),
        Just("s-maxage=".to_owned()),
        Just("no-store".to_owned()),
        Just("public".to_owned()),
        Just("stale-if-error=".to_owned()),
        Just(", ".to_owned()),
        Just("\"".to_owned()),
        Just("W/".to_owned()),
        Just("*".to_owned()),
        Just("99999999999999999999999".to_owned()),
        Just("-1".to_owned()),
        "[0-9]{1,4}",
        "[a-zA-Z =;:-]{1,5}",
    ];
    proptest::collection::vec(piece, 0..12).prop_map(|p| p.concat())
}

proptest! {
    #[test]
    fn cache_headers_never_panic_and_lifetimes_stay_bounded(text in header_text()) {
        if let Some(lifetime) = seam_plugin_cache::fuzzing::cache_headers(&text) {
            prop_assert!(lifetime <= 2_147_483_648_000, "{} from {:?}", lifetime, text);
        }
    }
}
