//! Header names and values a configuration sets on every message (helmet's headers, the
//! upstream's `Host`, a request id's header name), kept once for the life of the process.
//!
//! A name or value made at runtime holds reference-counted bytes: every clone into a
//! message and every drop writes the counter, and with one worker per core that cache line
//! moves between cores on each request. Interned bytes are `'static`: a clone copies a
//! pointer and nothing is counted, so build-time values need no per-thread copy either.

use std::collections::BTreeSet;
use std::sync::{Mutex, PoisonError};

use http::{HeaderName, HeaderValue};

/// Most bytes [`interned`] keeps for the life of the process.
const INTERNED_LIMIT: usize = 1 << 20;

/// What [`interned`] keeps: each distinct text once, and their total length.
struct Kept {
    texts: BTreeSet<&'static [u8]>,
    bytes: usize,
}

static KEPT: Mutex<Kept> = Mutex::new(Kept { texts: BTreeSet::new(), bytes: 0 });

/// `bytes`, kept for the life of the process, one copy per distinct text. A reload that
/// keeps its values adds nothing; past [`INTERNED_LIMIT`] bytes in all (a process reloaded
/// with ever new values) this answers `None` and callers make an ordinary, reference-counted
/// copy.
pub fn interned(bytes: &[u8]) -> Option<&'static [u8]> {
    let mut kept = KEPT.lock().unwrap_or_else(PoisonError::into_inner);
    if let Some(known) = kept.texts.get(bytes) {
        return Some(known);
    }
    if kept.bytes + bytes.len() > INTERNED_LIMIT {
        return None;
    }
    let leaked: &'static [u8] = Box::leak(bytes.to_vec().into_boxed_slice());
    kept.texts.insert(leaked);
    kept.bytes += bytes.len();
    Some(leaked)
}

/// `name`, with interned bytes (a standard name has none to share anyway).
pub fn interned_name(name: &HeaderName) -> HeaderName {
    // A `HeaderName`'s text is lowercase ASCII and valid, which is what `from_static` asks.
    match interned(name.as_str().as_bytes()).and_then(|text| std::str::from_utf8(text).ok()) {
        Some(text) => HeaderName::from_static(text),
        None => HeaderName::from_bytes(name.as_str().as_bytes()).unwrap_or_else(|_| name.clone()),
    }
}

/// `value`, with interned bytes. A sensitive value (a credential) is never interned: it
/// gets bytes of its own, freed with the component that holds it.
pub fn interned_value(value: &HeaderValue) -> HeaderValue {
    let bytes = value.as_bytes();
    let mut copy = match interned(bytes).filter(|_| !value.is_sensitive()) {
        Some(text) => HeaderValue::from_maybe_shared(bytes::Bytes::from_static(text)),
        None => HeaderValue::from_bytes(bytes),
    }
    .unwrap_or_else(|_| value.clone());
    copy.set_sensitive(value.is_sensitive());
    copy
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn interned_headers_are_equal_and_keep_sensitivity() {
        let name = HeaderName::from_static("x-request-id");
        assert_eq!(interned_name(&name), name);
        let mut value = HeaderValue::from_static("secret");
        value.set_sensitive(true);
        let copy = interned_value(&value);
        assert_eq!(copy, value);
        assert!(copy.is_sensitive());
    }

    #[test]
    fn interned_headers_share_their_bytes() {
        let custom = HeaderName::from_bytes(b"X-Helmet-Test").unwrap();
        let (a, b) = (interned_name(&custom), interned_name(&custom));
        assert_eq!(a, custom);
        assert_eq!(a.as_str().as_ptr(), b.as_str().as_ptr(), "one copy per distinct name");
        let value = HeaderValue::from_bytes(b"max-age=5; \xe9").unwrap();
        let (a, b) = (interned_value(&value), interned_value(&value));
        assert_eq!(a, value, "obs-text bytes survive");
        assert_eq!(a.as_bytes().as_ptr(), b.as_bytes().as_ptr());
        assert!(interned(&vec![b'a'; INTERNED_LIMIT + 1]).is_none(), "the limit holds");
    }
}
