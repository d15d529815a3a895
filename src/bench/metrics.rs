//! A bench worker's live figures for `--metrics`: what the connections already
//! share with the live view (counters) and their RTTs in Prometheus' buckets.
//! Summed over every worker's endpoint, they are the whole load's.

use std::sync::atomic::Ordering;

use super::worker::Progress;
use crate::metrics::Exposition;

/// Prometheus labels each target (pod, instance) itself: no labels here.
pub fn render(p: &Progress) -> String {
    let mut e = Exposition::default();
    let load = |a: &std::sync::atomic::AtomicU64| a.load(Ordering::Relaxed);
    e.counter(
        "wsprobe_bench_messages_sent_total",
        "Messages sent",
        &[(&[], load(&p.sent))],
    );
    e.counter(
        "wsprobe_bench_messages_received_total",
        "Echoes and replies received",
        &[(&[], load(&p.received))],
    );
    e.counter(
        "wsprobe_bench_errors_total",
        "Errors: failed connects, timeouts, connections closed early, error replies",
        &[(&[], load(&p.errors))],
    );
    e.counter(
        "wsprobe_bench_connections_total",
        "Connections whose handshake succeeded",
        &[(&[], load(&p.connected))],
    );
    let b = p.buckets.snapshot();
    let buckets: Vec<(Option<f64>, u64)> = b
        .cumulative
        .iter()
        .map(|(le, c)| (le.map(|us| us as f64 / 1e6), *c))
        .collect();
    e.histogram(
        "wsprobe_bench_rtt_seconds",
        "Round-trip time of measured messages (open loop: from when each was due)",
        &buckets,
        b.sum_us as f64 / 1e6,
        b.count,
    );
    e.finish()
}
