//! Round robin over upstream endpoints, skipping those that refused a connection.

use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use crate::upstream::Upstream;

/// The endpoints of a `BalancerHttpAction` and their health.
pub struct Balancer {
    endpoints: Vec<(Upstream, AtomicU64)>,
    next: AtomicUsize,
    backoff: Duration,
    epoch: Instant,
}

impl Balancer {
    /// A balancer over `endpoints`; an endpoint that refuses is skipped for `backoff`.
    pub fn new(endpoints: Vec<Upstream>, backoff: Duration) -> Self {
        for metrics in endpoints.iter().filter_map(|e| e.metrics.as_ref()) {
            metrics.up.set(1);
        }
        Balancer {
            endpoints: endpoints.into_iter().map(|u| (u, AtomicU64::new(0))).collect(),
            next: AtomicUsize::new(0),
            backoff,
            epoch: Instant::now(),
        }
    }

    fn now(&self) -> u64 {
        u64::try_from(self.epoch.elapsed().as_millis()).unwrap_or(u64::MAX).max(1)
    }

    /// The endpoints to try for one request, in order: the next ones in the rotation that
    /// are not backing off. Empty when every endpoint is down.
    pub fn candidates(&self) -> Vec<usize> {
        let n = self.endpoints.len();
        let start = self.next.fetch_add(1, Ordering::Relaxed);
        let now = self.now();
        (0..n).map(|i| (start + i) % n).filter(|&i| self.endpoints[i].1.load(Ordering::Relaxed) <= now).collect()
    }

    /// `index` answered: it is up again (for the metrics; the rotation already takes it).
    pub fn mark_up(&self, index: usize) {
        if let Some(metrics) = &self.endpoints[index].0.metrics {
            metrics.up.set(1);
        }
    }

    /// The endpoint at `index`.
    pub fn endpoint(&self, index: usize) -> &Upstream {
        &self.endpoints[index].0
    }

    /// Skips `index` for the back-off; `why` says what it did.
    pub fn mark_down(&self, index: usize, why: &str) {
        let until = self.now().saturating_add(u64::try_from(self.backoff.as_millis()).unwrap_or(u64::MAX));
        self.endpoints[index].1.store(until, Ordering::Relaxed);
        if let Some(metrics) = &self.endpoints[index].0.metrics {
            metrics.up.set(0);
        }
        tracing::warn!(upstream = %self.endpoints[index].0.text, "upstream {why}; skipping it for {:?}", self.backoff);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rotates_and_skips_endpoints_that_are_down() {
        let ups = ["http://a", "http://b", "http://c"].map(|u| Upstream::parse(u).unwrap()).to_vec();
        let b = Balancer::new(ups, Duration::from_secs(60));
        let firsts: Vec<usize> = (0..6).map(|_| b.candidates()[0]).collect();
        assert_eq!(firsts, [0, 1, 2, 0, 1, 2]);
        b.mark_down(1, "refused");
        for _ in 0..6 {
            assert!(!b.candidates().contains(&1));
        }
        b.mark_down(0, "refused");
        b.mark_down(2, "refused");
        assert!(b.candidates().is_empty());
    }
}
