//! `wsprobe relay` without a dashboard: a line per event, with the leg it was
//! seen on and, for a message, the way it travels. Lines on stdin steer it as
//! the dashboard's input box does (`/break`, `/forward 3`, `/inject client hi`);
//! what they did is said on stderr, so stdout stays the events.

use std::sync::atomic::Ordering;
use std::time::Duration;

use std::collections::HashMap;

use tokio::io::AsyncBufReadExt;
use tokio::sync::mpsc;

use super::output::Printer;
use super::server::EVENT_CHANNEL;
use crate::app::slash::{self, SlashCommand};
use crate::net::relay::{shutdown_close, Relay, Steering};
use crate::net::{CloseInfo, ConnId, NetCommand, NetEvent, Side};
use crate::signal::shutdown_signal;

pub async fn run(relay: Relay, mut printer: Printer) -> anyhow::Result<u8> {
    let shutdown = shutdown_signal();
    tokio::pin!(shutdown);
    printer.listening(&relay.url());
    printer.flush().await;
    let not_shown = relay.not_shown();
    let registry = relay.registry();
    let steering = relay.steering();
    let (tx, mut rx) = mpsc::channel(EVENT_CHANNEL);
    let accept = tokio::spawn(relay.run(tx));
    let mut reported_missing = 0u64;
    let mut lines = tokio::io::BufReader::new(tokio::io::stdin()).lines();
    let mut reading = true;
    let mut pairs = Pairs::default();
    loop {
        tokio::select! {
            line = lines.next_line(), if reading => match line {
                Ok(Some(line)) => pairs.steer(&steering, line.trim()),
                // No more input (or none to read): the relay goes on.
                _ => reading = false,
            },
            ev = rx.recv() => {
                let Some(ev) = ev else { break };
                pairs.observe(&ev);
                print_batch(&mut printer, ev, &mut rx, &mut pairs);
                let missing = not_shown.load(Ordering::Relaxed);
                if missing > reported_missing {
                    printer.not_shown(missing - reported_missing);
                    reported_missing = missing;
                }
                printer.flush().await;
            }
            _ = &mut shutdown => break,
        }
    }
    accept.abort();
    // Both legs of every pair get 1001, and their closes are printed as they come.
    let closing = tokio::spawn(async move {
        registry
            .close_all(shutdown_close(), Duration::from_secs(1))
            .await
    });
    tokio::pin!(closing);
    loop {
        tokio::select! {
            _ = &mut closing => break,
            ev = rx.recv() => match ev {
                Some(ev) => {
                    print_batch(&mut printer, ev, &mut rx, &mut pairs);
                    printer.flush().await;
                }
                None => break,
            },
        }
    }
    while let Ok((side, ev)) = rx.try_recv() {
        printer.relay_event(side, &ev);
    }
    printer.flush().await;
    Ok(0)
}

fn print_batch(
    printer: &mut Printer,
    first: (Side, NetEvent),
    rx: &mut mpsc::Receiver<(Side, NetEvent)>,
    pairs: &mut Pairs,
) {
    printer.relay_event(first.0, &first.1);
    for _ in 0..EVENT_CHANNEL {
        match rx.try_recv() {
            Ok(ev) => {
                pairs.observe(&ev);
                printer.relay_event(ev.0, &ev.1);
            }
            Err(_) => break,
        }
    }
}

/// The open pairs' legs, for what stdin injects and closes.
#[derive(Default)]
struct Pairs {
    legs: HashMap<(ConnId, Side), mpsc::Sender<NetCommand>>,
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
        let cmd =
            match slash::parse(&line)? {
                SlashCommand::Text(t) => NetCommand::Text(t),
                SlashCommand::Binary(b) => NetCommand::Binary(b),
                SlashCommand::Ping(p) => NetCommand::Ping(p),
                SlashCommand::Close { code, reason } => {
                    NetCommand::Close(Some(CloseInfo::new(code, reason)))
                }
                SlashCommand::Repeat { .. } | SlashCommand::Help => return Err(
                    "on stdin: text, /json, /hex, /ping, /inject, /close and the steering commands"
                        .into(),
                ),
            };
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
