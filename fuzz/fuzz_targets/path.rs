//! The path canonicalizer: never panics; its output is canonical (no `..` or `.` segment, no
//! `//`) and canonicalizing it again changes nothing; the copy-free form agrees with it.
#![no_main]

use libfuzzer_sys::fuzz_target;
use seam::server::canonical::{PathRules, canonical, canonical_borrowed};

fuzz_target!(|data: &[u8]| {
    let Ok(path) = std::str::from_utf8(data) else { return };
    for rules in [PathRules::default(), PathRules { allow_encoded_slashes: true, allow_path_parameters: true }] {
        assert_eq!(canonical_borrowed(path, rules).map(|p| p.into_owned()), canonical(path, rules), "{path:?}");
        if let Ok(out) = canonical(path, rules) {
            assert!(out.starts_with('/'));
            assert!(!out.contains("//"), "{path:?} -> {out:?}");
            assert!(out.split('/').all(|s| s != ".." && s != "."), "{path:?} -> {out:?}");
            assert_eq!(canonical(&out, rules), Ok(out.clone()), "not idempotent for {path:?}");
        }
    }
});
