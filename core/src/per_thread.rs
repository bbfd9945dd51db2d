//! Values each worker thread keeps its own copy of, so that what a request clones or counts
//! touches memory no other worker writes.
//!
//! A shared `Arc`, or a header name or value made at build (their bytes are reference
//! counted), bounces its counter's cache line between the workers on every clone and drop:
//! with one worker per core, every request pays a cross-core transfer per clone. A
//! [`PerThread`] hands each thread a copy made for it (deep: its own counters), once.
//! Header names and values go further: [`fresh_name`] and [`fresh_value`] give copies whose
//! bytes are interned for the life of the process, so cloning them touches no counter at all.

use http::{HeaderName, HeaderValue};
use thread_local::ThreadLocal;

/// `original`, copied once per thread that asks for it.
pub struct PerThread<T: Send> {
    original: T,
    copies: ThreadLocal<T>,
    copy: fn(&T) -> T,
}

impl<T: Send> PerThread<T> {
    /// Keeps `original`; each thread gets `copy(&original)` the first time it asks.
    pub fn new(original: T, copy: fn(&T) -> T) -> Self {
        PerThread { original, copies: ThreadLocal::new(), copy }
    }

    /// This thread's copy.
    pub fn get(&self) -> &T {
        self.copies.get_or(|| (self.copy)(&self.original))
    }

    /// The value as given (for build-time uses and messages).
    pub fn original(&self) -> &T {
        &self.original
    }
}

impl<T: Send + std::fmt::Debug> std::fmt::Debug for PerThread<T> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        self.original.fmt(f)
    }
}

/// A header name whose clones cost nothing: its bytes are interned (see [`interned`]), so a
/// clone copies a pointer and touches no counter (a standard name has no bytes to share anyway).
pub fn fresh_name(name: &HeaderName) -> HeaderName {
    match interned(name.as_str().as_bytes()).map(std::str::from_utf8) {
        // A `HeaderName`'s text is lowercase and valid, which is what `from_static` asks.
        Some(Ok(text)) => HeaderName::from_static(text),
        _ => HeaderName::from_bytes(name.as_str().as_bytes()).unwrap_or_else(|_| name.clone()),
    }
}

/// A header value whose clones cost nothing: its bytes are interned (see [`interned`]), so
/// setting it on every response copies a pointer and touches no counter.
pub fn fresh_value(value: &HeaderValue) -> HeaderValue {
    let bytes = value.as_bytes();
    let mut fresh = match interned(bytes) {
        Some(text) => HeaderValue::from_maybe_shared(bytes::Bytes::from_static(text)),
        None => HeaderValue::from_bytes(bytes),
    }
    .unwrap_or_else(|_| value.clone());
    fresh.set_sensitive(value.is_sensitive());
    fresh
}

/// Most bytes [`interned`] keeps for the life of the process.
const INTERNED_LIMIT: usize = 1 << 20;

/// `bytes`, kept for the life of the process, one copy per distinct text: header names and
/// values a configuration sets on every message. A reload that keeps its values adds nothing;
/// past [`INTERNED_LIMIT`] bytes in all (a process reloaded with ever new values) this
/// answers `None` and callers make an ordinary, reference-counted copy.
pub fn interned(bytes: &[u8]) -> Option<&'static [u8]> {
    static KEPT: std::sync::Mutex<(std::collections::BTreeSet<&'static [u8]>, usize)> =
        std::sync::Mutex::new((std::collections::BTreeSet::new(), 0));
    let mut kept = KEPT.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
    if let Some(known) = kept.0.get(bytes) {
        return Some(known);
    }
    if kept.1 + bytes.len() > INTERNED_LIMIT {
        return None;
    }
    let leaked: &'static [u8] = Box::leak(bytes.to_vec().into_boxed_slice());
    kept.0.insert(leaked);
    kept.1 += bytes.len();
    Some(leaked)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Arc;

    #[test]
    fn each_thread_gets_its_own_copy_once() {
        let shared = PerThread::new(Arc::new(7), |a| Arc::new(**a));
        let here = shared.get().clone();
        assert!(Arc::ptr_eq(&here, shared.get()), "the same copy on a second ask");
        assert!(!Arc::ptr_eq(&here, shared.original()), "a copy, not the original");
        let there = std::thread::scope(|s| s.spawn(|| shared.get().clone()).join().unwrap());
        assert!(!Arc::ptr_eq(&here, &there), "another thread has another copy");
        assert_eq!((*here, *there), (7, 7));
    }

    #[test]
    fn fresh_headers_are_equal_and_keep_sensitivity() {
        let name = HeaderName::from_static("x-request-id");
        assert_eq!(fresh_name(&name), name);
        let mut value = HeaderValue::from_static("secret");
        value.set_sensitive(true);
        let fresh = fresh_value(&value);
        assert_eq!(fresh, value);
        assert!(fresh.is_sensitive());
    }

    #[test]
    fn fresh_headers_share_interned_bytes() {
        let custom = HeaderName::from_bytes(b"X-Helmet-Test").unwrap();
        let (a, b) = (fresh_name(&custom), fresh_name(&custom));
        assert_eq!(a, custom);
        assert_eq!(a.as_str().as_ptr(), b.as_str().as_ptr(), "one copy per distinct name");
        let value = HeaderValue::from_bytes(b"max-age=5; \xe9").unwrap();
        let (a, b) = (fresh_value(&value), fresh_value(&value));
        assert_eq!(a, value, "obs-text bytes survive");
        assert_eq!(a.as_bytes().as_ptr(), b.as_bytes().as_ptr());
        assert!(interned(&vec![b'a'; INTERNED_LIMIT + 1]).is_none(), "the limit holds");
    }
}
