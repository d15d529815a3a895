//! `wsprobe bench merge FILE…`: N workers' `--hdr-out` results as one report,
//! exactly: histograms added bucket by bucket, counters summed, rates over the
//! time all of them together spanned.

use super::report::{Report, Span};

/// Adds up results read from files (named for errors). Runs of different
/// loads (message size, window, open or closed loop) are refused: their sum
/// would describe no run.
pub fn merge(parts: Vec<(String, Report)>) -> Result<Report, String> {
    let mut iter = parts.into_iter();
    let Some((first_name, mut total)) = iter.next() else {
        return Err("nothing to merge: name one or more --hdr-out files".into());
    };
    total.merged = 1;
    total.shard = None;
    for (name, r) in iter {
        let differs = |what: &str, a: String, b: String| {
            Err(format!(
                "{first_name} and {name} measured different loads ({what} {a} vs {b}); merge results of one run"
            ))
        };
        if r.size != total.size {
            return differs("size", total.size.to_string(), r.size.to_string());
        }
        if r.window != total.window {
            return differs("window", total.window.to_string(), r.window.to_string());
        }
        if r.rate.is_some() != total.rate.is_some() {
            return differs(
                "loop",
                mode(total.rate.is_some()).into(),
                mode(r.rate.is_some()).into(),
            );
        }
        if r.binary != total.binary || r.call != total.call {
            return differs("messages", what(&total), what(&r));
        }
        add(&mut total, r).map_err(|e| format!("{name}: {e}"))?;
    }
    total.measured_secs = Span::secs(total.span.measure);
    Ok(total)
}

fn mode(open: bool) -> &'static str {
    if open {
        "open"
    } else {
        "closed"
    }
}

fn what(r: &Report) -> String {
    match &r.call {
        Some(m) => format!("JSON-RPC {m}"),
        None if r.binary => "binary".into(),
        None => "text".into(),
    }
}

fn add(total: &mut Report, r: Report) -> Result<(), String> {
    let hist = |e: hdrhistogram::errors::AdditionError| format!("cannot add its histogram: {e:?}");
    total.rtt.add(&r.rtt).map_err(hist)?;
    total.tcp.add(&r.tcp).map_err(hist)?;
    total.handshake.add(&r.handshake).map_err(hist)?;
    total.connections += r.connections;
    total.connected += r.connected;
    total.rate = match (total.rate, r.rate) {
        (Some(a), Some(b)) => Some(a + b),
        _ => None,
    };
    total.checks += r.checks;
    for (k, v) in r.errors {
        *total.errors.entry(k).or_default() += v;
    }
    total.first_error = total.first_error.take().or(r.first_error);
    total.stopped_early |= r.stopped_early;
    total.span.measure = Span::union(total.span.measure, r.span.measure);
    total.span.send = Span::union(total.span.send, r.span.send);
    total.merged += 1;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::bench::worker::new_histogram;
    use std::time::{Duration, SystemTime};

    /// A worker's result holding `values`, measuring from `from` s to `to` s.
    fn part(values: &[u64], from: u64, to: u64) -> Report {
        let t = |s: u64| SystemTime::UNIX_EPOCH + Duration::from_secs(1_000_000 + s);
        let mut r = Report {
            connections: 2,
            connected: 2,
            size: 64,
            window: 1,
            rate: Some(50.0),
            ..Report::default()
        };
        for &v in values {
            r.rtt.record(v).unwrap();
        }
        r.checks.sent = values.len() as u64;
        r.checks.measured = values.len() as u64;
        r.errors.insert("timeout".into(), 1);
        r.span.measure = Some((t(from), t(to)));
        r.span.send = Some((t(from), t(to)));
        r
    }

    #[test]
    fn merging_is_exact() {
        let a: Vec<u64> = (1..=1000).map(|v| v * 37).collect();
        let b: Vec<u64> = (1..=333).map(|v| v * 1009 + 5).collect();
        let c = vec![1, 2, 3, 3_600_000_000];
        let mut whole = new_histogram();
        for v in a.iter().chain(&b).chain(&c) {
            whole.record(*v).unwrap();
        }
        let m = merge(vec![
            ("a".into(), part(&a, 0, 10)),
            ("b".into(), part(&b, 2, 12)),
            ("c".into(), part(&c, 1, 11)),
        ])
        .unwrap();
        // Bucket for bucket the histogram one process would have recorded.
        assert_eq!(m.rtt, whole);
        assert_eq!(m.rtt.len(), 1337);
        for q in [0.5, 0.9, 0.99, 0.999, 1.0] {
            assert_eq!(m.rtt.value_at_quantile(q), whole.value_at_quantile(q));
        }
        assert_eq!(m.checks.sent, 1337);
        assert_eq!(m.errors["timeout"], 3);
        assert_eq!((m.connections, m.connected, m.merged), (6, 6, 3));
        assert_eq!(m.rate, Some(150.0));
        // Rates over the union of the spans: 0 s to 12 s.
        assert_eq!(m.measured_secs, 12.0);
        assert!((m.messages_per_sec() - 1337.0 / 12.0).abs() < 1e-9);
        assert!((m.achieved_rate().unwrap() - 1337.0 / 12.0).abs() < 1e-9);
    }

    #[test]
    fn different_loads_are_refused() {
        let mut other = part(&[1], 0, 1);
        other.size = 1024;
        let e = merge(vec![("a".into(), part(&[1], 0, 1)), ("b".into(), other)]).unwrap_err();
        assert!(e.contains("size 64 vs 1024"), "{e}");
        assert!(merge(Vec::new()).is_err());
    }
}
