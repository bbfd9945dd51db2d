//! A counter that worker threads add to without writing the same cache line: each thread
//! counts in a cell of its own, and a scrape sums them. For counters every request on a hot
//! path touches (a client-side cache hit), where a shared atomic would move its cache line
//! between the cores on every request.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use prometheus_client::encoding::{EncodeMetric, MetricEncoder, NoLabelSet};
use prometheus_client::metrics::{MetricType, TypedMetric};
use thread_local::ThreadLocal;

/// One thread's count, alone on its cache line (the per-thread cells are allocated side
/// by side).
#[derive(Debug, Default)]
#[repr(align(128))]
struct Cell(AtomicU64);

/// A monotonic counter, counted per thread.
#[derive(Clone, Debug, Default)]
pub struct ShardedCounter(Arc<ThreadLocal<Cell>>);

impl ShardedCounter {
    /// Adds one, in this thread's cell.
    pub fn inc(&self) {
        self.0.get_or_default().0.fetch_add(1, Ordering::Relaxed);
    }

    /// The total over every thread.
    pub fn get(&self) -> u64 {
        self.0.iter().map(|cell| cell.0.load(Ordering::Relaxed)).sum()
    }
}

impl TypedMetric for ShardedCounter {
    const TYPE: MetricType = MetricType::Counter;
}

impl EncodeMetric for ShardedCounter {
    fn encode(&self, mut encoder: MetricEncoder) -> Result<(), std::fmt::Error> {
        encoder.encode_counter::<NoLabelSet, _, u64>(&self.get(), None)
    }

    fn metric_type(&self) -> MetricType {
        Self::TYPE
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts_from_every_thread_add_up() {
        let counter = ShardedCounter::default();
        std::thread::scope(|s| {
            for _ in 0..4 {
                let counter = counter.clone();
                s.spawn(move || (0..1000).for_each(|_| counter.inc()));
            }
        });
        counter.inc();
        assert_eq!(counter.get(), 4001);
    }
}
