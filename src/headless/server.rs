//! `wsprobe server` without a dashboard: a line per event. The loop is shared
//! with the relay's (`relay.rs`): events printed as they come until a signal,
//! then a goodbye to every connection, their closes printed as they come.

use std::future::Future;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use tokio::io::AsyncBufReadExt;
use tokio::sync::mpsc;
use tokio::task::JoinHandle;

use super::output::Printer;
use crate::metrics::server::ServerMetrics;
use crate::net::server::{shutdown_close, Registry, Server};
use crate::net::{CloseInfo, NetEvent, Side};
use crate::signal::shutdown_signal;

/// Events are reported through a bounded channel: a printer that falls behind
/// loses lines (counted), never echo speed.
pub const EVENT_CHANNEL: usize = 8192;

pub async fn run(
    server: Server,
    printer: Printer,
    metrics: Option<ServerMetrics>,
) -> anyhow::Result<u8> {
    // Listening for signals before saying "listening": a supervisor may stop
    // the server the moment it reads that line.
    let shutdown = shutdown_signal();
    let url = server.url();
    let not_shown = server.not_shown();
    let registry = server.registry();
    let (tx, rx) = mpsc::channel(EVENT_CHANNEL);
    let tx = match &metrics {
        Some(m) => m.wrap(tx),
        None => tx,
    };
    let accept = tokio::spawn(server.run(tx));
    let job = Listening {
        url,
        events: rx,
        not_shown,
        registry,
        goodbye: shutdown_close(),
        accept,
    };
    job.print(printer, shutdown, &mut ServerLines).await
}

/// How one kind of listening job's events are printed, and what its stdin says.
pub(super) trait Lines<T> {
    fn event(&mut self, printer: &mut Printer, ev: T);

    /// Whether lines on stdin mean something to this job.
    fn reads_stdin(&self) -> bool {
        false
    }

    fn line(&mut self, _line: &str) {}
}

struct ServerLines;

impl Lines<NetEvent> for ServerLines {
    fn event(&mut self, printer: &mut Printer, ev: NetEvent) {
        printer.event(Side::Server, &ev);
    }
}

/// A server or a relay that is listening, as its line printer holds it.
pub(super) struct Listening<T> {
    pub(super) url: String,
    pub(super) events: mpsc::Receiver<T>,
    pub(super) not_shown: Arc<AtomicU64>,
    pub(super) registry: Registry,
    /// What every connection is told at the end.
    pub(super) goodbye: CloseInfo,
    pub(super) accept: JoinHandle<()>,
}

impl<T> Listening<T> {
    /// Prints until `shutdown`, then closes every connection and prints that too.
    pub(super) async fn print(
        mut self,
        mut printer: Printer,
        shutdown: impl Future<Output = ()>,
        lines: &mut impl Lines<T>,
    ) -> anyhow::Result<u8> {
        tokio::pin!(shutdown);
        printer.listening(&self.url);
        printer.flush().await;
        let mut reported_missing = 0u64;
        let mut stdin = tokio::io::BufReader::new(tokio::io::stdin()).lines();
        let mut reading = lines.reads_stdin();
        loop {
            tokio::select! {
                line = stdin.next_line(), if reading => match line {
                    Ok(Some(line)) => lines.line(line.trim()),
                    // No more input (or none to read): the job goes on.
                    _ => reading = false,
                },
                ev = self.events.recv() => {
                    let Some(ev) = ev else { break };
                    self.print_batch(&mut printer, ev, lines);
                    let missing = self.not_shown.load(Ordering::Relaxed);
                    if missing > reported_missing {
                        printer.not_shown(missing - reported_missing);
                        reported_missing = missing;
                    }
                    printer.flush().await;
                }
                _ = &mut shutdown => break,
            }
        }
        self.accept.abort();
        // Say goodbye properly (1001), printing the closes as they come.
        let registry = self.registry.clone();
        let goodbye = self.goodbye.clone();
        let closing =
            tokio::spawn(async move { registry.close_all(goodbye, Duration::from_secs(1)).await });
        tokio::pin!(closing);
        loop {
            tokio::select! {
                _ = &mut closing => break,
                ev = self.events.recv() => match ev {
                    Some(ev) => {
                        self.print_batch(&mut printer, ev, lines);
                        printer.flush().await;
                    }
                    None => break,
                },
            }
        }
        while let Ok(ev) = self.events.try_recv() {
            lines.event(&mut printer, ev);
        }
        printer.flush().await;
        Ok(0)
    }

    fn print_batch(&mut self, printer: &mut Printer, first: T, lines: &mut impl Lines<T>) {
        lines.event(printer, first);
        for _ in 0..EVENT_CHANNEL {
            match self.events.try_recv() {
                Ok(ev) => lines.event(printer, ev),
                Err(_) => break,
            }
        }
    }
}
