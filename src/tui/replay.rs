//! `wsprobe replay` in the dashboard: which panes a recording needs, and the
//! clock that plays it back at its recorded times.

use std::time::Instant;

use chrono::{DateTime, Utc};

use crate::app::Mode;
use crate::record::reader::RecordingFile;

/// The dashboard a recording needs: a relay's for a relay's, a demo's when it
/// has both sides.
pub fn mode_of(file: &RecordingFile) -> Mode {
    if file.relayed() {
        return Mode::Relay;
    }
    match file.sides() {
        (true, true) => Mode::Demo,
        (false, true) => Mode::Server,
        _ => Mode::Client,
    }
}

/// Turns recorded wall-clock times into the dashboard's `Instant`s: the first
/// record is `start`, each later one as far after it as it was recorded (never
/// earlier than the one before: the two sides of a demo interleave).
pub(super) struct RecordedClock {
    start: Instant,
    first: Option<DateTime<Utc>>,
    now: Instant,
}

impl RecordedClock {
    pub(super) fn new(start: Instant) -> Self {
        RecordedClock {
            start,
            first: None,
            now: start,
        }
    }

    pub(super) fn at(&mut self, ts: DateTime<Utc>) -> Instant {
        let first = *self.first.get_or_insert(ts);
        let since = (ts - first).to_std().unwrap_or_default();
        self.now = self.now.max(self.start + since);
        self.now
    }
}
