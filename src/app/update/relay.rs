//! What a relay's pairs report: a row per pair (its client leg), the upstream
//! leg beside it, both legs' frames in one log, and reply latencies.

use std::time::Instant;

use super::server::{evict_row, hand_over_selection, row_of, server_event};
use crate::app::packed::PackedHandshake;
use crate::app::state::{
    ClosedRow, ConnRow, HeldRow, RttPoint, ServerPane, UpstreamLeg, HELD_ROWS, MAX_ROWS, RTT_POINTS,
};
use crate::escape::escape_text;
use crate::net::relay::Flow;
use crate::net::{CloseCause, CounterSnapshot, Direction, NetEvent, RttKind, Side, SteerEvent};
use crate::present::{flow_arrow, format_duration, relay_ending, steered};
use crate::proto::{Choice, Spoken};

pub(super) fn relay_event(
    s: &mut ServerPane,
    leg: Side,
    ev: NetEvent,
    now: Instant,
    choice: Choice,
) {
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
                    spoken: Spoken::new(choice, o.handshake.subprotocol.as_deref()),
                    path: o.path,
                    handshake: PackedHandshake::pack(&o.handshake),
                    opened_at: now,
                    counts: CounterSnapshot::default(),
                    closed: None,
                    upstream: None,
                    last_latency: None,
                    latency: None,
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
                    handshake: PackedHandshake::pack(&o.handshake),
                    counts: CounterSnapshot::default(),
                    closed: None,
                }));
            }
        }
        (leg, NetEvent::Frame(f)) => {
            if let (Some(rtt), Some(relay)) = (&f.rtt, s.relay.as_mut()) {
                if rtt.kind == RttKind::Reply {
                    relay.latency.record(rtt.clone());
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
                        row.latency
                            .get_or_insert_with(Box::default)
                            .record(rtt.duration);
                    }
                }
            }
            let from_client = (leg == Side::Client) == (f.dir == Direction::In);
            let proto =
                row_of(s, f.conn).and_then(|r| r.spoken.read(from_client, f.kind, &f.payload));
            s.log.log.push_leg(&f, leg, proto);
        }
        (leg, NetEvent::Wire(w)) => s.log.wire.push(w, Some(leg)),
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
            let closed = Box::new(ClosedRow {
                at: now,
                close,
                cause,
            });
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
        (leg, NetEvent::Steered(st)) => {
            let user = st.id > 0;
            let mark = match &st.what {
                // Short: the log's preview column is narrow; why is in the held list.
                SteerEvent::Held(_) => format!("held #{}", st.id),
                SteerEvent::Forwarded { edited: true } => "forwarded edited".into(),
                SteerEvent::Forwarded { edited: false } => "forwarded".into(),
                SteerEvent::Dropped(why) => format!("dropped ({why})"),
                SteerEvent::Delayed(d) => format!("delayed {}", format_duration(*d)),
                SteerEvent::Fragmented(n) => format!("fragmented into {n}"),
            };
            s.log.log.mark(st.conn, leg, &st.payload, mark);
            let Some(r) = s.relay.as_mut() else { return };
            match &st.what {
                SteerEvent::Held(why) => {
                    if r.held.len() >= HELD_ROWS {
                        r.held.pop_front();
                    }
                    r.held.push_back(HeldRow {
                        id: st.id,
                        conn: st.conn,
                        from: leg,
                        kind: st.kind,
                        payload: st.payload.clone(),
                        why: why.clone(),
                    });
                }
                SteerEvent::Forwarded { .. } | SteerEvent::Dropped(_) if user => {
                    r.held.retain(|h| h.id != st.id);
                }
                _ => {}
            }
            if user {
                let bad = matches!(st.what, SteerEvent::Dropped(_));
                s.note(
                    st.ts,
                    format!(
                        "#{} {} {}",
                        st.conn,
                        flow_arrow(Flow::of(leg, Direction::In)),
                        steered(&st, 40)
                    ),
                    bad,
                );
            }
        }
        (_, other) => server_event(s, other, now, choice),
    }
}
