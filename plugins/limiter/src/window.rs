//! Windows and the sliding-window estimate.

/// The sliding-window estimate of requests in the last `window`, as Fiber computes it:
///
/// `current + ⌊previous × (window − elapsed) / window⌋`
///
/// where `current` counts the requests of the current fixed window (including this one),
/// `previous` those of the window before, and `elapsed` is the time already spent in the
/// current window: the previous window's count weighted by the part of it that still lies
/// inside the sliding window ending now, rounded down.
pub fn sliding_estimate(current: i64, previous: i64, elapsed_ms: u64, window_ms: u64) -> i64 {
    let remaining = i128::from(window_ms.saturating_sub(elapsed_ms));
    let weighted = i128::from(previous.max(0)) * remaining / i128::from(window_ms.max(1));
    current.saturating_add(i64::try_from(weighted).unwrap_or(i64::MAX))
}

/// The index of the fixed window holding `now_ms`, and the time spent in it.
pub fn window_of(now_ms: u64, window_ms: u64) -> (u64, u64) {
    (now_ms / window_ms, now_ms % window_ms)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn estimate_weights_the_previous_window() {
        assert_eq!(sliding_estimate(1, 10, 0, 1000), 11);
        assert_eq!(sliding_estimate(1, 10, 500, 1000), 6);
        assert_eq!(sliding_estimate(1, 3, 1050, 2000), 2, "⌊3 × 0.475⌋ = 1");
        assert_eq!(sliding_estimate(3, 10, 1000, 1000), 3);
        assert_eq!(window_of(2500, 1000), (2, 500));
    }
}
