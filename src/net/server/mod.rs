//! The echo server, by role: `accept` takes connections (TCP, TLS, and those that
//! leave or time out before their handshake), `handshake` answers the WebSocket
//! upgrade (subprotocol, path, headers), and `echo` runs one connection's echo
//! (batched writes, faults, frames offered to whoever watches without waiting).
//! This file holds the configuration, the server, how connections report, and the
//! registry that closes them all at shutdown.

mod accept;
pub(crate) use accept::accept_next;
mod echo;
pub mod faults;
mod handshake;
pub mod mock;

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use chrono::Utc;
use tokio::net::TcpListener;
use tokio::sync::mpsc;

use self::faults::{Faults, Switches};
use super::{
    CloseInfo, ConnId, Frame, NetCommand, NetEvent, Tap, DEFAULT_MAX_MESSAGE_SIZE,
    MAX_READ_BUFFER_SIZE,
};
use crate::error::NetError;
use crate::net::inbox::Outbox;

pub use handshake::SubprotocolPolicy;

#[derive(Clone, Debug)]
pub struct ServerConfig {
    /// Prepended to every text echo.
    pub prefix: Option<String>,
    /// Which subprotocol the server agrees to when a client offers some.
    pub subprotocols: SubprotocolPolicy,
    pub max_message_size: usize,
    pub handshake_timeout: Duration,
    /// The most a connection's read buffer grows to (it starts at
    /// [`super::READ_BUFFER_SIZE`] and is given back when the connection rests).
    pub read_buffer_size: usize,
    /// Serve wss:// with this TLS configuration.
    pub tls: Option<Arc<rustls::ServerConfig>>,
    /// Misbehaviour on purpose, for testing clients.
    pub faults: Faults,
    /// Delay and drop, switchable while the server runs.
    pub switches: Arc<Switches>,
    /// Report every frame (false: only connection events, for long runs).
    pub report_frames: bool,
    /// Agree to permessage-deflate when a client offers it (`--deflate`).
    pub deflate: bool,
    /// Report each frame as it crossed the wire, not only messages (`--frames`,
    /// the dashboard).
    pub frames: bool,
    /// `--record`: every event and frame, waiting for room rather than dropping.
    pub tap: Option<Tap>,
    /// `--mock`: answer from a recording instead of echoing.
    pub mock: Option<Arc<mock::Mock>>,
    /// How long a connection stays quiet before it puts its socket down.
    pub rest_after: Duration,
}

impl Default for ServerConfig {
    fn default() -> Self {
        ServerConfig {
            prefix: None,
            subprotocols: SubprotocolPolicy::FirstOffered,
            max_message_size: DEFAULT_MAX_MESSAGE_SIZE,
            handshake_timeout: Duration::from_secs(10),
            read_buffer_size: MAX_READ_BUFFER_SIZE,
            tls: None,
            faults: Faults::default(),
            switches: Arc::default(),
            report_frames: true,
            deflate: false,
            frames: false,
            tap: None,
            mock: None,
            rest_after: Duration::from_secs(1),
        }
    }
}

/// Where a connection reports. Frames are offered with `try_send` and counted when
/// the channel is full; connection events wait for room, as they are few.
#[derive(Clone)]
struct Reporter {
    tx: mpsc::Sender<NetEvent>,
    not_shown: Arc<AtomicU64>,
    /// Connections resting now (their sockets put down).
    resting: Arc<AtomicU64>,
    frames: bool,
    tap: Option<Tap>,
}

// The echo (echo.rs) calls the first three per batch or per frame: inlinable
// there, as when they shared one module.
impl Reporter {
    /// Whether frames can be handed over now; asked once per batch, since under a
    /// flood the answer is mostly no and asking per frame costs the echo.
    #[inline]
    fn has_room(&self) -> bool {
        self.frames && self.tx.capacity() > 0
    }

    /// Offers a frame; false when it did not fit.
    #[inline]
    fn frame(&self, frame: Frame) -> bool {
        self.tx.try_send(NetEvent::Frame(frame)).is_ok()
    }

    /// Offers an event the screen may miss (frames on the wire).
    fn offer(&self, ev: NetEvent) -> bool {
        self.frames && self.tx.try_send(ev).is_ok()
    }

    /// Frames counted but not handed over, published once per batch.
    #[inline]
    fn not_shown(&self, n: u64) {
        if n > 0 {
            self.not_shown.fetch_add(n, Ordering::Relaxed);
        }
    }

    async fn event(&self, ev: NetEvent) {
        // Boxed: the two sends are a kilobyte of future, which every connection's
        // task would otherwise carry for its whole life.
        Box::pin(self.deliver(ev)).await
    }

    async fn deliver(&self, ev: NetEvent) {
        if let Some(tap) = &self.tap {
            let _ = tap.send(ev.clone()).await;
        }
        // A receiver that went away just means nobody is watching.
        let _ = self.tx.send(ev).await;
    }

    async fn left_early(&self, peer: SocketAddr) {
        self.event(NetEvent::LeftBeforeHandshake {
            ts: Utc::now(),
            peer,
        })
        .await;
    }

    async fn handshake_failed(&self, message: String) {
        self.event(NetEvent::Error {
            conn: None,
            ts: Utc::now(),
            message,
        })
        .await;
    }
}

/// Listens on `addr`, with the reasons a person can act on when it cannot.
pub(crate) async fn listen(addr: &str) -> Result<TcpListener, NetError> {
    TcpListener::bind(addr).await.map_err(|e| NetError::Bind {
        addr: addr.to_string(),
        reason: match e.kind() {
            std::io::ErrorKind::AddrInUse => {
                "the address is already in use (pick another port, or port 0 for any free one)"
                    .to_string()
            }
            std::io::ErrorKind::AddrNotAvailable => {
                "that address does not belong to this machine".to_string()
            }
            _ => e.to_string(),
        },
    })
}

/// What clients are told when the server stops.
pub fn shutdown_close() -> CloseInfo {
    CloseInfo::new(1001, "server shutting down")
}

/// The open connections' command queues, so the server can close them all when
/// it shuts down (clients get 1001 Going Away instead of a reset).
#[derive(Clone, Debug, Default)]
pub struct Registry(Arc<Mutex<HashMap<ConnId, OpenConn>>>);

/// An open connection as the registry reaches it: its commands, and how to make
/// it stop waiting for a close reply that does not come.
#[derive(Debug)]
struct OpenConn {
    commands: Outbox<NetCommand>,
    /// None: the connection hears it on its command queue ([`Outbox::ring`]).
    give_up: Option<Arc<tokio::sync::Notify>>,
}

impl Registry {
    /// Registers a connection that waits on the bell returned.
    pub(crate) fn add(&self, id: ConnId, commands: Outbox<NetCommand>) -> Arc<tokio::sync::Notify> {
        let give_up = Arc::new(tokio::sync::Notify::new());
        self.insert(id, commands, Some(give_up.clone()));
        give_up
    }

    /// Registers a connection that hears giving up on its command queue: one
    /// allocation less for each of thousands of echo connections.
    pub(crate) fn add_ringing(&self, id: ConnId, commands: Outbox<NetCommand>) {
        self.insert(id, commands, None);
    }

    fn insert(
        &self,
        id: ConnId,
        commands: Outbox<NetCommand>,
        give_up: Option<Arc<tokio::sync::Notify>>,
    ) {
        if let Ok(mut m) = self.0.lock() {
            m.insert(id, OpenConn { commands, give_up });
        }
    }

    pub(crate) fn remove(&self, id: ConnId) {
        if let Ok(mut m) = self.0.lock() {
            m.remove(&id);
        }
    }

    pub fn len(&self) -> usize {
        self.0.lock().map(|m| m.len()).unwrap_or(0)
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Sends `close` to every open connection and waits up to `wait` for them to
    /// end. Those whose peer has not answered by then stop waiting for it, so
    /// every connection still reports (and records) how it ended.
    pub async fn close_all(&self, close: CloseInfo, wait: Duration) {
        let queues: Vec<_> = match self.0.lock() {
            Ok(m) => m.values().map(|e| e.commands.clone()).collect(),
            Err(_) => return,
        };
        for q in queues {
            let _ = q.try_send(NetCommand::Close(Some(close.clone())));
        }
        if self.wait_empty(wait).await {
            return;
        }
        if let Ok(m) = self.0.lock() {
            for e in m.values() {
                match &e.give_up {
                    Some(bell) => bell.notify_one(),
                    None => e.commands.ring(),
                }
            }
        }
        // A connection stops at its next turn; that is quick, but bounded all the same.
        self.wait_empty(Duration::from_secs(2)).await;
    }

    /// True when every connection has ended within `wait`.
    async fn wait_empty(&self, wait: Duration) -> bool {
        let deadline = tokio::time::Instant::now() + wait;
        while !self.is_empty() {
            if tokio::time::Instant::now() >= deadline {
                return false;
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        true
    }
}

pub struct Server {
    listener: TcpListener,
    config: Arc<ServerConfig>,
    not_shown: Arc<AtomicU64>,
    resting: Arc<AtomicU64>,
    registry: Registry,
}

impl Server {
    pub async fn bind(addr: &str, config: ServerConfig) -> Result<Server, NetError> {
        Ok(Server {
            listener: listen(addr).await?,
            config: Arc::new(config),
            not_shown: Arc::default(),
            resting: Arc::default(),
            registry: Registry::default(),
        })
    }

    pub fn local_addr(&self) -> SocketAddr {
        self.listener
            .local_addr()
            .expect("a bound listener has an address")
    }

    /// `ws://host:port` (or `wss://`) of the bound address.
    pub fn url(&self) -> String {
        let scheme = if self.config.tls.is_some() {
            "wss"
        } else {
            "ws"
        };
        format!("{scheme}://{}", self.local_addr())
    }

    /// The faults this server injects and the switches for delay and drop.
    pub fn faults(&self) -> (Faults, Arc<Switches>) {
        (self.config.faults.clone(), self.config.switches.clone())
    }

    /// The open connections, for closing them all at shutdown.
    pub fn registry(&self) -> Registry {
        self.registry.clone()
    }

    /// Frames that could not be reported because the receiver fell behind.
    pub fn not_shown(&self) -> Arc<AtomicU64> {
        self.not_shown.clone()
    }

    /// How many connections rest now, their WebSocket sockets put down.
    pub fn resting(&self) -> Arc<AtomicU64> {
        self.resting.clone()
    }
}
