//! The live ends of the connections on screen: their command queues, their
//! counters, the server's switches. The state only names a connection; the
//! loop reaches it through here, and samples the counters into messages.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use crate::app::{Msg, Target};
use crate::net::inbox::Outbox;
use crate::net::server::faults::Switches;
use crate::net::{ConnCounters, ConnId, CounterSnapshot, NetCommand, NetEvent, Side};

struct Link {
    counters: Arc<ConnCounters>,
    commands: Outbox<NetCommand>,
    /// What the state was last told.
    told: CounterSnapshot,
}

#[derive(Default)]
pub struct Links {
    /// Open connections only: a closed one's last counts were handed over.
    open: HashMap<(Side, ConnId), Link>,
    /// The client's queue, which outlives a dropped connection under --reconnect.
    client: Option<Outbox<NetCommand>>,
    not_shown: Option<Arc<AtomicU64>>,
    not_shown_told: u64,
    switches: Option<Arc<Switches>>,
}

impl Links {
    pub fn new(not_shown: Option<Arc<AtomicU64>>, switches: Option<Arc<Switches>>) -> Self {
        Links {
            not_shown,
            switches,
            ..Links::default()
        }
    }

    /// Takes note of a connection opening or closing. A closing connection's
    /// final counts come back as a message for `update`, before the event.
    pub fn observe(&mut self, side: Side, ev: &NetEvent) -> Option<Msg> {
        match ev {
            NetEvent::Opened(o) => {
                if side == Side::Client {
                    self.client = Some(o.commands.clone());
                }
                self.open.insert(
                    (side, o.conn),
                    Link {
                        counters: o.counters.clone(),
                        commands: o.commands.clone(),
                        told: CounterSnapshot::default(),
                    },
                );
                None
            }
            NetEvent::Closed { conn, .. } => {
                let link = self.open.remove(&(side, *conn))?;
                Some(self.counts(vec![(side, *conn, link.counters.snapshot())]))
            }
            _ => None,
        }
    }

    /// The counts that changed since the state was last told, if any did:
    /// thousands of idle connections cost a comparison each, not a message.
    pub fn sample(&mut self) -> Option<Msg> {
        let mut changed = Vec::new();
        for (&(side, id), link) in self.open.iter_mut() {
            let now = link.counters.snapshot();
            if now != link.told {
                link.told = now;
                changed.push((side, id, now));
            }
        }
        let not_shown = self.not_shown();
        if changed.is_empty() && not_shown == self.not_shown_told {
            return None;
        }
        self.not_shown_told = not_shown;
        Some(Msg::Counts {
            conns: changed,
            not_shown,
        })
    }

    /// The counts of one connection, if it is open.
    pub fn sample_one(&mut self, side: Side, conn: ConnId) -> Option<Msg> {
        let link = self.open.get_mut(&(side, conn))?;
        link.told = link.counters.snapshot();
        let told = link.told;
        Some(self.counts(vec![(side, conn, told)]))
    }

    fn not_shown(&self) -> u64 {
        self.not_shown
            .as_ref()
            .map_or(0, |n| n.load(Ordering::Relaxed))
    }

    fn counts(&mut self, conns: Vec<(Side, ConnId, CounterSnapshot)>) -> Msg {
        self.not_shown_told = self.not_shown();
        Msg::Counts {
            conns,
            not_shown: self.not_shown_told,
        }
    }

    /// Where a command for `to` goes, while the connection can take one.
    pub fn queue(&self, to: Target) -> Option<Outbox<NetCommand>> {
        match to {
            Target::Client => self.client.clone(),
            Target::Server(id) => self
                .open
                .get(&(Side::Server, id))
                .map(|l| l.commands.clone()),
            Target::Leg(side, id) => self.open.get(&(side, id)).map(|l| l.commands.clone()),
        }
    }

    pub fn set_faults(&self, delay_on: bool, drop_on: bool) {
        if let Some(s) = &self.switches {
            s.delay_on.store(delay_on, Ordering::Relaxed);
            s.drop_on.store(drop_on, Ordering::Relaxed);
        }
    }
}
