//! `--hdr-out FILE`: one worker's result, whole, for `bench merge`.
//!
//! A small JSON object: the counters, the wall-clock spans, and each latency
//! histogram in HdrHistogram's standard compressed form (the V2 encoding,
//! deflated, base64), which is what one line of an HdrHistogram interval log
//! holds: the Java, Go, Python and Rust HdrHistogram libraries all decode it.

use std::collections::BTreeMap;
use std::path::Path;
use std::time::SystemTime;

use base64::Engine;
use chrono::{DateTime, SecondsFormat, Utc};
use hdrhistogram::serialization::{Deserializer, Serializer, V2DeflateSerializer};
use hdrhistogram::Histogram;
use serde::{Deserialize, Serialize};

use super::report::{Report, Span};
use super::shard::Shard;
use super::worker::Checks;

/// What the `format` field says: a file is ours.
pub const FORMAT: &str = "wsprobe-bench-hdr";
/// The layout this build writes and reads. A file of another version is refused
/// rather than half understood.
pub const VERSION: u32 = 1;
/// How every histogram in the file is encoded (said in the file for whoever
/// reads it without wsprobe).
pub const ENCODING: &str = "HdrHistogram V2 compressed (deflate), base64; values in microseconds";

#[derive(Debug, Serialize, Deserialize)]
pub struct HdrFile {
    pub format: String,
    pub version: u32,
    pub histogram_encoding: String,
    /// `I/N` for worker I of N.
    pub shard: Option<String>,
    pub connections: usize,
    pub connected: usize,
    pub size: usize,
    pub window: usize,
    /// This worker's share of `--rate`.
    pub rate: Option<f64>,
    pub binary: bool,
    pub call: Option<String>,
    pub stopped_early: bool,
    pub sent: u64,
    pub received: u64,
    pub measured: u64,
    pub measured_bytes: u64,
    pub mismatched: u64,
    pub lost: u64,
    pub reordered: u64,
    pub duplicated: u64,
    pub unanswered: u64,
    pub errors: BTreeMap<String, u64>,
    pub first_error: Option<String>,
    /// RFC 3339 wall-clock times: from the end of the warm-up to the last echo.
    pub measure_start: Option<String>,
    pub measure_end: Option<String>,
    /// From the start of sending to the end of the last message's turn.
    pub send_start: Option<String>,
    pub send_end: Option<String>,
    /// For people reading the file; `bench merge` works from the times above.
    pub duration_secs: f64,
    pub achieved_rate: Option<f64>,
    /// Round trips, TCP connects and handshakes, in µs.
    pub rtt_us: String,
    pub connect_us: String,
    pub handshake_us: String,
}

fn encode(h: &Histogram<u64>) -> Result<String, String> {
    let mut bytes = Vec::new();
    V2DeflateSerializer::new()
        .serialize(h, &mut bytes)
        .map_err(|e| format!("cannot encode a histogram: {e:?}"))?;
    Ok(base64::engine::general_purpose::STANDARD.encode(bytes))
}

fn decode(field: &str, s: &str) -> Result<Histogram<u64>, String> {
    let bytes = base64::engine::general_purpose::STANDARD
        .decode(s.trim())
        .map_err(|e| format!("{field} is not base64: {e}"))?;
    let mut h: Histogram<u64> = Deserializer::new()
        .deserialize(&mut bytes.as_slice())
        .map_err(|e| format!("{field} is not an HdrHistogram (V2, compressed): {e:?}"))?;
    // Another writer's histogram may cover other values: merging grows to fit.
    h.auto(true);
    Ok(h)
}

fn time(t: SystemTime) -> String {
    DateTime::<Utc>::from(t).to_rfc3339_opts(SecondsFormat::Nanos, true)
}

fn span(
    field: &str,
    a: &Option<String>,
    b: &Option<String>,
) -> Result<Option<(SystemTime, SystemTime)>, String> {
    let parse = |s: &String| {
        DateTime::parse_from_rfc3339(s)
            .map(SystemTime::from)
            .map_err(|e| format!("{field}: `{s}` is not an RFC 3339 time: {e}"))
    };
    match (a, b) {
        (Some(a), Some(b)) => Ok(Some((parse(a)?, parse(b)?))),
        (None, None) => Ok(None),
        _ => Err(format!(
            "{field}: a start without an end, or an end without a start"
        )),
    }
}

impl HdrFile {
    pub fn from_report(r: &Report) -> Result<HdrFile, String> {
        let c = &r.checks;
        Ok(HdrFile {
            format: FORMAT.into(),
            version: VERSION,
            histogram_encoding: ENCODING.into(),
            shard: r.shard.map(|s| s.to_string()),
            connections: r.connections,
            connected: r.connected,
            size: r.size,
            window: r.window,
            rate: r.rate,
            binary: r.binary,
            call: r.call.clone(),
            stopped_early: r.stopped_early,
            sent: c.sent,
            received: c.received,
            measured: c.measured,
            measured_bytes: c.measured_bytes,
            mismatched: c.mismatched,
            lost: c.lost,
            reordered: c.reordered,
            duplicated: c.duplicated,
            unanswered: c.unanswered,
            errors: r.errors.clone(),
            first_error: r.first_error.clone(),
            measure_start: r.span.measure.map(|s| time(s.0)),
            measure_end: r.span.measure.map(|s| time(s.1)),
            send_start: r.span.send.map(|s| time(s.0)),
            send_end: r.span.send.map(|s| time(s.1)),
            duration_secs: r.measured_secs,
            achieved_rate: r.achieved_rate(),
            rtt_us: encode(&r.rtt)?,
            connect_us: encode(&r.tcp)?,
            handshake_us: encode(&r.handshake)?,
        })
    }

    pub fn into_report(self) -> Result<Report, String> {
        let shard = match &self.shard {
            Some(s) => Some(Shard::parse(s, None).map_err(|e| format!("shard: {e}"))?),
            None => None,
        };
        let measure = span(
            "measure_start/measure_end",
            &self.measure_start,
            &self.measure_end,
        )?;
        Ok(Report {
            connections: self.connections,
            size: self.size,
            window: self.window,
            rate: self.rate,
            binary: self.binary,
            call: self.call,
            stopped_early: self.stopped_early,
            connected: self.connected,
            checks: Checks {
                sent: self.sent,
                received: self.received,
                measured: self.measured,
                measured_bytes: self.measured_bytes,
                mismatched: self.mismatched,
                lost: self.lost,
                reordered: self.reordered,
                duplicated: self.duplicated,
                unanswered: self.unanswered,
            },
            measured_secs: Span::secs(measure),
            errors: self.errors,
            rtt: decode("rtt_us", &self.rtt_us)?,
            tcp: decode("connect_us", &self.connect_us)?,
            handshake: decode("handshake_us", &self.handshake_us)?,
            first_error: self.first_error,
            shard,
            merged: 0,
            span: Span {
                measure,
                send: span("send_start/send_end", &self.send_start, &self.send_end)?,
            },
        })
    }
}

/// Where [`write`] puts the file until it is whole.
fn partial_path(path: &Path) -> std::path::PathBuf {
    let mut partial = path.as_os_str().to_owned();
    partial.push(".partial");
    partial.into()
}

/// Fails now if [`write`] would fail at the end of a run, leaving no file
/// behind (a merge step waiting for files must not see an empty one).
pub fn check_writable(path: &Path) -> Result<(), String> {
    let partial = partial_path(path);
    std::fs::write(&partial, b"").map_err(|e| e.to_string())?;
    let _ = std::fs::remove_file(&partial);
    Ok(())
}

/// Writes a run's result to `path`.
pub fn write(path: &Path, r: &Report) -> Result<(), String> {
    let file = HdrFile::from_report(r)?;
    let mut text = serde_json::to_string_pretty(&file).map_err(|e| e.to_string())?;
    text.push('\n');
    // Written beside it, then renamed: whoever waits for the file (a merge
    // step polling a shared volume) never reads half of it.
    let partial = partial_path(path);
    std::fs::write(&partial, text)
        .and_then(|()| std::fs::rename(&partial, path))
        .map_err(|e| format!("cannot write {}: {e}", path.display()))
}

/// Reads one `--hdr-out` file, saying what is wrong with one that is not.
pub fn read(path: &Path) -> Result<Report, String> {
    let shown = path.display();
    let text = std::fs::read_to_string(path).map_err(|e| format!("cannot read {shown}: {e}"))?;
    parse(&text).map_err(|e| format!("{shown}: {e}"))
}

pub fn parse(text: &str) -> Result<Report, String> {
    let value: serde_json::Value = serde_json::from_str(text)
        .map_err(|e| format!("not a wsprobe --hdr-out file (not JSON: {e})"))?;
    if value.get("format").and_then(|f| f.as_str()) != Some(FORMAT) {
        return Err(format!(
            "not a wsprobe --hdr-out file (no \"format\": \"{FORMAT}\")"
        ));
    }
    match value.get("version").and_then(|v| v.as_u64()) {
        Some(v) if v == u64::from(VERSION) => {}
        Some(v) => {
            return Err(format!(
                "written as version {v} of the format; this wsprobe reads version {VERSION} (merge it with the wsprobe that wrote it)"
            ))
        }
        None => return Err("has no version number".into()),
    }
    let file: HdrFile =
        serde_json::from_value(value).map_err(|e| format!("a field is wrong: {e}"))?;
    file.into_report()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::bench::worker::new_histogram;
    use std::time::Duration;

    fn sample() -> Report {
        let mut r = Report {
            connections: 3,
            connected: 3,
            size: 64,
            window: 1,
            rate: Some(100.0),
            shard: Some(Shard { index: 1, count: 4 }),
            ..Report::default()
        };
        r.checks.sent = 10;
        r.checks.measured = 9;
        r.errors.insert("timeout".into(), 1);
        let t0 = SystemTime::UNIX_EPOCH + Duration::from_nanos(1_700_000_000_123_456_789);
        r.span.measure = Some((t0, t0 + Duration::from_millis(1500)));
        r.span.send = Some((t0, t0 + Duration::from_millis(1000)));
        r.measured_secs = 1.5;
        let mut h = new_histogram();
        for v in [1u64, 70, 71, 5000, 1_000_000] {
            h.record(v).unwrap();
        }
        r.rtt = h;
        r
    }

    #[test]
    fn a_report_comes_back_as_it_went() {
        let r = sample();
        let text = serde_json::to_string(&HdrFile::from_report(&r).unwrap()).unwrap();
        let back = parse(&text).unwrap();
        assert_eq!(back.checks, r.checks);
        assert_eq!(back.span, r.span);
        assert_eq!(back.rtt, r.rtt);
        assert_eq!(back.errors, r.errors);
        assert_eq!(back.shard, r.shard);
        assert_eq!(back.measured_secs, 1.5);
        assert_eq!(back.achieved_rate(), Some(10.0));
    }

    #[test]
    fn other_files_are_refused_with_a_reason() {
        let good = serde_json::to_value(HdrFile::from_report(&sample()).unwrap()).unwrap();
        let mut newer = good.clone();
        newer["version"] = 2.into();
        let mut broken = good.clone();
        broken["rtt_us"] = "HISTFAAAAB".into();
        for (text, says) in [
            ("hello".to_string(), "not JSON"),
            ("{}".to_string(), "no \"format\""),
            (newer.to_string(), "version 2"),
            (broken.to_string(), "rtt_us"),
        ] {
            let e = parse(&text).unwrap_err();
            assert!(e.contains(says), "{e}");
        }
    }
}
