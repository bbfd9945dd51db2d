//! Values each worker thread keeps its own copy of, so that what a request clones or counts
//! touches memory no other worker writes.
//!
//! A shared `Arc`, or a header name or value made at build (their bytes are reference
//! counted), bounces its counter's cache line between the workers on every clone and drop:
//! with one worker per core, every request pays a cross-core transfer per clone. A
//! [`PerThread`] hands each thread a copy made for it (deep: its own counters), once.
//! Header names and values need none: `crate::interned` gives them `'static` bytes, which
//! have no counter at all.

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
}
