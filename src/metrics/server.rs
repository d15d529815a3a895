//! The echo server's figures for `--metrics`, read from what it already
//! reports: each connection's open event carries the counters its task keeps
//! (atomics it adds to once per batch), and its close event says it is gone.
//! Nothing is added to the echo path; the events pass through one more queue,
//! and only when `--metrics` is asked for.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use tokio::sync::mpsc;

use super::Exposition;
use crate::net::{ConnCounters, ConnId, CounterSnapshot, NetEvent};

#[derive(Clone, Debug, Default)]
pub struct ServerMetrics {
    state: Arc<Mutex<State>>,
}

#[derive(Debug, Default)]
struct State {
    open: HashMap<ConnId, Arc<ConnCounters>>,
    /// Connections that completed their handshake, ever.
    total: u64,
    /// What closed connections counted, so totals never go down.
    closed: CounterSnapshot,
}

impl ServerMetrics {
    pub fn observe(&self, ev: &NetEvent) {
        let Ok(mut s) = self.state.lock() else { return };
        match ev {
            NetEvent::Opened(o) => {
                s.total += 1;
                s.open.insert(o.conn, o.counters.clone());
            }
            NetEvent::Closed { conn, .. } => {
                if let Some(c) = s.open.remove(conn) {
                    s.closed += c.snapshot();
                }
            }
            _ => {}
        }
    }

    /// Puts itself between a server and whoever reads its events: the events go
    /// on unchanged (and in order) to `downstream`.
    pub fn wrap(&self, downstream: mpsc::Sender<NetEvent>) -> mpsc::Sender<NetEvent> {
        let (tx, mut rx) = mpsc::channel(downstream.max_capacity());
        let me = self.clone();
        tokio::spawn(async move {
            while let Some(ev) = rx.recv().await {
                me.observe(&ev);
                if downstream.send(ev).await.is_err() {
                    // Nobody reads any more; keep counting what still comes.
                    while let Some(ev) = rx.recv().await {
                        me.observe(&ev);
                    }
                    return;
                }
            }
        });
        tx
    }

    pub fn render(&self) -> String {
        let (open, total, mut sum) = match self.state.lock() {
            Ok(s) => (
                s.open.len(),
                s.total,
                (s.closed, s.open.values().cloned().collect::<Vec<_>>()),
            ),
            Err(_) => return String::new(),
        };
        let mut counts = sum.0;
        for c in sum.1.drain(..) {
            counts += c.snapshot();
        }
        let mut e = Exposition::default();
        e.gauge(
            "wsprobe_server_connections_open",
            "WebSocket connections open now",
            open as f64,
        );
        e.counter(
            "wsprobe_server_connections_total",
            "WebSocket connections accepted (handshake completed)",
            &[(&[], total)],
        );
        e.counter(
            "wsprobe_server_messages_total",
            "Messages read from clients (in) and written to them (out), pings, pongs and closes included",
            &[
                (&[("direction", "in")], counts.frames_in),
                (&[("direction", "out")], counts.frames_out),
            ],
        );
        e.counter(
            "wsprobe_server_bytes_total",
            "Payload bytes read from clients (in) and written to them (out)",
            &[
                (&[("direction", "in")], counts.bytes_in),
                (&[("direction", "out")], counts.bytes_out),
            ],
        );
        e.finish()
    }
}
