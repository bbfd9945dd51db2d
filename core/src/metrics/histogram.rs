//! A histogram that requests record into without a lock: one atomic add for the bucket and
//! one for the sum (prometheus-client's own takes a lock per observation, which two workers
//! observing the same route contend for).

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use prometheus_client::encoding::{EncodeMetric, MetricEncoder, NoLabelSet};
use prometheus_client::metrics::{MetricType, TypedMetric};

/// Observations of durations in seconds, by bucket.
#[derive(Clone, Debug)]
pub struct Histogram(Arc<Inner>);

#[derive(Debug)]
struct Inner {
    /// Upper bounds, ascending; a last bucket (+Inf) follows them.
    bounds: &'static [f64],
    counts: Box<[AtomicU64]>,
    /// The sum, in nanoseconds (whole nanoseconds are exact for any duration we measure).
    sum_nanos: AtomicU64,
}

impl Histogram {
    /// A histogram over `bounds` (ascending upper bounds, in seconds) and +Inf.
    pub fn new(bounds: &'static [f64]) -> Histogram {
        let counts = (0..=bounds.len()).map(|_| AtomicU64::new(0)).collect();
        Histogram(Arc::new(Inner { bounds, counts, sum_nanos: AtomicU64::new(0) }))
    }

    /// Records one observation of `seconds`.
    pub fn observe(&self, seconds: f64) {
        let inner = &*self.0;
        let bucket = inner.bounds.partition_point(|bound| *bound < seconds);
        inner.counts[bucket].fetch_add(1, Ordering::Relaxed);
        let nanos = (seconds * 1e9).max(0.0) as u64;
        inner.sum_nanos.fetch_add(nanos, Ordering::Relaxed);
    }

    /// How many observations were recorded.
    pub fn count(&self) -> u64 {
        self.0.counts.iter().map(|c| c.load(Ordering::Relaxed)).sum()
    }
}

impl TypedMetric for Histogram {
    const TYPE: MetricType = MetricType::Histogram;
}

impl EncodeMetric for Histogram {
    fn encode(&self, mut encoder: MetricEncoder) -> Result<(), std::fmt::Error> {
        let inner = &*self.0;
        let buckets: Vec<(f64, u64)> = inner
            .bounds
            .iter()
            .copied()
            .chain([f64::INFINITY])
            .zip(inner.counts.iter().map(|c| c.load(Ordering::Relaxed)))
            .collect();
        let count = buckets.iter().map(|(_, n)| n).sum();
        let sum = inner.sum_nanos.load(Ordering::Relaxed) as f64 / 1e9;
        encoder.encode_histogram::<NoLabelSet>(sum, count, &buckets, None)
    }

    fn metric_type(&self) -> MetricType {
        MetricType::Histogram
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn observations_land_in_the_first_bucket_that_holds_them() {
        static BOUNDS: [f64; 3] = [0.001, 0.01, 0.1];
        let h = Histogram::new(&BOUNDS);
        for seconds in [0.0005, 0.001, 0.002, 0.5, 0.05] {
            h.observe(seconds);
        }
        let counts: Vec<u64> = h.0.counts.iter().map(|c| c.load(Ordering::Relaxed)).collect();
        assert_eq!(counts, [2, 1, 1, 1], "le is inclusive; 0.5 s goes to +Inf");
        assert_eq!(h.count(), 5);
        assert_eq!(h.0.sum_nanos.load(Ordering::Relaxed), 553_500_000);
    }
}
