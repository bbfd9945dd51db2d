//! Sessions already parsed (and opened, when sealed), so a hot session is not parsed again on
//! every request.
//!
//! An entry is used only when the storage returned exactly the bytes it was made from: a
//! session changed by any instance, or deleted and recreated, has other bytes and is parsed
//! afresh. Nothing here can outlive or contradict the storage; it only saves the work.
//!
//! Each worker thread keeps its own parsed sessions: a hit takes no lock and touches no
//! reference count another worker touches (a hot session is parsed once per worker).

use std::cell::RefCell;
use std::sync::Arc;

use bytes::Bytes;
use quick_cache::Weighter;
use serde_json::{Map, Value};
use thread_local::ThreadLocal;

/// The most bytes of stored sessions the cache keeps per session middleware, shared out
/// between the threads that serve it; the parsed form costs a small multiple of it.
const CAPACITY_BYTES: u64 = 8 << 20;
/// What an entry costs beyond its bytes (the id, the map's nodes).
const ENTRY_OVERHEAD: u64 = 128;

/// One stored session and what it holds.
#[derive(Clone)]
pub struct Opened {
    /// The bytes as stored.
    raw: Bytes,
    /// When the session id was made (unix ms).
    pub created: u64,
    /// The values.
    pub data: Arc<Map<String, Value>>,
}

#[derive(Clone)]
struct ByStoredSize;

impl Weighter<String, Arc<Opened>> for ByStoredSize {
    fn weight(&self, id: &String, opened: &Arc<Opened>) -> u64 {
        opened.raw.len() as u64 + id.len() as u64 + ENTRY_OVERHEAD
    }
}

type PerThread = quick_cache::unsync::Cache<String, Arc<Opened>, ByStoredSize>;

/// Parsed sessions by id, kept by each thread for itself.
pub struct OpenedSessions {
    threads: ThreadLocal<RefCell<PerThread>>,
    /// What one thread keeps at most.
    capacity: u64,
}

impl OpenedSessions {
    pub fn new() -> Self {
        let threads = std::thread::available_parallelism().map_or(2, |n| n.get() as u64);
        OpenedSessions { threads: ThreadLocal::new(), capacity: (CAPACITY_BYTES / threads).max(1 << 20) }
    }

    fn mine(&self) -> &RefCell<PerThread> {
        self.threads.get_or(|| {
            let estimated_items = (self.capacity / 512) as usize;
            RefCell::new(quick_cache::unsync::Cache::with_weighter(estimated_items, self.capacity, ByStoredSize))
        })
    }

    /// The session under `id` if `raw` is what it was parsed from; else `open(raw)`, kept
    /// for the next request.
    pub fn get_or_open(
        &self,
        id: &str,
        raw: &Bytes,
        open: impl FnOnce(&[u8]) -> Option<(u64, Map<String, Value>)>,
    ) -> Option<Arc<Opened>> {
        let mine = self.mine();
        if let Some(hit) = mine.borrow().get(id).filter(|hit| hit.raw == *raw) {
            return Some(hit.clone());
        }
        let (created, data) = open(raw)?;
        // The thread's own copy of the bytes, compared on every later hit.
        let opened = Arc::new(Opened { raw: Bytes::copy_from_slice(raw), created, data: Arc::new(data) });
        mine.borrow_mut().insert(id.to_owned(), opened.clone());
        Some(opened)
    }

    /// Drops what this thread keeps for `id` (the session was destroyed or moved). Other
    /// threads' copies stay until pushed out: they no longer match what is stored.
    pub fn forget(&self, id: &str) {
        self.mine().borrow_mut().remove(id);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(raw: &[u8]) -> Option<(u64, Map<String, Value>)> {
        let value: Value = serde_json::from_slice(raw).ok()?;
        Some((value["created"].as_u64()?, value["data"].as_object()?.clone()))
    }

    #[test]
    fn a_session_is_parsed_again_when_its_stored_bytes_change() {
        let cache = OpenedSessions::new();
        let first = Bytes::from_static(br#"{"created":1,"data":{"user":"a"}}"#);
        let parsed = std::cell::Cell::new(0);
        let open = |raw: &[u8]| {
            parsed.set(parsed.get() + 1);
            parse(raw)
        };
        assert_eq!(cache.get_or_open("id", &first, open).unwrap().data["user"], "a");
        assert_eq!(cache.get_or_open("id", &first.clone(), open).unwrap().data["user"], "a");
        assert_eq!(parsed.get(), 1, "the same bytes are not parsed twice");
        let changed = Bytes::from_static(br#"{"created":1,"data":{"user":"b"}}"#);
        assert_eq!(cache.get_or_open("id", &changed, open).unwrap().data["user"], "b");
        assert_eq!(parsed.get(), 2, "other bytes under the same id are parsed afresh");
        assert_eq!(cache.get_or_open("other", &first, open).unwrap().data["user"], "a");
        assert_eq!(parsed.get(), 3, "entries are per id");
    }

    #[test]
    fn what_does_not_open_is_not_kept() {
        let cache = OpenedSessions::new();
        let broken = Bytes::from_static(b"not json");
        let parsed = std::cell::Cell::new(0);
        let open = |raw: &[u8]| {
            parsed.set(parsed.get() + 1);
            parse(raw)
        };
        assert!(cache.get_or_open("id", &broken, open).is_none());
        assert!(cache.get_or_open("id", &broken, open).is_none());
        assert_eq!(parsed.get(), 2);
    }

    #[test]
    fn the_cache_stays_within_its_byte_capacity() {
        let cache = OpenedSessions::new();
        let big = Bytes::from(format!(r#"{{"created":1,"data":{{"v":"{}"}}}}"#, "x".repeat(64 << 10)));
        for i in 0..1000 {
            cache.get_or_open(&format!("id{i}"), &big, parse).unwrap();
        }
        let mine = cache.mine().borrow();
        assert!(mine.weight() <= cache.capacity && cache.capacity <= CAPACITY_BYTES, "{} bytes kept", mine.weight());
        assert!(mine.len() < 1000);
    }
}
