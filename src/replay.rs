//! `wsprobe replay FILE`: a recording back in the dashboard, read-only, with the
//! same log, filter, detail popup and RTT panel; or as lines without a terminal;
//! or as HAR with `--har`.

use std::collections::HashMap;
use std::io::{BufRead, BufReader};
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::Bytes;
use chrono::{DateTime, Utc};
use tokio::sync::mpsc;

use crate::app::state::{ClientPane, Focus, ServerPane};
use crate::app::{update, AppState, Mode, Msg, Pane};
use crate::cli::ReplayArgs;
use crate::config::Options;
use crate::error::UsageError;
use crate::headless::output::{ClientTotals, Format, Printer};
use crate::net::rtt::format_duration;
use crate::net::{
    CloseCause, ConnCounters, CounterSnapshot, Direction, Frame, FrameKind, Handshake, NetEvent,
    Opened, Rtt, RttKind,
};
use crate::record::Record;
use crate::recorder::Side;
use crate::sendfile::parse_ts;

/// A recording to read back. The file is read twice, never held whole: once to
/// learn which sides it has, once to feed its events to the screen, whose log
/// keeps only the newest `--keep` frames. A recording of any size fits.
pub struct Loaded {
    pub mode: Mode,
    path: PathBuf,
    name: String,
    client_url: String,
    server_url: String,
    /// The side of records that do not say theirs: `--json` output of a server
    /// (it has a `listening` line) or of a client.
    unsided: Pane,
}

impl Loaded {
    pub fn from_file(path: &Path) -> Result<Loaded, String> {
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
        for r in records.flatten() {
            let slot = match r.side.as_deref() {
                Some("server") => {
                    server = true;
                    &mut server_url
                }
                Some(_) => {
                    client = true;
                    &mut client_url
                }
                None => {
                    unsided = true;
                    listening |= r.event.as_deref() == Some("listening");
                    &mut unsided_url
                }
            };
            if r.event.as_deref() == Some("open") {
                slot.get_or_insert_with(|| r.url());
            }
        }
        let unsided_pane = if listening {
            Pane::Server
        } else {
            Pane::Client
        };
        if unsided {
            match unsided_pane {
                Pane::Server => {
                    server = true;
                    server_url = server_url.or(unsided_url);
                }
                Pane::Client => {
                    client = true;
                    client_url = client_url.or(unsided_url);
                }
            }
        }
        Ok(Loaded {
            unsided: unsided_pane,
            mode: match (client, server) {
                (true, true) => Mode::Demo,
                (false, true) => Mode::Server,
                _ => Mode::Client,
            },
            path: path.to_path_buf(),
            name: path.display().to_string(),
            client_url: client_url.unwrap_or_else(|| "(recording)".into()),
            server_url: server_url.unwrap_or_else(|| "(recording)".into()),
        })
    }

    /// The records in order (lines that are not records are skipped: a file cut
    /// short by a crash still replays).
    pub fn records(&self) -> Result<impl Iterator<Item = Record>, String> {
        Ok(read_records(&self.path)?.flatten())
    }

    /// The events in order, each with the pane of the side that saw it.
    pub fn events(&self) -> Result<impl Iterator<Item = (Pane, NetEvent)>, String> {
        let mut counters: HashMap<(Pane, u64), Arc<ConnCounters>> = HashMap::new();
        // Nothing can be sent in a replay: the command queue leads nowhere.
        let (nowhere, _) = mpsc::channel(1);
        let unsided = self.unsided;
        // A record whose time cannot be read happened when the one before it did.
        let mut last_ts = None;
        Ok(self.records()?.filter_map(move |r| {
            let pane = match r.side.as_deref() {
                Some("server") => Pane::Server,
                Some(_) => Pane::Client,
                None => unsided,
            };
            let ts = parse_ts(&r.ts).or(last_ts).unwrap_or_else(Utc::now);
            last_ts = Some(ts);
            to_event(&r, ts, pane, &mut counters, &nowhere).map(|ev| (pane, ev))
        }))
    }

    /// Fills the dashboard's panes with the recording and makes it read-only.
    /// The dashboard's clock follows the recorded times, event by event, so
    /// uptimes, ages and rates are the recording's; it stops at the last record.
    pub fn load_into(self, state: &mut AppState, keep: usize) -> Result<(), String> {
        // The dashboard's clock now stands for the time of the first record.
        let start = state.now;
        if self.mode != Mode::Server {
            let mut c = ClientPane::new(self.client_url.clone(), keep, Vec::new(), start);
            c.input_error = Some("replay: read-only".into());
            state.client = Some(c);
        }
        if self.mode != Mode::Client {
            state.server = Some(ServerPane::new(
                self.server_url.clone(),
                keep,
                Vec::new(),
                Arc::default(),
            ));
        }
        // Read-only from the start: closed connections stay in the table.
        state.read_only = true;
        let mut clock = RecordedClock::new(start);
        for (pane, ev) in self.events()? {
            let wall = event_ts(&ev);
            update(
                state,
                Msg::Tick {
                    now: clock.at(wall),
                    wall,
                },
            );
            update(state, Msg::Net(pane, ev));
        }
        state.focus = match self.mode {
            Mode::Server => Focus::ServerLog,
            _ => Focus::ClientLog,
        };
        state.hint = Some(format!(" replay {} · read-only", self.name));
        Ok(())
    }
}

/// Turns recorded wall-clock times into the dashboard's `Instant`s: the first
/// record is `start`, each later one as far after it as it was recorded (never
/// earlier than the one before: the two sides of a demo interleave).
struct RecordedClock {
    start: Instant,
    first: Option<DateTime<Utc>>,
    now: Instant,
}

impl RecordedClock {
    fn new(start: Instant) -> Self {
        RecordedClock {
            start,
            first: None,
            now: start,
        }
    }

    fn at(&mut self, ts: DateTime<Utc>) -> Instant {
        let first = *self.first.get_or_insert(ts);
        let since = (ts - first).to_std().unwrap_or_default();
        self.now = self.now.max(self.start + since);
        self.now
    }
}

fn event_ts(ev: &NetEvent) -> DateTime<Utc> {
    ev.ts()
}

/// What a replay without a terminal adds up, timed by the recorded times: the
/// same summary a live client prints, and one for the server side.
#[derive(Default)]
struct Summary {
    client: ClientTotals,
    client_span: Option<(DateTime<Utc>, DateTime<Utc>)>,
    server_conns: u64,
    /// Data messages only, as the client counts them.
    server: CounterSnapshot,
    server_span: Option<(DateTime<Utc>, DateTime<Utc>)>,
}

fn widen(span: &mut Option<(DateTime<Utc>, DateTime<Utc>)>, ts: DateTime<Utc>) {
    let (a, b) = span.get_or_insert((ts, ts));
    *a = (*a).min(ts);
    *b = (*b).max(ts);
}

fn length(span: Option<(DateTime<Utc>, DateTime<Utc>)>) -> Duration {
    span.and_then(|(a, b)| (b - a).to_std().ok())
        .unwrap_or_default()
}

impl Summary {
    fn event(&mut self, pane: Pane, ev: &NetEvent) {
        let ts = event_ts(ev);
        match pane {
            Pane::Client => {
                widen(&mut self.client_span, ts);
                match ev {
                    NetEvent::Frame(f) => self.client.count(f),
                    NetEvent::Reconnecting { lost, .. } => self.client.lost += lost,
                    _ => {}
                }
            }
            Pane::Server => {
                widen(&mut self.server_span, ts);
                match ev {
                    NetEvent::Opened(_) => self.server_conns += 1,
                    NetEvent::Frame(f) if f.kind.is_data() => self.server.count(f.dir, f.len()),
                    _ => {}
                }
            }
        }
    }

    fn lines(&self) -> Vec<String> {
        let both = self.client_span.is_some() && self.server_span.is_some();
        let mut lines = Vec::new();
        if self.client_span.is_some() {
            let prefix = if both { "client: " } else { "" };
            lines.extend(
                self.client
                    .human(length(self.client_span))
                    .into_iter()
                    .map(|l| format!("{prefix}{l}")),
            );
        }
        if self.server_span.is_some() {
            let took = length(self.server_span);
            let secs = took.as_secs_f64();
            let per_sec = |n: u64| {
                if secs > 0.0 {
                    format!("{:.1}/s", n as f64 / secs)
                } else {
                    "-".into()
                }
            };
            let s = &self.server;
            lines.push(format!(
                "server: {} connection{}, received {} ({}) sent {} ({}) in {}",
                self.server_conns,
                if self.server_conns == 1 { "" } else { "s" },
                s.frames_in,
                per_sec(s.frames_in),
                s.frames_out,
                per_sec(s.frames_out),
                format_duration(took)
            ));
        }
        lines
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

fn to_event(
    r: &Record,
    ts: DateTime<Utc>,
    pane: Pane,
    counters: &mut HashMap<(Pane, u64), Arc<ConnCounters>>,
    nowhere: &mpsc::Sender<crate::net::NetCommand>,
) -> Option<NetEvent> {
    let conn = r.conn.unwrap_or(0);
    let pairs = |m: &Option<std::collections::BTreeMap<String, String>>| -> Vec<(String, String)> {
        m.iter()
            .flatten()
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect()
    };
    match (r.event.as_deref(), r.dir.as_deref()) {
        (Some("open"), _) => {
            let c = Arc::new(ConnCounters::default());
            counters.insert((pane, conn), c.clone());
            Some(NetEvent::Opened(Box::new(Opened {
                conn,
                ts,
                peer: r
                    .peer
                    .as_deref()
                    .and_then(|p| p.parse::<SocketAddr>().ok())
                    .unwrap_or_else(|| SocketAddr::from(([0, 0, 0, 0], 0))),
                path: r.path.clone().unwrap_or_default(),
                handshake: Handshake {
                    request_line: r.request.clone().unwrap_or_default(),
                    request_headers: pairs(&r.request_headers),
                    status: r.status.clone().unwrap_or_default(),
                    response_headers: pairs(&r.response_headers),
                    subprotocol: r.subprotocol.clone(),
                    tls: r.tls.clone(),
                    proxy: r.proxy.clone(),
                },
                counters: c,
                commands: nowhere.clone(),
                faults: r.faults.clone(),
            })))
        }
        (Some("close"), _) => Some(NetEvent::Closed {
            conn,
            ts,
            close: r.close_info(),
            cause: match r.cause.as_deref() {
                Some("local") => CloseCause::Local,
                Some("peer") => CloseCause::Peer,
                _ => CloseCause::Error(r.message.clone().unwrap_or_default()),
            },
        }),
        (Some("reconnect"), _) => Some(NetEvent::Reconnecting {
            conn,
            ts,
            attempt: r.attempt.unwrap_or(0),
            delay: Duration::from_millis(r.delay_ms.unwrap_or(0)),
            lost: r.lost.unwrap_or(0),
        }),
        (Some("left_before_handshake"), _) => Some(NetEvent::LeftBeforeHandshake {
            ts,
            peer: r.peer.as_deref()?.parse().ok()?,
        }),
        (Some("not_sent"), _) => Some(NetEvent::NotSent {
            conn,
            ts,
            kind: FrameKind::from_name(r.kind.as_deref()?)?,
            payload: r.payload().unwrap_or_default(),
            reason: r.message.clone().unwrap_or_default(),
        }),
        (Some("error"), _) => Some(NetEvent::Error {
            conn: r.conn,
            ts,
            message: r.message.clone().unwrap_or_default(),
        }),
        (None, Some(dir)) => {
            let dir = if dir == "in" {
                Direction::In
            } else {
                Direction::Out
            };
            let kind = FrameKind::from_name(r.kind.as_deref()?)?;
            let close = (kind == FrameKind::Close).then(|| r.close_info()).flatten();
            let payload = match (r.payload(), &close) {
                (Some(p), _) => p,
                (None, Some(c)) => c.payload(),
                _ => Bytes::new(),
            };
            if let Some(c) = counters.get(&(pane, conn)) {
                let mut one = CounterSnapshot::default();
                one.count(dir, r.len.unwrap_or(payload.len()));
                c.add(&one);
            }
            Some(NetEvent::Frame(Frame {
                conn,
                ts,
                dir,
                kind,
                payload,
                close,
                rtt: r.rtt_us.map(|us| Rtt {
                    kind: if kind == FrameKind::Pong {
                        RttKind::Ping
                    } else {
                        RttKind::Echo
                    },
                    duration: Duration::from_micros(us),
                }),
            }))
        }
        _ => None,
    }
}

pub async fn run(args: ReplayArgs, out: &Options) -> anyhow::Result<u8> {
    let loaded = Loaded::from_file(&args.file).map_err(UsageError)?;
    if let Some(path) = &args.har {
        let mut har = crate::har::Har::default();
        let unsided = match loaded.unsided {
            Pane::Server => Side::Server,
            Pane::Client => Side::Client,
        };
        for r in loaded.records().map_err(anyhow::Error::msg)? {
            har.event(&r, unsided);
        }
        har.write(path).map_err(anyhow::Error::msg)?;
        eprintln!(
            "wrote {} ({})",
            path.display(),
            crate::present::count(har.entries() as u64, "connection", "connections")
        );
        // Asked only for the export, from a script: done.
        if !crate::use_tui(out) {
            return Ok(0);
        }
    }
    if crate::use_tui(out) {
        // Seen only while a large recording loads, before the dashboard opens.
        eprintln!("reading {}…", args.file.display());
        return crate::tui::run(crate::tui::Setup {
            mode: loaded.mode,
            client: None,
            server: None,
            keep: out.keep,
            hint: None,
            replay: Some(loaded),
        })
        .await;
    }
    let format = if out.json {
        Format::Json
    } else {
        Format::Human
    };
    let mut printer = Printer::new(format, out.quiet);
    let mut summary = Summary::default();
    for (i, (pane, ev)) in loaded.events().map_err(anyhow::Error::msg)?.enumerate() {
        summary.event(pane, &ev);
        printer.event(&ev);
        if i % 1024 == 1023 {
            printer.flush().await;
        }
    }
    printer.flush().await;
    for line in summary.lines() {
        eprintln!("{line}");
    }
    Ok(0)
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
        let loaded = Loaded::from_file(&p).unwrap();
        assert_eq!(loaded.mode, Mode::Server);
        let events: Vec<_> = loaded.events().unwrap().collect();
        assert_eq!(events.len(), 3);
        assert!(events.iter().all(|(pane, _)| *pane == Pane::Server));
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
        assert_eq!(Loaded::from_file(&p).unwrap().mode, Mode::Demo);
        let t = file("txt", "hello\n");
        assert!(Loaded::from_file(&t)
            .err()
            .unwrap()
            .contains("is not a recording"));
        let _ = std::fs::remove_file(&p);
        let _ = std::fs::remove_file(&t);
    }
}
