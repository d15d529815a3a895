//! What the server's connections report, and the table's upkeep.

use std::time::Instant;

use super::not_sent_note;
use crate::app::packed::PackedHandshake;
use crate::app::state::{ClosedRow, ConnRow, ServerPane, MAX_ROWS};
use crate::escape::escape_text;
use crate::net::Side;
use crate::net::{CloseCause, ConnId, CounterSnapshot, Direction, NetEvent};
use crate::present::ending;
use crate::proto::{Choice, Spoken};

pub(super) fn server_event(s: &mut ServerPane, ev: NetEvent, now: Instant, choice: Choice) {
    match ev {
        NetEvent::Opened(o) => {
            s.total_conns += 1;
            if s.rows.len() >= MAX_ROWS {
                evict_row(s);
            }
            // Ids come in nearly in order; keep the table sorted by id.
            let at = s.rows.partition_point(|r| r.id < o.conn);
            s.rows.insert(
                at,
                ConnRow {
                    id: o.conn,
                    peer: o.peer,
                    path: o.path.clone(),
                    handshake: PackedHandshake::pack(&o.handshake),
                    opened_at: now,
                    counts: CounterSnapshot::default(),
                    closed: None,
                    upstream: None,
                    last_latency: None,
                    latency: None,
                    spoken: Spoken::new(choice, o.handshake.subprotocol.as_deref()),
                },
            );
            s.note(
                o.ts,
                format!(
                    "#{} opened from {} {}",
                    o.conn,
                    o.peer,
                    escape_text(&o.path, 60)
                ),
                false,
            );
            if s.selected.is_none() {
                s.selected = Some(o.conn);
                if s.scope_selected {
                    s.log.filter.conn = s.selected;
                }
            }
        }
        NetEvent::Frame(f) => {
            let proto = row_of(s, f.conn)
                .and_then(|r| r.spoken.read(f.dir == Direction::In, f.kind, &f.payload));
            s.log.log.push(&f, proto)
        }
        NetEvent::Wire(w) => s.log.wire.push(w, None),
        NetEvent::Closed {
            conn,
            ts,
            close,
            cause,
        } => {
            let bad = matches!(cause, CloseCause::Error(_));
            s.note(
                ts,
                format!("#{conn} {}", ending(Side::Server, close.as_ref(), &cause)),
                bad,
            );
            if let Some(row) = s.rows.iter_mut().find(|r| r.id == conn) {
                row.closed = Some(Box::new(ClosedRow {
                    at: now,
                    close,
                    cause,
                }));
            }
            if s.selected == Some(conn) {
                hand_over_selection(s, conn);
            }
        }
        NetEvent::Error { ts, conn, message } => {
            s.errors += 1;
            let id = conn.map(|c| format!("#{c} ")).unwrap_or_default();
            s.note(
                ts,
                format!("{id}error: {}", escape_text(&message, 300)),
                true,
            );
            s.last_error = Some(message);
        }
        NetEvent::NotSent {
            conn,
            ts,
            kind,
            payload,
            reason,
        } => {
            s.note(ts, not_sent_note(conn, kind, &payload, &reason), true);
        }
        NetEvent::LeftBeforeHandshake { ts, peer } => {
            s.left_early += 1;
            s.note(ts, crate::present::left_early(peer), false);
        }
        NetEvent::Reconnecting { .. } | NetEvent::Steered(_) => {}
    }
}

/// The selected connection closed: the input box goes to the next open one
/// (else the one before it), so what is typed next reaches somebody.
pub(super) fn hand_over_selection(s: &mut ServerPane, closed: ConnId) {
    let open = |r: &&crate::app::state::ConnRow| r.is_open();
    let next = s
        .rows
        .iter()
        .filter(open)
        .find(|r| r.id > closed)
        .or_else(|| s.rows.iter().filter(open).rfind(|r| r.id < closed))
        .map(|r| r.id);
    if let Some(id) = next {
        s.selected = Some(id);
        if s.scope_selected {
            s.log.filter.conn = s.selected;
        }
    }
}

/// Makes room in the table: the oldest closed row, else the oldest row.
pub(super) fn evict_row(s: &mut ServerPane) {
    let i = s.rows.iter().position(|r| !r.is_open()).unwrap_or(0);
    let id = s.rows[i].id;
    evict_at(s, i);
    if s.selected == Some(id) {
        s.selected = s.rows.front().map(|r| r.id);
    }
}

/// Removes a row, keeping its counters in the totals.
pub(super) fn evict_at(s: &mut ServerPane, i: usize) {
    if let Some(row) = s.rows.remove(i) {
        s.retired += row.counts;
    }
}

/// The row of a connection (the table is sorted by id).
pub(super) fn row_of(s: &mut ServerPane, conn: ConnId) -> Option<&mut ConnRow> {
    let at = s.rows.partition_point(|r| r.id < conn);
    s.rows.get_mut(at).filter(|r| r.id == conn)
}
