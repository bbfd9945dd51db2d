//! Property tests of what sessions parse from clients (the fuzz target `session` checks the
//! same on any bytes).

use proptest::prelude::*;

proptest! {
    #[test]
    fn cookie_headers_and_session_values_never_panic(cookie in "\\PC{0,80}", value in proptest::collection::vec(any::<u8>(), 0..200)) {
        if let Some(id) = seam_plugin_sessions::fuzzing::session_input(&cookie, &value) {
            prop_assert_eq!(id.len(), 43, "only an id of the right shape is taken");
        }
    }

    #[test]
    fn a_valid_id_among_other_cookies_is_found(id in "[A-Za-z0-9_-]{43}", other in "[a-z]{1,8}=[a-z0-9]{0,8}") {
        let cookie = format!("{other}; session_id={id}; x=1");
        prop_assert_eq!(seam_plugin_sessions::fuzzing::session_input(&cookie, b""), Some(id));
    }
}
