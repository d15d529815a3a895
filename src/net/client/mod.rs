//! The client, by role: `connect` makes a connection (URL and headers, TCP, TLS,
//! proxy, the handshake, and what went wrong when it fails), `reconnect` keeps one
//! command queue across connections and retries after drops, and `session` runs
//! one connection: it sends what it is told, matches round trips and reports every
//! frame without losing one. This file holds the options and the re-exports.

mod connect;
mod reconnect;
mod session;

use std::path::PathBuf;
use std::time::Duration;

use tokio::sync::mpsc;
use tokio_tungstenite::tungstenite::http::{HeaderName, HeaderValue, Uri};

use super::{NetEvent, Tap, DEFAULT_MAX_MESSAGE_SIZE};

pub use connect::{
    connect, connect_keeping_refusal, parse_header, parse_ws_url, Connected, Refusal, WsStream,
};
pub use reconnect::{backoff, spawn, supervise, RECONNECT_FIRST_DELAY};

/// How to reach the server.
#[derive(Clone, Debug)]
pub struct ClientOptions {
    pub url: Uri,
    pub headers: Vec<(HeaderName, HeaderValue)>,
    pub subprotocols: Vec<String>,
    pub origin: Option<String>,
    pub connect_timeout: Duration,
    pub insecure: bool,
    pub ca_file: Option<PathBuf>,
    pub max_message_size: usize,
    /// Bytes read per call. Each read zeroes this much first, so it should fit
    /// the traffic: small for small messages, large for large ones.
    pub read_buffer_size: usize,
    /// An HTTP CONNECT proxy to tunnel through.
    pub proxy: Option<super::proxy::Proxy>,
    /// Offer permessage-deflate (`--deflate`).
    pub deflate: bool,
    /// Report every frame, not only messages (`--frames`, the dashboard).
    pub frames: bool,
    /// The local address to connect from (`bench --source`); the system's
    /// choice when `None`.
    pub source: Option<std::net::IpAddr>,
}

impl ClientOptions {
    pub fn new(url: Uri) -> Self {
        ClientOptions {
            url,
            headers: Vec::new(),
            subprotocols: Vec::new(),
            origin: None,
            connect_timeout: Duration::from_secs(10),
            insecure: false,
            ca_file: None,
            max_message_size: DEFAULT_MAX_MESSAGE_SIZE,
            read_buffer_size: super::CLIENT_READ_BUFFER_SIZE,
            proxy: None,
            deflate: false,
            frames: false,
            source: None,
        }
    }
}

/// What the connection task does besides obeying commands.
#[derive(Clone, Debug, Default)]
pub struct SessionOptions {
    /// Send every received text or binary message straight back.
    pub echo: bool,
    pub ping_interval: Option<Duration>,
    /// A ping unanswered this long drops the connection.
    pub ping_timeout: Option<Duration>,
    pub echo_prefix: Option<String>,
    /// Messages sent after every (re)connect, before anything else.
    pub init: Vec<String>,
    /// Reconnect after any drop, waiting at most this long between attempts.
    pub reconnect: Option<Duration>,
    /// `--record`: every event and frame, waiting for room.
    pub tap: Option<Tap>,
    /// The protocol spoken (`--protocol`, `--correlate`): its greeting, its
    /// keep-alive answers, and which reply answers which request.
    pub speaker: Option<std::sync::Arc<dyn crate::net::speak::Speaker>>,
}

/// Where a client reports its events: the tap first (a recording must not miss
/// one), then whoever drives the client, waiting for room in both.
#[derive(Clone)]
struct Reporter {
    events: mpsc::Sender<NetEvent>,
    tap: Option<Tap>,
}

impl Reporter {
    /// Hands over an event the screen may miss (frames on the wire).
    fn offer(&self, ev: NetEvent) -> bool {
        self.events.try_send(ev).is_ok()
    }

    async fn event(&self, ev: NetEvent) {
        if let Some(tap) = &self.tap {
            let _ = tap.send(ev.clone()).await;
        }
        // A driver that went away just means nobody is watching.
        let _ = self.events.send(ev).await;
    }
}
