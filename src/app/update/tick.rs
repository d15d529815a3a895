//! The clock: rates, ages and sweeping, and the counters the loop samples.

use super::server::evict_at;
use crate::app::state::{AppState, Rates, Sample, CLOSED_ROW_TTL, RATE_HISTORY};
use crate::net::Side;
use crate::net::{ConnId, CounterSnapshot};

/// How often rates are recomputed.
const RATE_PERIOD: std::time::Duration = std::time::Duration::from_millis(950);

/// Moves the clock; once a second also turns counters into rates and sweeps
/// closed rows that have been shown long enough (a replay keeps them all: its
/// table is the recording's, not the last minute's).
pub(super) fn tick(
    state: &mut AppState,
    now: std::time::Instant,
    wall: chrono::DateTime<chrono::Utc>,
) {
    state.now = now;
    state.wall = wall;
    let sweep = !state.read_only;
    let due = |sample: &Option<Sample>| {
        sample.is_none_or(|s| now.saturating_duration_since(s.at) >= RATE_PERIOD)
    };
    if let Some(c) = state.client.as_mut().filter(|c| due(&c.sample)) {
        let counts = c.counts;
        if let Some(prev) = c.sample {
            c.rates = Rates::between(prev.counts, counts, now.saturating_duration_since(prev.at));
        }
        c.sample = Some(Sample { at: now, counts });
    }
    if let Some(s) = state.server.as_mut().filter(|s| due(&s.sample)) {
        let mut i = 0;
        while i < s.rows.len() {
            let expired = sweep
                && s.rows[i]
                    .closed
                    .as_ref()
                    .is_some_and(|c| now.saturating_duration_since(c.at) >= CLOSED_ROW_TTL);
            if !expired {
                i += 1;
                continue;
            }
            let was_selected = s.selected == Some(s.rows[i].id);
            evict_at(s, i);
            if was_selected {
                s.selected = s
                    .rows
                    .get(i.min(s.rows.len().saturating_sub(1)))
                    .map(|r| r.id);
            }
        }
        let counts = s.totals();
        if let Some(prev) = s.sample {
            s.rates = Rates::between(prev.counts, counts, now.saturating_duration_since(prev.at));
            if s.rate_history.len() >= RATE_HISTORY {
                s.rate_history.pop_front();
            }
            s.rate_history
                .push_back((s.rates.frames_in + s.rates.frames_out).round() as u64);
        }
        s.sample = Some(Sample { at: now, counts });
    }
}

/// Takes in the counters the loop sampled; true when any changed.
pub(super) fn counts(
    state: &mut AppState,
    conns: Vec<(Side, ConnId, CounterSnapshot)>,
    not_shown: u64,
) -> bool {
    let mut changed = false;
    let mut set = |slot: &mut CounterSnapshot, value: CounterSnapshot| {
        if *slot != value {
            *slot = value;
            changed = true;
        }
    };
    let relay = state.mode == crate::app::state::Mode::Relay;
    for (side, id, value) in conns {
        if relay {
            // A pair's row holds its client leg's counts; its upstream, the other's.
            if let Some(s) = state.server.as_mut() {
                if let Ok(i) = s.rows.binary_search_by_key(&id, |r| r.id) {
                    match side {
                        Side::Client => set(&mut s.rows[i].counts, value),
                        Side::Server => {
                            if let Some(up) = s.rows[i].upstream.as_mut() {
                                set(&mut up.counts, value);
                            }
                        }
                    }
                }
            }
            continue;
        }
        match side {
            Side::Client => {
                if let Some(c) = state.client.as_mut().filter(|c| c.conn == Some(id)) {
                    set(&mut c.counts, value);
                }
            }
            Side::Server => {
                if let Some(s) = state.server.as_mut() {
                    if let Ok(i) = s.rows.binary_search_by_key(&id, |r| r.id) {
                        set(&mut s.rows[i].counts, value);
                    }
                }
            }
        }
    }
    if let Some(s) = state.server.as_mut().filter(|s| s.not_shown != not_shown) {
        s.not_shown = not_shown;
        changed = true;
    }
    changed
}
