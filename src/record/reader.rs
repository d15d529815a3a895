//! Reads a recording (or `--json` output) back as records and as events.

use std::collections::HashMap;
use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::sync::Arc;

use chrono::Utc;

use super::schema::{parse_ts, Event, Record};
use crate::net::{ConnCounters, CounterSnapshot, NetEvent, Side};

/// A recording to read back. The file is read twice, never held whole: once to
/// learn which sides it has, once to feed its events on, whose readers keep
/// only what they need. A recording of any size fits.
pub struct RecordingFile {
    path: PathBuf,
    client: bool,
    server: bool,
    client_url: String,
    server_url: String,
    /// The side of records that do not say theirs: `--json` output of a server
    /// (it has a `listening` line) or of a client.
    unsided: Side,
    relayed: bool,
}

impl RecordingFile {
    pub fn open(path: &Path) -> Result<RecordingFile, String> {
        let not_a_recording = || {
            format!(
                "{} is not a recording: expected JSON Lines written by --record or --json",
                path.display()
            )
        };
        let mut records = read_records(path)?.peekable();
        if records.peek().is_none_or(|r| r.is_none()) {
            return Err(not_a_recording());
        }
        let (mut client, mut server, mut unsided, mut listening) = (false, false, false, false);
        let (mut client_url, mut server_url, mut unsided_url) = (None, None, None);
        let mut relayed = false;
        for r in records.flatten() {
            relayed |= r.direction.is_some();
            let slot = match r.side {
                Some(Side::Server) => {
                    server = true;
                    &mut server_url
                }
                Some(Side::Client) => {
                    client = true;
                    &mut client_url
                }
                None => {
                    unsided = true;
                    listening |= r.event == Some(Event::Listening);
                    &mut unsided_url
                }
            };
            if r.event == Some(Event::Open) {
                slot.get_or_insert_with(|| r.url());
            }
        }
        let unsided_side = if listening {
            Side::Server
        } else {
            Side::Client
        };
        if unsided {
            match unsided_side {
                Side::Server => {
                    server = true;
                    server_url = server_url.or(unsided_url);
                }
                Side::Client => {
                    client = true;
                    client_url = client_url.or(unsided_url);
                }
            }
        }
        Ok(RecordingFile {
            relayed,
            unsided: unsided_side,
            client,
            server,
            path: path.to_path_buf(),
            client_url: client_url.unwrap_or_else(|| "(recording)".into()),
            server_url: server_url.unwrap_or_else(|| "(recording)".into()),
        })
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Written by `wsprobe relay`: its sides are the legs of each pair.
    pub fn relayed(&self) -> bool {
        self.relayed
    }

    /// Which sides it has: (client, server). A file with neither is a client's.
    pub fn sides(&self) -> (bool, bool) {
        (self.client || !self.server, self.server)
    }

    /// The URL the side's first connection went to.
    pub fn url(&self, side: Side) -> &str {
        match side {
            Side::Client => &self.client_url,
            Side::Server => &self.server_url,
        }
    }

    /// The side of records that do not say theirs.
    pub fn unsided(&self) -> Side {
        self.unsided
    }

    /// The records in order (lines that are not records are skipped: a file cut
    /// short by a crash still replays).
    pub fn records(&self) -> Result<impl Iterator<Item = Record>, String> {
        Ok(read_records(&self.path)?.flatten())
    }

    /// The events in order, each with the side that saw it; each connection's
    /// counters follow its recorded frames.
    pub fn events(&self) -> Result<impl Iterator<Item = (Side, NetEvent)>, String> {
        let mut counters: HashMap<(Side, u64), Arc<ConnCounters>> = HashMap::new();
        let unsided = self.unsided;
        // A record whose time cannot be read happened when the one before it did.
        let mut last_ts = None;
        Ok(self.records()?.filter_map(move |r| {
            let side = r.side.unwrap_or(unsided);
            let ts = parse_ts(&r.ts).or(last_ts).unwrap_or_else(Utc::now);
            last_ts = Some(ts);
            let ev = r.to_event(ts)?;
            let conn = r.conn.unwrap_or(0);
            match &ev {
                NetEvent::Opened(o) => {
                    counters.insert((side, conn), o.counters.clone());
                }
                NetEvent::Frame(f) => {
                    if let Some(c) = counters.get(&(side, conn)) {
                        let mut one = CounterSnapshot::default();
                        one.count(f.dir, r.len.unwrap_or(f.payload.len()));
                        c.add(&one);
                    }
                }
                _ => {}
            }
            Some((side, ev))
        }))
    }
}

/// Each line as a record, or None for a line that is not one (blank lines are skipped).
fn read_records(path: &Path) -> Result<impl Iterator<Item = Option<Record>>, String> {
    let file =
        std::fs::File::open(path).map_err(|e| format!("cannot read {}: {e}", path.display()))?;
    Ok(BufReader::new(file)
        .lines()
        .map_while(Result::ok)
        .filter(|l| !l.trim().is_empty())
        .map(|l| {
            serde_json::from_str::<Record>(&l)
                .ok()
                .filter(|r| !r.ts.is_empty())
        }))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn file(name: &str, text: &str) -> PathBuf {
        let p = std::env::temp_dir().join(format!("wsprobe-replay-{}-{name}", std::process::id()));
        std::fs::write(&p, text).unwrap();
        p
    }

    #[test]
    fn a_servers_json_output_replays_as_a_server() {
        let p = file(
            "srv",
            concat!(
                r#"{"ts":"2026-01-01T00:00:00Z","event":"listening","url":"ws://127.0.0.1:1"}"#,
                "\n",
                r#"{"ts":"2026-01-01T00:00:00Z","conn":7,"event":"open","peer":"127.0.0.1:5","path":"/x"}"#,
                "\n",
                r#"{"ts":"2026-01-01T00:00:01Z","conn":7,"dir":"in","kind":"text","len":2,"text":"hi"}"#,
                "\n",
                "not json: skipped\n",
                r#"{"ts":"2026-01-01T00:00:01Z","conn":7,"dir":"out","kind":"text","len":2,"text":"hi"}"#,
                "\n",
            ),
        );
        let loaded = RecordingFile::open(&p).unwrap();
        assert_eq!(loaded.sides(), (false, true));
        let events: Vec<_> = loaded.events().unwrap().collect();
        assert_eq!(events.len(), 3);
        assert!(events.iter().all(|(pane, _)| *pane == Side::Server));
        let NetEvent::Opened(o) = &events[0].1 else {
            panic!("first is the open")
        };
        assert_eq!(
            o.counters.snapshot().frames_in,
            1,
            "counters follow the frames"
        );
        let _ = std::fs::remove_file(&p);
    }

    #[test]
    fn a_demo_recording_has_both_sides_and_a_text_file_is_refused() {
        let p = file(
            "demo",
            concat!(
                r#"{"ts":"2026-01-01T00:00:00Z","conn":1,"side":"server","event":"open"}"#,
                "\n",
                r#"{"ts":"2026-01-01T00:00:00Z","conn":1,"side":"client","event":"open"}"#,
                "\n",
            ),
        );
        assert_eq!(RecordingFile::open(&p).unwrap().sides(), (true, true));
        let t = file("txt", "hello\n");
        assert!(RecordingFile::open(&t)
            .err()
            .unwrap()
            .contains("is not a recording"));
        let _ = std::fs::remove_file(&p);
        let _ = std::fs::remove_file(&t);
    }
}
