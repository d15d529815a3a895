//! What a bench measured: a text summary for people, one JSON object for machines.

use std::collections::BTreeMap;
use std::fmt::Write;
use std::time::SystemTime;

use hdrhistogram::Histogram;
use serde::Serialize;

use super::shard::Shard;
use super::worker::{new_histogram, Checks};
use crate::present::format_duration;

#[derive(Clone, Debug)]
pub struct Report {
    pub connections: usize,
    pub size: usize,
    pub window: usize,
    pub rate: Option<f64>,
    pub binary: bool,
    /// JSON-RPC calls instead of echoes: the method called.
    pub call: Option<String>,
    pub stopped_early: bool,
    /// Connections whose WebSocket handshake succeeded.
    pub connected: usize,
    /// Counts over all connections; `measured` is the basis of rates and latencies.
    pub checks: Checks,
    /// From the end of the warm-up to the last echo.
    pub measured_secs: f64,
    pub errors: BTreeMap<String, u64>,
    pub rtt: Histogram<u64>,
    pub tcp: Histogram<u64>,
    pub handshake: Histogram<u64>,
    pub first_error: Option<String>,
    /// Which worker made it (`--shard`), when it was one of several.
    pub shard: Option<Shard>,
    /// How many `--hdr-out` files `bench merge` added up (0 for a run).
    pub merged: usize,
    /// When it measured and sent, on the wall clock: what merging workers' results needs.
    pub span: Span,
}

/// Wall-clock times of a run: from the end of the warm-up to the last echo, and
/// from the start to when the last message's turn ended (`None`: nothing sent).
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct Span {
    pub measure: Option<(SystemTime, SystemTime)>,
    pub send: Option<(SystemTime, SystemTime)>,
}

impl Span {
    pub fn secs(span: Option<(SystemTime, SystemTime)>) -> f64 {
        span.and_then(|(a, b)| b.duration_since(a).ok())
            .map_or(0.0, |d| d.as_secs_f64())
    }

    /// The time that covers both: what N workers' results span together.
    pub fn union(
        a: Option<(SystemTime, SystemTime)>,
        b: Option<(SystemTime, SystemTime)>,
    ) -> Option<(SystemTime, SystemTime)> {
        match (a, b) {
            (Some((a0, a1)), Some((b0, b1))) => Some((a0.min(b0), a1.max(b1))),
            (x, y) => x.or(y),
        }
    }
}

impl Default for Report {
    fn default() -> Self {
        Report {
            connections: 0,
            size: 0,
            window: 0,
            rate: None,
            binary: false,
            call: None,
            stopped_early: false,
            connected: 0,
            checks: Checks::default(),
            measured_secs: 0.0,
            errors: BTreeMap::new(),
            rtt: new_histogram(),
            tcp: new_histogram(),
            handshake: new_histogram(),
            first_error: None,
            shard: None,
            merged: 0,
            span: Span::default(),
        }
    }
}

/// Microseconds; all `null` when nothing was measured (no connection succeeded).
#[derive(Debug, Default, Serialize)]
pub struct LatencyJson {
    pub min: Option<u64>,
    pub p50: Option<u64>,
    pub p90: Option<u64>,
    pub p99: Option<u64>,
    pub p999: Option<u64>,
    pub max: Option<u64>,
    pub mean: Option<f64>,
    pub stdev: Option<f64>,
}

/// Microseconds; all `null` when no connection got this far.
#[derive(Debug, Default, Serialize)]
pub struct ConnectJson {
    pub min: Option<u64>,
    pub p50: Option<u64>,
    pub p90: Option<u64>,
    pub p99: Option<u64>,
    pub max: Option<u64>,
}

/// The `--json` object (documented in the README). The measured figures are
/// `null` when no connection succeeded: nothing was measured, not zero.
#[derive(Debug, Serialize)]
pub struct ReportJson {
    pub messages_per_sec: Option<f64>,
    pub mb_per_sec: Option<f64>,
    pub rtt_us: LatencyJson,
    /// TCP connect (and name resolution), then TLS and the WebSocket handshake.
    pub connect_us: ConnectJson,
    pub handshake_us: ConnectJson,
    pub sent: u64,
    pub received: u64,
    pub measured: u64,
    pub mismatched: u64,
    pub lost: u64,
    pub reordered: u64,
    pub duplicated: u64,
    pub unanswered: u64,
    pub errors: BTreeMap<String, u64>,
    /// The first error's message, as a person reads it.
    pub first_error: Option<String>,
    pub connections: usize,
    /// Connections whose WebSocket handshake succeeded.
    pub connected: usize,
    pub size: usize,
    pub window: usize,
    pub rate: Option<f64>,
    /// Open loop: the rate the messages really went out at (all sent over the
    /// time sending took), and how far that fell short of `rate`, in percent.
    pub achieved_rate: Option<f64>,
    pub rate_shortfall_pct: Option<f64>,
    pub duration_secs: Option<f64>,
    pub stopped_early: bool,
    /// `I/N` when this was worker I of N (`--shard`).
    pub shard: Option<String>,
    /// How many results `bench merge` added up; absent for a run.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub merged_files: Option<usize>,
}

fn latency(h: &Histogram<u64>) -> LatencyJson {
    if h.is_empty() {
        return LatencyJson::default();
    }
    LatencyJson {
        min: Some(h.min()),
        p50: Some(h.value_at_quantile(0.5)),
        p90: Some(h.value_at_quantile(0.9)),
        p99: Some(h.value_at_quantile(0.99)),
        p999: Some(h.value_at_quantile(0.999)),
        max: Some(h.max()),
        mean: Some((h.mean() * 10.0).round() / 10.0),
        stdev: Some((h.stdev() * 10.0).round() / 10.0),
    }
}

fn connect(h: &Histogram<u64>) -> ConnectJson {
    if h.is_empty() {
        return ConnectJson::default();
    }
    ConnectJson {
        min: Some(h.min()),
        p50: Some(h.value_at_quantile(0.5)),
        p90: Some(h.value_at_quantile(0.9)),
        p99: Some(h.value_at_quantile(0.99)),
        max: Some(h.max()),
    }
}

/// A duration in µs for the text report; `-` for nothing measured.
fn us(v: Option<u64>) -> String {
    v.map_or_else(
        || "-".to_string(),
        |v| format_duration(std::time::Duration::from_micros(v)),
    )
}

fn us_f(v: Option<f64>) -> String {
    us(v.map(|v| v as u64))
}

impl Report {
    pub fn messages_per_sec(&self) -> f64 {
        if self.measured_secs > 0.0 {
            self.checks.measured as f64 / self.measured_secs
        } else {
            0.0
        }
    }

    pub fn mb_per_sec(&self) -> f64 {
        if self.measured_secs > 0.0 {
            self.checks.measured_bytes as f64 / 1e6 / self.measured_secs
        } else {
            0.0
        }
    }

    /// Open loop: messages sent per second of sending.
    pub fn achieved_rate(&self) -> Option<f64> {
        let secs = Span::secs(self.span.send);
        (self.rate.is_some() && secs > 0.0).then(|| self.checks.sent as f64 / secs)
    }

    /// How far the achieved rate fell short of `--rate`, in percent (negative: above it).
    pub fn rate_shortfall_pct(&self) -> Option<f64> {
        let (asked, got) = (self.rate?, self.achieved_rate()?);
        Some((asked - got) / asked * 100.0)
    }

    pub fn error_count(&self) -> u64 {
        self.errors.values().sum()
    }

    /// Every connection failed: nothing was measured, and the report says why
    /// instead of showing zeros.
    pub fn no_connection(&self) -> bool {
        self.connections > 0 && self.connected == 0
    }

    /// Anything that makes the run a failure (and the exit code non-zero).
    pub fn failed(&self) -> bool {
        self.no_connection()
            || self.checks.mismatched
                + self.checks.lost
                + self.checks.reordered
                + self.checks.duplicated
                + self.error_count()
                > 0
    }

    pub fn to_json(&self) -> ReportJson {
        let measured = !self.no_connection();
        ReportJson {
            messages_per_sec: measured.then(|| (self.messages_per_sec() * 10.0).round() / 10.0),
            mb_per_sec: measured.then(|| (self.mb_per_sec() * 1000.0).round() / 1000.0),
            rtt_us: latency(&self.rtt),
            connect_us: connect(&self.tcp),
            handshake_us: connect(&self.handshake),
            sent: self.checks.sent,
            received: self.checks.received,
            measured: self.checks.measured,
            mismatched: self.checks.mismatched,
            lost: self.checks.lost,
            reordered: self.checks.reordered,
            duplicated: self.checks.duplicated,
            unanswered: self.checks.unanswered,
            errors: self.errors.clone(),
            first_error: self.first_error.clone(),
            connections: self.connections,
            connected: self.connected,
            size: self.size,
            window: self.window,
            rate: self.rate,
            achieved_rate: self.achieved_rate().map(|r| (r * 10.0).round() / 10.0),
            rate_shortfall_pct: self
                .rate_shortfall_pct()
                .map(|p| (p * 100.0).round() / 100.0),
            duration_secs: measured.then(|| (self.measured_secs * 1000.0).round() / 1000.0),
            stopped_early: self.stopped_early,
            shard: self.shard.map(|s| s.to_string()),
            merged_files: (self.merged > 0).then_some(self.merged),
        }
    }

    pub fn text(&self) -> String {
        let mut s = String::new();
        let mode = match self.rate {
            Some(r) => format!("open loop at {r:.0} msg/s"),
            None => format!("closed loop, window {}", self.window),
        };
        let what = match &self.call {
            Some(method) => format!("JSON-RPC calls to {method}"),
            None => format!(
                "{}-byte {} messages",
                self.size,
                if self.binary { "binary" } else { "text" }
            ),
        };
        let whose = match (self.merged, self.shard) {
            (0, Some(shard)) => format!(" (worker {shard})"),
            (0, None) => String::new(),
            (1, _) => " (one result merged)".to_string(),
            (n, _) => format!(" ({n} results merged)"),
        };
        let _ = writeln!(
            s,
            "{}, {what}, {mode}{whose}{}",
            crate::present::count(self.connections as u64, "connection", "connections"),
            if self.stopped_early {
                " (stopped early)"
            } else {
                ""
            }
        );
        let _ = writeln!(s);
        if self.no_connection() {
            let _ = writeln!(
                s,
                "No connection succeeded ({} tried): nothing was measured.",
                self.connections
            );
            if let Some(e) = &self.first_error {
                let _ = writeln!(s, "First error: {e}");
            }
            self.errors_line(&mut s);
            return s;
        }
        let _ = writeln!(s, "Throughput");
        let _ = writeln!(s, "  messages/s   {:.0}", self.messages_per_sec());
        let _ = writeln!(s, "  MB/s         {:.2}", self.mb_per_sec());
        let _ = writeln!(
            s,
            "  measured     {} echoes in {:.3}s",
            self.checks.measured, self.measured_secs
        );
        if let (Some(asked), Some(got), Some(short)) =
            (self.rate, self.achieved_rate(), self.rate_shortfall_pct())
        {
            let _ = writeln!(
                s,
                "  open loop    asked {asked:.0} msg/s, sent {got:.0} msg/s ({})",
                if short > 0.05 {
                    format!("{short:.1} % short")
                } else {
                    "on rate".to_string()
                }
            );
        }
        let _ = writeln!(s);
        let l = latency(&self.rtt);
        let _ = writeln!(s, "Round trip");
        let _ = writeln!(
            s,
            "  min {}  p50 {}  p90 {}  p99 {}  p99.9 {}  max {}",
            us(l.min),
            us(l.p50),
            us(l.p90),
            us(l.p99),
            us(l.p999),
            us(l.max)
        );
        let _ = writeln!(s, "  mean {}  stdev {}", us_f(l.mean), us_f(l.stdev));
        for line in histogram_chart(&self.rtt, 10, 40) {
            let _ = writeln!(s, "  {line}");
        }
        let _ = writeln!(s);
        let (t, h) = (connect(&self.tcp), connect(&self.handshake));
        let _ = writeln!(
            s,
            "Connect   p50 {}  p90 {}  p99 {}  max {}",
            us(t.p50),
            us(t.p90),
            us(t.p99),
            us(t.max)
        );
        let _ = writeln!(
            s,
            "Handshake p50 {}  p90 {}  p99 {}  max {}",
            us(h.p50),
            us(h.p90),
            us(h.p99),
            us(h.max)
        );
        let _ = writeln!(s);
        let _ = writeln!(
            s,
            "Checks    sent {}  received {}  mismatched {}  lost {}  reordered {}  duplicated {}",
            self.checks.sent,
            self.checks.received,
            self.checks.mismatched,
            self.checks.lost,
            self.checks.reordered,
            self.checks.duplicated
        );
        if self.checks.unanswered > 0 {
            let _ = writeln!(
                s,
                "          {} not answered when the run was stopped",
                self.checks.unanswered
            );
        }
        self.errors_line(&mut s);
        s
    }

    fn errors_line(&self, s: &mut String) {
        if self.errors.is_empty() {
            let _ = writeln!(s, "Errors    none");
        } else {
            let list: Vec<String> = self
                .errors
                .iter()
                .map(|(k, v)| format!("{k}: {v}"))
                .collect();
            let _ = writeln!(s, "Errors    {}", list.join(", "));
        }
    }
}

/// A text bar chart of the distribution: `  182µs [  1234] ■■■■■■`.
pub fn histogram_chart(h: &Histogram<u64>, buckets: usize, width: usize) -> Vec<String> {
    if h.is_empty() {
        return Vec::new();
    }
    let lo = h.min();
    // The top bucket ends at p99.9 so one outlier does not flatten the chart.
    let hi = h.value_at_quantile(0.999).max(lo + 1);
    let step = ((hi - lo) as f64 / buckets as f64).max(1.0);
    let mut counts = vec![0u64; buckets];
    for v in h.iter_recorded() {
        let i = (((v.value_iterated_to() - lo) as f64 / step) as usize).min(buckets - 1);
        counts[i] += v.count_at_value();
    }
    let max = counts.iter().copied().max().unwrap_or(1).max(1);
    counts
        .iter()
        .enumerate()
        .map(|(i, &c)| {
            let upper = lo + (step * (i + 1) as f64) as u64;
            let bar = "■".repeat(((c as f64 / max as f64) * width as f64).round() as usize);
            format!("{:>9} [{c:>8}] {bar}", us(Some(upper)))
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn chart_has_the_asked_buckets_and_counts_everything() {
        let mut h = new_histogram();
        for v in 1..=1000u64 {
            h.record(v * 10).unwrap();
        }
        let lines = histogram_chart(&h, 10, 20);
        assert_eq!(lines.len(), 10);
        let total: u64 = lines
            .iter()
            .map(|l| {
                l.split('[')
                    .nth(1)
                    .unwrap()
                    .split(']')
                    .next()
                    .unwrap()
                    .trim()
                    .parse::<u64>()
                    .unwrap()
            })
            .sum();
        assert_eq!(total, 1000);
    }

    #[test]
    fn failure_is_any_error_or_check() {
        let mut r = Report::default();
        assert!(!r.failed());
        r.checks.reordered = 1;
        assert!(r.failed());
        let mut r = Report::default();
        r.errors.insert("timeout".into(), 1);
        assert!(r.failed());
    }
}
