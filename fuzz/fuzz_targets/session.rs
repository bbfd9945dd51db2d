//! Cookie headers and session values (X-Session-Set, stored sessions): never a panic, and an
//! id is only ever one of the right shape.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let split = data.iter().position(|b| *b == 0).unwrap_or(data.len());
    let cookie = String::from_utf8_lossy(&data[..split]);
    let value = data.get(split + 1..).unwrap_or_default();
    if let Some(id) = seam_plugin_sessions::fuzzing::session_input(&cookie, value) {
        assert_eq!(id.len(), 43);
    }
});
