//! Lines for people and JSON lines for machines, written to stdout in batches.

use chrono::Utc;
use tokio::io::AsyncWriteExt;

use crate::escape::escape_bytes;
use crate::net::relay::Flow;
use crate::net::{ConnId, FrameKind};
use crate::net::{Direction, Frame, NetEvent, Opened, Side};
use crate::present::format_duration;
use crate::present::{
    arrow, clock, ending, flow_arrow, frame_summary, left_early, not_sent, payload_preview,
    relay_ending, retry, steered, PREVIEW_CHARS,
};
use crate::proto::{Choice, Decoded, Protocol, Spoken};
use crate::record::schema::Event;
use crate::record::Record;
use serde_json::Value;
use std::collections::HashMap;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Format {
    Human,
    Json,
}

pub struct Printer {
    format: Format,
    quiet: bool,
    buf: Vec<u8>,
    /// `--protocol`: what messages are decoded as.
    choice: Choice,
    /// What each open connection speaks, as far as is known.
    spoken: HashMap<ConnId, Spoken>,
}

impl Printer {
    pub fn new(format: Format, quiet: bool) -> Self {
        Printer {
            format,
            quiet,
            buf: Vec::with_capacity(64 * 1024),
            // As a dashboard reads them (`--protocol`'s default).
            choice: Choice::Auto,
            spoken: HashMap::new(),
        }
    }

    /// Messages decoded as `choice` says (`--protocol`).
    pub fn speaking(mut self, choice: Choice) -> Self {
        self.choice = choice;
        self
    }

    /// Keeps track of what each connection speaks; a message's decoding.
    fn follow(
        &mut self,
        ev: &NetEvent,
        from_client: impl Fn(Direction) -> bool,
    ) -> Option<(Protocol, Decoded)> {
        // Quiet, no message is shown: following what each connection
        // speaks would only cost memory per connection.
        if self.choice == Choice::Raw || self.quiet {
            return None;
        }
        match ev {
            NetEvent::Opened(o) => {
                let sub = o.handshake.subprotocol.as_deref();
                self.spoken
                    .entry(o.conn)
                    .or_insert_with(|| Spoken::new(self.choice, sub));
                None
            }
            NetEvent::Closed { conn, .. } => {
                self.spoken.remove(conn);
                None
            }
            NetEvent::Frame(f) if f.payload.len() <= crate::proto::DECODE_MAX => {
                let spoken = self.spoken.get_mut(&f.conn)?;
                let p = spoken.read(from_client(f.dir), f.kind, &f.payload)?;
                let d = p.codec().decode(f.kind == FrameKind::Text, &f.payload)?;
                Some((p, d))
            }
            _ => None,
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
                    ..Record::event(Utc::now(), Event::Listening)
                };
                self.line(&r.to_line());
            }
        }
    }

    /// One event that `side` of wsprobe saw.
    pub fn event(&mut self, side: Side, ev: &NetEvent) {
        if self.quiet && matches!(ev, NetEvent::Frame(_) | NetEvent::Wire(_)) {
            return;
        }
        if let NetEvent::Wire(w) = ev {
            return self.wire(w, None);
        }
        // The client's messages go out; a server's come in.
        let decoded = self.follow(ev, |dir| (dir == Direction::Out) == (side == Side::Client));
        match self.format {
            Format::Json => {
                let mut r = Record::from_event(ev);
                r.decoded = decoded.map(|(p, d)| decoded_json(p, &d));
                self.line(&r.to_line());
            }
            Format::Human => {
                let line = match (ev, &decoded) {
                    (NetEvent::Frame(f), Some(d)) => {
                        frame_line(f, arrow(f.dir), "rtt", "", Some(d))
                    }
                    _ => human_line(side, ev),
                };
                self.line(&line);
            }
        }
    }

    /// Each frame of a batch on a line of its own.
    fn wire(&mut self, w: &crate::net::Wire, leg: Option<Side>) {
        match self.format {
            Format::Json => {
                for mut r in Record::wire(w) {
                    if let Some(leg) = leg {
                        r.side = Some(leg);
                        r.direction = r.dir.map(|d| Flow::of(leg, d));
                    }
                    self.line(&r.to_line());
                }
            }
            Format::Human => {
                for f in &w.frames {
                    let way = match leg {
                        Some(leg) => format!("{} {}", leg.as_str(), arrow(dir_of(f))),
                        None => arrow(dir_of(f)).to_string(),
                    };
                    let line = format!(
                        "{} #{} {way} frame {}",
                        clock(f.at),
                        w.conn,
                        crate::present::wire_summary(f)
                    );
                    self.line(&line);
                }
            }
        }
        if w.lost > 0 {
            self.not_shown(w.lost);
        }
    }

    /// One event of a relay, seen on the leg to `side`.
    pub fn relay_event(&mut self, side: Side, ev: &NetEvent) {
        if self.quiet && matches!(ev, NetEvent::Frame(_) | NetEvent::Wire(_)) {
            return;
        }
        if let NetEvent::Wire(w) = ev {
            return self.wire(w, Some(side));
        }
        // A message from the app came in on the client's leg; one from the
        // server on the server's.
        let decoded = self.follow(ev, |dir| (dir == Direction::In) == (side == Side::Client));
        let line = match self.format {
            Format::Json => {
                let mut r = Record::relayed(side, ev);
                r.decoded = decoded.map(|(p, d)| decoded_json(p, &d));
                r.to_line()
            }
            Format::Human => relay_line(side, ev, decoded.as_ref()),
        };
        self.line(&line);
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
                    ..Record::event(Utc::now(), Event::NotShown)
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

fn dir_of(f: &crate::frames::FrameInfo) -> Direction {
    if f.outgoing {
        Direction::Out
    } else {
        Direction::In
    }
}

/// An event as one line for people.
pub fn human_line(side: Side, ev: &NetEvent) -> String {
    match ev {
        NetEvent::Frame(f) => frame_line(f, arrow(f.dir), "rtt", "", None),
        NetEvent::Opened(o) => format!("{} #{} open {}", clock(o.ts), o.conn, opened(o)),

        NetEvent::Closed {
            conn,
            ts,
            close,
            cause,
        } => {
            format!(
                "{} #{conn} {}",
                clock(*ts),
                ending(side, close.as_ref(), cause)
            )
        }
        NetEvent::Reconnecting {
            conn,
            ts,
            attempt,
            delay,
            lost,
        } => {
            format!("{} #{conn} {}", clock(*ts), retry(*attempt, *delay, *lost))
        }
        NetEvent::NotSent {
            conn,
            ts,
            kind,
            payload,
            reason,
        } => {
            format!(
                "{} #{conn} {}",
                clock(*ts),
                not_sent(*kind, payload, reason, PREVIEW_CHARS)
            )
        }
        NetEvent::LeftBeforeHandshake { ts, peer } => {
            format!("{} {}", clock(*ts), left_early(*peer))
        }
        NetEvent::Steered(s) => {
            format!("{} #{} {}", clock(s.ts), s.conn, steered(s, PREVIEW_CHARS))
        }
        NetEvent::Wire(w) => format!("{} #{} {} frames", clock(w.ts), w.conn, w.frames.len()),
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

/// `12:00:00.000 #1 ← text 5B rtt 182µs hello`: a frame with its arrow, a note,
/// its round trip (named `timing`) and a preview, or what its protocol reads.
fn frame_line(
    f: &Frame,
    arrow: &str,
    timing: &str,
    note: &str,
    decoded: Option<&(Protocol, Decoded)>,
) -> String {
    let rtt = f
        .rtt
        .as_ref()
        .map(|r| {
            let to = r
                .label
                .as_deref()
                .map(|l| format!(" ({})", escape_bytes(l.as_bytes(), 60)))
                .unwrap_or_default();
            // A reply's time is a latency, an echo's or a pong's a round trip.
            let timing = if r.kind.is_reply() { "latency" } else { timing };
            format!(" {timing} {}{to}", format_duration(r.duration))
        })
        .unwrap_or_default();
    let preview = match decoded {
        Some((p, d)) => format!(
            "{}: {}",
            p.name(),
            escape_bytes(d.summary.as_bytes(), 4 * PREVIEW_CHARS)
        ),
        None => payload_preview(f.kind, &f.payload, PREVIEW_CHARS),
    };
    let sep = if preview.is_empty() { "" } else { " " };
    format!(
        "{} #{} {arrow} {}{note}{rtt}{sep}{preview}",
        clock(f.ts),
        f.conn,
        frame_summary(f.kind, f.len(), f.close.as_ref())
    )
}

/// An opened connection: peer, request, status, subprotocol, TLS, faults.
fn opened(o: &Opened) -> String {
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
        "{peer} {} → {}{sub}{tls}{faults}",
        escape_bytes(o.handshake.request_line.as_bytes(), PREVIEW_CHARS),
        o.handshake.status
    )
}

/// A relay's event as one line for people: messages with the way they travel,
/// the rest with the leg they happened on.
pub fn relay_line(side: Side, ev: &NetEvent, decoded: Option<&(Protocol, Decoded)>) -> String {
    match ev {
        // What wsprobe itself said on a leg: an answer, an injection, a close.
        NetEvent::Frame(f) => frame_line(
            f,
            flow_arrow(Flow::of(side, f.dir)),
            "latency",
            if f.dir == Direction::Out {
                " (relay)"
            } else {
                ""
            },
            decoded,
        ),
        NetEvent::Opened(o) => format!(
            "{} #{} {} leg open {}",
            clock(o.ts),
            o.conn,
            side.as_str(),
            opened(o)
        ),
        NetEvent::Closed {
            conn,
            ts,
            close,
            cause,
        } => format!(
            "{} #{conn} {}",
            clock(*ts),
            relay_ending(side, close.as_ref(), cause)
        ),
        NetEvent::NotSent {
            conn,
            ts,
            kind,
            payload,
            reason,
        } => format!(
            "{} #{conn} {} {}",
            clock(*ts),
            flow_arrow(Flow::of(side, Direction::Out)),
            not_sent(*kind, payload, reason, PREVIEW_CHARS)
        ),
        NetEvent::Steered(s) => format!(
            "{} #{} {} {}",
            clock(s.ts),
            s.conn,
            flow_arrow(Flow::of(side, Direction::In)),
            steered(s, PREVIEW_CHARS)
        ),
        other => human_line(side, other),
    }
}

/// A decoded message as JSON output carries it: `{"protocol", "summary",
/// "fields"}`. Names read as a program reads them (`ack id` → `ack_id`); a
/// JSON object or array (params, args, data) stays JSON, the rest is text; a
/// name given more than once (a batch's items) holds a list.
pub fn decoded_json(p: Protocol, d: &Decoded) -> Value {
    let mut named: Vec<(String, Vec<Value>)> = Vec::new();
    for (name, value) in &d.fields {
        let name: String = name
            .chars()
            .map(|c| if c.is_ascii_alphanumeric() { c } else { '_' })
            .collect();
        let value = match value.as_bytes().first() {
            Some(b'{' | b'[') => {
                serde_json::from_str(value).unwrap_or_else(|_| Value::String(value.clone()))
            }
            _ => Value::String(value.clone()),
        };
        match named.iter_mut().find(|(n, _)| *n == name) {
            Some((_, values)) => values.push(value),
            None => named.push((name, vec![value])),
        }
    }
    let fields: serde_json::Map<String, Value> = named
        .into_iter()
        .map(|(n, mut v)| match v.len() {
            1 => (n, v.remove(0)),
            _ => (n, Value::Array(v)),
        })
        .collect();
    serde_json::json!({"protocol": p.name(), "summary": d.summary, "fields": fields})
}
