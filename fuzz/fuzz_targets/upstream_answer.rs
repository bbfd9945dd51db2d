//! An upstream's answer from any bytes, read in pieces as the client reads it: never a panic,
//! no hop-by-hop field passed on, never more body than was sent.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    // The first byte chooses the read size and whether the request was HEAD.
    let Some((&first, wire)) = data.split_first() else { return };
    let _ = seam_plugin_httpfw::fuzzing::upstream_answer(wire, first & 0x80 != 0, usize::from(first & 0x7f) + 1);
});
