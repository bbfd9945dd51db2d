//! The open connections: how many there may be (`concurrency`), which of them are idle, and
//! for how long (`idleTimeout`).
//!
//! A connection is idle while no request on it is in flight: from the end of its last
//! response body (or from its accept) to the start of its next request. HTTP/2 pings do not
//! count as activity, so an h2 connection that only answers pings is closed like an HTTP/1.1
//! keep-alive one.

use std::collections::HashMap;
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, AtomicU8, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

use bytes::Bytes;
use http_body::{Body as HttpBody, Frame, SizeHint};
use seam_core::Body;
use seam_core::body::BoxError;
use tokio::sync::{Notify, OwnedSemaphorePermit, Semaphore};

/// Every open connection of one server (all workers), and the `concurrency` cap.
pub struct Connections {
    permits: Arc<Semaphore>,
    /// Keyed by a counter the server hands out, never by a client's value: a fast hash
    /// (std's SipHash cost ~300 instructions per connection) cannot be steered.
    live: Mutex<HashMap<u64, Arc<Activity>, foldhash::fast::FixedState>>,
    next_id: AtomicU64,
    epoch: Instant,
    /// Notified when the last open connection closes.
    closed: Notify,
    /// What new connections are asked from the start (`DRAIN` once shutting down).
    asking: AtomicU8,
}

/// One connection's place among the open ones; leaving it (drop) frees the slot.
pub struct Slot {
    connections: Arc<Connections>,
    id: u64,
    /// What the connection does, shared with its requests.
    pub activity: Arc<Activity>,
    _permit: OwnedSemaphorePermit,
}

impl Drop for Slot {
    fn drop(&mut self) {
        let mut live = self.connections.live.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        live.remove(&self.id);
        if live.is_empty() {
            self.connections.closed.notify_waiters();
        }
    }
}

/// What one connection is doing: requests in flight, when the last one ended, and whether
/// it was asked to close because the server needs its slot.
pub struct Activity {
    in_flight: AtomicUsize,
    /// Milliseconds since [`Connections::epoch`] at which the connection last became idle.
    idle_since: AtomicU64,
    /// Whether a request has begun on it (before the first, no answer can be left to flush).
    served: AtomicBool,
    epoch: Instant,
    /// What the server asks of the connection: one of the `KEEP`, `EVICT`, `DRAIN`, `DROP`.
    asked: AtomicU8,
    /// Notified when `asked` changes.
    pub signal: Notify,
}

/// Nothing asked: serve.
pub const KEEP: u8 = 0;
/// The server needs the slot: close if idle.
pub const EVICT: u8 = 1;
/// The server shuts down: finish what is in flight, take nothing new, close.
pub const DRAIN: u8 = 2;
/// The shutdown timeout passed: close now.
pub const DROP: u8 = 3;

impl Activity {
    fn now(&self) -> u64 {
        u64::try_from(self.epoch.elapsed().as_millis()).unwrap_or(u64::MAX)
    }

    /// A request starts; the returned guard ends it when dropped (with its response body).
    pub fn begin(self: &Arc<Self>) -> InFlight {
        self.in_flight.fetch_add(1, Ordering::Relaxed);
        self.served.store(true, Ordering::Relaxed);
        InFlight(self.clone())
    }

    /// What the server asks (`KEEP`, `EVICT`, `DRAIN` or `DROP`).
    pub fn asked(&self) -> u8 {
        self.asked.load(Ordering::Acquire)
    }

    fn ask(&self, what: u8) {
        self.asked.fetch_max(what, Ordering::AcqRel);
        self.signal.notify_one();
    }

    /// Whether a request has begun on the connection.
    pub fn has_served(&self) -> bool {
        self.served.load(Ordering::Relaxed)
    }

    /// How long the connection has had nothing in flight; `None` while a request is.
    pub fn idle_for(&self) -> Option<Duration> {
        if self.in_flight.load(Ordering::Relaxed) > 0 {
            return None;
        }
        Some(Duration::from_millis(self.now().saturating_sub(self.idle_since.load(Ordering::Relaxed))))
    }
}

/// One request in flight on a connection.
pub struct InFlight(Arc<Activity>);

impl Drop for InFlight {
    fn drop(&mut self) {
        self.0.idle_since.store(self.0.now(), Ordering::Relaxed);
        self.0.in_flight.fetch_sub(1, Ordering::Relaxed);
    }
}

impl Connections {
    /// Room for `concurrency` open connections.
    pub fn new(concurrency: u64) -> Arc<Connections> {
        let cap = usize::try_from(concurrency).unwrap_or(usize::MAX).clamp(1, Semaphore::MAX_PERMITS);
        Arc::new(Connections {
            permits: Arc::new(Semaphore::new(cap)),
            live: Mutex::new(HashMap::default()),
            next_id: AtomicU64::new(0),
            epoch: Instant::now(),
            closed: Notify::new(),
            asking: AtomicU8::new(KEEP),
        })
    }

    /// A slot for a new connection. When every slot is taken, the connection idle the
    /// longest is asked to close and its slot is awaited for up to `wait`; `None` means none
    /// came free (every connection is busy) and the new connection is to be refused.
    /// Requests in flight are never disturbed.
    pub async fn admit(self: &Arc<Self>, wait: Duration) -> Option<Slot> {
        let permit = match self.permits.clone().try_acquire_owned() {
            Ok(permit) => permit,
            Err(_) => {
                self.evict_longest_idle();
                tokio::time::timeout(wait, self.permits.clone().acquire_owned()).await.ok()?.ok()?
            }
        };
        let id = self.next_id.fetch_add(1, Ordering::Relaxed);
        let activity = Arc::new(Activity {
            in_flight: AtomicUsize::new(0),
            idle_since: AtomicU64::new(u64::try_from(self.epoch.elapsed().as_millis()).unwrap_or(u64::MAX)),
            served: AtomicBool::new(false),
            epoch: self.epoch,
            asked: AtomicU8::new(self.asking.load(Ordering::Acquire)),
            signal: Notify::new(),
        });
        self.live.lock().unwrap_or_else(std::sync::PoisonError::into_inner).insert(id, activity.clone());
        Some(Slot { connections: self.clone(), id, activity, _permit: permit })
    }

    /// Asks the connection that has been idle the longest to close.
    fn evict_longest_idle(&self) {
        let live = self.live.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        let longest = live.values().filter_map(|a| a.idle_for().map(|idle| (idle, a))).max_by_key(|(idle, _)| *idle);
        if let Some((_, activity)) = longest {
            activity.ask(EVICT);
        }
    }

    /// Asks every open connection to `DRAIN` (finish and close) or to `DROP` (close now).
    pub fn ask_all(&self, what: u8) {
        self.asking.fetch_max(what, Ordering::AcqRel);
        for activity in self.live.lock().unwrap_or_else(std::sync::PoisonError::into_inner).values() {
            activity.ask(what);
        }
    }

    /// Completes once no connection is open.
    pub async fn all_closed(&self) {
        loop {
            let closed = self.closed.notified();
            if self.open() == 0 {
                return;
            }
            closed.await;
        }
    }

    /// How many connections are open.
    pub fn open(&self) -> usize {
        self.live.lock().unwrap_or_else(std::sync::PoisonError::into_inner).len()
    }
}

/// A response body that keeps its request in flight until it is sent (or dropped).
pub struct TrackedBody {
    inner: Body,
    _in_flight: InFlight,
}

impl TrackedBody {
    /// Wraps `inner`, holding `in_flight` for as long as it lives.
    pub fn new(inner: Body, in_flight: InFlight) -> Self {
        TrackedBody { inner, _in_flight: in_flight }
    }
}

impl HttpBody for TrackedBody {
    type Data = Bytes;
    type Error = BoxError;

    fn poll_frame(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Result<Frame<Bytes>, BoxError>>> {
        Pin::new(&mut self.inner).poll_frame(cx)
    }

    fn is_end_stream(&self) -> bool {
        self.inner.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        self.inner.size_hint()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_full_server_evicts_the_longest_idle_connection_and_never_a_busy_one() {
        let connections = Connections::new(2);
        let older = connections.admit(Duration::ZERO).await.expect("first slot");
        tokio::time::sleep(Duration::from_millis(20)).await;
        let busy = connections.admit(Duration::ZERO).await.expect("second slot");
        let _request = busy.activity.begin();
        assert!(busy.activity.idle_for().is_none());
        // Full: the idle one is asked to close; the busy one is not.
        let connections2 = connections.clone();
        let third = tokio::spawn(async move { connections2.admit(Duration::from_secs(5)).await });
        tokio::time::timeout(Duration::from_secs(5), older.activity.signal.notified()).await.expect("asked to close");
        assert_eq!(older.activity.asked(), EVICT);
        assert_eq!(busy.activity.asked(), KEEP);
        drop(older);
        let _third = third.await.unwrap().expect("its slot goes to the new connection");
        assert_eq!(connections.open(), 2);
    }

    #[tokio::test]
    async fn a_full_server_of_busy_connections_refuses_a_new_one() {
        let connections = Connections::new(1);
        let busy = connections.admit(Duration::ZERO).await.unwrap();
        let _request = busy.activity.begin();
        assert!(connections.admit(Duration::from_millis(50)).await.is_none());
    }
}
