//! `wsprobe replay` without a terminal: the recording's events as lines, then
//! what they add up to.

use std::time::Duration;

use chrono::{DateTime, Utc};

use super::output::Printer;
use crate::net::relay::Flow;
use crate::net::rtt::RttStats;
use crate::net::{CounterSnapshot, NetEvent, Side};
use crate::present::format_duration;
use crate::present::{self, ClientTotals};
use crate::record::reader::RecordingFile;

/// Prints every event of the recording, then its summary on stderr.
pub async fn run(file: &RecordingFile, mut printer: Printer) -> anyhow::Result<u8> {
    let mut summary = Summary {
        relayed: file.relayed(),
        ..Summary::default()
    };
    for (i, (side, ev)) in file.events().map_err(anyhow::Error::msg)?.enumerate() {
        summary.event(side, &ev);
        if summary.relayed {
            printer.relay_event(side, &ev);
        } else {
            printer.event(side, &ev);
        }
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
    /// A relay's recording: pairs, messages each way, reply latency.
    relayed: bool,
    relay: RelayTotals,
}

#[derive(Default)]
struct RelayTotals {
    pairs: u64,
    to_server: u64,
    to_client: u64,
    latency: RttStats,
    span: Option<(DateTime<Utc>, DateTime<Utc>)>,
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
    fn event(&mut self, side: Side, ev: &NetEvent) {
        let ts = ev.ts();
        if self.relayed {
            let r = &mut self.relay;
            widen(&mut r.span, ts);
            match ev {
                NetEvent::Opened(_) if side == Side::Client => r.pairs += 1,
                NetEvent::Frame(f) if f.kind.is_data() => {
                    match Flow::of(side, f.dir) {
                        Flow::ClientToServer => r.to_server += 1,
                        Flow::ServerToClient => r.to_client += 1,
                    }
                    if let Some(rtt) = &f.rtt {
                        r.latency.record(rtt.duration);
                    }
                }
                _ => {}
            }
            return;
        }
        match side {
            Side::Client => {
                widen(&mut self.client_span, ts);
                self.client.event(ev);
            }
            Side::Server => {
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
        if self.relayed {
            let r = &self.relay;
            let mut lines = vec![format!(
                "relay: {}, {} client→server, {} server→client in {}",
                present::count(r.pairs, "pair", "pairs"),
                r.to_server,
                r.to_client,
                format_duration(length(r.span))
            )];
            if r.latency.summary().count > 0 {
                lines.push(present::rtt_line("reply latency", &r.latency.summary()));
            }
            return lines;
        }
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
                "server: {}, received {} ({}) sent {} ({}) in {}",
                present::count(self.server_conns, "connection", "connections"),
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
