//! The one JSON schema for everything wsprobe writes for machines: `--json` lines
//! of the server, the client and replay, and `--record` files. Documented in the
//! README. Both conversions live here, event to record and record to event, so
//! that what is written is what is read back.

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use base64::Engine;
use chrono::{DateTime, SecondsFormat, Utc};
use serde::{Deserialize, Serialize};

use crate::net::relay::Flow;
use crate::net::rtt::RttSummary;
use crate::net::{
    CloseCause, CloseInfo, ConnCounters, Direction, Frame, FrameKind, Handshake, NetEvent, Opened,
    Rtt, RttKind, Side, SteerEvent, Steered,
};
use crate::present::ClientTotals;

/// A word this version does not know (a later version's side, direction or
/// kind) reads as none: the record is kept, and what needs the word passes it over.
fn lenient<'de, D, T>(de: D) -> Result<Option<T>, D::Error>
where
    D: serde::Deserializer<'de>,
    T: serde::de::DeserializeOwned,
{
    let value = Option::<serde_json::Value>::deserialize(de)?;
    Ok(value.and_then(|v| serde_json::from_value(v).ok()))
}

/// What a record that is not a frame tells.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Event {
    Open,
    Close,
    Error,
    NotSent,
    LeftBeforeHandshake,
    Reconnect,
    Listening,
    NotShown,
    Summary,
    /// A relay held a message (`held` its number, `message` why).
    Held,
    /// A held message was passed on (`edited` when its payload was replaced).
    Forwarded,
    /// A message was not passed on (`message` why).
    Dropped,
    /// A message was passed on `delay_ms` late (a fault).
    Delayed,
    /// A message was passed on in `fragments` frames (a fault).
    Fragmented,
    /// One frame as it crossed the wire (`--frames`), described in `frame`.
    Wire,
    /// Written by a later version: read, then passed over.
    #[serde(other)]
    Unknown,
}

/// One frame as it crossed the wire: the header as sent, the payload's length
/// on the wire and inflated, and a close frame's code and reason as sent.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct WireFrame {
    /// `text`, `binary`, `continuation`, `close`, `ping`, `pong`, `reserved 0x3`.
    pub opcode: String,
    #[serde(default)]
    pub opcode_num: u8,
    #[serde(default)]
    pub fin: bool,
    #[serde(default, skip_serializing_if = "is_false")]
    pub rsv1: bool,
    #[serde(default, skip_serializing_if = "is_false")]
    pub rsv2: bool,
    #[serde(default, skip_serializing_if = "is_false")]
    pub rsv3: bool,
    /// The masking key in hex; absent when the frame was not masked.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub mask: Option<String>,
    /// The payload's length on the wire.
    #[serde(default)]
    pub wire_len: u64,
    /// Its length once inflated (the same when not compressed).
    #[serde(default)]
    pub len: u64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub close_code: Option<u16>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub close_reason: Option<String>,
    /// The data message it belongs to, counted from 1 in its direction.
    #[serde(default, skip_serializing_if = "is_zero")]
    pub message: u64,
    /// Sent raw by the user (`/frame`, `/frag`).
    #[serde(default, skip_serializing_if = "is_false")]
    pub injected: bool,
}

fn is_false(b: &bool) -> bool {
    !*b
}

fn is_zero(n: &u64) -> bool {
    *n == 0
}

impl WireFrame {
    pub fn of(f: &crate::frames::FrameInfo) -> WireFrame {
        WireFrame {
            opcode: crate::frames::head::opcode_name(f.opcode),
            opcode_num: f.opcode,
            fin: f.fin,
            rsv1: f.rsv & 0b100 != 0,
            rsv2: f.rsv & 0b010 != 0,
            rsv3: f.rsv & 0b001 != 0,
            mask: f
                .mask
                .map(|m| format!("{:02x}{:02x}{:02x}{:02x}", m[0], m[1], m[2], m[3])),
            wire_len: f.wire_len,
            len: f.len,
            close_code: f.close.as_ref().and_then(|c| c.0),
            close_reason: f.close.as_ref().map(|c| c.1.clone()),
            message: f.message,
            injected: f.injected,
        }
    }
}

/// Who closed a connection.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Cause {
    Local,
    Peer,
    /// It ended without a close handshake; `message` says why.
    #[serde(other)]
    Error,
}

#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct Record {
    /// RFC 3339 with microseconds, UTC.
    pub ts: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub conn: Option<u64>,
    /// In recordings: "server" or "client", the side of wsprobe that saw it.
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        deserialize_with = "lenient"
    )]
    pub side: Option<Side>,
    /// Connection and program events; a frame has none.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub event: Option<Event>,
    /// A frame as it crossed the wire (`event: "wire"`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub frame: Option<WireFrame>,

    // Frames.
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        deserialize_with = "lenient"
    )]
    pub dir: Option<Direction>,
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        deserialize_with = "lenient"
    )]
    pub kind: Option<FrameKind>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub len: Option<usize>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub text: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub base64: Option<String>,
    /// Relay recordings and lines: which way the message travels,
    /// "client_to_server" or "server_to_client".
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        deserialize_with = "lenient"
    )]
    pub direction: Option<Flow>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rtt_us: Option<u64>,
    /// How long after its request a server's reply came (a relay's pairs, a
    /// protocol's requests).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub latency_us: Option<u64>,
    /// The method or event of the request a reply answers, when its protocol names it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reply_to: Option<String>,
    /// The message as its protocol reads it (`--protocol`): `protocol`,
    /// `summary` and `fields`; the payload beside it stays as it came.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub decoded: Option<serde_json::Value>,
    /// Relay: a held message's number, to forward or drop it by.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub held: Option<u64>,
    /// Relay: a held message passed on with a new payload.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub edited: Option<bool>,
    /// Relay: the frames a message was split into.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub fragments: Option<usize>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub code: Option<u16>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
    /// True when the peer sent a close code that may not appear on the wire.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub code_invalid: Option<bool>,

    // Open.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub peer: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub path: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub request: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub request_headers: Option<BTreeMap<String, String>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub status: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub response_headers: Option<BTreeMap<String, String>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub subprotocol: Option<String>,
    /// TLS version and cipher suite of a wss:// connection.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tls: Option<String>,
    /// The HTTP CONNECT proxy a client connection went through.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub proxy: Option<String>,
    /// The permessage-deflate parameters agreed on.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub deflate: Option<crate::frames::Params>,
    /// Faults the server injects, described.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub faults: Option<String>,

    // Close and error.
    /// Who closed: "local", "peer", or "error" when there was no close handshake.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cause: Option<Cause>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub message: Option<String>,

    // Reconnect: attempt `attempt` follows after `delay_ms`; `lost` echoes
    // never came back on the connection that dropped.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub attempt: Option<u32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub delay_ms: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub lost: Option<u64>,

    // Listening.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub url: Option<String>,

    // Summary.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sent: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub received: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub unmatched: Option<u64>,
    /// Messages that never went on the wire because the connection had closed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub not_sent: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub echo_rtt_us: Option<RttRecord>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ping_rtt_us: Option<RttRecord>,
    /// A protocol's request→reply latencies (`--protocol`, `--correlate`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reply_us: Option<RttRecord>,
    /// The same by the method or event each reply answers.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reply_by_request_us: Option<BTreeMap<String, RttRecord>>,
}

#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct RttRecord {
    pub count: u64,
    pub min: u64,
    pub p50: u64,
    pub p90: u64,
    pub p99: u64,
    pub max: u64,
}

impl From<RttSummary> for RttRecord {
    fn from(s: RttSummary) -> Self {
        let us = |d: std::time::Duration| d.as_micros() as u64;
        RttRecord {
            count: s.count,
            min: us(s.min),
            p50: us(s.p50),
            p90: us(s.p90),
            p99: us(s.p99),
            max: us(s.max),
        }
    }
}

pub fn timestamp(ts: DateTime<Utc>) -> String {
    ts.to_rfc3339_opts(SecondsFormat::Micros, true)
}

/// A record's time as [`timestamp`] writes it (any RFC 3339 time is read).
pub fn parse_ts(ts: &str) -> Option<DateTime<Utc>> {
    DateTime::parse_from_rfc3339(ts)
        .ok()
        .map(|t| t.with_timezone(&Utc))
}

fn headers(pairs: &[(String, String)]) -> BTreeMap<String, String> {
    let mut map: BTreeMap<String, String> = BTreeMap::new();
    for (k, v) in pairs {
        map.entry(k.to_ascii_lowercase())
            .and_modify(|old| {
                old.push_str(", ");
                old.push_str(v);
            })
            .or_insert_with(|| v.clone());
    }
    map
}

impl Record {
    pub fn event(ts: DateTime<Utc>, event: Event) -> Self {
        Record {
            ts: timestamp(ts),
            event: Some(event),
            ..Default::default()
        }
    }

    pub fn from_frame(f: &Frame) -> Self {
        let mut r = Record {
            ts: timestamp(f.ts),
            conn: Some(f.conn),
            dir: Some(f.dir),
            kind: Some(f.kind),
            len: Some(f.len()),
            rtt_us: f
                .rtt
                .as_ref()
                .filter(|r| !r.kind.is_reply())
                .map(|r| r.duration.as_micros() as u64),
            latency_us: f
                .rtt
                .as_ref()
                .filter(|r| r.kind.is_reply())
                .map(|r| r.duration.as_micros() as u64),
            reply_to: f
                .rtt
                .as_ref()
                .and_then(|r| r.label.as_deref())
                .map(str::to_string),
            ..Default::default()
        };
        match f.kind {
            FrameKind::Text => r.text = Some(String::from_utf8_lossy(&f.payload).into_owned()),
            FrameKind::Close => {
                if let Some(c) = &f.close {
                    r.code = Some(c.code);
                    r.reason = Some(c.reason.clone());
                    r.code_invalid = c.invalid.then_some(true);
                }
            }
            _ => r.base64 = Some(base64::engine::general_purpose::STANDARD.encode(&f.payload)),
        }
        r
    }

    /// A relay's event, with the leg it was seen on and, for a message, the
    /// way it travels.
    pub fn relayed(side: Side, ev: &NetEvent) -> Self {
        let mut r = Record::from_event(ev);
        r.side = Some(side);
        r.direction = match ev {
            NetEvent::Frame(f) => Some(Flow::of(side, f.dir)),
            NetEvent::NotSent { .. } => Some(Flow::of(side, Direction::Out)),
            NetEvent::Steered(_) => Some(Flow::of(side, Direction::In)),
            _ => None,
        };
        r
    }

    /// Each frame of a batch as a record of its own.
    pub fn wire(w: &crate::net::Wire) -> Vec<Record> {
        w.frames
            .iter()
            .map(|f| Record {
                conn: Some(w.conn),
                dir: Some(if f.outgoing {
                    Direction::Out
                } else {
                    Direction::In
                }),
                frame: Some(WireFrame::of(f)),
                ..Record::event(f.at, Event::Wire)
            })
            .collect()
    }

    pub fn from_event(ev: &NetEvent) -> Self {
        match ev {
            NetEvent::Frame(f) => Record::from_frame(f),
            NetEvent::Wire(w) => Record::wire(w)
                .into_iter()
                .next()
                .unwrap_or_else(|| Record {
                    conn: Some(w.conn),
                    ..Record::event(w.ts, Event::Wire)
                }),
            NetEvent::Opened(o) => Record {
                conn: Some(o.conn),
                peer: Some(o.peer.to_string()),
                path: Some(o.path.clone()),
                request: Some(o.handshake.request_line.clone()),
                request_headers: Some(headers(&o.handshake.request_headers)),
                status: Some(o.handshake.status.clone()),
                response_headers: Some(headers(&o.handshake.response_headers)),
                subprotocol: o.handshake.subprotocol.clone(),
                tls: o.handshake.tls.clone(),
                proxy: o.handshake.proxy.clone(),
                deflate: o.handshake.deflate,
                faults: o.faults.clone(),
                ..Record::event(o.ts, Event::Open)
            },
            NetEvent::Closed {
                conn,
                ts,
                close,
                cause,
            } => {
                let (cause, message) = match cause {
                    CloseCause::Local => (Cause::Local, None),
                    CloseCause::Peer => (Cause::Peer, None),
                    CloseCause::Error(e) => (Cause::Error, Some(e.clone())),
                };
                Record {
                    conn: Some(*conn),
                    code: close.as_ref().map(|c| c.code),
                    reason: close.as_ref().map(|c| c.reason.clone()),
                    code_invalid: close.as_ref().and_then(|c| c.invalid.then_some(true)),
                    cause: Some(cause),
                    message,
                    ..Record::event(*ts, Event::Close)
                }
            }
            NetEvent::Reconnecting {
                conn,
                ts,
                attempt,
                delay,
                lost,
            } => Record {
                conn: Some(*conn),
                attempt: Some(*attempt),
                delay_ms: Some(delay.as_millis() as u64),
                lost: Some(*lost),
                ..Record::event(*ts, Event::Reconnect)
            },
            NetEvent::NotSent {
                conn,
                ts,
                kind,
                payload,
                reason,
            } => {
                let never_went = Frame {
                    conn: *conn,
                    ts: *ts,
                    dir: Direction::Out,
                    kind: *kind,
                    payload: payload.clone(),
                    close: None,
                    rtt: None,
                    message: 0,
                };
                Record {
                    dir: None,
                    event: Some(Event::NotSent),
                    message: Some(reason.clone()),
                    ..Record::from_frame(&never_went)
                }
            }
            NetEvent::Steered(s) => {
                let message = Frame {
                    conn: s.conn,
                    ts: s.ts,
                    dir: Direction::In,
                    kind: s.kind,
                    payload: s.payload.clone(),
                    close: None,
                    rtt: None,
                    message: 0,
                };
                let mut r = Record {
                    dir: None,
                    held: (s.id > 0).then_some(s.id),
                    ..Record::from_frame(&message)
                };
                let event = match &s.what {
                    SteerEvent::Held(why) => {
                        r.message = Some(why.clone());
                        Event::Held
                    }
                    SteerEvent::Forwarded { edited } => {
                        r.edited = edited.then_some(true);
                        Event::Forwarded
                    }
                    SteerEvent::Dropped(why) => {
                        r.message = Some(why.clone());
                        Event::Dropped
                    }
                    SteerEvent::Delayed(d) => {
                        r.delay_ms = Some(d.as_millis() as u64);
                        Event::Delayed
                    }
                    SteerEvent::Fragmented(n) => {
                        r.fragments = Some(*n);
                        Event::Fragmented
                    }
                };
                r.event = Some(event);
                r
            }
            NetEvent::LeftBeforeHandshake { ts, peer } => Record {
                peer: Some(peer.to_string()),
                ..Record::event(*ts, Event::LeftBeforeHandshake)
            },
            NetEvent::Error { conn, ts, message } => Record {
                conn: *conn,
                message: Some(message.clone()),
                ..Record::event(*ts, Event::Error)
            },
        }
    }

    /// The URL an `open` record's connection went to: Host header (else the
    /// peer's address) and path, wss:// when it had TLS.
    pub fn url(&self) -> String {
        let host = self
            .request_headers
            .as_ref()
            .and_then(|h| h.get("host").cloned())
            .or_else(|| self.peer.clone())
            .unwrap_or_else(|| "localhost".into());
        let scheme = if self.tls.is_some() { "wss" } else { "ws" };
        format!("{scheme}://{host}{}", self.path.as_deref().unwrap_or("/"))
    }

    /// A frame record's payload back as bytes: its text, or its base64 decoded.
    pub fn payload(&self) -> Option<bytes::Bytes> {
        match (&self.text, &self.base64) {
            (Some(t), _) => Some(bytes::Bytes::from(t.clone().into_bytes())),
            (_, Some(b)) => base64::engine::general_purpose::STANDARD
                .decode(b)
                .ok()
                .map(bytes::Bytes::from),
            _ => None,
        }
    }

    /// A close code and reason of this record, as they were.
    pub fn close_info(&self) -> Option<CloseInfo> {
        let code = self.code?;
        let reason = self.reason.clone().unwrap_or_default();
        Some(match self.code_invalid {
            Some(true) => CloseInfo::invalid(code, reason),
            _ => CloseInfo::new(code, reason),
        })
    }

    /// The event this record was made from ([`Record::from_event`] undone),
    /// timed `ts`; None for records that are no event of a connection
    /// (listening, summary, ...) or that lack what their event needs. An opened
    /// connection gets fresh counters and a command queue that leads nowhere: a
    /// recording cannot be sent to.
    pub fn to_event(&self, ts: DateTime<Utc>) -> Option<NetEvent> {
        let conn = self.conn.unwrap_or(0);
        let pairs = |m: &Option<BTreeMap<String, String>>| -> Vec<(String, String)> {
            m.iter()
                .flatten()
                .map(|(k, v)| (k.clone(), v.clone()))
                .collect()
        };
        match (self.event, self.dir) {
            (Some(Event::Open), _) => Some(NetEvent::Opened(Box::new(Opened {
                conn,
                ts,
                peer: self
                    .peer
                    .as_deref()
                    .and_then(|p| p.parse::<SocketAddr>().ok())
                    .unwrap_or_else(|| SocketAddr::from(([0, 0, 0, 0], 0))),
                path: self.path.clone().unwrap_or_default(),
                handshake: Handshake {
                    request_line: self.request.clone().unwrap_or_default(),
                    request_headers: pairs(&self.request_headers),
                    status: self.status.clone().unwrap_or_default(),
                    response_headers: pairs(&self.response_headers),
                    subprotocol: self.subprotocol.clone(),
                    tls: self.tls.clone(),
                    proxy: self.proxy.clone(),
                    deflate: self.deflate,
                },
                counters: Arc::new(ConnCounters::default()),
                commands: crate::net::inbox::channel(1).0,
                faults: self.faults.clone(),
            }))),
            (Some(Event::Close), _) => Some(NetEvent::Closed {
                conn,
                ts,
                close: self.close_info(),
                cause: match self.cause {
                    Some(Cause::Local) => CloseCause::Local,
                    Some(Cause::Peer) => CloseCause::Peer,
                    _ => CloseCause::Error(self.message.clone().unwrap_or_default()),
                },
            }),
            (Some(Event::Reconnect), _) => Some(NetEvent::Reconnecting {
                conn,
                ts,
                attempt: self.attempt.unwrap_or(0),
                delay: Duration::from_millis(self.delay_ms.unwrap_or(0)),
                lost: self.lost.unwrap_or(0),
            }),
            (Some(Event::LeftBeforeHandshake), _) => Some(NetEvent::LeftBeforeHandshake {
                ts,
                peer: self.peer.as_deref()?.parse().ok()?,
            }),
            (Some(Event::NotSent), _) => Some(NetEvent::NotSent {
                conn,
                ts,
                kind: self.kind?,
                payload: self.payload().unwrap_or_default(),
                reason: self.message.clone().unwrap_or_default(),
            }),
            (
                Some(
                    e @ (Event::Held
                    | Event::Forwarded
                    | Event::Dropped
                    | Event::Delayed
                    | Event::Fragmented),
                ),
                _,
            ) => {
                let why = || self.message.clone().unwrap_or_default();
                Some(NetEvent::Steered(Steered {
                    conn,
                    ts,
                    id: self.held.unwrap_or(0),
                    what: match e {
                        Event::Held => SteerEvent::Held(why()),
                        Event::Forwarded => SteerEvent::Forwarded {
                            edited: self.edited.unwrap_or(false),
                        },
                        Event::Dropped => SteerEvent::Dropped(why()),
                        Event::Delayed => {
                            SteerEvent::Delayed(Duration::from_millis(self.delay_ms.unwrap_or(0)))
                        }
                        _ => SteerEvent::Fragmented(self.fragments.unwrap_or(0)),
                    },
                    kind: self.kind?,
                    payload: self.payload().unwrap_or_default(),
                }))
            }
            (Some(Event::Error), _) => Some(NetEvent::Error {
                conn: self.conn,
                ts,
                message: self.message.clone().unwrap_or_default(),
            }),
            (None, Some(dir)) => {
                let kind = self.kind?;
                let close = (kind == FrameKind::Close)
                    .then(|| self.close_info())
                    .flatten();
                let payload = match (self.payload(), &close) {
                    (Some(p), _) => p,
                    (None, Some(c)) => c.payload(),
                    _ => bytes::Bytes::new(),
                };
                Some(NetEvent::Frame(Frame {
                    conn,
                    ts,
                    dir,
                    kind,
                    payload,
                    close,
                    rtt: match (self.rtt_us, self.latency_us) {
                        (_, Some(us)) => Some(Rtt {
                            kind: RttKind::Reply,
                            duration: Duration::from_micros(us),
                            label: self.reply_to.as_deref().map(Into::into),
                        }),
                        (Some(us), None) => Some(Rtt {
                            kind: if kind == FrameKind::Pong {
                                RttKind::Ping
                            } else {
                                RttKind::Echo
                            },
                            duration: Duration::from_micros(us),
                            label: None,
                        }),
                        (None, None) => None,
                    },
                    message: 0,
                }))
            }
            _ => None,
        }
    }

    /// The summary line of a client run, for `--json`.
    pub fn summary(totals: &ClientTotals) -> Record {
        Record {
            sent: Some(totals.sent),
            received: Some(totals.received),
            unmatched: Some(totals.unmatched),
            lost: (totals.lost > 0).then_some(totals.lost),
            not_sent: (totals.not_sent > 0).then_some(totals.not_sent),
            echo_rtt_us: Some(RttRecord::from(totals.rtt.echo.summary())),
            ping_rtt_us: Some(RttRecord::from(totals.rtt.ping.summary())),
            reply_us: (totals.rtt.reply.count() > 0)
                .then(|| RttRecord::from(totals.rtt.reply.summary())),
            reply_by_request_us: (!totals.rtt.by_label.is_empty()).then(|| {
                (totals.rtt.by_label.iter())
                    .map(|(l, s)| (l.to_string(), RttRecord::from(s.summary())))
                    .collect()
            }),
            ..Record::event(chrono::Utc::now(), Event::Summary)
        }
    }

    pub fn to_line(&self) -> String {
        serde_json::to_string(self).expect("a record always serializes")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ts() -> DateTime<Utc> {
        parse_ts("2026-11-28T20:00:00.123456Z").unwrap()
    }

    fn frame(dir: Direction, kind: FrameKind, payload: &[u8]) -> NetEvent {
        NetEvent::Frame(Frame {
            conn: 3,
            ts: ts(),
            dir,
            kind,
            payload: bytes::Bytes::copy_from_slice(payload),
            close: None,
            rtt: None,
            message: 0,
        })
    }

    /// Event -> record -> event -> record: what is written reads back as it was.
    fn round_trip(ev: NetEvent) -> (Record, Record) {
        let first = Record::from_event(&ev);
        let line = first.to_line();
        let read: Record = serde_json::from_str(&line).expect("a record parses");
        assert_eq!(read, first, "{line}");
        let back = read
            .to_event(parse_ts(&read.ts).expect("its time parses"))
            .unwrap_or_else(|| panic!("no event from {line}"));
        (first, Record::from_event(&back))
    }

    #[test]
    fn every_event_survives_a_round_trip_through_its_record() {
        let echo = NetEvent::Frame(Frame {
            rtt: Some(Rtt {
                kind: RttKind::Echo,
                duration: Duration::from_micros(152),
                label: None,
            }),
            ..match frame(Direction::In, FrameKind::Text, b"hi \x1b") {
                NetEvent::Frame(f) => f,
                _ => unreachable!(),
            }
        });
        let close = NetEvent::Frame(Frame {
            close: Some(CloseInfo::invalid(1005, "gone")),
            ..match frame(
                Direction::In,
                FrameKind::Close,
                &CloseInfo::invalid(1005, "gone").payload(),
            ) {
                NetEvent::Frame(f) => f,
                _ => unreachable!(),
            }
        });
        let opened = NetEvent::Opened(Box::new(Opened {
            conn: 3,
            ts: ts(),
            peer: "127.0.0.1:40000".parse().unwrap(),
            path: "/chat?x=1".into(),
            handshake: Handshake {
                request_line: "GET /chat?x=1 HTTP/1.1".into(),
                request_headers: vec![("Host".into(), "127.0.0.1:8765".into())],
                status: "HTTP/1.1 101 Switching Protocols".into(),
                response_headers: vec![("upgrade".into(), "websocket".into())],
                subprotocol: Some("chat".into()),
                tls: None,
                proxy: None,
                deflate: Some(crate::frames::Params {
                    server_no_context_takeover: true,
                    ..Default::default()
                }),
            },
            counters: Arc::default(),
            commands: crate::net::inbox::channel(1).0,
            faults: Some("drop 10%".into()),
        }));
        let events = vec![
            echo,
            close,
            frame(Direction::Out, FrameKind::Binary, &[0, 159, 255]),
            frame(Direction::Out, FrameKind::Ping, b"7"),
            opened,
            NetEvent::Closed {
                conn: 3,
                ts: ts(),
                close: Some(CloseInfo::new(1000, "bye")),
                cause: CloseCause::Peer,
            },
            NetEvent::Closed {
                conn: 3,
                ts: ts(),
                close: None,
                cause: CloseCause::Error("reset".into()),
            },
            NetEvent::Reconnecting {
                conn: 4,
                ts: ts(),
                attempt: 2,
                delay: Duration::from_millis(500),
                lost: 1,
            },
            NetEvent::NotSent {
                conn: 4,
                ts: ts(),
                kind: FrameKind::Text,
                payload: bytes::Bytes::from_static(b"late"),
                reason: "the connection had closed".into(),
            },
            NetEvent::LeftBeforeHandshake {
                ts: ts(),
                peer: "127.0.0.1:40001".parse().unwrap(),
            },
            NetEvent::Error {
                conn: None,
                ts: ts(),
                message: "accept failed".into(),
            },
            NetEvent::Frame(Frame {
                rtt: Some(Rtt {
                    kind: RttKind::Reply,
                    duration: Duration::from_micros(840),
                    label: None,
                }),
                ..match frame(Direction::In, FrameKind::Text, b"{\"id\":1}") {
                    NetEvent::Frame(f) => f,
                    _ => unreachable!(),
                }
            }),
        ];
        let steered = [
            SteerEvent::Held("breakpoint /x/".into()),
            SteerEvent::Forwarded { edited: true },
            SteerEvent::Dropped("fault: drop 5%".into()),
            SteerEvent::Delayed(Duration::from_millis(52)),
            SteerEvent::Fragmented(3),
        ]
        .into_iter()
        .map(|what| {
            NetEvent::Steered(Steered {
                conn: 2,
                ts: ts(),
                id: 7,
                what,
                kind: FrameKind::Text,
                payload: bytes::Bytes::from_static(b"x"),
            })
        });
        for ev in events.into_iter().chain(steered) {
            let (first, again) = round_trip(ev);
            assert_eq!(first, again);
        }
    }

    #[test]
    fn a_relays_records_say_which_way_each_message_went() {
        let way = |side, dir| {
            let r = Record::relayed(side, &frame(dir, FrameKind::Text, b"a"));
            let v: serde_json::Value = serde_json::from_str(&r.to_line()).unwrap();
            (v["side"].clone(), v["direction"].clone())
        };
        assert_eq!(
            way(Side::Client, Direction::In),
            ("client".into(), "client_to_server".into())
        );
        assert_eq!(
            way(Side::Server, Direction::In),
            ("server".into(), "server_to_client".into())
        );
        assert_eq!(
            way(Side::Client, Direction::Out).1,
            "server_to_client",
            "what the relay says to the client goes its way"
        );
        let reply = NetEvent::Frame(Frame {
            rtt: Some(Rtt {
                kind: RttKind::Reply,
                duration: Duration::from_micros(840),
                label: None,
            }),
            ..match frame(Direction::In, FrameKind::Text, b"r") {
                NetEvent::Frame(f) => f,
                _ => unreachable!(),
            }
        });
        let v: serde_json::Value =
            serde_json::from_str(&Record::relayed(Side::Server, &reply).to_line()).unwrap();
        assert_eq!(v["latency_us"], 840);
        assert!(
            v.get("rtt_us").is_none(),
            "a reply's latency is no echo's rtt"
        );
    }

    #[test]
    fn the_schema_words_are_the_documented_ones() {
        let r = Record::from_event(&frame(Direction::Out, FrameKind::Binary, b"a"));
        let v: serde_json::Value = serde_json::from_str(&r.to_line()).unwrap();
        assert_eq!(v["dir"], "out");
        assert_eq!(v["kind"], "binary");
        let r = Record {
            side: Some(Side::Server),
            cause: Some(Cause::Local),
            ..Record::event(ts(), Event::LeftBeforeHandshake)
        };
        let v: serde_json::Value = serde_json::from_str(&r.to_line()).unwrap();
        assert_eq!(v["side"], "server");
        assert_eq!(v["cause"], "local");
        assert_eq!(v["event"], "left_before_handshake");
        assert_eq!(v["ts"], "2026-11-28T20:00:00.123456Z");
    }

    #[test]
    fn a_later_versions_words_are_read_not_refused() {
        let r: Record = serde_json::from_str(
            r#"{"ts":"2026-11-28T20:00:00Z","event":"teleport","cause":"aliens"}"#,
        )
        .unwrap();
        assert_eq!(r.event, Some(Event::Unknown));
        assert_eq!(r.cause, Some(Cause::Error));
        assert!(r.to_event(ts()).is_none());
        let r: Record = serde_json::from_str(
            r#"{"ts":"2026-11-28T20:00:00Z","side":"relay","dir":"sideways","kind":"hologram","conn":1}"#,
        )
        .unwrap();
        assert_eq!((r.side, r.dir, r.kind), (None, None, None));
        assert_eq!(r.conn, Some(1), "the rest of the record is kept");
    }
}
