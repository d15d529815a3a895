//! What the client's connection reports.

use std::time::Instant;

use super::not_sent_note;
use crate::app::msg::ScriptNote;
use crate::app::state::{ClientPane, LinkState, RttPoint, RTT_POINTS};
use crate::escape::escape_text;
use crate::net::Side;
use crate::net::{CloseCause, CounterSnapshot, Direction, NetEvent, Rtt, RttKind};
use crate::present::{ending, retry};
use crate::proto::{Choice, Spoken};
use chrono::{DateTime, Utc};

pub(super) fn client_event(c: &mut ClientPane, ev: NetEvent, now: Instant, choice: Choice) {
    c.totals.event(&ev);
    match ev {
        NetEvent::Opened(o) => {
            let to = match o.handshake.proxy.as_deref() {
                Some(p) => format!("via {p}"),
                None => format!("to {}", o.peer),
            };
            c.note(
                o.ts,
                format!(
                    "#{} connected {to}: {}",
                    o.conn,
                    escape_text(&o.handshake.status, 60)
                ),
                false,
            );
            c.state = LinkState::Open;
            c.conn = Some(o.conn);
            c.peer = Some(o.peer);
            c.spoken = Spoken::new(choice, o.handshake.subprotocol.as_deref());
            c.handshake = Some(o.handshake.clone());
            c.opened_at = Some(now);
            c.closed_at = None;
            c.counts = CounterSnapshot::default();
            c.sample = None;
        }
        NetEvent::Frame(f) => {
            if let Some(rtt) = &f.rtt {
                chart(c, rtt, now);
            }
            let proto = c.spoken.read(f.dir == Direction::Out, f.kind, &f.payload);
            c.log.log.push(&f, proto);
        }
        NetEvent::Wire(w) => c.log.wire.push(w, None),
        NetEvent::Closed {
            conn,
            ts,
            close,
            cause,
        } => {
            let bad = !matches!(cause, CloseCause::Local);
            c.note(
                ts,
                format!("#{conn} {}", ending(Side::Client, close.as_ref(), &cause)),
                bad,
            );
            c.state = LinkState::Closed { close, cause };
            c.closed_at = Some(now);
        }
        NetEvent::Reconnecting {
            conn,
            ts,
            attempt,
            delay,
            lost,
        } => {
            c.note(
                ts,
                format!("#{conn} {}", retry(attempt, delay, lost)),
                false,
            );
            c.state = LinkState::Waiting {
                attempt,
                until: now + delay,
            };
        }
        NetEvent::NotSent {
            conn,
            ts,
            kind,
            payload,
            reason,
        } => {
            c.note(ts, not_sent_note(conn, kind, &payload, &reason), true);
            c.input_error = Some(format!("not sent: {reason}"));
        }
        NetEvent::LeftBeforeHandshake { .. } | NetEvent::Steered(_) => {}
        NetEvent::Error { conn, ts, message } => {
            if matches!(c.state, LinkState::Connecting | LinkState::Waiting { .. }) {
                let id = conn.map(|c| format!("#{c} ")).unwrap_or_default();
                c.note(
                    ts,
                    format!("{id}connect failed: {}", escape_text(&message, 200)),
                    true,
                );
                c.state = LinkState::Failed(message);
            } else {
                c.input_error = Some(message);
            }
        }
    }
}

/// A round trip on the RTT chart.
fn chart(c: &mut ClientPane, rtt: &Rtt, now: Instant) {
    if c.rtt_points.len() >= RTT_POINTS * 2 {
        c.rtt_points.pop_front();
    }
    c.rtt_points.push_back(RttPoint {
        at: now.saturating_duration_since(c.started).as_secs_f64(),
        ms: rtt.duration.as_secs_f64() * 1000.0,
        // Charted with the replies the user's requests got.
        kind: match rtt.kind {
            RttKind::Setup => RttKind::Reply,
            k => k,
        },
    });
}

/// A script's step, latency or end: each step in the timeline (`t`), the
/// latest over the input box, a failure under it.
pub(super) fn script_note(c: &mut ClientPane, note: ScriptNote, now: Instant, wall: DateTime<Utc>) {
    match note {
        ScriptNote::Step { line, failed } => {
            if failed {
                c.input_error = Some(format!("script: {}", line.trim()));
            }
            c.script = Some(format!("script: {}", line.trim()));
            c.note(wall, format!("script {}", line.trim()), failed);
        }
        ScriptNote::Latency(rtt) => {
            chart(c, &rtt, now);
            c.totals.rtt.record(rtt);
        }
        ScriptNote::Ended { summary, failed } => {
            c.script_running = false;
            c.note(wall, summary.clone(), failed);
            if failed && c.input_error.is_none() {
                c.input_error = Some(summary.clone());
            }
            c.script = Some(format!("{summary} (t: every step)"));
        }
    }
}
