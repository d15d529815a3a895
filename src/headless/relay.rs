//! `wsprobe relay` without a dashboard: a line per event, with the leg it was
//! seen on and, for a message, the way it travels.

use std::sync::atomic::Ordering;
use std::time::Duration;

use tokio::sync::mpsc;

use super::output::Printer;
use super::server::EVENT_CHANNEL;
use crate::net::relay::{shutdown_close, Relay};
use crate::net::{NetEvent, Side};
use crate::signal::shutdown_signal;

pub async fn run(relay: Relay, mut printer: Printer) -> anyhow::Result<u8> {
    let shutdown = shutdown_signal();
    tokio::pin!(shutdown);
    printer.listening(&relay.url());
    printer.flush().await;
    let not_shown = relay.not_shown();
    let registry = relay.registry();
    let (tx, mut rx) = mpsc::channel(EVENT_CHANNEL);
    let accept = tokio::spawn(relay.run(tx));
    let mut reported_missing = 0u64;
    loop {
        tokio::select! {
            ev = rx.recv() => {
                let Some(ev) = ev else { break };
                print_batch(&mut printer, ev, &mut rx);
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
                    print_batch(&mut printer, ev, &mut rx);
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
    (side, ev): (Side, NetEvent),
    rx: &mut mpsc::Receiver<(Side, NetEvent)>,
) {
    printer.relay_event(side, &ev);
    for _ in 0..EVENT_CHANNEL {
        match rx.try_recv() {
            Ok((side, ev)) => printer.relay_event(side, &ev),
            Err(_) => break,
        }
    }
}
