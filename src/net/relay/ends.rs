//! How each leg of a relayed pair is ending, shared by the two forwarding
//! tasks: who sent the first close frame on it, or why it broke off.

use std::sync::Mutex;

use tokio::sync::Notify;

use crate::net::{CloseCause, CloseInfo, Side};

#[derive(Debug, Default)]
pub(super) struct Ends {
    legs: Mutex<[Leg; 2]>,
    /// Rung when a leg starts closing, so the task reading it starts its clock.
    pub(super) changed: Notify,
}

#[derive(Clone, Debug, Default)]
struct Leg {
    first: Option<(CloseInfo, CloseCause)>,
    broken: Option<String>,
}

fn at(side: Side) -> usize {
    match side {
        Side::Client => 0,
        Side::Server => 1,
    }
}

impl Ends {
    fn with<T>(&self, side: Side, f: impl FnOnce(&mut Leg) -> T) -> T {
        let mut legs = self.legs.lock().unwrap_or_else(|e| e.into_inner());
        f(&mut legs[at(side)])
    }

    /// A close frame crossed this leg, either way: nothing more may be sent on it.
    pub(super) fn closing(&self, side: Side) -> bool {
        self.with(side, |l| l.first.is_some() || l.broken.is_some())
    }

    /// The peer on `side` sent a close frame.
    pub(super) fn received(&self, side: Side, close: CloseInfo, cause: CloseCause) {
        self.first(side, close, cause);
    }

    /// We are sending a close frame on `side`; false when one already crossed it.
    pub(super) fn sending(&self, side: Side, close: &CloseInfo) -> bool {
        self.first(side, close.clone(), CloseCause::Local)
    }

    fn first(&self, side: Side, close: CloseInfo, cause: CloseCause) -> bool {
        let set = self.with(side, |l| {
            // A leg that broke off takes no close frame any more.
            if l.first.is_some() || l.broken.is_some() {
                return false;
            }
            l.first = Some((close, cause));
            true
        });
        if set {
            self.changed.notify_waiters();
        }
        set
    }

    /// The leg ended without a close handshake.
    pub(super) fn broke(&self, side: Side, why: String) {
        self.with(side, |l| {
            if l.first.is_none() && l.broken.is_none() {
                l.broken = Some(why);
            }
        });
        self.changed.notify_waiters();
    }

    /// How the leg ended: its first close frame and who sent it, or why not.
    pub(super) fn outcome(&self, side: Side) -> (Option<CloseInfo>, CloseCause) {
        self.with(side, |l| match (&l.first, &l.broken) {
            (Some((close, cause)), _) => (Some(close.clone()), cause.clone()),
            (None, Some(why)) => (None, CloseCause::Error(why.clone())),
            (None, None) => (
                None,
                CloseCause::Error(format!(
                    "the {} closed the connection without a close frame",
                    side.as_str()
                )),
            ),
        })
    }
}
