//! `--send-file FILE [--speed X]`: the outgoing messages of a recording, with
//! their original spacing scaled, or the lines of a plain text file.

use std::path::Path;
use std::time::Duration;

use base64::Engine;
use bytes::Bytes;
use chrono::{DateTime, Utc};
use tokio::sync::mpsc;

use crate::net::NetCommand;
use crate::record::Record;

/// What to send and when, as offsets from the first message.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Script {
    pub items: Vec<(Duration, Item)>,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Item {
    Text(String),
    Binary(Bytes),
}

impl Script {
    /// Reads a recording (JSON Lines from `--record` or `--json`) or, when the
    /// file is not one, its lines as text messages sent back to back. `speed`
    /// divides the spacing; 0 sends without waiting.
    pub fn load(path: &Path, speed: f64) -> Result<Script, String> {
        let text = std::fs::read_to_string(path)
            .map_err(|e| format!("cannot read {}: {e}", path.display()))?;
        let records = parse_recording(&text);
        let mut script = match records {
            Some(records) => from_records(&records),
            None => Script {
                items: text
                    .lines()
                    .map(|l| (Duration::ZERO, Item::Text(l.to_string())))
                    .collect(),
            },
        };
        for (at, _) in &mut script.items {
            *at = if speed == 0.0 {
                Duration::ZERO
            } else {
                at.div_f64(speed)
            };
        }
        Ok(script)
    }

    pub fn len(&self) -> usize {
        self.items.len()
    }

    pub fn is_empty(&self) -> bool {
        self.items.is_empty()
    }

    /// Plays the script into a channel, each message at its time; the channel
    /// closes after the last. `binary` turns text lines into binary messages.
    pub fn play(self, binary: bool) -> mpsc::Receiver<NetCommand> {
        let (tx, rx) = mpsc::channel(1);
        tokio::spawn(async move {
            let start = tokio::time::Instant::now();
            for (at, item) in self.items {
                tokio::time::sleep_until(start + at).await;
                let cmd = match item {
                    Item::Text(t) if binary => NetCommand::Binary(Bytes::from(t.into_bytes())),
                    Item::Text(t) => NetCommand::Text(t),
                    Item::Binary(b) => NetCommand::Binary(b),
                };
                if tx.send(cmd).await.is_err() {
                    break;
                }
            }
        });
        rx
    }
}

/// Every non-empty line as a record, or None when the file is not a recording.
pub fn parse_recording(text: &str) -> Option<Vec<Record>> {
    let mut out = Vec::new();
    for line in text.lines().filter(|l| !l.trim().is_empty()) {
        let r: Record = serde_json::from_str(line).ok()?;
        if r.ts.is_empty() {
            return None;
        }
        out.push(r);
    }
    (!out.is_empty()).then_some(out)
}

pub fn parse_ts(ts: &str) -> Option<DateTime<Utc>> {
    DateTime::parse_from_rfc3339(ts)
        .ok()
        .map(|t| t.with_timezone(&Utc))
}

/// What a client sent: `out` frames of the client side; a server's recording
/// holds them as the `in` frames it echoed.
fn from_records(records: &[Record]) -> Script {
    let has_client = records.iter().any(|r| r.side.as_deref() != Some("server"));
    let sent = |r: &&Record| {
        let (side, dir) = (r.side.as_deref(), r.dir.as_deref());
        if has_client {
            side != Some("server") && dir == Some("out")
        } else {
            dir == Some("in")
        }
    };
    let mut first: Option<DateTime<Utc>> = None;
    let mut items = Vec::new();
    for r in records.iter().filter(sent) {
        let item = match r.kind.as_deref() {
            Some("text") => Item::Text(r.text.clone().unwrap_or_default()),
            Some("binary") => Item::Binary(Bytes::from(
                base64::engine::general_purpose::STANDARD
                    .decode(r.base64.as_deref().unwrap_or_default())
                    .unwrap_or_default(),
            )),
            _ => continue,
        };
        let ts = parse_ts(&r.ts);
        let at = match (first, ts) {
            (None, Some(t)) => {
                first = Some(t);
                Duration::ZERO
            }
            (Some(f), Some(t)) => (t - f).to_std().unwrap_or_default(),
            _ => Duration::ZERO,
        };
        items.push((at, item));
    }
    Script { items }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn write(name: &str, text: &str) -> std::path::PathBuf {
        let p =
            std::env::temp_dir().join(format!("wsprobe-sendfile-{}-{name}", std::process::id()));
        std::fs::write(&p, text).unwrap();
        p
    }

    #[test]
    fn a_recording_gives_the_client_sends_with_their_spacing() {
        let rec = r#"{"ts":"2026-01-01T00:00:00.000000Z","conn":1,"side":"client","event":"open"}
{"ts":"2026-01-01T00:00:01.000000Z","conn":1,"side":"client","dir":"out","kind":"text","len":1,"text":"a"}
{"ts":"2026-01-01T00:00:01.500000Z","conn":1,"side":"client","dir":"in","kind":"text","len":1,"text":"a"}
{"ts":"2026-01-01T00:00:03.000000Z","conn":1,"side":"client","dir":"out","kind":"binary","len":2,"base64":"AQI="}
{"ts":"2026-01-01T00:00:03.100000Z","conn":1,"side":"server","dir":"out","kind":"text","len":1,"text":"x"}
"#;
        let p = write("rec", rec);
        let s = Script::load(&p, 1.0).unwrap();
        assert_eq!(
            s.items,
            vec![
                (Duration::ZERO, Item::Text("a".into())),
                (
                    Duration::from_secs(2),
                    Item::Binary(Bytes::from_static(&[1, 2]))
                ),
            ]
        );
        let fast = Script::load(&p, 4.0).unwrap();
        assert_eq!(fast.items[1].0, Duration::from_millis(500));
        assert_eq!(Script::load(&p, 0.0).unwrap().items[1].0, Duration::ZERO);
    }

    #[test]
    fn a_server_recording_gives_what_clients_sent() {
        let rec = r#"{"ts":"2026-01-01T00:00:00Z","conn":3,"side":"server","dir":"in","kind":"text","text":"hi"}
{"ts":"2026-01-01T00:00:00.1Z","conn":3,"side":"server","dir":"out","kind":"text","text":"hi"}
"#;
        let s = Script::load(&write("srv", rec), 1.0).unwrap();
        assert_eq!(s.items, vec![(Duration::ZERO, Item::Text("hi".into()))]);
    }

    #[test]
    fn a_text_file_gives_its_lines() {
        let s = Script::load(
            &write("txt", "one\n{\"not\": \"a record\"}\n\nthree\n"),
            1.0,
        )
        .unwrap();
        let texts: Vec<_> = s.items.iter().map(|(_, i)| i.clone()).collect();
        assert_eq!(
            texts,
            vec![
                Item::Text("one".into()),
                Item::Text("{\"not\": \"a record\"}".into()),
                Item::Text("".into()),
                Item::Text("three".into()),
            ]
        );
        assert!(Script::load(Path::new("/nonexistent/x"), 1.0)
            .unwrap_err()
            .contains("cannot read"));
    }
}
