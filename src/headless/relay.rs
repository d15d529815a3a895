//! `wsprobe relay` without a dashboard: a line per event, with the leg it was
//! seen on and, for a message, the way it travels. Lines on stdin steer it as
//! the dashboard's input box does (`/break`, `/forward 3`, `/inject client hi`);
//! what they did is said on stderr, so stdout stays the events.

use std::collections::HashMap;
use std::sync::Arc;

use tokio::sync::mpsc;

use super::output::Printer;
use super::server::{Lines, Listening, EVENT_CHANNEL};
use crate::app::slash;
use crate::net::inbox::Outbox;
use crate::net::relay::{shutdown_close, Relay, Steering};
use crate::net::{ConnId, NetCommand, NetEvent, Side};
use crate::signal::shutdown_signal;

pub async fn run(relay: Relay, printer: Printer) -> anyhow::Result<u8> {
    let shutdown = shutdown_signal();
    let url = relay.url();
    let not_shown = relay.not_shown();
    let registry = relay.registry();
    let steering = relay.steering();
    let (tx, rx) = mpsc::channel(EVENT_CHANNEL);
    let accept = tokio::spawn(relay.run(tx));
    let job = Listening {
        url,
        events: rx,
        not_shown,
        registry,
        // Both legs of every pair get 1001.
        goodbye: shutdown_close(),
        accept,
    };
    let mut lines = RelayLines {
        steering,
        pairs: Pairs::default(),
    };
    job.print(printer, shutdown, &mut lines).await
}

/// A relay's events with their legs; its stdin steers.
struct RelayLines {
    steering: Arc<Steering>,
    pairs: Pairs,
}

impl Lines<(Side, NetEvent)> for RelayLines {
    fn event(&mut self, printer: &mut Printer, ev: (Side, NetEvent)) {
        self.pairs.observe(&ev);
        printer.relay_event(ev.0, &ev.1);
    }

    fn reads_stdin(&self) -> bool {
        true
    }

    fn line(&mut self, line: &str) {
        self.pairs.steer(&self.steering, line);
    }
}

/// The open pairs' legs, for what stdin injects and closes.
#[derive(Default)]
struct Pairs {
    legs: HashMap<(ConnId, Side), Outbox<NetCommand>>,
}

impl Pairs {
    fn observe(&mut self, (side, ev): &(Side, NetEvent)) {
        match ev {
            NetEvent::Opened(o) => {
                self.legs.insert((o.conn, *side), o.commands.clone());
            }
            NetEvent::Closed { conn, .. } => {
                self.legs.remove(&(*conn, *side));
            }
            _ => {}
        }
    }

    /// One line of stdin: a steering command, or a message for a leg of the
    /// newest pair (`#N` first names another).
    fn steer(&mut self, steering: &Steering, line: &str) {
        if line.is_empty() {
            return;
        }
        let said = match slash::parse_steer(line) {
            Some(Ok(cmd)) => steering.apply(cmd),
            Some(Err(e)) => Err(e),
            None => self.send(line),
        };
        match said {
            Ok(done) => eprintln!("relay: {done}"),
            Err(e) => eprintln!("error: {e}"),
        }
    }

    fn send(&self, line: &str) -> Result<String, String> {
        let (conn, line) = match line.strip_prefix('#') {
            Some(rest) => {
                let (n, line) = rest.split_once(char::is_whitespace).unwrap_or((rest, ""));
                let n: ConnId = n.parse().map_err(|_| format!("`#{n}` is not a pair"))?;
                (Some(n), line.trim_start())
            }
            None => (None, line),
        };
        let conn = match conn {
            Some(c) => c,
            None => self
                .legs
                .keys()
                .map(|(c, _)| *c)
                .max()
                .ok_or("no pair is open")?,
        };
        let (leg, line) = slash::relay_leg(line)?;
        let cmd = slash::parse(&line)?.into_net().ok_or(
            "on stdin: text, /json, /hex, /ping, /inject, /close and the steering commands",
        )?;
        let queue = self
            .legs
            .get(&(conn, leg))
            .ok_or_else(|| format!("#{conn}'s {} leg is not open", leg.as_str()))?;
        queue
            .try_send(cmd)
            .map_err(|_| format!("#{conn}'s {} leg is busy or gone", leg.as_str()))?;
        Ok(format!("sent to #{conn}'s {}", leg.as_str()))
    }
}
