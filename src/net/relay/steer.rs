//! Steering a relayed conversation: holding messages (a pause, a breakpoint),
//! letting them go (as they were, or edited) or dropping them, and faults on
//! each direction. The rules are relay-wide and read by every pair's forwarding
//! tasks (one atomic load per message while none is set); the held messages
//! stay in the task that holds them, which takes its orders through a queue.

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, RwLock};
use std::time::Duration;

use bytes::Bytes;
use regex::Regex;
use tokio::sync::mpsc;

use crate::net::{ConnId, Side};

/// Faults on the messages going one way.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct DirFaults {
    pub delay: Duration,
    /// Plus a random extra of up to this much (order is kept).
    pub jitter: Duration,
    /// Percentage of messages not passed on (0 to 100).
    pub drop_percent: f64,
    /// Split each message into this many frames (0 or 1: whole).
    pub fragment: usize,
    /// Close both legs after passing on this many messages this way.
    pub close_after: Option<u64>,
    /// The code of that close.
    pub close_code: u16,
}

impl DirFaults {
    pub fn is_active(&self) -> bool {
        self.delays() || self.drop_percent > 0.0 || self.fragment > 1 || self.close_after.is_some()
    }

    pub fn delays(&self) -> bool {
        !self.delay.is_zero() || !self.jitter.is_zero()
    }

    /// `delay 50ms + up to 20ms, drop 5%`, or None.
    pub fn describe(&self) -> Option<String> {
        if !self.is_active() {
            return None;
        }
        let mut parts = Vec::new();
        if self.delays() {
            parts.push(crate::net::server::faults::describe_delay(
                self.delay,
                self.jitter,
            ));
        }
        if self.drop_percent > 0.0 {
            parts.push(format!("drop {}%", self.drop_percent));
        }
        if self.fragment > 1 {
            parts.push(format!("fragment into {}", self.fragment));
        }
        if let Some(n) = self.close_after {
            parts.push(format!("close after {n} with {}", self.close_code));
        }
        Some(parts.join(", "))
    }
}

/// What is held and what is done to the messages, relay-wide.
#[derive(Clone, Debug, Default)]
pub struct Rules {
    /// Hold every data message from this side (by [`leg_index`]).
    pub paused: [bool; 2],
    /// Hold every data message whose text matches.
    pub breakpoint: Option<Regex>,
    /// Faults on the messages going to this side (by [`leg_index`]).
    pub faults: [DirFaults; 2],
}

impl Rules {
    fn is_active(&self) -> bool {
        self.paused.iter().any(|p| *p)
            || self.breakpoint.is_some()
            || self.faults.iter().any(DirFaults::is_active)
    }
}

/// An order for the task holding messages from one side of one pair.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Order {
    /// Pass on a held message (all of them with `None`, or with `paused_only`
    /// those a pause held), with a new payload when it was edited.
    Forward {
        id: Option<u64>,
        edited: Option<Bytes>,
        paused_only: bool,
    },
    /// Drop a held message (all of them with `None`).
    Drop { id: Option<u64> },
}

pub fn leg_index(side: Side) -> usize {
    match side {
        Side::Client => 0,
        Side::Server => 1,
    }
}

/// The relay's steering: its rules, and the way to every pair's held messages.
#[derive(Debug, Default)]
pub struct Steering {
    active: AtomicBool,
    rules: RwLock<Rules>,
    next_id: AtomicU64,
    /// Each open pair's order queues, by the side its messages come from.
    pairs: Mutex<HashMap<ConnId, [mpsc::Sender<Order>; 2]>>,
}

impl Steering {
    pub fn new(rules: Rules) -> Arc<Steering> {
        let s = Steering::default();
        s.active.store(rules.is_active(), Ordering::Relaxed);
        *s.rules.write().unwrap_or_else(|e| e.into_inner()) = rules;
        Arc::new(s)
    }

    /// Whether any rule is set; when not, messages pass untouched.
    #[inline]
    pub(super) fn active(&self) -> bool {
        self.active.load(Ordering::Relaxed)
    }

    pub fn rules(&self) -> Rules {
        self.rules.read().unwrap_or_else(|e| e.into_inner()).clone()
    }

    /// Changes the rules; `from` the sides whose held messages should be
    /// looked at again (a pause lifted lets them go).
    pub fn change(&self, f: impl FnOnce(&mut Rules)) {
        let mut rules = self.rules.write().unwrap_or_else(|e| e.into_inner());
        f(&mut rules);
        self.active.store(rules.is_active(), Ordering::Relaxed);
    }

    pub(super) fn with_rules<T>(&self, f: impl FnOnce(&Rules) -> T) -> T {
        f(&self.rules.read().unwrap_or_else(|e| e.into_inner()))
    }

    pub(super) fn next_id(&self) -> u64 {
        self.next_id.fetch_add(1, Ordering::Relaxed) + 1
    }

    pub(super) fn join(&self, conn: ConnId, queues: [mpsc::Sender<Order>; 2]) {
        if let Ok(mut m) = self.pairs.lock() {
            m.insert(conn, queues);
        }
    }

    pub(super) fn leave(&self, conn: ConnId) {
        if let Ok(mut m) = self.pairs.lock() {
            m.remove(&conn);
        }
    }

    /// Sends an order to the pair `conn`'s messages from `from` (every open
    /// pair with `None`); false when no such pair is open.
    pub fn order(&self, conn: Option<ConnId>, from: Option<Side>, order: Order) -> bool {
        let Ok(m) = self.pairs.lock() else {
            return false;
        };
        let mut sent = false;
        for (id, queues) in m.iter() {
            if conn.is_some_and(|c| c != *id) {
                continue;
            }
            for side in [Side::Client, Side::Server] {
                if from.is_some_and(|f| f != side) {
                    continue;
                }
                sent |= queues[leg_index(side)].try_send(order.clone()).is_ok();
            }
        }
        sent
    }
}

/// A change a person asks for while the relay runs (typed in the dashboard's
/// input box, or a line on a headless relay's stdin).
#[derive(Clone, Debug)]
pub enum Command {
    /// Hold every data message from this side (both with `None`).
    Pause(Option<Side>),
    /// Stop holding, and pass on what the pause held.
    Resume(Option<Side>),
    /// Hold the data messages whose text matches (none with `None`).
    Break(Option<Regex>),
    /// Pass on a held message (all with `None`).
    Forward(Option<u64>),
    /// Pass on a held message with this payload instead.
    Edit(u64, Bytes),
    /// Drop a held message (all with `None`).
    Drop(Option<u64>),
    /// Set the faults on the messages from this side (both ways with `None`).
    Faults(Option<Side>, DirFaults),
}

/// Two commands are the same when they say the same (a regex by its text).
impl PartialEq for Command {
    fn eq(&self, other: &Command) -> bool {
        use Command::*;
        match (self, other) {
            (Pause(a), Pause(b)) | (Resume(a), Resume(b)) => a == b,
            (Break(a), Break(b)) => a.as_ref().map(Regex::as_str) == b.as_ref().map(Regex::as_str),
            (Forward(a), Forward(b)) | (Drop(a), Drop(b)) => a == b,
            (Edit(a, x), Edit(b, y)) => a == b && x == y,
            (Faults(a, x), Faults(b, y)) => a == b && x == y,
            _ => false,
        }
    }
}

fn sides(side: Option<Side>) -> Vec<Side> {
    match side {
        Some(s) => vec![s],
        None => vec![Side::Client, Side::Server],
    }
}

impl Steering {
    /// Carries out a command; says what was done, or why nothing was.
    pub fn apply(&self, cmd: Command) -> Result<String, String> {
        let from = |s: Option<Side>| match s {
            Some(Side::Client) => "from the client",
            Some(Side::Server) => "from the server",
            None => "both ways",
        };
        match cmd {
            Command::Pause(side) => {
                self.change(|r| {
                    sides(side)
                        .into_iter()
                        .for_each(|s| r.paused[leg_index(s)] = true)
                });
                Ok(format!("holding every message {}", from(side)))
            }
            Command::Resume(side) => {
                self.change(|r| {
                    sides(side)
                        .into_iter()
                        .for_each(|s| r.paused[leg_index(s)] = false)
                });
                self.order(
                    None,
                    side,
                    Order::Forward {
                        id: None,
                        edited: None,
                        paused_only: true,
                    },
                );
                Ok(format!("passing messages {} again", from(side)))
            }
            Command::Break(re) => {
                let said = match &re {
                    Some(re) => format!("holding messages that match /{}/", re.as_str()),
                    None => "breakpoint cleared".to_string(),
                };
                self.change(|r| r.breakpoint = re);
                Ok(said)
            }
            Command::Forward(id) => self.held(
                id,
                Order::Forward {
                    id,
                    edited: None,
                    paused_only: false,
                },
                "forward",
            ),
            Command::Edit(id, payload) => self.held(
                Some(id),
                Order::Forward {
                    id: Some(id),
                    edited: Some(payload),
                    paused_only: false,
                },
                "forward edited",
            ),
            Command::Drop(id) => self.held(id, Order::Drop { id }, "drop"),
            Command::Faults(side, faults) => {
                let said = match faults.describe() {
                    Some(d) => format!("faults on messages {}: {d}", from(side)),
                    None => format!("no faults on messages {}", from(side)),
                };
                // Kept by where the messages go: that direction's task applies them.
                self.change(|r| {
                    sides(side).into_iter().for_each(|s| {
                        r.faults[leg_index(super::forward::other(s))] = faults.clone()
                    })
                });
                Ok(said)
            }
        }
    }

    /// Hands an order for held messages to every pair: the one holding the
    /// message acts (and its events say so), the rest have nothing to do.
    fn held(&self, id: Option<u64>, order: Order, what: &str) -> Result<String, String> {
        if !self.order(None, None, order) {
            return Err("no pair is open (or every pair is too busy to take it now)".into());
        }
        Ok(match id {
            Some(id) => format!("{what} #{id}: asked"),
            None => format!("{what} every held message: asked"),
        })
    }
}
