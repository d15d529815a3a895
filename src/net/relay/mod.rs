//! `wsprobe relay`: a client connects to us, we connect to the upstream server,
//! and every message is passed on both ways while whoever drives us watches.
//!
//! Events come with the leg they were seen on: [`Side::Client`] is the leg to
//! the client that connected, [`Side::Server`] the leg to the upstream. A
//! relayed message is reported once, as it came in on its leg; what wsprobe
//! itself sends (an injected message, a close it makes) as going out on the leg
//! it went to.

mod ends;
mod forward;
pub mod latency;
mod pair;
mod request;
pub mod steer;

use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use tokio::net::TcpListener;
use tokio::sync::mpsc;
use tokio_tungstenite::tungstenite::http::{HeaderName, HeaderValue};

pub use latency::JsonPath;
pub use steer::{DirFaults, Order, Rules, Steering};

use crate::error::NetError;
use crate::net::client::ClientOptions;
use crate::net::server::{accept_next, Registry};
use crate::net::speak::Speaker;
use crate::net::{ConnId, Direction, Frame, NetEvent, Side, Tap};

/// Which way a relayed message travels.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Flow {
    ClientToServer,
    ServerToClient,
}

impl Flow {
    /// The way a frame seen going `dir` on the leg to `side` travels.
    pub fn of(side: Side, dir: Direction) -> Flow {
        match (side, dir) {
            (Side::Client, Direction::In) | (Side::Server, Direction::Out) => Flow::ClientToServer,
            _ => Flow::ServerToClient,
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Flow::ClientToServer => "client_to_server",
            Flow::ServerToClient => "server_to_client",
        }
    }
}

/// How the relay reaches its upstream and what it reports.
#[derive(Clone, Debug)]
pub struct RelayConfig {
    /// The upstream: its URL (the client's path and query are appended), TLS,
    /// proxy, timeouts and limits.
    pub upstream: ClientOptions,
    /// Sent upstream, replacing the client's header of the same name.
    pub add_headers: Vec<(HeaderName, HeaderValue)>,
    /// Never sent upstream.
    pub drop_headers: Vec<HeaderName>,
    /// Which server message answers which client message: `--correlate`'s
    /// path or a protocol's requests and replies (else: the next one).
    pub speaker: Option<Arc<dyn Speaker>>,
    /// Bytes read per call on the client's leg.
    pub read_buffer_size: usize,
    /// How long a client may take to send its upgrade request.
    pub handshake_timeout: Duration,
    /// Report every frame (offered, never waited for); off with `-q`.
    pub report_frames: bool,
    /// Agree on permessage-deflate with a client that offers it, and offer it
    /// upstream for that client (off: `--no-deflate` strips the offer).
    pub deflate: bool,
    /// `--record`: both legs' events, waited for.
    pub tap: Option<Tap>,
    /// What is held and faulted, relay-wide; changed while the relay runs.
    pub steering: Arc<Steering>,
}

impl RelayConfig {
    pub fn new(upstream: ClientOptions) -> RelayConfig {
        RelayConfig {
            upstream,
            add_headers: Vec::new(),
            drop_headers: Vec::new(),
            speaker: None,
            read_buffer_size: crate::net::READ_BUFFER_SIZE,
            handshake_timeout: Duration::from_secs(10),
            report_frames: true,
            deflate: true,
            tap: None,
            steering: Arc::default(),
        }
    }
}

pub struct Relay {
    listener: TcpListener,
    config: Arc<RelayConfig>,
    not_shown: Arc<AtomicU64>,
    registry: Registry,
}

impl Relay {
    pub async fn bind(addr: &str, config: RelayConfig) -> Result<Relay, NetError> {
        Ok(Relay {
            listener: crate::net::server::listen(addr).await?,
            config: Arc::new(config),
            not_shown: Arc::default(),
            registry: Registry::default(),
        })
    }

    pub fn local_addr(&self) -> SocketAddr {
        self.listener
            .local_addr()
            .expect("a bound listener has an address")
    }

    /// `ws://host:port` of the bound address.
    pub fn url(&self) -> String {
        format!("ws://{}", self.local_addr())
    }

    /// The upstream URL as given.
    pub fn upstream(&self) -> String {
        self.config.upstream.url.to_string()
    }

    /// The open pairs, by their client legs: closing one closes its upstream too.
    pub fn registry(&self) -> Registry {
        self.registry.clone()
    }

    /// Frames that could not be reported because the receiver fell behind.
    pub fn not_shown(&self) -> Arc<AtomicU64> {
        self.not_shown.clone()
    }

    /// Its rules for holding and faulting messages, and its pairs' held ones.
    pub fn steering(&self) -> Arc<Steering> {
        self.config.steering.clone()
    }

    /// Accepts clients until the task is dropped.
    pub async fn run(self, events: mpsc::Sender<(Side, NetEvent)>) {
        let reporter = Reporter {
            tx: events,
            not_shown: self.not_shown.clone(),
            frames: self.config.report_frames,
            tap: self.config.tap.clone(),
        };
        let mut next_id: ConnId = 1;
        loop {
            match accept_next(&self.listener, &mut next_id).await {
                Ok((stream, peer, id)) => {
                    let config = self.config.clone();
                    let reporter = reporter.clone();
                    let registry = self.registry.clone();
                    tokio::spawn(pair::serve(stream, peer, id, config, reporter, registry));
                }
                Err(failed) => reporter.event(Side::Client, failed).await,
            }
        }
    }
}

/// What the relay tells clients and the upstream when it stops.
pub fn shutdown_close() -> crate::net::CloseInfo {
    crate::net::CloseInfo::new(1001, "relay shutting down")
}

/// Where both legs report. Frames are offered with `try_send` and counted when
/// there is no room; connection events (and everything for a recording) wait.
#[derive(Clone)]
pub(crate) struct Reporter {
    tx: mpsc::Sender<(Side, NetEvent)>,
    not_shown: Arc<AtomicU64>,
    frames: bool,
    tap: Option<Tap>,
}

impl Reporter {
    #[inline]
    fn has_room(&self) -> bool {
        self.frames && self.tx.capacity() > 0
    }

    #[inline]
    fn frame(&self, side: Side, frame: Frame) -> bool {
        self.tx.try_send((side, NetEvent::Frame(frame))).is_ok()
    }

    /// Offers an event the screen may miss (frames on the wire).
    fn offer(&self, side: Side, ev: NetEvent) -> bool {
        self.frames && self.tx.try_send((side, ev)).is_ok()
    }

    #[inline]
    fn not_shown(&self, n: u64) {
        if n > 0 {
            self.not_shown.fetch_add(n, Ordering::Relaxed);
        }
    }

    async fn event(&self, side: Side, ev: NetEvent) {
        if let Some(tap) = &self.tap {
            let _ = tap.send_as(side, ev.clone()).await;
        }
        let _ = self.tx.send((side, ev)).await;
    }
}
