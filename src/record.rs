//! The one JSON schema for everything wsprobe writes for machines: `--json` lines
//! of the server and client, and (later) recordings. Documented in the README.

use std::collections::BTreeMap;

use base64::Engine;
use chrono::{DateTime, SecondsFormat, Utc};
use serde::{Deserialize, Serialize};

use crate::net::rtt::RttSummary;
use crate::net::{CloseCause, Frame, FrameKind, NetEvent};

#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct Record {
    /// RFC 3339 with microseconds, UTC.
    pub ts: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub conn: Option<u64>,
    /// In recordings: "server" or "client", the side of wsprobe that saw it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub side: Option<String>,
    /// Connection and program events: open, close, error, not_sent,
    /// left_before_handshake, listening, summary.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub event: Option<String>,

    // Frames.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub dir: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub kind: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub len: Option<usize>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub text: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub base64: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rtt_us: Option<u64>,
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
    /// Faults the server injects, described.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub faults: Option<String>,

    // Close and error.
    /// Who closed: "local", "peer", or "error" when there was no close handshake.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cause: Option<String>,
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
    pub fn event(ts: DateTime<Utc>, event: &str) -> Self {
        Record {
            ts: timestamp(ts),
            event: Some(event.to_string()),
            ..Default::default()
        }
    }

    pub fn from_frame(f: &Frame) -> Self {
        let mut r = Record {
            ts: timestamp(f.ts),
            conn: Some(f.conn),
            dir: Some(f.dir.as_str().to_string()),
            kind: Some(f.kind.as_str().to_string()),
            len: Some(f.len()),
            rtt_us: f.rtt.map(|r| r.duration.as_micros() as u64),
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

    pub fn from_event(ev: &NetEvent) -> Self {
        match ev {
            NetEvent::Frame(f) => Record::from_frame(f),
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
                faults: o.faults.clone(),
                ..Record::event(o.ts, "open")
            },
            NetEvent::Closed {
                conn,
                ts,
                close,
                cause,
            } => {
                let (cause, message) = match cause {
                    CloseCause::Local => ("local", None),
                    CloseCause::Peer => ("peer", None),
                    CloseCause::Error(e) => ("error", Some(e.clone())),
                };
                Record {
                    conn: Some(*conn),
                    code: close.as_ref().map(|c| c.code),
                    reason: close.as_ref().map(|c| c.reason.clone()),
                    code_invalid: close.as_ref().and_then(|c| c.invalid.then_some(true)),
                    cause: Some(cause.to_string()),
                    message,
                    ..Record::event(*ts, "close")
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
                ..Record::event(*ts, "reconnect")
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
                    dir: crate::net::Direction::Out,
                    kind: *kind,
                    payload: payload.clone(),
                    close: None,
                    rtt: None,
                };
                Record {
                    dir: None,
                    event: Some("not_sent".to_string()),
                    message: Some(reason.clone()),
                    ..Record::from_frame(&never_went)
                }
            }
            NetEvent::LeftBeforeHandshake { ts, peer } => Record {
                peer: Some(peer.to_string()),
                ..Record::event(*ts, "left_before_handshake")
            },
            NetEvent::Error { conn, ts, message } => Record {
                conn: *conn,
                message: Some(message.clone()),
                ..Record::event(*ts, "error")
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
    pub fn close_info(&self) -> Option<crate::net::CloseInfo> {
        let code = self.code?;
        let reason = self.reason.clone().unwrap_or_default();
        Some(match self.code_invalid {
            Some(true) => crate::net::CloseInfo::invalid(code, reason),
            _ => crate::net::CloseInfo::new(code, reason),
        })
    }

    pub fn to_line(&self) -> String {
        serde_json::to_string(self).expect("a record always serializes")
    }
}
