//! What a relay's pairs report: a row per pair (its client leg), the upstream
//! leg beside it, both legs' frames in one log, and reply latencies.

use std::time::Instant;

use super::server::{evict_row, hand_over_selection, server_event};
use crate::app::state::{
    ClosedRow, ConnRow, RttPoint, ServerPane, UpstreamLeg, MAX_ROWS, RTT_POINTS,
};
use crate::escape::escape_text;
use crate::net::{CloseCause, CounterSnapshot, NetEvent, RttKind, Side};
use crate::present::relay_ending;

pub(super) fn relay_event(s: &mut ServerPane, leg: Side, ev: NetEvent, now: Instant) {
    match (leg, ev) {
        (Side::Client, NetEvent::Opened(o)) => {
            s.total_conns += 1;
            if s.rows.len() >= MAX_ROWS {
                evict_row(s);
            }
            let at = s.rows.partition_point(|r| r.id < o.conn);
            s.note(
                o.ts,
                format!(
                    "#{} {} asked for {}",
                    o.conn,
                    o.peer,
                    escape_text(&o.path, 60)
                ),
                false,
            );
            s.rows.insert(
                at,
                ConnRow {
                    id: o.conn,
                    peer: o.peer,
                    path: o.path,
                    handshake: o.handshake,
                    opened_at: now,
                    counts: CounterSnapshot::default(),
                    closed: None,
                    upstream: None,
                    last_latency: None,
                },
            );
            if s.selected.is_none() {
                s.selected = Some(o.conn);
                if s.scope_selected {
                    s.log.filter.conn = s.selected;
                }
            }
        }
        (Side::Server, NetEvent::Opened(o)) => {
            if let Some(row) = s.rows.iter_mut().find(|r| r.id == o.conn) {
                row.upstream = Some(Box::new(UpstreamLeg {
                    peer: o.peer,
                    path: o.path,
                    handshake: o.handshake,
                    counts: CounterSnapshot::default(),
                    closed: None,
                }));
            }
        }
        (leg, NetEvent::Frame(f)) => {
            if let (Some(rtt), Some(relay)) = (f.rtt, s.relay.as_mut()) {
                if rtt.kind == RttKind::Reply {
                    relay.latency.record(rtt);
                    if relay.points.len() >= RTT_POINTS * 2 {
                        relay.points.pop_front();
                    }
                    relay.points.push_back(RttPoint {
                        at: now.saturating_duration_since(relay.started).as_secs_f64(),
                        ms: rtt.duration.as_secs_f64() * 1000.0,
                        kind: rtt.kind,
                    });
                    if let Some(row) = s.rows.iter_mut().find(|r| r.id == f.conn) {
                        row.last_latency = Some(rtt.duration);
                    }
                }
            }
            s.log.log.push_leg(&f, leg);
        }
        (
            leg,
            NetEvent::Closed {
                conn,
                ts,
                close,
                cause,
            },
        ) => {
            let bad = matches!(cause, CloseCause::Error(_));
            s.note(
                ts,
                format!("#{conn} {}", relay_ending(leg, close.as_ref(), &cause)),
                bad,
            );
            let closed = ClosedRow {
                at: now,
                close,
                cause,
            };
            let Some(row) = s.rows.iter_mut().find(|r| r.id == conn) else {
                return;
            };
            match leg {
                Side::Client => row.closed = Some(closed),
                Side::Server => {
                    if let Some(up) = row.upstream.as_mut() {
                        up.closed = Some(closed);
                    }
                }
            }
            if leg == Side::Client && s.selected == Some(conn) {
                hand_over_selection(s, conn);
            }
        }
        (_, other) => server_event(s, other, now),
    }
}
