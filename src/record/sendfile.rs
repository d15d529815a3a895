//! `--send-file FILE [--speed X]`: the outgoing messages of a recording, with
//! their original spacing scaled, or the lines of a plain text file.

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::time::Duration;

use bytes::Bytes;
use chrono::{DateTime, Utc};
use tokio::sync::mpsc;

use super::schema::{parse_ts, Record};
use crate::net::{Direction, FrameKind, NetCommand, Side};

/// What to send and when. The file is read as it plays, never held whole.
#[derive(Clone, Debug, PartialEq)]
pub struct Script {
    path: PathBuf,
    /// A recording (else plain lines), and which of its frames were sent.
    recording: Option<Sends>,
    /// Divides the spacing; 0 sends without waiting.
    speed: f64,
}

/// Which frames of a recording are a client's sends.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Sends {
    /// `out` frames of the client side (client and demo recordings).
    ClientOut,
    /// `in` frames of a server's recording: what its clients sent.
    ServerIn,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ToSend {
    Text(String),
    Binary(Bytes),
}

/// Messages read ahead of their time; the reader waits beyond this.
const READ_AHEAD: usize = 256;

impl Script {
    /// Checks the file and learns its kind: a recording (JSON Lines from
    /// `--record` or `--json`) or, when its first line is not a record, plain
    /// lines sent back to back.
    pub fn load(path: &Path, speed: f64) -> Result<Script, String> {
        let first = lines(path)?.find(|l| !l.trim().is_empty());
        let recording = first.as_deref().and_then(record).map(|_| {
            let server_only = lines(path)
                .into_iter()
                .flatten()
                .filter_map(|l| record(&l))
                .all(|r| r.side == Some(Side::Server));
            if server_only {
                Sends::ServerIn
            } else {
                Sends::ClientOut
            }
        });
        Ok(Script {
            path: path.to_path_buf(),
            recording,
            speed,
        })
    }

    /// Every message with its offset from the first, in order.
    pub fn items(&self) -> Result<impl Iterator<Item = (Duration, ToSend)>, String> {
        let pick = self.recording;
        let speed = self.speed;
        let mut first: Option<DateTime<Utc>> = None;
        Ok(lines(&self.path)?.filter_map(move |line| {
            let Some(pick) = pick else {
                return Some((Duration::ZERO, ToSend::Text(line)));
            };
            let r = record(&line)?;
            let wanted = match pick {
                Sends::ClientOut => r.side != Some(Side::Server) && r.dir == Some(Direction::Out),
                Sends::ServerIn => r.dir == Some(Direction::In),
            };
            if !wanted {
                return None;
            }
            let item = match r.kind {
                Some(FrameKind::Text) => ToSend::Text(r.text.unwrap_or_default()),
                Some(FrameKind::Binary) => ToSend::Binary(r.payload().unwrap_or_default()),
                _ => return None,
            };
            let at = match (first, parse_ts(&r.ts)) {
                (None, Some(t)) => {
                    first = Some(t);
                    Duration::ZERO
                }
                (Some(f), Some(t)) => (t - f).to_std().unwrap_or_default(),
                _ => Duration::ZERO,
            };
            let at = if speed == 0.0 {
                Duration::ZERO
            } else {
                at.div_f64(speed)
            };
            Some((at, item))
        }))
    }

    /// Plays the script into a channel, each message at its time; the channel
    /// closes after the last. `binary` turns text lines into binary messages.
    pub fn play(self, binary: bool) -> tokio::sync::mpsc::Receiver<NetCommand> {
        let (tx, rx) = mpsc::channel(1);
        let (ahead_tx, mut ahead) = mpsc::channel::<(Duration, ToSend)>(READ_AHEAD);
        // Reading the file blocks: a thread of its own, bounded by the channel.
        std::thread::spawn(move || {
            let Ok(items) = self.items() else { return };
            for item in items {
                if ahead_tx.blocking_send(item).is_err() {
                    return;
                }
            }
        });
        tokio::spawn(async move {
            let mut start: Option<tokio::time::Instant> = None;
            while let Some((at, item)) = ahead.recv().await {
                if let Some(start) = start {
                    tokio::time::sleep_until(start + at).await;
                }
                let cmd = match item {
                    ToSend::Text(t) if binary => NetCommand::Binary(Bytes::from(t.into_bytes())),
                    ToSend::Text(t) => NetCommand::Text(t),
                    ToSend::Binary(b) => NetCommand::Binary(b),
                };
                if tx.send(cmd).await.is_err() {
                    break;
                }
                if start.is_none() {
                    // The spacing counts from when the first message was taken,
                    // not from when the file began to play: the reader thread
                    // starting late on a busy machine must not squeeze the first gap.
                    match tx.reserve().await {
                        Ok(room) => drop(room),
                        Err(_) => break,
                    }
                    start = Some(tokio::time::Instant::now() - at);
                }
            }
        });
        rx
    }
}

/// A line as a record, if it is one.
fn record(line: &str) -> Option<Record> {
    serde_json::from_str::<Record>(line)
        .ok()
        .filter(|r| !r.ts.is_empty())
}

/// The file's lines; in a text file each is a message, blank ones included.
fn lines(path: &Path) -> Result<impl Iterator<Item = String>, String> {
    let file =
        std::fs::File::open(path).map_err(|e| format!("cannot read {}: {e}", path.display()))?;
    Ok(BufReader::new(file).lines().map_while(Result::ok))
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
            s.items().unwrap().collect::<Vec<_>>(),
            vec![
                (Duration::ZERO, ToSend::Text("a".into())),
                (
                    Duration::from_secs(2),
                    ToSend::Binary(Bytes::from_static(&[1, 2]))
                ),
            ]
        );
        let fast = Script::load(&p, 4.0).unwrap();
        assert_eq!(
            fast.items().unwrap().nth(1).unwrap().0,
            Duration::from_millis(500)
        );
        assert_eq!(
            Script::load(&p, 0.0)
                .unwrap()
                .items()
                .unwrap()
                .nth(1)
                .unwrap()
                .0,
            Duration::ZERO
        );
    }

    #[test]
    fn a_server_recording_gives_what_clients_sent() {
        let rec = r#"{"ts":"2026-01-01T00:00:00Z","conn":3,"side":"server","dir":"in","kind":"text","text":"hi"}
{"ts":"2026-01-01T00:00:00.1Z","conn":3,"side":"server","dir":"out","kind":"text","text":"hi"}
"#;
        let s = Script::load(&write("srv", rec), 1.0).unwrap();
        assert_eq!(
            s.items().unwrap().collect::<Vec<_>>(),
            vec![(Duration::ZERO, ToSend::Text("hi".into()))]
        );
    }

    #[test]
    fn a_text_file_gives_its_lines() {
        let s = Script::load(
            &write("txt", "one\n{\"not\": \"a record\"}\n\nthree\n"),
            1.0,
        )
        .unwrap();
        let texts: Vec<_> = s.items().unwrap().map(|(_, i)| i).collect();
        assert_eq!(
            texts,
            vec![
                ToSend::Text("one".into()),
                ToSend::Text("{\"not\": \"a record\"}".into()),
                ToSend::Text("".into()),
                ToSend::Text("three".into()),
            ]
        );
        assert!(Script::load(Path::new("/nonexistent/x"), 1.0)
            .unwrap_err()
            .contains("cannot read"));
    }
}
