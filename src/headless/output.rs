//! Lines for people and JSON lines for machines, written to stdout in batches.

use std::time::Duration;

use chrono::{DateTime, Local, Utc};
use tokio::io::AsyncWriteExt;

use crate::escape::{escape_bytes, hex_preview};
use crate::net::rtt::{format_duration, RttBook, RttSummary};
use crate::net::{CloseCause, CloseInfo, Direction, Frame, FrameKind, NetEvent};
use crate::record::{Record, RttRecord};

/// How much of a payload a human line shows.
const PREVIEW_CHARS: usize = 200;
const PREVIEW_HEX_BYTES: usize = 64;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Format {
    Human,
    Json,
}

pub struct Printer {
    format: Format,
    quiet: bool,
    buf: Vec<u8>,
}

pub fn clock(ts: DateTime<Utc>) -> String {
    ts.with_timezone(&Local).format("%H:%M:%S%.3f").to_string()
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

impl Printer {
    pub fn new(format: Format, quiet: bool) -> Self {
        Printer {
            format,
            quiet,
            buf: Vec::with_capacity(64 * 1024),
        }
    }

    fn line(&mut self, s: &str) {
        self.buf.extend_from_slice(s.as_bytes());
        self.buf.push(b'\n');
    }

    pub fn line_record(&mut self, r: &Record) {
        let line = r.to_line();
        self.line(&line);
    }

    pub fn listening(&mut self, url: &str) {
        match self.format {
            Format::Human => self.line(&format!("listening on {url}")),
            Format::Json => {
                let r = Record {
                    url: Some(url.to_string()),
                    ..Record::event(Utc::now(), "listening")
                };
                self.line(&r.to_line());
            }
        }
    }

    pub fn event(&mut self, ev: &NetEvent) {
        if self.quiet && matches!(ev, NetEvent::Frame(_)) {
            return;
        }
        match self.format {
            Format::Json => {
                let line = Record::from_event(ev).to_line();
                self.line(&line);
            }
            Format::Human => {
                let line = human_line(ev);
                self.line(&line);
            }
        }
    }

    /// Frames the printer was too slow to be handed.
    pub fn not_shown(&mut self, count: u64) {
        match self.format {
            Format::Human => self.line(&format!(
                "{} … {count} frames not shown (output fell behind)",
                clock(Utc::now())
            )),
            Format::Json => {
                let r = Record {
                    message: Some(format!("{count} frames not shown (output fell behind)")),
                    ..Record::event(Utc::now(), "not_shown")
                };
                self.line(&r.to_line());
            }
        }
    }

    pub async fn flush(&mut self) {
        if self.buf.is_empty() {
            return;
        }
        let mut out = tokio::io::stdout();
        // A closed stdout (`| head`) is not our error to report.
        let _ = out.write_all(&self.buf).await;
        let _ = out.flush().await;
        self.buf.clear();
    }
}

pub fn human_line(ev: &NetEvent) -> String {
    match ev {
        NetEvent::Frame(f) => {
            let rtt = f
                .rtt
                .map(|r| format!(" rtt {}", format_duration(r.duration)))
                .unwrap_or_default();
            let preview = payload_preview(f.kind, &f.payload, PREVIEW_CHARS);
            let sep = if preview.is_empty() { "" } else { " " };
            format!(
                "{} #{} {} {}{rtt}{sep}{preview}",
                clock(f.ts),
                f.conn,
                arrow(f.dir),
                frame_summary(f.kind, f.len(), f.close.as_ref())
            )
        }
        NetEvent::Opened(o) => {
            let sub = o
                .handshake
                .subprotocol
                .as_deref()
                .map(|p| format!(" subprotocol={}", escape_bytes(p.as_bytes(), 100)))
                .unwrap_or_default();
            let tls = o
                .handshake
                .tls
                .as_deref()
                .map(|t| format!(" tls={}", t.replace(' ', "/")))
                .unwrap_or_default();
            // Through a proxy the peer is the proxy: say that once.
            let peer = match o.handshake.proxy.as_deref() {
                Some(p) => format!("via {p}"),
                None => o.peer.to_string(),
            };
            let faults = o
                .faults
                .as_deref()
                .map(|f| format!(" faults: {f}"))
                .unwrap_or_default();
            format!(
                "{} #{} open {peer} {} → {}{sub}{tls}{faults}",
                clock(o.ts),
                o.conn,
                escape_bytes(o.handshake.request_line.as_bytes(), PREVIEW_CHARS),
                o.handshake.status
            )
        }
        NetEvent::Closed {
            conn,
            ts,
            close,
            cause,
        } => {
            let code = close
                .as_ref()
                .map(|c| format!(" {} {}", c.code, c.name()))
                .unwrap_or_default();
            let how = match cause {
                CloseCause::Local => "closed by us".to_string(),
                CloseCause::Peer => "closed by peer".to_string(),
                CloseCause::Error(e) => {
                    format!("closed: {}", escape_bytes(e.as_bytes(), PREVIEW_CHARS))
                }
            };
            format!("{} #{conn} {how}{code}", clock(*ts))
        }
        NetEvent::Reconnecting {
            conn,
            ts,
            attempt,
            delay,
            lost,
        } => {
            let (wait, lost) = crate::net::describe_retry(*delay, *lost);
            format!(
                "{} #{conn} reconnecting in {wait} (attempt {attempt}{lost})",
                clock(*ts)
            )
        }
        NetEvent::NotSent {
            conn,
            ts,
            kind,
            payload,
            reason,
        } => {
            let preview = payload_preview(*kind, payload, PREVIEW_CHARS);
            let sep = if preview.is_empty() { "" } else { " " };
            format!(
                "{} #{conn} not sent: {} ({}){sep}{preview}",
                clock(*ts),
                frame_summary(*kind, payload.len(), None),
                escape_bytes(reason.as_bytes(), PREVIEW_CHARS)
            )
        }
        NetEvent::LeftBeforeHandshake { ts, peer } => format!(
            "{} {peer} disconnected before completing the WebSocket handshake",
            clock(*ts)
        ),
        NetEvent::Error { conn, ts, message } => {
            let id = conn.map(|c| format!(" #{c}")).unwrap_or_default();
            format!(
                "{}{id} error: {}",
                clock(*ts),
                escape_bytes(message.as_bytes(), 500)
            )
        }
    }
}

fn rtt_line(name: &str, s: &RttSummary) -> String {
    format!(
        "{name} rtt: count {} min {} p50 {} p90 {} p99 {} max {}",
        s.count,
        format_duration(s.min),
        format_duration(s.p50),
        format_duration(s.p90),
        format_duration(s.p99),
        format_duration(s.max)
    )
}

/// What a client run adds up to.
#[derive(Clone, Debug, Default)]
pub struct ClientTotals {
    pub sent: u64,
    /// Messages asked for that never went on the wire (the connection had closed).
    pub not_sent: u64,
    pub received: u64,
    pub unmatched: u64,
    /// Sends whose echo was lost with a dropped connection (`--reconnect`).
    pub lost: u64,
    pub rtt: RttBook,
}

impl ClientTotals {
    pub fn count(&mut self, f: &Frame) {
        if !f.kind.is_data() {
            if let Some(rtt) = f.rtt {
                self.rtt.record(rtt);
            }
            return;
        }
        match f.dir {
            Direction::Out => self.sent += 1,
            Direction::In => {
                self.received += 1;
                match f.rtt {
                    Some(rtt) => self.rtt.record(rtt),
                    None => self.unmatched += 1,
                }
            }
        }
    }

    /// Human lines for stderr.
    pub fn human(&self, elapsed: Duration) -> Vec<String> {
        let mut lines = vec![format!(
            "sent {} received {} ({} matched, {} unmatched) in {}",
            self.sent,
            self.received,
            self.rtt.echo.count(),
            self.unmatched,
            format_duration(elapsed)
        )];
        if self.lost > 0 {
            lines[0].push_str(&format!(", {} lost with dropped connections", self.lost));
        }
        if self.not_sent > 0 {
            lines[0].push_str(&format!(", {} not sent", self.not_sent));
        }
        if self.rtt.echo.count() > 0 {
            lines.push(rtt_line("echo", &self.rtt.echo.summary()));
        }
        if self.rtt.ping.count() > 0 {
            lines.push(rtt_line("ping", &self.rtt.ping.summary()));
        }
        lines
    }

    pub fn record(&self) -> Record {
        Record {
            sent: Some(self.sent),
            received: Some(self.received),
            unmatched: Some(self.unmatched),
            lost: (self.lost > 0).then_some(self.lost),
            not_sent: (self.not_sent > 0).then_some(self.not_sent),
            echo_rtt_us: Some(RttRecord::from(self.rtt.echo.summary())),
            ping_rtt_us: Some(RttRecord::from(self.rtt.ping.summary())),
            ..Record::event(Utc::now(), "summary")
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_invalid_close_code_says_so_in_the_line() {
        let line = human_line(&NetEvent::Frame(Frame {
            conn: 1,
            ts: Utc::now(),
            dir: Direction::In,
            kind: FrameKind::Close,
            payload: CloseInfo::invalid(5000, "bye").payload(),
            close: Some(CloseInfo::invalid(5000, "bye")),
            rtt: None,
        }));
        assert!(
            line.contains("close 5000 Unknown (invalid on the wire) \"bye\""),
            "{line}"
        );
    }
}
