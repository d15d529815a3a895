//! `wsprobe replay` in the dashboard: the recording fed through `update` as if
//! it were happening, on the recording's clock.

use std::sync::Arc;
use std::time::Instant;

use chrono::{DateTime, Utc};

use crate::app::state::{ClientPane, Focus, ServerPane};
use crate::app::{update, AppState, Mode, Msg};
use crate::net::Side;
use crate::record::reader::RecordingFile;

/// Fills the dashboard's panes with the recording and makes it read-only.
/// The dashboard's clock follows the recorded times, event by event, so
/// uptimes, ages and rates are the recording's; it stops at the last record.
pub fn load(file: RecordingFile, state: &mut AppState, keep: usize) -> Result<(), String> {
    let mode = mode_of(&file);
    // The dashboard's clock now stands for the time of the first record.
    let start = state.now;
    if mode != Mode::Server {
        let mut c = ClientPane::new(file.url(Side::Client).to_string(), keep, Vec::new(), start);
        c.input_error = Some("replay: read-only".into());
        state.client = Some(c);
    }
    if mode != Mode::Client {
        state.server = Some(ServerPane::new(
            file.url(Side::Server).to_string(),
            keep,
            Vec::new(),
            Arc::default(),
        ));
    }
    // Read-only from the start: closed connections stay in the table.
    state.read_only = true;
    let mut clock = RecordedClock::new(start);
    for (pane, ev) in file.events()? {
        let wall = ev.ts();
        update(
            state,
            Msg::Tick {
                now: clock.at(wall),
                wall,
            },
        );
        update(state, Msg::Net(pane, ev));
    }
    state.focus = match mode {
        Mode::Server => Focus::ServerLog,
        _ => Focus::ClientLog,
    };
    state.hint = Some(format!(" replay {} · read-only", file.path().display()));
    Ok(())
}

/// The dashboard a recording needs: a demo's when it has both sides.
pub fn mode_of(file: &RecordingFile) -> Mode {
    match file.sides() {
        (true, true) => Mode::Demo,
        (false, true) => Mode::Server,
        _ => Mode::Client,
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
