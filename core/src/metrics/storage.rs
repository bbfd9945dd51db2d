//! Storage metrics, counted by a wrapper the resolver puts around every storage it builds
//! when `server.metrics` is set.

use std::sync::Arc;
use std::time::{Duration, Instant};

use async_trait::async_trait;
use bytes::Bytes;

use super::{Counter, Gauge, Histogram, families};
use crate::storage::{Capabilities, Storage, StorageError};

/// The handles of one operation of one storage.
#[derive(Clone, Debug)]
struct Operation {
    ok: Counter,
    error: Counter,
    duration: Histogram,
}

/// The handles of one storage.
#[derive(Clone, Debug)]
pub struct StorageMetrics {
    get: Operation,
    set: Operation,
    delete: Operation,
    incr: Operation,
    scan: Operation,
    reset: Operation,
    ping: Operation,
    up: Gauge,
}

impl StorageMetrics {
    /// The handles of storage `name`.
    pub fn new(name: &str) -> StorageMetrics {
        let f = families();
        let operation = |op: &'static str| {
            let counter = |outcome: &'static str| {
                let labels = vec![("storage", name.to_owned()), ("op", op.to_owned()), ("outcome", outcome.to_owned())];
                f.storage_operations.get_or_create_owned(&labels)
            };
            let labels = vec![("storage", name.to_owned()), ("op", op.to_owned())];
            Operation {
                ok: counter("ok"),
                error: counter("error"),
                duration: f.storage_duration.get_or_create_owned(&labels),
            }
        };
        StorageMetrics {
            get: operation("get"),
            set: operation("set"),
            delete: operation("delete"),
            incr: operation("incr"),
            scan: operation("scan"),
            reset: operation("reset"),
            ping: operation("ping"),
            up: f.storage_up.get_or_create_owned(&vec![("storage", name.to_owned())]),
        }
    }

    /// Runs `operation`, counting and timing it as `op`.
    async fn timed<T>(
        &self,
        op: &Operation,
        operation: impl Future<Output = Result<T, StorageError>>,
    ) -> Result<T, StorageError> {
        let started = Instant::now();
        let result = operation.await;
        self.count(op, started, &result);
        result
    }

    fn count<T>(&self, op: &Operation, started: Instant, result: &Result<T, StorageError>) {
        op.duration.observe(started.elapsed().as_secs_f64());
        match result {
            Ok(_) => {
                op.ok.inc();
                self.up.set(1);
            }
            Err(e) => {
                op.error.inc();
                if matches!(e, StorageError::Unavailable(_) | StorageError::Timeout(_)) {
                    self.up.set(0);
                }
            }
        }
    }
}

/// A storage whose every operation is counted and timed.
pub struct InstrumentedStorage {
    inner: Arc<dyn Storage>,
    metrics: StorageMetrics,
}

impl InstrumentedStorage {
    /// `inner`, counted as storage `name`.
    pub fn wrap(name: &str, inner: Arc<dyn Storage>) -> Arc<dyn Storage> {
        let metrics = StorageMetrics::new(name);
        metrics.up.set(1);
        Arc::new(InstrumentedStorage { inner, metrics })
    }
}

#[async_trait]
impl Storage for InstrumentedStorage {
    async fn get(&self, key: &str) -> Result<Option<Bytes>, StorageError> {
        self.metrics.timed(&self.metrics.get, self.inner.get(key)).await
    }

    /// Counted as a `get` that waited for nothing when it answers; a `None` is not a read
    /// (the `get` after it counts), so it costs no clock read.
    fn get_now(&self, key: &str) -> Option<Result<Option<Bytes>, StorageError>> {
        let result = self.inner.get_now(key)?;
        self.metrics.count(&self.metrics.get, Instant::now(), &result);
        Some(result)
    }

    async fn set(&self, key: &str, value: Bytes, ttl: Option<Duration>) -> Result<(), StorageError> {
        self.metrics.timed(&self.metrics.set, self.inner.set(key, value, ttl)).await
    }

    async fn delete(&self, key: &str) -> Result<bool, StorageError> {
        self.metrics.timed(&self.metrics.delete, self.inner.delete(key)).await
    }

    fn capabilities(&self) -> Capabilities {
        self.inner.capabilities()
    }

    async fn incr(&self, key: &str, delta: i64, ttl: Option<Duration>) -> Result<i64, StorageError> {
        self.metrics.timed(&self.metrics.incr, self.inner.incr(key, delta, ttl)).await
    }

    async fn scan(&self, pattern: &str) -> Result<Vec<String>, StorageError> {
        self.metrics.timed(&self.metrics.scan, self.inner.scan(pattern)).await
    }

    async fn reset(&self) -> Result<(), StorageError> {
        self.metrics.timed(&self.metrics.reset, self.inner.reset()).await
    }

    fn owns_whole_server(&self) -> bool {
        self.inner.owns_whole_server()
    }

    fn endpoint(&self) -> Option<String> {
        self.inner.endpoint()
    }

    async fn ping(&self) -> Result<(), StorageError> {
        let result = self.metrics.timed(&self.metrics.ping, self.inner.ping()).await;
        if result.is_err() {
            self.metrics.up.set(0);
        }
        result
    }

    async fn publish(&self, channel: &str, message: Bytes) -> Result<(), StorageError> {
        self.inner.publish(channel, message).await
    }

    async fn subscribe(&self, channel: &str) -> Result<tokio::sync::mpsc::Receiver<Bytes>, StorageError> {
        self.inner.subscribe(channel).await
    }

    async fn close(&self) -> Result<(), StorageError> {
        self.inner.close().await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A storage that answers every read at once, and `get` never.
    struct Immediate;

    #[async_trait]
    impl Storage for Immediate {
        async fn get(&self, _: &str) -> Result<Option<Bytes>, StorageError> {
            Err(StorageError::Backend("only get_now answers".into()))
        }
        async fn set(&self, _: &str, _: Bytes, _: Option<Duration>) -> Result<(), StorageError> {
            Ok(())
        }
        async fn delete(&self, _: &str) -> Result<bool, StorageError> {
            Ok(false)
        }
        fn get_now(&self, key: &str) -> Option<Result<Option<Bytes>, StorageError>> {
            (key == "here").then(|| Ok(Some(Bytes::from_static(b"v"))))
        }
    }

    #[test]
    fn a_read_answered_at_once_is_counted_as_a_get_and_a_none_is_not() {
        let metrics = StorageMetrics::new("get-now-counted");
        let storage = InstrumentedStorage { inner: Arc::new(Immediate), metrics: metrics.clone() };
        assert_eq!(storage.get_now("here").unwrap().unwrap().as_deref(), Some(&b"v"[..]));
        assert!(storage.get_now("elsewhere").is_none(), "the inner storage cannot tell: ask get");
        assert_eq!(metrics.get.ok.get(), 1, "one read answered");
        assert_eq!(metrics.get.error.get(), 0);
    }
}
