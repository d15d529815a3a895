//! HAR export with `_webSocketMessages`, the form browser DevTools read: one
//! entry per connection, its handshake as request and response, and its data
//! messages as seen from the client (a server's "in" is the client's "send").

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use serde_json::{json, Value};

use super::schema::{parse_ts, Event, Record};
use crate::net::relay::Flow;
use crate::net::{Direction, FrameKind, NetEvent, Side};
use crate::present;

/// Messages kept per connection; the rest are counted, so memory stays bounded.
const MAX_MESSAGES: usize = 200_000;

#[derive(Default)]
pub struct Har {
    entries: Vec<Entry>,
    by_conn: HashMap<(Side, u64), usize>,
    /// A relay's recording: one entry per pair (its client leg's handshake),
    /// each message sent or received as the app saw it.
    relayed: bool,
}

struct Entry {
    open: Record,
    side: Side,
    messages: Vec<Value>,
    left_out: u64,
    closed_ts: Option<String>,
}

impl Har {
    /// Takes one record; `default_side` is for records that do not say theirs.
    pub fn event(&mut self, r: &Record, default_side: Side) {
        let side = r.side.unwrap_or(default_side);
        let Some(conn) = r.conn else { return };
        match (r.event, r.dir) {
            (Some(Event::Open), _) => {
                self.by_conn.insert((side, conn), self.entries.len());
                self.entries.push(Entry {
                    open: r.clone(),
                    side,
                    messages: Vec::new(),
                    left_out: 0,
                    closed_ts: None,
                });
            }
            (Some(Event::Close), _) => {
                if let Some(&i) = self.by_conn.get(&(side, conn)) {
                    self.entries[i].closed_ts = Some(r.ts.clone());
                }
            }
            (None, Some(dir)) => {
                self.relayed |= r.direction.is_some();
                // A relay's messages all belong to the pair's client leg.
                let leg = if r.direction.is_some() {
                    Side::Client
                } else {
                    side
                };
                let Some(&i) = self.by_conn.get(&(leg, conn)) else {
                    return;
                };
                let e = &mut self.entries[i];
                let (opcode, data) = match r.kind {
                    Some(FrameKind::Text) => (1, r.text.clone().unwrap_or_default()),
                    Some(FrameKind::Binary) => (2, r.base64.clone().unwrap_or_default()),
                    _ => return,
                };
                if e.messages.len() >= MAX_MESSAGES {
                    e.left_out += 1;
                    return;
                }
                let from_client = match r.direction {
                    Some(flow) => flow == Flow::ClientToServer,
                    None => (side == Side::Client) == (dir == Direction::Out),
                };
                let time = parse_ts(&r.ts)
                    .map(|t| t.timestamp_micros() as f64 / 1e6)
                    .unwrap_or_default();
                e.messages.push(json!({
                    "type": if from_client { "send" } else { "receive" },
                    "time": time,
                    "opcode": opcode,
                    "data": data,
                }));
            }
            _ => {}
        }
    }

    /// The entries written: a relay's upstream legs are in their pairs'.
    fn shown(&self) -> impl Iterator<Item = &Entry> {
        self.entries
            .iter()
            .filter(|e| !(self.relayed && e.side == Side::Server))
    }

    pub fn entries(&self) -> usize {
        self.shown().count()
    }

    pub fn to_json(&self) -> Value {
        let entries: Vec<Value> = self.shown().map(entry_json).collect();
        json!({
            "log": {
                "version": "1.2",
                "creator": {"name": "wsprobe", "version": env!("CARGO_PKG_VERSION")},
                "pages": [],
                "entries": entries,
            }
        })
    }

    /// Writes the file; returns the line that tells what was written.
    pub fn write(&self, path: &Path) -> Result<String, String> {
        let text = serde_json::to_string_pretty(&self.to_json()).expect("HAR serializes");
        std::fs::write(path, text)
            .map_err(|e| format!("cannot write the HAR file {}: {e}", path.display()))?;
        Ok(format!(
            "wrote {} ({})",
            path.display(),
            present::count(self.entries() as u64, "connection", "connections")
        ))
    }
}

/// `--har FILE` of a client: its session kept as it happens, written when it ends.
pub struct HarFile {
    path: PathBuf,
    har: Har,
}

impl HarFile {
    pub fn new(path: PathBuf) -> Self {
        HarFile {
            path,
            har: Har::default(),
        }
    }

    pub fn event(&mut self, ev: &NetEvent) {
        self.har.event(&Record::from_event(ev), Side::Client);
    }

    /// Writes the file; returns the line that tells what was written.
    pub fn write(&self) -> Result<String, String> {
        self.har.write(&self.path)
    }
}

fn headers(map: &Option<std::collections::BTreeMap<String, String>>) -> Vec<Value> {
    map.iter()
        .flatten()
        .map(|(k, v)| json!({"name": k, "value": v}))
        .collect()
}

fn entry_json(e: &Entry) -> Value {
    let o = &e.open;
    let url = o.url();
    let (status, status_text) = o
        .status
        .as_deref()
        .and_then(|s| s.split_once(' '))
        .map(|(c, t)| (c.parse::<u16>().unwrap_or(101), t.to_string()))
        .unwrap_or((101, "Switching Protocols".into()));
    let duration_ms = match (parse_ts(&o.ts), e.closed_ts.as_deref().and_then(parse_ts)) {
        (Some(a), Some(b)) => (b - a).num_microseconds().unwrap_or(0) as f64 / 1000.0,
        _ => 0.0,
    };
    let mut entry = json!({
        "startedDateTime": o.ts,
        "time": duration_ms,
        "request": {
            "method": "GET",
            "url": url,
            "httpVersion": "HTTP/1.1",
            "headers": headers(&o.request_headers),
            "queryString": [],
            "cookies": [],
            "headersSize": -1,
            "bodySize": 0,
        },
        "response": {
            "status": status,
            "statusText": status_text,
            "httpVersion": "HTTP/1.1",
            "headers": headers(&o.response_headers),
            "cookies": [],
            "content": {"size": 0, "mimeType": "x-unknown"},
            "redirectURL": "",
            "headersSize": -1,
            "bodySize": 0,
        },
        "cache": {},
        "timings": {"send": 0, "wait": 0, "receive": 0},
        "serverIPAddress": o.peer.as_deref().and_then(|p| p.rsplit_once(':')).map(|(ip, _)| ip.trim_matches(['[', ']']).to_string()).unwrap_or_default(),
        "_resourceType": "websocket",
        "_webSocketMessages": e.messages,
        "_wsprobeSide": e.side.as_str(),
    });
    if e.left_out > 0 {
        entry["_wsprobeMessagesLeftOut"] = json!(e.left_out);
    }
    entry
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rec(line: &str) -> Record {
        serde_json::from_str(line).unwrap()
    }

    #[test]
    fn a_client_session_becomes_one_entry_with_its_messages() {
        let mut har = Har::default();
        for l in [
            r#"{"ts":"2026-01-01T00:00:00Z","conn":1,"event":"open","path":"/chat","peer":"127.0.0.1:9","status":"101 Switching Protocols","request_headers":{"host":"127.0.0.1:9"},"response_headers":{"upgrade":"websocket"}}"#,
            r#"{"ts":"2026-01-01T00:00:01Z","conn":1,"dir":"out","kind":"text","text":"hi"}"#,
            r#"{"ts":"2026-01-01T00:00:01.25Z","conn":1,"dir":"in","kind":"binary","base64":"AQI="}"#,
            r#"{"ts":"2026-01-01T00:00:01.3Z","conn":1,"dir":"in","kind":"pong","base64":""}"#,
            r#"{"ts":"2026-01-01T00:00:02Z","conn":1,"event":"close","code":1000}"#,
        ] {
            har.event(&rec(l), Side::Client);
        }
        let v = har.to_json();
        let e = &v["log"]["entries"][0];
        assert_eq!(e["request"]["url"], "ws://127.0.0.1:9/chat");
        assert_eq!(e["response"]["status"], 101);
        assert_eq!(e["time"], 2000.0);
        assert_eq!(e["_resourceType"], "websocket");
        let m = e["_webSocketMessages"].as_array().unwrap();
        assert_eq!(m.len(), 2, "control frames are not messages");
        assert_eq!(m[0]["type"], "send");
        assert_eq!(m[0]["opcode"], 1);
        assert_eq!(m[0]["data"], "hi");
        assert_eq!(m[1]["type"], "receive");
        assert_eq!(m[1]["opcode"], 2);
        assert_eq!(m[1]["time"], 1767225601.25);
    }

    #[test]
    fn a_server_sees_the_client_send() {
        let mut har = Har::default();
        har.event(
            &rec(r#"{"ts":"2026-01-01T00:00:00Z","conn":4,"side":"server","event":"open"}"#),
            Side::Client,
        );
        har.event(
            &rec(r#"{"ts":"2026-01-01T00:00:00Z","conn":4,"side":"server","dir":"in","kind":"text","text":"x"}"#),
            Side::Client,
        );
        let v = har.to_json();
        assert_eq!(
            v["log"]["entries"][0]["_webSocketMessages"][0]["type"],
            "send"
        );
        assert_eq!(har.entries(), 1);
    }
}
