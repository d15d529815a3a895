//! Wording shared by the screen and the line output: arrows, previews, frame
//! summaries, clock times and counts, so that both say the same thing the same way.

use chrono::{DateTime, Local, Utc};

use std::time::Duration;

use crate::escape::{escape_bytes, escape_text, hex_preview};
use crate::net::relay::Flow;
use crate::net::rtt::{RttBook, RttSummary};
use crate::net::{
    CloseCause, CloseInfo, Direction, Frame, FrameKind, NetEvent, Side, SteerEvent, Steered,
};

/// How much of a payload a line shows.
pub const PREVIEW_CHARS: usize = 200;
const PREVIEW_HEX_BYTES: usize = 64;

pub fn clock(ts: DateTime<Utc>) -> String {
    ts.with_timezone(&Local).format("%H:%M:%S%.3f").to_string()
}

/// A frame as it crossed the wire: `text FIN RSV1 mask=1a2b3c4d 35B (120B inflated)`,
/// `continuation 4B`, `close FIN 1005 No Status Received (as sent)`, `raw text FIN 3B`.
pub fn wire_summary(f: &crate::frames::FrameInfo) -> String {
    let mut s = String::new();
    if f.injected {
        s.push_str("raw ");
    }
    s.push_str(&crate::frames::head::opcode_name(f.opcode));
    if f.fin {
        s.push_str(" FIN");
    }
    for (bit, name) in [(0b100, " RSV1"), (0b010, " RSV2"), (0b001, " RSV3")] {
        if f.rsv & bit != 0 {
            s.push_str(name);
        }
    }
    if let Some(m) = f.mask {
        s.push_str(&format!(
            " mask={:02x}{:02x}{:02x}{:02x}",
            m[0], m[1], m[2], m[3]
        ));
    }
    s.push_str(&format!(" {}", bytes(f.wire_len).replace(' ', "")));
    if f.len != f.wire_len {
        s.push_str(&format!(" ({} inflated)", bytes(f.len).replace(' ', "")));
    }
    if let Some((code, reason)) = &f.close {
        match code {
            Some(c) => s.push_str(&format!(" code {c} {}", crate::net::close_code_name(*c))),
            None => s.push_str(" no code"),
        }
        if !reason.is_empty() {
            s.push_str(&format!(
                " \"{}\"",
                escape_bytes(reason.as_bytes(), PREVIEW_CHARS)
            ));
        }
    }
    s
}

/// `text 5B`, `close 1000 Normal Closure "bye"`.
pub fn frame_summary(kind: FrameKind, len: usize, close: Option<&CloseInfo>) -> String {
    match (kind, close) {
        (FrameKind::Close, Some(c)) => format!(
            "close {} {}{}",
            c.code,
            c.name(),
            if c.reason.is_empty() {
                String::new()
            } else {
                format!(" \"{}\"", escape_bytes(c.reason.as_bytes(), PREVIEW_CHARS))
            }
        ),
        (FrameKind::Close, None) => "close (no code)".to_string(),
        (kind, _) => format!("{} {len}B", kind.as_str()),
    }
}

/// The payload as one safe line: text escaped, binary as hex.
pub fn payload_preview(kind: FrameKind, payload: &[u8], max_chars: usize) -> String {
    match kind {
        FrameKind::Close => String::new(),
        FrameKind::Binary => hex_preview(payload, PREVIEW_HEX_BYTES.min(max_chars / 3 + 1)),
        _ => escape_bytes(payload, max_chars),
    }
}

pub fn arrow(dir: Direction) -> &'static str {
    match dir {
        Direction::Out => "→",
        Direction::In => "←",
    }
}

/// Which way a relayed message travels, as the relay's log shows it.
pub fn flow_arrow(flow: Flow) -> &'static str {
    match flow {
        Flow::ClientToServer => "C→S",
        Flow::ServerToClient => "S→C",
    }
}

/// How one leg of a relayed pair ended: `client leg closed by the client 1000
/// Normal Closure`, `server leg closed by the relay …`, `client leg dropped: …`.
pub fn relay_ending(side: Side, close: Option<&CloseInfo>, cause: &CloseCause) -> String {
    let leg = side.as_str();
    let who = match cause {
        CloseCause::Local => format!("{leg} leg closed by the relay"),
        CloseCause::Peer => format!("{leg} leg closed by the {leg}"),
        CloseCause::Error(e) => format!("{leg} leg dropped: {}", escape_text(e, 120)),
    };
    format!("{who}{}", close_code(close, 60))
}

/// What a relay did to a message: `held #3 (breakpoint): text 5B hello`,
/// `forwarded #3 edited`, `dropped (fault: drop 5%): text 5B hi`.
pub fn steered(s: &Steered, preview_chars: usize) -> String {
    let id = if s.id > 0 {
        format!(" #{}", s.id)
    } else {
        String::new()
    };
    let what = match &s.what {
        SteerEvent::Held(why) => format!("held{id} ({why})"),
        SteerEvent::Forwarded { edited: true } => format!("forwarded{id}, edited"),
        SteerEvent::Forwarded { edited: false } => format!("forwarded{id}"),
        SteerEvent::Dropped(why) => format!("dropped{id} ({why})"),
        SteerEvent::Delayed(d) => format!("delayed {}", format_duration(*d)),
        SteerEvent::Fragmented(n) => format!("fragmented into {n}"),
    };
    let preview = payload_preview(s.kind, &s.payload, preview_chars);
    format!(
        "{what}: {} {preview}",
        frame_summary(s.kind, s.payload.len(), None)
    )
    .trim_end()
    .to_string()
}

/// `1 connection`, `2 connections`: a count with its noun in agreement.
pub fn count(n: u64, one: &str, many: &str) -> String {
    if n == 1 {
        format!("1 {one}")
    } else {
        format!("{n} {many}")
    }
}

/// What a server with a self-signed certificate says about it, on stderr and
/// above its dashboard: the fingerprint and how a client trusts it.
pub fn self_signed_note(fingerprint: &str, url: &str, ca_file: &std::path::Path) -> String {
    format!(
        "self-signed certificate, SHA-256 {fingerprint}\ntrust it: wsprobe client {url} --ca {} (removed when the server stops)\nor skip checks: wsprobe client {url} --insecure",
        ca_file.display()
    )
}

/// Who ended a connection, told from the side of wsprobe that saw it: `closed
/// by us`, `closed by server` (the client's peer), `closed by client` (the
/// server's), or `dropped: ` and the error when there was no close handshake.
pub fn who_closed(side: Side, cause: &CloseCause, error_chars: usize) -> String {
    match (cause, side) {
        (CloseCause::Local, _) => "closed by us".to_string(),
        (CloseCause::Peer, Side::Client) => "closed by server".to_string(),
        (CloseCause::Peer, Side::Server) => "closed by client".to_string(),
        (CloseCause::Error(e), _) => format!("dropped: {}", escape_text(e, error_chars)),
    }
}

/// ` 1000 Normal Closure "bye"`: a close's code, its name and its reason.
pub fn close_code(close: Option<&CloseInfo>, reason_chars: usize) -> String {
    close
        .map(|c| {
            let reason = if c.reason.is_empty() {
                String::new()
            } else {
                format!(" \"{}\"", escape_text(&c.reason, reason_chars))
            };
            format!(" {} {}{reason}", c.code, c.name())
        })
        .unwrap_or_default()
}

/// How a connection ended: who closed it, then the code and reason.
pub fn ending(side: Side, close: Option<&CloseInfo>, cause: &CloseCause) -> String {
    format!("{}{}", who_closed(side, cause, 120), close_code(close, 60))
}

/// `LABEL: count … min … p50 … p90 … p99 … max …` (`echo rtt`, `reply latency`).
pub fn rtt_line(label: &str, s: &RttSummary) -> String {
    format!(
        "{label}: count {} min {} p50 {} p90 {} p99 {} max {}",
        s.count,
        format_duration(s.min),
        format_duration(s.p50),
        format_duration(s.p90),
        format_duration(s.p99),
        format_duration(s.max)
    )
}

/// What a client run adds up to: data messages each way, echoes matched
/// and not, round trips. Counted from the frames as they are reported.
#[derive(Clone, Debug, Default)]
pub struct ClientTotals {
    pub sent: u64,
    /// Messages asked for that never went on the wire (the connection had closed).
    pub not_sent: u64,
    pub received: u64,
    pub unmatched: u64,
    /// Sends whose echo was lost with a dropped connection (`--reconnect`).
    pub lost: u64,
    /// Connections made (more than one with `--reconnect`).
    pub connects: u64,
    pub rtt: RttBook,
}

impl ClientTotals {
    /// Counts one event of the client's.
    pub fn event(&mut self, ev: &NetEvent) {
        match ev {
            NetEvent::Frame(f) => self.count(f),
            NetEvent::Opened(_) => self.connects += 1,
            NetEvent::Reconnecting { lost, .. } => self.lost += lost,
            NetEvent::NotSent { .. } => self.not_sent += 1,
            _ => {}
        }
    }

    pub fn count(&mut self, f: &Frame) {
        if !f.kind.is_data() {
            if let Some(rtt) = &f.rtt {
                self.rtt.record(rtt.clone());
            }
            return;
        }
        match f.dir {
            Direction::Out => self.sent += 1,
            Direction::In => {
                self.received += 1;
                match &f.rtt {
                    Some(rtt) => self.rtt.record(rtt.clone()),
                    None => self.unmatched += 1,
                }
            }
        }
    }

    /// What a run adds up to, in lines for people: the same at the end of a
    /// piped run, a replay and the dashboard.
    pub fn human(&self, elapsed: Duration) -> Vec<String> {
        let mut lines = vec![format!(
            "sent {} received {} ({} matched, {} unmatched) in {}",
            self.sent,
            self.received,
            self.rtt.answered(),
            self.unmatched,
            format_duration(elapsed)
        )];
        if self.connects > 1 {
            lines[0].push_str(&format!(" over {} connections", self.connects));
        }
        if self.lost > 0 {
            lines[0].push_str(&format!(", {} lost with dropped connections", self.lost));
        }
        if self.not_sent > 0 {
            lines[0].push_str(&format!(", {} not sent", self.not_sent));
        }
        if self.rtt.echo.count() > 0 {
            lines.push(rtt_line("echo rtt", &self.rtt.echo.summary()));
        }
        if self.rtt.reply.count() > 0 {
            lines.push(rtt_line("reply latency", &self.rtt.reply.summary()));
            for (label, stats) in &self.rtt.by_label {
                let name = crate::escape::escape_text(label, 40);
                lines.push(rtt_line(&format!("  {name}"), &stats.summary()));
            }
        }
        if self.rtt.ping.count() > 0 {
            lines.push(rtt_line("ping rtt", &self.rtt.ping.summary()));
        }
        lines
    }
}

/// `1.23ms`, `850µs`, `2.10s`: short and readable at a glance.
pub fn format_duration(d: Duration) -> String {
    let us = d.as_micros();
    if us < 1_000 {
        format!("{us}µs")
    } else if us < 1_000_000 {
        format!("{:.2}ms", us as f64 / 1_000.0)
    } else {
        format!("{:.2}s", us as f64 / 1_000_000.0)
    }
}

/// A message that never left: `not sent: text 4B (the connection had closed) hi`.
pub fn not_sent(kind: FrameKind, payload: &[u8], reason: &str, preview_chars: usize) -> String {
    let preview = payload_preview(kind, payload, preview_chars);
    let sep = if preview.is_empty() { "" } else { " " };
    format!(
        "not sent: {} ({}){sep}{preview}",
        frame_summary(kind, payload.len(), None),
        escape_text(reason, PREVIEW_CHARS)
    )
}

/// A client that went before its handshake was done (a probe, a health check).
pub fn left_early(peer: std::net::SocketAddr) -> String {
    format!("{peer} disconnected before completing the WebSocket handshake")
}

/// A reconnect, in the timeline and in lines: `retry 2 in 500ms, 3 echoes lost`
/// (the delay in whole milliseconds; the echoes the dropped connection took).
pub fn retry(attempt: u32, delay: Duration, lost: u64) -> String {
    let wait = humantime::format_duration(Duration::from_millis(delay.as_millis() as u64));
    let lost = match lost {
        0 => String::new(),
        1 => ", 1 echo lost".to_string(),
        n => format!(", {n} echoes lost"),
    };
    format!("retry {attempt} in {wait}{lost}")
}

/// `512 B`, `1.5 KiB`, `3.2 MiB`.
pub fn bytes(n: u64) -> String {
    const UNITS: [&str; 5] = ["B", "KiB", "MiB", "GiB", "TiB"];
    let mut v = n as f64;
    let mut u = 0;
    while v >= 1024.0 && u < UNITS.len() - 1 {
        v /= 1024.0;
        u += 1;
    }
    if u == 0 {
        format!("{n} B")
    } else {
        format!("{v:.1} {}", UNITS[u])
    }
}

/// `12/s`, `1.5k/s`, `2.3M/s`.
pub fn rate(per_sec: f64) -> String {
    if per_sec >= 1_000_000.0 {
        format!("{:.1}M/s", per_sec / 1_000_000.0)
    } else if per_sec >= 1_000.0 {
        format!("{:.1}k/s", per_sec / 1_000.0)
    } else {
        format!("{per_sec:.0}/s")
    }
}

/// `42s`, `3m05s`, `2h03m`.
pub fn age(d: Duration) -> String {
    let s = d.as_secs();
    if s < 60 {
        format!("{s}s")
    } else if s < 3600 {
        format!("{}m{:02}s", s / 60, s % 60)
    } else {
        format!("{}h{:02}m", s / 3600, (s % 3600) / 60)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts_agree_with_their_noun() {
        assert_eq!(count(1, "connection", "connections"), "1 connection");
        assert_eq!(count(0, "connection", "connections"), "0 connections");
        assert_eq!(count(2, "error", "errors"), "2 errors");
    }

    #[test]
    fn durations_read_well() {
        assert_eq!(format_duration(Duration::from_micros(850)), "850µs");
        assert_eq!(format_duration(Duration::from_micros(1234)), "1.23ms");
        assert_eq!(format_duration(Duration::from_millis(2100)), "2.10s");
    }

    #[test]
    fn formats() {
        assert_eq!(bytes(512), "512 B");
        assert_eq!(bytes(1536), "1.5 KiB");
        assert_eq!(rate(3.0), "3/s");
        assert_eq!(rate(1500.0), "1.5k/s");
        assert_eq!(age(Duration::from_secs(185)), "3m05s");
        assert_eq!(age(Duration::from_secs(7380)), "2h03m");
    }
}
