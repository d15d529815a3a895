//! What the bench's live view shows, sampled from the workers' shared progress
//! every refresh: progress, current rate, latency percentiles over time and the
//! distribution so far. Plain data; the terminal side is `tui::bench`.

use std::collections::VecDeque;
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

use hdrhistogram::Histogram;

use super::worker::new_histogram;
use super::{BenchConfig, Running};

/// Points of percentile history kept for the chart.
const HISTORY: usize = 480;

/// What the live view shows; filled from the shared progress every refresh.
pub struct LiveState {
    /// `wsprobe bench URL`, then what the load is (`10 connections`, `64 B`, …):
    /// the parts after the first give way, last first, on a narrow screen.
    pub title: Vec<String>,
    pub elapsed: Duration,
    /// 0..=1 when the end is known.
    pub done: f64,
    pub sent: u64,
    pub received: u64,
    pub errors: u64,
    pub connected: u64,
    pub connections: usize,
    pub rate: f64,
    /// (seconds, p50 ms, p99 ms)
    pub history: VecDeque<(f64, f64, f64)>,
    pub so_far: Histogram<u64>,
    pub stopping: bool,
    /// Messages to send, when the run is counted.
    pub total: Option<u64>,
    /// How long the run lasts, warm-up included, when it is timed.
    pub planned: Option<Duration>,
    /// When the last sample was taken and what had been received then.
    pub last: (Instant, u64),
}

impl LiveState {
    pub fn new(config: &BenchConfig, title: Vec<String>, now: Instant) -> Self {
        LiveState {
            title,
            elapsed: Duration::ZERO,
            done: 0.0,
            sent: 0,
            received: 0,
            errors: 0,
            connected: 0,
            connections: config.own_connections().count(),
            rate: 0.0,
            history: VecDeque::new(),
            so_far: new_histogram(),
            stopping: false,
            total: config.messages.map(|_| {
                config
                    .own_connections()
                    .filter_map(|g| config.messages_of(g))
                    .sum()
            }),
            planned: config.duration.map(|d| d + config.warmup),
            last: (now, 0),
        }
    }

    /// Takes in the workers' progress since the last sample.
    pub fn sample(&mut self, running: &Running, now: Instant) {
        let p = &running.progress;
        self.elapsed = now - running.started;
        self.sent = p.sent.load(Ordering::Relaxed);
        self.received = p.received.load(Ordering::Relaxed);
        self.errors = p.errors.load(Ordering::Relaxed);
        self.connected = p.connected.load(Ordering::Relaxed);
        let dt = now.saturating_duration_since(self.last.0).as_secs_f64();
        if dt > 0.0 {
            self.rate = self.received.saturating_sub(self.last.1) as f64 / dt;
        }
        self.last = (now, self.received);
        self.done = match (self.total, self.planned) {
            (Some(n), _) if n > 0 => self.received as f64 / n as f64,
            (_, Some(d)) => self.elapsed.as_secs_f64() / d.as_secs_f64().max(0.001),
            _ => 0.0,
        };
        let recent = p.recent.lock().map(|mut h| {
            let copy = h.clone();
            h.reset();
            copy
        });
        if let Ok(recent) = recent {
            if !recent.is_empty() {
                let _ = self.so_far.add(&recent);
                if self.history.len() >= HISTORY {
                    self.history.pop_front();
                }
                self.history.push_back((
                    self.elapsed.as_secs_f64(),
                    recent.value_at_quantile(0.5) as f64 / 1000.0,
                    recent.value_at_quantile(0.99) as f64 / 1000.0,
                ));
            }
        }
    }
}
