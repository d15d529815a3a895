//! `wsprobe server` without a dashboard: a line per event.

use std::sync::atomic::Ordering;
use std::time::Duration;

use tokio::sync::mpsc;

use super::output::Printer;
use crate::net::server::{shutdown_close, Server};
use crate::net::{NetEvent, Side};
use crate::signal::shutdown_signal;

/// Events are reported through a bounded channel: a printer that falls behind
/// loses lines (counted), never echo speed.
pub const EVENT_CHANNEL: usize = 8192;

pub async fn run(server: Server, mut printer: Printer) -> anyhow::Result<u8> {
    // Listening for signals before saying "listening": a supervisor may stop
    // the server the moment it reads that line.
    let shutdown = shutdown_signal();
    tokio::pin!(shutdown);
    printer.listening(&server.url());
    printer.flush().await;
    let not_shown = server.not_shown();
    let registry = server.registry();
    let (tx, mut rx) = mpsc::channel(EVENT_CHANNEL);
    let accept = tokio::spawn(server.run(tx));
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
    // Say goodbye properly (1001), printing the closes as they come.
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
    while let Ok(ev) = rx.try_recv() {
        printer.event(Side::Server, &ev);
    }
    printer.flush().await;
    Ok(0)
}

fn print_batch(printer: &mut Printer, first: NetEvent, rx: &mut mpsc::Receiver<NetEvent>) {
    printer.event(Side::Server, &first);
    for _ in 0..EVENT_CHANNEL {
        match rx.try_recv() {
            Ok(ev) => printer.event(Side::Server, &ev),
            Err(_) => break,
        }
    }
}
