//! The client: connect (TCP, TLS, handshake, each step with a clear error) and the
//! connection task that sends what it is told, matches round trips and reports
//! every frame without losing one.

use std::collections::VecDeque;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::Bytes;
use chrono::Utc;
use futures_util::{SinkExt, StreamExt};
use tokio::net::TcpStream;
use tokio::sync::mpsc;
use tokio::task::JoinHandle;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;
use tokio_tungstenite::tungstenite::http::{HeaderName, HeaderValue, Uri};
use tokio_tungstenite::tungstenite::{Error as WsError, Message};
use tokio_tungstenite::{Connector, MaybeTlsStream, WebSocketStream};

use super::witness::Witness;

use super::rtt::RttMatcher;
use super::{
    describe, error_text, header_pairs, tls, ws_config, CloseCause, CloseInfo, ConnCounters,
    ConnId, CounterSnapshot, Direction, Frame, FrameKind, Handshake, NetCommand, NetEvent, Opened,
    DEFAULT_MAX_MESSAGE_SIZE,
};
use crate::error::NetError;

pub type WsStream = WebSocketStream<MaybeTlsStream<Witness<TcpStream>>>;

/// How long we wait for the peer to answer our close frame.
const CLOSE_TIMEOUT: Duration = Duration::from_secs(2);

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
    /// `--record`: every event and frame, waiting for the writer.
    pub recorder: Option<crate::record::Recorder>,
}

/// The first wait before reconnecting; it doubles with each failed attempt.
pub const RECONNECT_FIRST_DELAY: Duration = Duration::from_millis(500);

/// The wait before reconnect attempt `attempt` (1-based): exponential, capped,
/// with jitter in its upper half so that many clients do not retry in step.
pub fn backoff(attempt: u32, max: Duration, unit: f64) -> Duration {
    let doubled = RECONNECT_FIRST_DELAY.saturating_mul(1u32 << attempt.saturating_sub(1).min(20));
    let cap = doubled.min(max);
    cap.mul_f64(0.5 + 0.5 * unit.clamp(0.0, 1.0))
}

/// Checks that a string is a `ws://` or `wss://` URL with a host.
pub fn parse_ws_url(s: &str) -> Result<Uri, String> {
    let hint = "expected a URL like ws://127.0.0.1:8765 or wss://example.com/socket";
    if !s.contains("://") {
        return Err(format!("`{s}` has no scheme: {hint}"));
    }
    let uri: Uri = s
        .parse()
        .map_err(|e| format!("`{s}` is not a valid URL ({e}): {hint}"))?;
    match uri.scheme_str() {
        Some("ws") | Some("wss") => {}
        Some("http") | Some("https") => {
            return Err(format!(
                "`{s}` is an HTTP URL; WebSocket URLs start with ws:// or wss://"
            ))
        }
        _ => return Err(format!("`{s}` has an unsupported scheme: {hint}")),
    }
    match uri.host() {
        Some(h) if !h.is_empty() => Ok(uri),
        _ => Err(format!("`{s}` has no host: {hint}")),
    }
}

/// Parses `Name: value` as given to `-H`.
pub fn parse_header(s: &str) -> Result<(HeaderName, HeaderValue), String> {
    let (name, value) = s
        .split_once(':')
        .ok_or_else(|| format!("header `{s}` must look like `Name: value`"))?;
    let name = name.trim();
    let name = HeaderName::from_bytes(name.as_bytes())
        .map_err(|_| format!("`{name}` is not a valid header name"))?;
    let value = HeaderValue::from_str(value.trim()).map_err(|_| {
        format!("the value of header `{name}` has characters a header cannot carry")
    })?;
    Ok((name, value))
}

/// A connection whose handshake completed.
pub struct Connected {
    pub ws: WsStream,
    pub peer: SocketAddr,
    pub path: String,
    pub handshake: Handshake,
    /// Name resolution and TCP connect.
    pub tcp_time: Duration,
    /// TLS (for wss://) and the WebSocket handshake.
    pub handshake_time: Duration,
}

pub async fn connect(opts: &ClientOptions) -> Result<Connected, NetError> {
    let uri = &opts.url;
    let tls = uri.scheme_str() == Some("wss");
    let host = uri.host().unwrap_or_default();
    // The URI keeps brackets around IPv6 literals; the resolver wants them off.
    let bare_host = host
        .trim_start_matches('[')
        .trim_end_matches(']')
        .to_string();
    let port = uri.port_u16().unwrap_or(if tls { 443 } else { 80 });
    let started = Instant::now();
    let deadline = started + opts.connect_timeout;
    let timed_out = |what: &str| NetError::Timeout {
        what: format!("{what} (--connect-timeout)"),
        after: opts.connect_timeout,
    };

    // Through a proxy, the TCP connection is the proxy's; the target's name is
    // resolved by the proxy.
    let (dial_host, dial_port) = match &opts.proxy {
        Some(p) => (p.host.clone(), p.port),
        None => (bare_host.clone(), port),
    };
    let addrs: Vec<SocketAddr> = tokio::time::timeout_at(
        deadline.into(),
        tokio::net::lookup_host((dial_host.as_str(), dial_port)),
    )
    .await
    .map_err(|_| timed_out(&format!("resolving {dial_host}")))?
    .map_err(|e| NetError::Resolve {
        host: dial_host.clone(),
        reason: e.to_string(),
    })?
    .collect();

    let mut last_err = None;
    let mut tcp = None;
    for addr in &addrs {
        match tokio::time::timeout_at(deadline.into(), TcpStream::connect(addr)).await {
            Err(_) => return Err(timed_out(&format!("connecting to {addr}"))),
            Ok(Ok(s)) => {
                tcp = Some(s);
                break;
            }
            Ok(Err(e)) => {
                last_err = Some(if let Some(p) = &opts.proxy {
                    NetError::Proxy {
                        proxy: p.shown(),
                        reason: format!("cannot connect to it at {addr}: {e}"),
                    }
                } else if e.kind() == std::io::ErrorKind::ConnectionRefused {
                    NetError::Refused {
                        addr: addr.to_string(),
                    }
                } else {
                    NetError::Connect {
                        addr: addr.to_string(),
                        reason: e.to_string(),
                    }
                })
            }
        }
    }
    let mut tcp = match tcp {
        Some(t) => t,
        None => {
            return Err(last_err.unwrap_or_else(|| NetError::Resolve {
                host: dial_host.clone(),
                reason: "no address found".into(),
            }))
        }
    };
    let _ = tcp.set_nodelay(true);
    let peer = tcp.peer_addr().unwrap_or_else(|_| addrs[0]);
    if let Some(p) = &opts.proxy {
        tokio::time::timeout_at(
            deadline.into(),
            super::proxy::tunnel(&mut tcp, p, &bare_host, port),
        )
        .await
        .map_err(|_| timed_out(&format!("CONNECT through proxy {}", p.shown())))??;
    }
    let tcp_done = Instant::now();

    let mut request = uri
        .clone()
        .into_client_request()
        .map_err(|e| NetError::Usage(format!("cannot build a request for {uri}: {e}")))?;
    {
        let h = request.headers_mut();
        if !opts.subprotocols.is_empty() {
            let joined = opts.subprotocols.join(", ");
            let v = HeaderValue::from_str(&joined)
                .map_err(|_| NetError::Usage(format!("invalid subprotocol list `{joined}`")))?;
            h.insert("sec-websocket-protocol", v);
        }
        if let Some(origin) = &opts.origin {
            let v = HeaderValue::from_str(origin)
                .map_err(|_| NetError::Usage(format!("invalid origin `{origin}`")))?;
            h.insert("origin", v);
        }
        for (k, v) in &opts.headers {
            h.append(k.clone(), v.clone());
        }
    }
    let path = uri
        .path_and_query()
        .map(|p| p.as_str().to_string())
        .unwrap_or_else(|| "/".into());
    let request_line = format!("GET {path} HTTP/1.1");
    let request_headers = header_pairs(request.headers());

    let connector = if tls {
        Connector::Rustls(tls::client_config(opts.insecure, opts.ca_file.as_deref())?)
    } else {
        Connector::Plain
    };
    // Below TLS: what the server first said, should its answer not be ours to
    // parse, and (without TLS, where it is readable) how it closed.
    let (tcp, seen) = Witness::new(tcp, !tls);
    let handshake = tokio_tungstenite::client_async_tls_with_config(
        request,
        tcp,
        Some(ws_config(opts.max_message_size, opts.read_buffer_size)),
        Some(connector),
    );
    let (ws, response) = tokio::time::timeout_at(deadline.into(), handshake)
        .await
        .map_err(|_| {
            timed_out(if tls {
                "TLS and WebSocket handshake"
            } else {
                "WebSocket handshake"
            })
        })?
        .map_err(|e| {
            let seen = seen.lock().map(|s| s.clone()).unwrap_or_default();
            match wrong_language(&e, tls, &seen, uri) {
                Some(said) => said,
                None => handshake_error(e, tls, &bare_host, peer, opts.ca_file.as_deref()),
            }
        })?;

    let status = response.status();
    let tls_info = match ws.get_ref() {
        MaybeTlsStream::Rustls(s) => tls::describe(
            s.get_ref().1.protocol_version(),
            s.get_ref().1.negotiated_cipher_suite(),
        ),
        _ => None,
    };
    let subprotocol = response
        .headers()
        .get("sec-websocket-protocol")
        .and_then(|v| v.to_str().ok())
        .map(str::to_string);
    Ok(Connected {
        ws,
        peer,
        path,
        tcp_time: tcp_done - started,
        handshake_time: tcp_done.elapsed(),
        handshake: Handshake {
            request_line,
            request_headers,
            status: format!(
                "{} {}",
                status.as_u16(),
                status.canonical_reason().unwrap_or("")
            ),
            response_headers: header_pairs(response.headers()),
            subprotocol,
            tls: tls_info,
            proxy: opts.proxy.as_ref().map(|p| p.shown()),
        },
    })
}

/// A handshake that failed because the server speaks something else than we
/// asked in: TLS to `ws://`, plain HTTP to `wss://`, or HTTP older than 1.1.
fn wrong_language(e: &WsError, tls: bool, seen: &[u8], uri: &Uri) -> Option<NetError> {
    use super::witness::{what_was_spoken, Spoke};
    // An answer tungstenite understood (a non-101 status, say) is worded elsewhere.
    if matches!(e, WsError::Http(_)) {
        return None;
    }
    let other_scheme = |scheme: &str| {
        let rest = uri.to_string();
        let rest = rest
            .split_once("://")
            .map(|(_, r)| r.to_string())
            .unwrap_or(rest);
        format!("{scheme}://{rest}")
    };
    match what_was_spoken(seen)? {
        Spoke::Tls if !tls => Some(NetError::WrongScheme(format!(
            "the server speaks TLS: use {}",
            other_scheme("wss")
        ))),
        Spoke::Http { status: said, .. } | Spoke::Text(said) if tls => {
            Some(NetError::WrongScheme(format!(
                "the server answered in plain text (`{}`), not TLS: use {}",
                crate::escape::escape_text(&said, 60),
                other_scheme("ws")
            )))
        }
        // Older than 1.1 (`python3 -m http.server`): tungstenite stops at the version.
        Spoke::Http { status, body } if !status.starts_with("HTTP/1.1") => {
            let shown = &body.as_bytes()[..body.len().min(200)];
            Some(NetError::NotUpgraded {
                status,
                body: if shown.is_empty() {
                    String::new()
                } else {
                    format!("; body: {}", crate::escape::escape_bytes(shown, usize::MAX))
                },
            })
        }
        _ => None,
    }
}

fn handshake_error(
    e: WsError,
    tls: bool,
    host: &str,
    peer: SocketAddr,
    ca: Option<&std::path::Path>,
) -> NetError {
    match e {
        WsError::Http(resp) => {
            let status = resp.status();
            let body = resp
                .body()
                .as_deref()
                .filter(|b| !b.is_empty())
                .map(|b| {
                    let shown = &b[..b.len().min(200)];
                    format!("; body: {}", crate::escape::escape_bytes(shown, usize::MAX))
                })
                .unwrap_or_default();
            NetError::NotUpgraded {
                status: format!(
                    "{} {}",
                    status.as_u16(),
                    status.canonical_reason().unwrap_or("")
                ),
                body,
            }
        }
        WsError::Tls(e) => NetError::Tls {
            host: host.to_string(),
            reason: e.to_string(),
        },
        WsError::Io(e) if tls => {
            let mut reason = e.to_string();
            let refused = e.get_ref().and_then(|i| i.downcast_ref::<rustls::Error>());
            if refused.is_some_and(tls::is_ca_used_as_end_entity) {
                reason = match ca {
                    Some(file) => format!(
                        "invalid peer certificate: CaUsedAsEndEntity (the server presents a CA certificate as its own, and not the one in --ca {}: to trust a CA certificate used as the server's own, --ca must hold exactly the server's certificate; or give the server a certificate without the CA flag)",
                        file.display()
                    ),
                    None => "invalid peer certificate: CaUsedAsEndEntity (the server presents a CA certificate as its own: trust exactly that certificate with --ca FILE, or skip checks with --insecure)".to_string(),
                };
            } else if reason.contains("UnknownIssuer") {
                reason.push_str(" (a self-signed or private CA? trust it with --ca FILE, or skip checks with --insecure)");
            }
            NetError::Tls {
                host: host.to_string(),
                reason,
            }
        }
        other => NetError::Handshake {
            addr: peer.to_string(),
            reason: other.to_string(),
        },
    }
}

/// Starts the connection task for a connection already made. It reports
/// `Opened` first, then every frame in order (waiting for room rather than
/// dropping), and `Closed` last. Without connect options it cannot reconnect.
pub fn spawn(
    conn: Connected,
    id: ConnId,
    opts: SessionOptions,
    events: mpsc::Sender<NetEvent>,
) -> (mpsc::Sender<NetCommand>, JoinHandle<()>) {
    supervise(None, Some(conn), id, opts, events)
}

/// Connects (unless `first` is given) and runs the connection; with
/// `opts.reconnect` and connect options, reconnects after every drop until told
/// to close. One command queue serves every connection in turn, so what is typed
/// while disconnected goes out after the next connect (and its init messages).
pub fn supervise(
    connect_opts: Option<ClientOptions>,
    first: Option<Connected>,
    first_id: ConnId,
    opts: SessionOptions,
    events: mpsc::Sender<NetEvent>,
) -> (mpsc::Sender<NetCommand>, JoinHandle<()>) {
    let (cmd_tx, cmd_rx) = mpsc::channel(256);
    let commands = cmd_tx.clone();
    let task = tokio::spawn(async move {
        Supervisor {
            connect_opts,
            outlet: Outlet {
                events,
                recorder: opts.recorder.clone(),
            },
            opts,
            commands,
            dice: super::faults::Dice::new(
                std::process::id() as u64 ^ Utc::now().timestamp_subsec_nanos() as u64,
            ),
        }
        .run(first, first_id, cmd_rx)
        .await
    });
    (cmd_tx, task)
}

/// Where a client's events go: the recording first (it must not miss one), then
/// whoever drives the client, waiting for room in both.
#[derive(Clone)]
struct Outlet {
    events: mpsc::Sender<NetEvent>,
    recorder: Option<crate::record::Recorder>,
}

impl Outlet {
    async fn emit(&self, ev: NetEvent) {
        if let Some(r) = &self.recorder {
            r.record(ev.clone()).await;
        }
        // A driver that went away just means nobody is watching.
        let _ = self.events.send(ev).await;
    }
}

struct Supervisor {
    connect_opts: Option<ClientOptions>,
    opts: SessionOptions,
    outlet: Outlet,
    commands: mpsc::Sender<NetCommand>,
    dice: super::faults::Dice,
}

impl Supervisor {
    async fn run(
        mut self,
        first: Option<Connected>,
        first_id: ConnId,
        mut cmd_rx: mpsc::Receiver<NetCommand>,
    ) {
        let mut held: VecDeque<NetCommand> = VecDeque::new();
        let last = self
            .connections(first, first_id, &mut cmd_rx, &mut held)
            .await;
        // No connection follows: what is still queued will never be sent; say so
        // rather than let it vanish.
        cmd_rx.close();
        while let Ok(cmd) = cmd_rx.try_recv() {
            held.push_back(cmd);
        }
        for cmd in held {
            if !matches!(cmd, NetCommand::Close(_)) {
                let reason = "the connection had ended before it could be sent";
                self.outlet
                    .emit(NetEvent::not_sent(last, cmd, reason))
                    .await;
            }
        }
    }

    /// Runs connections until one ends for good; returns the last one's id.
    async fn connections(
        &mut self,
        mut first: Option<Connected>,
        mut id: ConnId,
        cmd_rx: &mut mpsc::Receiver<NetCommand>,
        held: &mut VecDeque<NetCommand>,
    ) -> ConnId {
        let mut failures: u32 = 0;
        loop {
            let conn = match first.take() {
                Some(c) => Ok(c),
                None => match &self.connect_opts {
                    Some(c) => connect(c).await,
                    None => return id,
                },
            };
            let mut lost = 0;
            match conn {
                Ok(conn) => {
                    failures = 0;
                    let ended = self.session(conn, id, cmd_rx, held).await;
                    if ended.finished {
                        return id;
                    }
                    lost = ended.lost;
                }
                Err(e) => {
                    self.outlet
                        .emit(NetEvent::Error {
                            conn: Some(id),
                            ts: Utc::now(),
                            message: e.to_string(),
                        })
                        .await;
                    if matches!(e, NetError::Usage(_)) {
                        return id;
                    }
                }
            }
            let Some(max) = self.opts.reconnect.filter(|_| self.connect_opts.is_some()) else {
                return id;
            };
            failures += 1;
            let delay = backoff(failures, max, self.dice.unit());
            self.outlet
                .emit(NetEvent::Reconnecting {
                    conn: id + 1,
                    ts: Utc::now(),
                    attempt: failures,
                    delay,
                    lost,
                })
                .await;
            if !wait_for_retry(delay, cmd_rx, held).await {
                return id;
            }
            id += 1;
        }
    }

    async fn session(
        &mut self,
        conn: Connected,
        id: ConnId,
        cmd_rx: &mut mpsc::Receiver<NetCommand>,
        held: &mut VecDeque<NetCommand>,
    ) -> Ended {
        let counters = Arc::new(ConnCounters::default());
        self.outlet
            .emit(NetEvent::Opened(Box::new(Opened {
                conn: id,
                ts: Utc::now(),
                peer: conn.peer,
                path: conn.path,
                handshake: conn.handshake,
                counters: counters.clone(),
                commands: self.commands.clone(),
                faults: None,
            })))
            .await;
        let session = Session {
            id,
            ws: conn.ws,
            matcher: RttMatcher::new(self.opts.echo_prefix.as_deref()),
            opts: self.opts.clone(),
            outlet: self.outlet.clone(),
            counters,
            first_close: None,
            ping_seq: 0,
            awaiting_pong: None,
        };
        let ended = session.run(cmd_rx, held).await;
        self.outlet
            .emit(NetEvent::Closed {
                conn: id,
                ts: Utc::now(),
                close: ended.close.clone(),
                cause: ended.cause.clone(),
            })
            .await;
        ended
    }
}

/// Waits out a reconnect delay while keeping an eye on the commands: a close (or
/// nobody left to send any) ends the retries; anything else waits its turn.
/// False when there is to be no retry.
async fn wait_for_retry(
    delay: Duration,
    cmd_rx: &mut mpsc::Receiver<NetCommand>,
    held: &mut VecDeque<NetCommand>,
) -> bool {
    let until = tokio::time::Instant::now() + delay;
    loop {
        tokio::select! {
            _ = tokio::time::sleep_until(until) => return true,
            cmd = cmd_rx.recv(), if held.len() < HELD_WHILE_DOWN => match cmd {
                None | Some(NetCommand::Close(_)) => return false,
                Some(cmd) => held.push_back(cmd),
            },
        }
    }
}

/// Commands kept while disconnected; beyond this the queue itself waits.
const HELD_WHILE_DOWN: usize = 1024;

/// How a connection ended.
struct Ended {
    close: Option<CloseInfo>,
    cause: CloseCause,
    /// Sends whose echo never came: lost with the connection.
    lost: u64,
    /// Closed on purpose (or nobody is left to drive it): no reconnect.
    finished: bool,
}

struct Session {
    id: ConnId,
    ws: WsStream,
    opts: SessionOptions,
    matcher: RttMatcher,
    outlet: Outlet,
    counters: Arc<ConnCounters>,
    first_close: Option<(CloseInfo, CloseCause)>,
    ping_seq: u64,
    /// Since when our oldest unanswered ping has been waiting, for `--ping-timeout`.
    awaiting_pong: Option<tokio::time::Instant>,
}

impl Session {
    async fn run(
        mut self,
        commands: &mut mpsc::Receiver<NetCommand>,
        held: &mut VecDeque<NetCommand>,
    ) -> Ended {
        let (close, cause, commands_open) = self.exchange(commands, held).await;
        Ended {
            finished: cause == CloseCause::Local || !commands_open,
            lost: self.matcher.outstanding() as u64,
            close,
            cause,
        }
    }

    async fn exchange(
        &mut self,
        commands: &mut mpsc::Receiver<NetCommand>,
        held: &mut VecDeque<NetCommand>,
    ) -> (Option<CloseInfo>, CloseCause, bool) {
        let mut commands_open = true;
        // Setup first (every connect re-runs it), then what waited for a connection.
        let init: Vec<NetCommand> = self
            .opts
            .init
            .iter()
            .cloned()
            .map(NetCommand::Text)
            .collect();
        for cmd in init {
            if let Err(e) = self.send(cmd).await {
                return (None, CloseCause::Error(e), commands_open);
            }
        }
        // Each leaves the queue only once sent: a drop now keeps the rest for the next connection.
        while let Some(cmd) = held.front().cloned() {
            if let Err(e) = self.send(cmd).await {
                return (None, CloseCause::Error(e), commands_open);
            }
            held.pop_front();
        }
        let ping_timeout = self.opts.ping_timeout;
        let mut ping_timer = self.opts.ping_interval.map(|every| {
            let mut t = tokio::time::interval_at(tokio::time::Instant::now() + every, every);
            t.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
            t
        });
        let mut close_deadline: Option<tokio::time::Instant> = None;
        let error: Option<String> = loop {
            tokio::select! {
                biased;
                msg = self.ws.next() => {
                    let Some(msg) = msg else { break None };
                    match msg {
                        Ok(msg) => {
                            if let Err(e) = self.received(msg).await {
                                break Some(e);
                            }
                        }
                        Err(WsError::ConnectionClosed) => break None,
                        Err(e) => break Some(error_text(e, "server")),
                    }
                }
                cmd = commands.recv(), if commands_open => {
                    let cmd = cmd.unwrap_or_else(|| {
                        // Whoever drove us is gone: end politely.
                        commands_open = false;
                        NetCommand::Close(Some(CloseInfo::new(1000, "")))
                    });
                    let closing = matches!(cmd, NetCommand::Close(_));
                    if let Err(e) = self.send(cmd).await {
                        break Some(e);
                    }
                    if closing && close_deadline.is_none() {
                        close_deadline = Some(tokio::time::Instant::now() + CLOSE_TIMEOUT);
                    }
                }
                _ = async { ping_timer.as_mut().expect("guarded").tick().await }, if ping_timer.is_some() && self.first_close.is_none() => {
                    self.ping_seq += 1;
                    let payload = Bytes::from(format!("wsprobe-ping {}", self.ping_seq));
                    if let Err(e) = self.send(NetCommand::Ping(payload)).await {
                        break Some(e);
                    }
                }
                _ = async { tokio::time::sleep_until(close_deadline.expect("guarded")).await }, if close_deadline.is_some() => {
                    break Some(format!("the peer did not answer our close frame within {}", humantime::format_duration(CLOSE_TIMEOUT)));
                }
                _ = async {
                    let (since, after) = (self.awaiting_pong.expect("guarded"), ping_timeout.expect("guarded"));
                    tokio::time::sleep_until(since + after).await
                }, if self.awaiting_pong.is_some() && ping_timeout.is_some() && self.first_close.is_none() => {
                    break Some(format!("ping timeout: no pong within {} (--ping-timeout)", humantime::format_duration(ping_timeout.unwrap_or_default())));
                }
            }
        };
        let (close, cause) = match (self.first_close.take(), error) {
            (Some((close, CloseCause::Local)), Some(_)) => (Some(close), CloseCause::Local),
            (Some((close, cause)), _) => (Some(close), cause),
            (None, Some(e)) => (None, CloseCause::Error(e)),
            (None, None) => (
                None,
                CloseCause::Error("the server closed the connection without a close frame".into()),
            ),
        };
        (close, cause, commands_open)
    }

    async fn received(&mut self, msg: Message) -> Result<(), String> {
        let at = Instant::now();
        let Some((kind, payload, close)) = describe(&msg) else {
            return Ok(());
        };
        let rtt = self.matcher.received(kind, &payload, at);
        if kind == FrameKind::Pong {
            self.awaiting_pong = None;
        }
        // The peer opened the closing handshake: tungstenite answers it.
        let peer_first = kind == FrameKind::Close && self.first_close.is_none();
        let invalid = super::invalid_peer_close(&msg, || match self.ws.get_ref() {
            MaybeTlsStream::Plain(w) => w.peer_close(false),
            _ => None,
        });
        if peer_first {
            let info = close.clone().unwrap_or_else(|| CloseInfo::new(1005, ""));
            self.first_close = Some(match &invalid {
                Some(theirs) => (theirs.clone(), super::invalid_close_cause(theirs, "server")),
                None => (info, CloseCause::Peer),
            });
        }
        // Logged as it came, not as tungstenite rewrote it.
        let (in_payload, in_close) = match &invalid {
            Some(theirs) => (theirs.payload(), Some(theirs.clone())),
            None => (payload.clone(), close.clone()),
        };
        self.report(Direction::In, kind, in_payload, in_close, rtt)
            .await;
        match msg {
            Message::Ping(p) => {
                // tungstenite has queued the pong; it leaves with the next write or read.
                self.report(Direction::Out, FrameKind::Pong, p, None, None)
                    .await;
            }
            Message::Close(frame) if peer_first => {
                // tungstenite answers with the same close frame (1002 for an invalid code).
                self.report(
                    Direction::Out,
                    FrameKind::Close,
                    payload,
                    frame.as_ref().map(|_| close.clone()).unwrap_or(None),
                    None,
                )
                .await;
            }
            Message::Text(_) | Message::Binary(_) if self.opts.echo => {
                self.report(Direction::Out, kind, payload, None, None).await;
                match self.ws.send(msg).await {
                    Ok(()) | Err(WsError::ConnectionClosed) => {}
                    Err(e) => return Err(error_text(e, "server")),
                }
            }
            _ => {}
        }
        Ok(())
    }

    async fn send(&mut self, cmd: NetCommand) -> Result<(), String> {
        if let NetCommand::Close(c) = &cmd {
            if self.first_close.is_some() {
                return Ok(());
            }
            let info = c.clone().unwrap_or_else(|| CloseInfo::new(1005, ""));
            self.first_close = Some((info, CloseCause::Local));
        } else if let Some((_, cause)) = &self.first_close {
            // Nothing may follow a close frame: what was asked for now never leaves.
            let reason = match cause {
                CloseCause::Peer => "the server had already sent its close frame",
                _ => "the connection was already closing",
            };
            self.outlet
                .emit(NetEvent::not_sent(self.id, cmd, reason))
                .await;
            return Ok(());
        }
        let msg = cmd.into_message();
        let Some((kind, payload, close)) = describe(&msg) else {
            return Ok(());
        };
        match self.ws.send(msg).await {
            Ok(()) => {}
            Err(WsError::ConnectionClosed | WsError::AlreadyClosed) if kind == FrameKind::Close => {
                return Ok(())
            }
            Err(e) => {
                let reason = error_text(e, "server");
                if kind != FrameKind::Close {
                    let unsent = NetEvent::NotSent {
                        conn: self.id,
                        ts: Utc::now(),
                        kind,
                        payload,
                        reason: reason.clone(),
                    };
                    self.outlet.emit(unsent).await;
                }
                return Err(reason);
            }
        }
        // Stamped after the write: the RTT is the peer's and the network's, not our queue's.
        self.matcher.sent(kind, payload.clone(), Instant::now());
        if kind == FrameKind::Ping && self.awaiting_pong.is_none() {
            self.awaiting_pong = Some(tokio::time::Instant::now());
        }
        self.report(Direction::Out, kind, payload, close, None)
            .await;
        Ok(())
    }

    async fn report(
        &mut self,
        dir: Direction,
        kind: FrameKind,
        payload: Bytes,
        close: Option<CloseInfo>,
        rtt: Option<super::Rtt>,
    ) {
        let mut one = CounterSnapshot::default();
        one.count(dir, payload.len());
        self.counters.add(&one);
        let ev = NetEvent::Frame(Frame {
            conn: self.id,
            ts: Utc::now(),
            dir,
            kind,
            payload,
            close,
            rtt,
        });
        self.outlet.emit(ev).await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls() {
        assert!(parse_ws_url("ws://127.0.0.1:8765").is_ok());
        assert!(parse_ws_url("wss://example.com/a?b=c").is_ok());
        assert!(parse_ws_url("ws://[::1]:9/").is_ok());
        assert!(parse_ws_url("127.0.0.1:8765")
            .unwrap_err()
            .contains("no scheme"));
        assert!(parse_ws_url("http://x").unwrap_err().contains("HTTP URL"));
        assert!(parse_ws_url("ftp://x")
            .unwrap_err()
            .contains("unsupported scheme"));
        assert!(parse_ws_url("ws://").is_err());
    }

    #[test]
    fn headers() {
        let (k, v) = parse_header("X-Token:  abc ").unwrap();
        assert_eq!(k.as_str(), "x-token");
        assert_eq!(v.to_str().unwrap(), "abc");
        assert!(parse_header("no colon").is_err());
        assert!(parse_header("bad name: x").is_err());
        assert!(parse_header("X: a\nb").is_err());
    }
}
