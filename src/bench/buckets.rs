//! Latency counted into fixed buckets as Prometheus histograms want them
//! (`_bucket{le=…}`), kept beside the exact HdrHistogram: each connection counts
//! locally and adds its counts to the shared atomics when it publishes, so a
//! scrape sees every echo (at most one publish period late) at no cost per echo
//! beyond a few comparisons.

use std::sync::atomic::{AtomicU64, Ordering};

/// Upper bounds in µs: 100 µs to 10 s, about three per decade.
pub const BOUNDS_US: [u64; 16] = [
    100, 250, 500, 1_000, 2_500, 5_000, 10_000, 25_000, 50_000, 100_000, 250_000, 500_000,
    1_000_000, 2_500_000, 5_000_000, 10_000_000,
];

/// One count per bound plus the overflow (`+Inf` minus the rest).
const SLOTS: usize = BOUNDS_US.len() + 1;

/// The shared, cumulative counts a scrape reads.
#[derive(Debug, Default)]
pub struct Buckets {
    counts: [AtomicU64; SLOTS],
    sum_us: AtomicU64,
}

/// A connection's counts since it last published.
#[derive(Debug, Default)]
pub struct LocalBuckets {
    counts: [u64; SLOTS],
    sum_us: u64,
    any: bool,
}

impl LocalBuckets {
    pub fn record(&mut self, us: u64) {
        let slot = BOUNDS_US.partition_point(|&b| b < us);
        self.counts[slot] += 1;
        self.sum_us += us;
        self.any = true;
    }

    pub fn flush_into(&mut self, shared: &Buckets) {
        if !self.any {
            return;
        }
        for (mine, theirs) in self.counts.iter_mut().zip(&shared.counts) {
            if *mine > 0 {
                theirs.fetch_add(*mine, Ordering::Relaxed);
                *mine = 0;
            }
        }
        shared.sum_us.fetch_add(self.sum_us, Ordering::Relaxed);
        self.sum_us = 0;
        self.any = false;
    }
}

/// What a scrape shows: cumulative counts per bound (the last is `+Inf`), the
/// sum in µs and the count.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct BucketSnapshot {
    pub cumulative: Vec<(Option<u64>, u64)>,
    pub sum_us: u64,
    pub count: u64,
}

impl Buckets {
    pub fn snapshot(&self) -> BucketSnapshot {
        let mut running = 0;
        let mut cumulative = Vec::with_capacity(SLOTS);
        for (i, c) in self.counts.iter().enumerate() {
            running += c.load(Ordering::Relaxed);
            cumulative.push((BOUNDS_US.get(i).copied(), running));
        }
        BucketSnapshot {
            cumulative,
            sum_us: self.sum_us.load(Ordering::Relaxed),
            count: running,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_value_on_a_bound_counts_in_that_bucket() {
        let shared = Buckets::default();
        let mut local = LocalBuckets::default();
        for us in [1, 100, 101, 10_000_000, 10_000_001] {
            local.record(us);
        }
        local.flush_into(&shared);
        local.flush_into(&shared);
        let s = shared.snapshot();
        assert_eq!(s.count, 5);
        assert_eq!(s.cumulative[0], (Some(100), 2));
        assert_eq!(s.cumulative[1], (Some(250), 3));
        assert_eq!(s.cumulative[15], (Some(10_000_000), 4));
        assert_eq!(s.cumulative[16], (None, 5));
        assert_eq!(s.sum_us, 1 + 100 + 101 + 10_000_000 + 10_000_001);
    }
}
