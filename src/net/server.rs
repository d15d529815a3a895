//! The echo server: bind, accept, and one task per connection that echoes every
//! message back without ever waiting for whoever watches.

use std::collections::{HashMap, VecDeque};
use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use bytes::Bytes;
use chrono::Utc;
use futures_util::{FutureExt, SinkExt, StreamExt};
use tokio::io::{AsyncRead, AsyncWrite};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::mpsc;
use tokio_tungstenite::tungstenite::error::ProtocolError;
use tokio_tungstenite::tungstenite::handshake::server::{ErrorResponse, Request, Response};
use tokio_tungstenite::tungstenite::http::HeaderValue;
use tokio_tungstenite::tungstenite::protocol::frame::coding::{Data, OpCode};
use tokio_tungstenite::tungstenite::protocol::frame::Frame as WsFrame;
use tokio_tungstenite::tungstenite::{Error as WsError, Message};
use tokio_tungstenite::WebSocketStream;

use super::faults::{Dice, Faults, Switches};
use super::nopong::NoPong;
use super::witness::Witness;
use super::{
    describe, error_text, header_pairs, tls, ws_config, CloseCause, CloseInfo, ConnCounters,
    ConnId, CounterSnapshot, Direction, Frame, Handshake, NetCommand, NetEvent, Opened,
    DEFAULT_MAX_MESSAGE_SIZE, READ_BUFFER_SIZE,
};
use crate::error::NetError;

/// How many already-read messages one batch may echo before the connection task
/// looks at its commands again.
const MAX_BATCH: usize = 256;
/// Echoes `--delay` may hold per connection before the connection stops reading.
const MAX_DELAYED: usize = 10_000;

#[derive(Clone, Debug)]
pub struct ServerConfig {
    /// Prepended to every text echo.
    pub prefix: Option<String>,
    /// Which subprotocol the server agrees to when a client offers some.
    pub subprotocols: SubprotocolPolicy,
    pub max_message_size: usize,
    pub handshake_timeout: Duration,
    /// Bytes read per call and allocated per connection up front.
    pub read_buffer_size: usize,
    /// Serve wss:// with this TLS configuration.
    pub tls: Option<Arc<rustls::ServerConfig>>,
    /// Misbehaviour on purpose, for testing clients.
    pub faults: Faults,
    /// Delay and drop, switchable while the server runs.
    pub switches: Arc<Switches>,
    /// Report every frame (false: only connection events, for long runs).
    pub report_frames: bool,
    /// `--record`: every event and frame, waiting for the writer rather than dropping.
    pub recorder: Option<crate::record::Recorder>,
}

impl Default for ServerConfig {
    fn default() -> Self {
        ServerConfig {
            prefix: None,
            subprotocols: SubprotocolPolicy::FirstOffered,
            max_message_size: DEFAULT_MAX_MESSAGE_SIZE,
            handshake_timeout: Duration::from_secs(10),
            read_buffer_size: READ_BUFFER_SIZE,
            tls: None,
            faults: Faults::default(),
            switches: Arc::default(),
            report_frames: true,
            recorder: None,
        }
    }
}

/// Where a connection reports. Frames are offered with `try_send` and counted when
/// the channel is full; connection events wait for room, as they are few.
#[derive(Clone)]
struct Reporter {
    tx: mpsc::Sender<NetEvent>,
    not_shown: Arc<AtomicU64>,
    frames: bool,
    recorder: Option<crate::record::Recorder>,
}

impl Reporter {
    /// Whether frames can be handed over now; asked once per batch, since under a
    /// flood the answer is mostly no and asking per frame costs the echo.
    fn has_room(&self) -> bool {
        self.frames && self.tx.capacity() > 0
    }

    /// Offers a frame; false when it did not fit.
    fn frame(&self, frame: Frame) -> bool {
        self.tx.try_send(NetEvent::Frame(frame)).is_ok()
    }

    /// Frames counted but not handed over, published once per batch.
    fn not_shown(&self, n: u64) {
        if n > 0 {
            self.not_shown.fetch_add(n, Ordering::Relaxed);
        }
    }

    async fn event(&self, ev: NetEvent) {
        if let Some(r) = &self.recorder {
            r.record(ev.clone()).await;
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

/// The open connections' command queues, so the server can close them all when
/// it shuts down (clients get 1001 Going Away instead of a reset).
#[derive(Clone, Debug, Default)]
pub struct Registry(Arc<Mutex<HashMap<ConnId, Entry>>>);

/// How the registry reaches one connection: its commands, and a bell that
/// makes it stop waiting for a close reply that does not come.
#[derive(Debug)]
struct Entry {
    commands: mpsc::Sender<NetCommand>,
    give_up: Arc<tokio::sync::Notify>,
}

impl Registry {
    fn add(&self, id: ConnId, commands: mpsc::Sender<NetCommand>) -> Arc<tokio::sync::Notify> {
        let give_up = Arc::new(tokio::sync::Notify::new());
        if let Ok(mut m) = self.0.lock() {
            m.insert(
                id,
                Entry {
                    commands,
                    give_up: give_up.clone(),
                },
            );
        }
        give_up
    }

    fn remove(&self, id: ConnId) {
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
                e.give_up.notify_one();
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
    registry: Registry,
}

impl Server {
    pub async fn bind(addr: &str, config: ServerConfig) -> Result<Server, NetError> {
        let listener = TcpListener::bind(addr).await.map_err(|e| NetError::Bind {
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
        })?;
        Ok(Server {
            listener,
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

    /// Accepts connections until the task is dropped.
    pub async fn run(self, events: mpsc::Sender<NetEvent>) {
        let reporter = Reporter {
            tx: events,
            not_shown: self.not_shown.clone(),
            frames: self.config.report_frames,
            recorder: self.config.recorder.clone(),
        };
        let mut next_id: ConnId = 1;
        loop {
            match self.listener.accept().await {
                Ok((stream, peer)) => {
                    let id = next_id;
                    next_id += 1;
                    let config = self.config.clone();
                    let reporter = reporter.clone();
                    let registry = self.registry.clone();
                    tokio::spawn(async move {
                        serve(stream, peer, id, config, reporter, registry).await;
                    });
                }
                Err(e) => {
                    // Out of file descriptors and the like: say so, breathe, go on.
                    tracing::warn!("accept failed: {e}");
                    reporter
                        .event(NetEvent::Error {
                            conn: None,
                            ts: Utc::now(),
                            message: format!("accept failed: {e}"),
                        })
                        .await;
                    tokio::time::sleep(Duration::from_millis(50)).await;
                }
            }
        }
    }
}

/// How the server answers a client's `Sec-WebSocket-Protocol` offer.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub enum SubprotocolPolicy {
    /// Agree to the first one offered: browsers and most libraries fail a
    /// connection whose offer gets no answer, so an echo server should say yes.
    #[default]
    FirstOffered,
    /// Agree to the first offered one that is in this list, else to none.
    OneOf(Vec<String>),
    /// Agree to none (`--no-subprotocol`), to see how clients cope.
    Refuse,
}

impl SubprotocolPolicy {
    /// Picks the subprotocol to answer with, if any. A client may send the header
    /// more than once; the offers are read in order across all of them.
    fn choose<'a>(&self, offered: impl Iterator<Item = &'a HeaderValue>) -> Option<String> {
        let mut offers = offered
            .filter_map(|v| v.to_str().ok())
            .flat_map(|v| v.split(','))
            .map(str::trim)
            .filter(|p| !p.is_empty());
        match self {
            SubprotocolPolicy::FirstOffered => offers.next(),
            SubprotocolPolicy::OneOf(accepted) => offers.find(|p| accepted.iter().any(|a| a == p)),
            SubprotocolPolicy::Refuse => None,
        }
        .map(str::to_string)
    }
}

/// One connection from accept to close: TLS when configured, the WebSocket
/// handshake, then the echo. The handshake timeout covers TLS and WebSocket both.
async fn serve(
    stream: TcpStream,
    peer: SocketAddr,
    id: ConnId,
    config: Arc<ServerConfig>,
    reporter: Reporter,
    registry: Registry,
) {
    let _ = stream.set_nodelay(true);
    let deadline = tokio::time::Instant::now() + config.handshake_timeout;
    let Some(acceptor) = config.tls.clone().map(tokio_rustls::TlsAcceptor::from) else {
        return serve_ws(stream, None, deadline, peer, id, config, reporter, registry).await;
    };
    match tokio::time::timeout_at(deadline, acceptor.accept(stream)).await {
        Ok(Ok(tls)) => {
            let info = tls::describe(
                tls.get_ref().1.protocol_version(),
                tls.get_ref().1.negotiated_cipher_suite(),
            );
            serve_ws(tls, info, deadline, peer, id, config, reporter, registry).await
        }
        Ok(Err(e)) if left_early(&e) => reporter.left_early(peer).await,
        Ok(Err(e)) => reporter.handshake_failed(tls_failure(peer, &e)).await,
        Err(_) => {
            reporter
                .handshake_failed(timeout_message(peer, &config))
                .await
        }
    }
}

/// The peer went away before its handshake was done: a probe, not a failure.
fn left_early(e: &std::io::Error) -> bool {
    use std::io::ErrorKind::*;
    matches!(e.kind(), UnexpectedEof | ConnectionReset | BrokenPipe)
}

/// A failed TLS handshake as a person would put it.
fn tls_failure(peer: SocketAddr, e: &std::io::Error) -> String {
    let rustls_error = e
        .get_ref()
        .and_then(|inner| inner.downcast_ref::<rustls::Error>());
    match rustls_error {
        // The first bytes were not a TLS record: most likely `GET / HTTP/1.1`.
        Some(rustls::Error::InvalidMessage(rustls::InvalidMessage::InvalidContentType)) => {
            format!("{peer} sent plain HTTP to this TLS port (it should connect with wss://)")
        }
        _ => format!("TLS handshake with {peer} failed: {e}"),
    }
}

fn timeout_message(peer: SocketAddr, config: &ServerConfig) -> String {
    format!(
        "handshake with {peer} timed out after {}",
        humantime::format_duration(config.handshake_timeout)
    )
}

/// The WebSocket on a plain or TLS stream; with `--no-pong`, on a stream that
/// takes the pongs out (only then: the wrapper stays off the normal echo path).
#[allow(clippy::too_many_arguments)]
async fn serve_ws<S: AsyncRead + AsyncWrite + Unpin>(
    stream: S,
    tls: Option<String>,
    deadline: tokio::time::Instant,
    peer: SocketAddr,
    id: ConnId,
    config: Arc<ServerConfig>,
    reporter: Reporter,
    registry: Registry,
) {
    if config.faults.no_pong {
        let stream = NoPong::new(stream);
        serve_ws_on(stream, tls, deadline, peer, id, config, reporter, registry).await
    } else {
        serve_ws_on(stream, tls, deadline, peer, id, config, reporter, registry).await
    }
}

#[allow(clippy::result_large_err)] // the callback's type is fixed by tungstenite
#[allow(clippy::too_many_arguments)]
async fn serve_ws_on<S: AsyncRead + AsyncWrite + Unpin>(
    stream: S,
    tls: Option<String>,
    deadline: tokio::time::Instant,
    peer: SocketAddr,
    id: ConnId,
    config: Arc<ServerConfig>,
    reporter: Reporter,
    registry: Registry,
) {
    // Remembers how the peer closed, in case tungstenite replaces its code.
    let stream = Witness::tail_only(stream);
    let mut seen: Option<(String, Handshake)> = None;
    let full = config
        .faults
        .max_connections
        .is_some_and(|max| registry.len() >= max);
    let callback = |req: &Request, mut resp: Response| -> Result<Response, ErrorResponse> {
        if full {
            let mut refusal =
                ErrorResponse::new(Some("too many connections (--max-connections)".to_string()));
            *refusal.status_mut() =
                tokio_tungstenite::tungstenite::http::StatusCode::SERVICE_UNAVAILABLE;
            return Err(refusal);
        }
        let path = req
            .uri()
            .path_and_query()
            .map(|p| p.as_str().to_string())
            .unwrap_or_else(|| "/".to_string());
        let subprotocol = config
            .subprotocols
            .choose(req.headers().get_all("sec-websocket-protocol").iter());
        if let Some(p) = &subprotocol {
            if let Ok(v) = HeaderValue::from_str(p) {
                resp.headers_mut().insert("sec-websocket-protocol", v);
            }
        }
        seen = Some((
            path.clone(),
            Handshake {
                request_line: format!("{} {} {:?}", req.method(), path, req.version()),
                request_headers: header_pairs(req.headers()),
                status: "101 Switching Protocols".to_string(),
                response_headers: header_pairs(resp.headers()),
                subprotocol,
                tls: tls.clone(),
                proxy: None,
            },
        ));
        Ok(resp)
    };
    let accept = tokio_tungstenite::accept_hdr_async_with_config(
        stream,
        callback,
        Some(ws_config(config.max_message_size, config.read_buffer_size)),
    );
    let ws = match tokio::time::timeout_at(deadline, accept).await {
        Ok(Ok(ws)) => ws,
        Ok(Err(WsError::Protocol(ProtocolError::HandshakeIncomplete))) => {
            return reporter.left_early(peer).await
        }
        Ok(Err(WsError::Io(e))) if left_early(&e) => return reporter.left_early(peer).await,
        Ok(Err(e)) => {
            return reporter
                .handshake_failed(format!("handshake with {peer} failed: {e}"))
                .await
        }
        Err(_) => {
            return reporter
                .handshake_failed(timeout_message(peer, &config))
                .await
        }
    };
    let (path, handshake) = seen.unwrap_or_default();
    let counters = Arc::new(ConnCounters::default());
    let (cmd_tx, cmd_rx) = mpsc::channel(64);
    let give_up = registry.add(id, cmd_tx.clone());
    reporter
        .event(NetEvent::Opened(Box::new(Opened {
            conn: id,
            ts: Utc::now(),
            peer,
            path,
            handshake,
            counters: counters.clone(),
            commands: cmd_tx,
            faults: config.faults.describe_live(&config.switches),
        })))
        .await;
    let (close, cause) = EchoConn {
        id,
        ws,
        config: &config,
        reporter: &reporter,
        counters: &counters,
        batch: CounterSnapshot::default(),
        show: false,
        unshown: 0,
        first_close: None,
        echoed: 0,
        delayed: VecDeque::new(),
        recording: Vec::new(),
        dice: Dice::new(id.wrapping_mul(0x9E37_79B9_7F4A_7C15) ^ std::process::id() as u64),
    }
    .run(cmd_rx, &give_up)
    .await;
    reporter
        .event(NetEvent::Closed {
            conn: id,
            ts: Utc::now(),
            close,
            cause,
        })
        .await;
    // Only now does a shutdown waiting for the registry to empty see it gone:
    // its close is recorded and reported before the program may exit.
    registry.remove(id);
}

/// One echo connection's state while it runs.
struct EchoConn<'a, S> {
    id: ConnId,
    ws: WebSocketStream<Witness<S>>,
    config: &'a ServerConfig,
    reporter: &'a Reporter,
    counters: &'a ConnCounters,
    /// Counted locally and published once per batch: cheaper than an atomic per frame.
    batch: CounterSnapshot,
    /// Whether this batch's frames go to the reporter (decided per batch).
    show: bool,
    /// Frames of this batch that could not be shown.
    unshown: u64,
    /// The first close frame of the closing handshake and who sent it.
    first_close: Option<(CloseInfo, CloseCause)>,
    /// Data messages echoed so far (for `close_after`).
    echoed: u64,
    /// Echoes held back by `--delay`, oldest first, with when they are due.
    delayed: VecDeque<(tokio::time::Instant, Message)>,
    /// Decides which echoes a `drop` fault swallows.
    dice: Dice,
    /// Frames for `--record` not yet handed to the recorder: handed over before
    /// the bytes they describe leave, so a recording never misses an echo.
    recording: Vec<NetEvent>,
}

impl<S: AsyncRead + AsyncWrite + Unpin> EchoConn<'_, S> {
    async fn run(
        mut self,
        mut commands: mpsc::Receiver<NetCommand>,
        give_up: &tokio::sync::Notify,
    ) -> (Option<CloseInfo>, CloseCause) {
        let mut commands_open = true;
        let error = loop {
            let next_due = self.delayed.front().map(|(due, _)| *due);
            tokio::select! {
                biased;
                // Shutting down, and the peer has not answered our close in time.
                _ = give_up.notified() => break Some("the peer did not answer our close frame before the server stopped".to_string()),
                _ = async { tokio::time::sleep_until(next_due.expect("guarded")).await }, if next_due.is_some() => {
                    if let Err(e) = self.send_due().await {
                        break Some(e);
                    }
                }
                cmd = commands.recv(), if commands_open => match cmd {
                    Some(cmd) => {
                        if let Err(e) = self.command(cmd).await {
                            break Some(e);
                        }
                    }
                    None => commands_open = false,
                },
                // With echoes held back, reading stops at a bound: memory stays bounded.
                msg = self.ws.next(), if self.delayed.len() < MAX_DELAYED => {
                    let Some(msg) = msg else { break None };
                    if let Err(e) = self.echo_batch(msg).await {
                        break Some(e);
                    }
                }
            }
        };
        self.publish();
        match (self.first_close, error) {
            (Some((close, cause)), _) => (Some(close), cause),
            (None, Some(e)) => (None, CloseCause::Error(e)),
            (None, None) => (
                None,
                CloseCause::Error("the peer closed the connection without a close frame".into()),
            ),
        }
    }

    /// Echoes one message and every further one that is already readable, then
    /// flushes once: batching the writes is what makes the echo fast.
    async fn echo_batch(&mut self, first: Result<Message, WsError>) -> Result<(), String> {
        self.show = self.reporter.has_room();
        let mut result = self.echo_one(first).await;
        for _ in 1..MAX_BATCH {
            if result.is_err() {
                break;
            }
            match self.ws.next().now_or_never() {
                Some(Some(msg)) => result = self.echo_one(msg).await,
                _ => break,
            }
        }
        // Even when a later frame of the batch was bad, the echoes already fed
        // are owed to the peer (and so is any close frame tungstenite queued).
        self.record_pending().await;
        let flushed = self.ws.flush().await;
        self.publish();
        result?;
        match flushed {
            Ok(()) | Err(WsError::ConnectionClosed) => Ok(()),
            Err(e) => Err(error_text(e, "peer")),
        }
    }

    async fn echo_one(&mut self, msg: Result<Message, WsError>) -> Result<(), String> {
        let msg = match msg {
            Ok(msg) => msg,
            Err(WsError::Capacity(e)) => {
                let info = CloseInfo::new(1009, "message too big");
                self.report(Direction::Out, &Message::Close(Some(info.to_frame())));
                self.record_pending().await;
                let _ = self.ws.close(Some(info.to_frame())).await;
                self.first_close = Some((info, CloseCause::Error(format!("{e}"))));
                return Err(e.to_string());
            }
            Err(WsError::ConnectionClosed) => return Ok(()),
            Err(e) => return Err(error_text(e, "peer")),
        };
        let invalid = super::invalid_peer_close(&msg, || self.ws.get_ref().peer_close(true));
        // Logged as it came, not as tungstenite rewrote it.
        self.report_with(Direction::In, &msg, invalid.clone());
        let echo = match msg {
            Message::Text(t) => match &self.config.prefix {
                Some(prefix) => Message::text(format!("{prefix}{}", t.as_str())),
                None => Message::Text(t),
            },
            Message::Binary(b) => Message::Binary(b),
            Message::Ping(p) => {
                // tungstenite queues the pong itself; it leaves with the next flush
                // (or is taken out on its way by --no-pong).
                if !self.config.faults.no_pong {
                    self.report(Direction::Out, &Message::Pong(p));
                }
                return Ok(());
            }
            Message::Close(frame) => {
                // Nothing may follow the close reply: held-back echoes are dropped.
                self.delayed.clear();
                // tungstenite answers with the same code (1002 for an invalid
                // one); record both halves.
                if self.first_close.is_none() {
                    let info = frame.as_ref().map(CloseInfo::from_frame);
                    let (first, cause) = match invalid {
                        Some(theirs) => {
                            let cause = super::invalid_close_cause(&theirs, "peer");
                            (theirs, cause)
                        }
                        None => (
                            info.unwrap_or_else(|| CloseInfo::new(1005, "")),
                            CloseCause::Peer,
                        ),
                    };
                    self.first_close = Some((first, cause));
                    self.report(Direction::Out, &Message::Close(frame));
                }
                return Ok(());
            }
            Message::Pong(_) | Message::Frame(_) => return Ok(()),
        };
        let faults = &self.config.faults;
        let switches = &self.config.switches;
        if self.first_close.is_some()
            || (switches.dropping() && self.dice.roll(faults.drop_percent))
        {
            return Ok(());
        }
        if faults.delays() && switches.delaying() {
            let extra = faults.jitter.mul_f64(self.dice.unit());
            let due = tokio::time::Instant::now() + faults.delay + extra;
            // Jitter never reorders: an echo is not due before the one ahead of it.
            let due = self.delayed.back().map_or(due, |(last, _)| due.max(*last));
            self.delayed.push_back((due, echo));
            return Ok(());
        }
        self.send_echo(echo).await
    }

    /// Sends one echo now, and the close `--close-after` asks for after it.
    async fn send_echo(&mut self, echo: Message) -> Result<(), String> {
        self.report(Direction::Out, &echo);
        self.record_pending().await;
        self.feed_echo(echo).await?;
        self.echoed += 1;
        let faults = &self.config.faults;
        if faults.close_after.is_some_and(|n| self.echoed >= n) {
            let info = CloseInfo::new(faults.close_code, "--close-after");
            self.first_close = Some((info.clone(), CloseCause::Local));
            self.delayed.clear();
            let msg = Message::Close(Some(info.to_frame()));
            self.report(Direction::Out, &msg);
            self.record_pending().await;
            self.ws.feed(msg).await.map_err(|e| e.to_string())?;
        }
        Ok(())
    }

    /// Sends the held-back echoes whose time has come.
    async fn send_due(&mut self) -> Result<(), String> {
        self.show = self.reporter.has_room();
        let now = tokio::time::Instant::now();
        let mut result = Ok(());
        while self.first_close.is_none() && self.delayed.front().is_some_and(|(due, _)| *due <= now)
        {
            let (_, echo) = self.delayed.pop_front().expect("checked front");
            result = self.send_echo(echo).await;
            if result.is_err() {
                break;
            }
        }
        self.record_pending().await;
        let flushed = self.ws.flush().await;
        self.publish();
        result?;
        match flushed {
            Ok(()) | Err(WsError::ConnectionClosed) => Ok(()),
            Err(e) => Err(error_text(e, "peer")),
        }
    }

    /// Feeds one echo, split into `--fragment` frames when asked.
    async fn feed_echo(&mut self, echo: Message) -> Result<(), String> {
        let wanted = self.config.faults.fragment;
        let (kind, data) = match &echo {
            Message::Text(t) if wanted > 1 => (Data::Text, Bytes::from(t.clone())),
            Message::Binary(b) if wanted > 1 => (Data::Binary, b.clone()),
            _ => return self.ws.feed(echo).await.map_err(|e| e.to_string()),
        };
        // At least one byte a frame (a text frame may end mid-character: the peer
        // validates the whole message).
        let pieces = wanted.min(data.len().max(1));
        for i in 0..pieces {
            let part = data.slice(i * data.len() / pieces..(i + 1) * data.len() / pieces);
            let opcode = OpCode::Data(if i == 0 { kind } else { Data::Continue });
            let frame = WsFrame::message(part, opcode, i + 1 == pieces);
            self.ws
                .feed(Message::Frame(frame))
                .await
                .map_err(|e| e.to_string())?;
        }
        Ok(())
    }

    /// Hands the batch's counts to the shared counters.
    fn publish(&mut self) {
        self.counters.add(&self.batch);
        self.batch = CounterSnapshot::default();
        self.reporter.not_shown(std::mem::take(&mut self.unshown));
    }

    async fn command(&mut self, cmd: NetCommand) -> Result<(), String> {
        self.show = self.reporter.has_room();
        if self.first_close.is_some() && !matches!(cmd, NetCommand::Close(_)) {
            // Nothing may follow a close frame: say it never left.
            let reason = "the connection was already closing";
            let unsent = NetEvent::not_sent(self.id, cmd, reason);
            self.reporter.event(unsent).await;
            return Ok(());
        }
        let msg = cmd.into_message();
        if let Message::Close(frame) = &msg {
            if self.first_close.is_some() {
                return Ok(());
            }
            let info = frame
                .as_ref()
                .map(CloseInfo::from_frame)
                .unwrap_or_else(|| CloseInfo::new(1005, ""));
            self.first_close = Some((info, CloseCause::Local));
        }
        self.report(Direction::Out, &msg);
        self.record_pending().await;
        let sent = self.ws.send(msg).await;
        // Counted now, not with the next echo: the screen shows it at once.
        self.publish();
        match sent {
            Ok(()) | Err(WsError::ConnectionClosed) => Ok(()),
            Err(e) => Err(error_text(e, "peer")),
        }
    }

    fn report(&mut self, dir: Direction, msg: &Message) {
        self.report_with(dir, msg, None);
    }

    /// Reports `msg`, with `close` standing for its close frame when tungstenite
    /// rewrote what the peer sent.
    fn report_with(&mut self, dir: Direction, msg: &Message, close_as_sent: Option<CloseInfo>) {
        self.batch.count(dir, payload_len(msg));
        let recording = self.reporter.recorder.is_some();
        let show = self.reporter.frames && self.show;
        if self.reporter.frames && !self.show {
            self.unshown += 1;
        }
        if !show && !recording {
            return;
        }
        let Some((kind, mut payload, mut close)) = describe(msg) else {
            return;
        };
        if let Some(c) = close_as_sent {
            payload = c.payload();
            close = Some(c);
        }
        let frame = Frame {
            conn: self.id,
            ts: Utc::now(),
            dir,
            kind,
            payload,
            close,
            rtt: None,
        };
        if recording {
            self.recording.push(NetEvent::Frame(frame.clone()));
        }
        if show && !self.reporter.frame(frame) {
            self.show = false;
            self.unshown += 1;
        }
    }

    async fn record_pending(&mut self) {
        let reporter = self.reporter;
        if let Some(r) = &reporter.recorder {
            for ev in self.recording.drain(..) {
                r.record(ev).await;
            }
        }
    }
}

/// The payload size as a frame reports it, without building the frame.
fn payload_len(msg: &Message) -> usize {
    match msg {
        Message::Close(Some(c)) => 2 + c.reason.len(),
        Message::Close(None) => 0,
        m => m.len(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn offer(values: &[&'static str]) -> Vec<HeaderValue> {
        values.iter().map(|v| HeaderValue::from_static(v)).collect()
    }

    #[test]
    fn subprotocol_first_offered_that_is_accepted() {
        let policy = SubprotocolPolicy::OneOf(vec!["b".to_string(), "c".to_string()]);
        assert_eq!(policy.choose(offer(&["a, c, b"]).iter()), Some("c".into()));
        assert_eq!(policy.choose(offer(&["x"]).iter()), None);
        assert_eq!(policy.choose(offer(&[]).iter()), None);
    }

    #[test]
    fn by_default_the_first_offered_subprotocol_is_accepted() {
        let policy = SubprotocolPolicy::default();
        assert_eq!(
            policy.choose(offer(&["graphql-ws, graphql-transport-ws"]).iter()),
            Some("graphql-ws".into())
        );
        // Offers split over several headers are read in order.
        assert_eq!(
            policy.choose(offer(&[" ", "b", "c"]).iter()),
            Some("b".into())
        );
        assert_eq!(policy.choose(offer(&[]).iter()), None);
    }

    #[test]
    fn no_subprotocol_refuses_every_offer() {
        assert_eq!(
            SubprotocolPolicy::Refuse.choose(offer(&["a, b"]).iter()),
            None
        );
    }
}
