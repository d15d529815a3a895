//! The network side: echo server, client and the event vocabulary they share.
//!
//! Network tasks own the sockets and report what happens as [`NetEvent`]s; whoever
//! drives them (the dashboard, the headless printers, tests) answers with
//! [`NetCommand`]s. Nothing in here knows about terminals.

pub mod client;
pub mod dice;
pub mod inbox;
pub mod proxy;
pub mod relay;
pub mod rtt;
pub mod server;
pub mod speak;
pub mod tls;
pub mod witness;

use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use crate::net::inbox::Outbox;
use bytes::Bytes;
use chrono::{DateTime, Utc};
use tokio::sync::mpsc;
use tokio_tungstenite::tungstenite::protocol::frame::coding::CloseCode;
use tokio_tungstenite::tungstenite::protocol::{CloseFrame, WebSocketConfig};
use tokio_tungstenite::tungstenite::Message;

/// Where a recording hears of one side's events. Lossless: net waits for room
/// (`send(ev).await`), so a recording loses nothing; the echo slows to the disk's
/// pace instead. Both sides share one queue, so what reads it sees the events in
/// the order they were handed over.
#[derive(Clone, Debug)]
pub struct Tap {
    side: Side,
    queue: mpsc::Sender<(Side, NetEvent)>,
}

impl Tap {
    pub fn new(side: Side, queue: mpsc::Sender<(Side, NetEvent)>) -> Tap {
        Tap { side, queue }
    }

    /// Hands an event over, waiting for room; the event comes back when no
    /// one reads the queue any more.
    pub async fn send(&self, ev: NetEvent) -> Result<(), NetEvent> {
        self.send_as(self.side, ev).await
    }

    /// Hands over an event of the other side (a relay's two legs share a tap).
    pub async fn send_as(&self, side: Side, ev: NetEvent) -> Result<(), NetEvent> {
        self.queue.send((side, ev)).await.map_err(|e| e.0 .1)
    }
}

/// Identifies one connection for the lifetime of a server or client.
pub type ConnId = u64;

/// Which side of wsprobe saw an event: its echo server or its client (the demo
/// and a recording of it have both). The dashboard shows each side in a pane.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Side {
    Server,
    Client,
}

impl Side {
    pub fn as_str(self) -> &'static str {
        match self {
            Side::Server => "server",
            Side::Client => "client",
        }
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Direction {
    In,
    Out,
}

impl Direction {
    pub fn as_str(self) -> &'static str {
        match self {
            Direction::In => "in",
            Direction::Out => "out",
        }
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum FrameKind {
    Text,
    Binary,
    Ping,
    Pong,
    Close,
}

impl FrameKind {
    pub fn as_str(self) -> &'static str {
        match self {
            FrameKind::Text => "text",
            FrameKind::Binary => "binary",
            FrameKind::Ping => "ping",
            FrameKind::Pong => "pong",
            FrameKind::Close => "close",
        }
    }

    /// The kind named as [`FrameKind::as_str`] names it.
    pub fn from_name(name: &str) -> Option<FrameKind> {
        Some(match name {
            "text" => FrameKind::Text,
            "binary" => FrameKind::Binary,
            "ping" => FrameKind::Ping,
            "pong" => FrameKind::Pong,
            "close" => FrameKind::Close,
            _ => return None,
        })
    }

    pub fn is_data(self) -> bool {
        matches!(self, FrameKind::Text | FrameKind::Binary)
    }
}

/// A close frame's code and reason.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CloseInfo {
    pub code: u16,
    pub reason: String,
    /// The peer sent a code that may not appear on the wire (1005, 5000, …);
    /// tungstenite answered 1002 for it.
    pub invalid: bool,
}

impl CloseInfo {
    pub fn new(code: u16, reason: impl Into<String>) -> Self {
        CloseInfo {
            code,
            reason: reason.into(),
            invalid: false,
        }
    }

    /// A code the peer sent although no one may send it.
    pub fn invalid(code: u16, reason: impl Into<String>) -> Self {
        CloseInfo {
            invalid: true,
            ..CloseInfo::new(code, reason)
        }
    }

    /// The code's name, and whether it was invalid: `Normal Closure`,
    /// `No Status Received (invalid on the wire)`.
    pub fn name(&self) -> String {
        let name = close_code_name(self.code);
        if self.invalid {
            format!("{name} (invalid on the wire)")
        } else {
            name.to_string()
        }
    }

    /// The close frame's payload as it goes on the wire: code, then reason.
    pub fn payload(&self) -> Bytes {
        let mut v = self.code.to_be_bytes().to_vec();
        v.extend_from_slice(self.reason.as_bytes());
        Bytes::from(v)
    }

    pub fn to_frame(&self) -> CloseFrame {
        CloseFrame {
            code: CloseCode::from(self.code),
            reason: self.reason.clone().into(),
        }
    }

    fn from_frame(frame: &CloseFrame) -> Self {
        CloseInfo::new(u16::from(frame.code), frame.reason.to_string())
    }
}

/// The RFC 6455 name of a close code, for people reading a log.
pub fn close_code_name(code: u16) -> &'static str {
    match code {
        1000 => "Normal Closure",
        1001 => "Going Away",
        1002 => "Protocol Error",
        1003 => "Unsupported Data",
        1005 => "No Status Received",
        1006 => "Abnormal Closure",
        1007 => "Invalid Payload Data",
        1008 => "Policy Violation",
        1009 => "Message Too Big",
        1010 => "Mandatory Extension",
        1011 => "Internal Error",
        1012 => "Service Restart",
        1013 => "Try Again Later",
        1014 => "Bad Gateway",
        1015 => "TLS Handshake",
        3000..=3999 => "Registered",
        4000..=4999 => "Private Use",
        _ => "Unknown",
    }
}

/// Which round trip an RTT measures.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RttKind {
    /// A data message that came back (possibly behind an echo prefix).
    Echo,
    /// A ping answered by its pong.
    Ping,
    /// A request answered by the server's reply (a relayed one, a protocol's).
    Reply,
    /// A reply to what a client's protocol said by itself to set the
    /// connection up (a namespace joined, a CONNECT): timed, but answering
    /// nothing the user sent.
    Setup,
}

impl RttKind {
    /// A request→reply latency (as opposed to an echo's or a ping's round trip).
    pub fn is_reply(self) -> bool {
        matches!(self, RttKind::Reply | RttKind::Setup)
    }
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Rtt {
    pub kind: RttKind,
    pub duration: Duration,
    /// The method or event of the request a reply answers, when a protocol
    /// names it.
    pub label: Option<std::sync::Arc<str>>,
}

/// One frame as it crossed the wire. The payload is shared, not copied.
#[derive(Clone, Debug)]
pub struct Frame {
    pub conn: ConnId,
    pub ts: DateTime<Utc>,
    pub dir: Direction,
    pub kind: FrameKind,
    pub payload: Bytes,
    pub close: Option<CloseInfo>,
    pub rtt: Option<Rtt>,
    /// A data message's number in its direction on its connection, counted from
    /// 1 as the frame layer counts them (0: a control frame, or not counted).
    pub message: u64,
}

impl Frame {
    pub fn len(&self) -> usize {
        self.payload.len()
    }

    pub fn is_empty(&self) -> bool {
        self.payload.is_empty()
    }
}

/// What was said during the opening handshake, as it was sent.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Handshake {
    /// e.g. `GET /chat?room=1 HTTP/1.1`
    pub request_line: String,
    pub request_headers: Vec<(String, String)>,
    /// e.g. `101 Switching Protocols`
    pub status: String,
    pub response_headers: Vec<(String, String)>,
    pub subprotocol: Option<String>,
    /// TLS version and cipher suite, for wss:// connections.
    pub tls: Option<String>,
    /// The HTTP CONNECT proxy the connection went through, password hidden.
    pub proxy: Option<String>,
    /// The permessage-deflate parameters agreed on, when compression is on.
    pub deflate: Option<crate::frames::Params>,
}

/// Counters kept by the connection task itself, so they stay exact even when the
/// screen cannot keep up with the frames.
#[derive(Debug, Default)]
pub struct ConnCounters {
    pub frames_in: AtomicU64,
    pub frames_out: AtomicU64,
    pub bytes_in: AtomicU64,
    pub bytes_out: AtomicU64,
}

#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct CounterSnapshot {
    pub frames_in: u64,
    pub frames_out: u64,
    pub bytes_in: u64,
    pub bytes_out: u64,
}

impl ConnCounters {
    pub fn add(&self, batch: &CounterSnapshot) {
        if batch.frames_in > 0 {
            self.frames_in.fetch_add(batch.frames_in, Ordering::Relaxed);
            self.bytes_in.fetch_add(batch.bytes_in, Ordering::Relaxed);
        }
        if batch.frames_out > 0 {
            self.frames_out
                .fetch_add(batch.frames_out, Ordering::Relaxed);
            self.bytes_out.fetch_add(batch.bytes_out, Ordering::Relaxed);
        }
    }

    pub fn snapshot(&self) -> CounterSnapshot {
        CounterSnapshot {
            frames_in: self.frames_in.load(Ordering::Relaxed),
            frames_out: self.frames_out.load(Ordering::Relaxed),
            bytes_in: self.bytes_in.load(Ordering::Relaxed),
            bytes_out: self.bytes_out.load(Ordering::Relaxed),
        }
    }
}

/// Messages a server echoed in its frame layer, past tungstenite, count as
/// every other echo does.
impl crate::frames::through::Tally for ConnCounters {
    fn passed(&self, len: u64) {
        self.add(&CounterSnapshot {
            frames_in: 1,
            frames_out: 1,
            bytes_in: len,
            bytes_out: len,
        });
    }
}

impl std::ops::AddAssign for CounterSnapshot {
    fn add_assign(&mut self, o: CounterSnapshot) {
        self.frames_in += o.frames_in;
        self.frames_out += o.frames_out;
        self.bytes_in += o.bytes_in;
        self.bytes_out += o.bytes_out;
    }
}

impl CounterSnapshot {
    pub fn count(&mut self, dir: Direction, len: usize) {
        match dir {
            Direction::In => {
                self.frames_in += 1;
                self.bytes_in += len as u64;
            }
            Direction::Out => {
                self.frames_out += 1;
                self.bytes_out += len as u64;
            }
        }
    }

    pub fn is_zero(&self) -> bool {
        self.frames_in == 0 && self.frames_out == 0
    }
}

/// A connection that completed its opening handshake.
#[derive(Clone, Debug)]
pub struct Opened {
    pub conn: ConnId,
    pub ts: DateTime<Utc>,
    pub peer: SocketAddr,
    /// Request path and query, e.g. `/chat?room=1`.
    pub path: String,
    pub handshake: Handshake,
    pub counters: Arc<ConnCounters>,
    /// Talks to the connection's task: send, ping, close.
    pub commands: Outbox<NetCommand>,
    /// Faults the server injects on this connection, described.
    pub faults: Option<String>,
}

/// What a relay did to one message (reported on the leg it came from).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Steered {
    pub conn: ConnId,
    pub ts: DateTime<Utc>,
    /// The held message's number, relay-wide (0 for a fault on a message not held).
    pub id: u64,
    pub what: SteerEvent,
    pub kind: FrameKind,
    pub payload: Bytes,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum SteerEvent {
    /// Held, and why: `paused`, `breakpoint`.
    Held(String),
    /// A held message passed on; `edited` when its payload was replaced.
    Forwarded { edited: bool },
    /// Not passed on, and why: `by the user`, `fault: drop 5%`.
    Dropped(String),
    /// Passed on this much later (a delay fault).
    Delayed(Duration),
    /// Passed on split into this many frames (a fragment fault).
    Fragmented(usize),
}

impl SteerEvent {
    /// The record's event name.
    pub fn name(&self) -> &'static str {
        match self {
            SteerEvent::Held(_) => "held",
            SteerEvent::Forwarded { .. } => "forwarded",
            SteerEvent::Dropped(_) => "dropped",
            SteerEvent::Delayed(_) => "delayed",
            SteerEvent::Fragmented(_) => "fragmented",
        }
    }
}

/// A server's permessage-deflate answer to the offers in a request's headers.
pub(crate) fn deflate_answer(
    headers: &tokio_tungstenite::tungstenite::http::HeaderMap,
) -> Option<crate::frames::Params> {
    crate::frames::Params::answer(
        headers
            .get_all("sec-websocket-extensions")
            .iter()
            .filter_map(|v| v.to_str().ok()),
    )
}

/// Frames as they crossed the wire, logged by the frame layer since the last
/// batch (only when someone asked: `--frames`, the dashboard).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Wire {
    pub conn: ConnId,
    pub ts: DateTime<Utc>,
    pub frames: Vec<crate::frames::FrameInfo>,
    /// Frames logged but pushed out before they were taken (a flood).
    pub lost: u64,
}

/// Offers what a connection's frame layer logged since it was last asked, as one
/// event; frames `offer` could not hand over are counted as lost in the log.
pub(crate) fn offer_wire(
    conn: ConnId,
    log: Option<&crate::frames::FrameLog>,
    offer: impl FnOnce(NetEvent) -> bool,
) {
    let Some(log) = log else {
        return;
    };
    let (frames, lost) = crate::frames::drain(log);
    if frames.is_empty() && lost == 0 {
        return;
    }
    let n = frames.len() as u64;
    let ts = frames.first().map_or_else(Utc::now, |f| f.at);
    let ev = NetEvent::Wire(Wire {
        conn,
        ts,
        frames,
        lost,
    });
    if !offer(ev) {
        crate::frames::lost(log, n + lost);
    }
}

/// Why a connection ended.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum CloseCause {
    /// We sent the first close frame.
    Local,
    /// The peer sent the first close frame.
    Peer,
    /// No close handshake: reset, EOF, protocol error, timeout.
    Error(String),
}

#[derive(Clone, Debug)]
pub enum NetEvent {
    Opened(Box<Opened>),
    Frame(Frame),
    Closed {
        conn: ConnId,
        ts: DateTime<Utc>,
        /// The first close frame of the handshake, whoever sent it.
        close: Option<CloseInfo>,
        cause: CloseCause,
    },
    /// `--reconnect`: the connection is gone and attempt `attempt` to make
    /// connection `conn` follows after `delay`.
    Reconnecting {
        conn: ConnId,
        ts: DateTime<Utc>,
        attempt: u32,
        delay: std::time::Duration,
        /// Sends of the dropped connection whose echo never came.
        lost: u64,
    },
    /// A message we were asked to send that never went on the wire: the
    /// connection was closing or closed (by the peer's close frame, or gone).
    NotSent {
        conn: ConnId,
        ts: DateTime<Utc>,
        kind: FrameKind,
        payload: Bytes,
        reason: String,
    },
    /// A client that connected and left before finishing its WebSocket handshake
    /// (port probes, health checks): not an error, counted apart.
    LeftBeforeHandshake {
        ts: DateTime<Utc>,
        peer: SocketAddr,
    },
    /// A relay held a message, let it go, dropped it or faulted it.
    Steered(Steered),
    /// Frames as they crossed the wire (the frame view).
    Wire(Wire),
    /// Something went wrong that is worth telling but did not end a connection
    /// (or happened before one existed: a failed handshake).
    Error {
        conn: Option<ConnId>,
        ts: DateTime<Utc>,
        message: String,
    },
}

impl NetEvent {
    /// When it happened.
    pub fn ts(&self) -> DateTime<Utc> {
        match self {
            NetEvent::Opened(o) => o.ts,
            NetEvent::Frame(f) => f.ts,
            NetEvent::Steered(s) => s.ts,
            NetEvent::Wire(w) => w.ts,
            NetEvent::Closed { ts, .. }
            | NetEvent::Reconnecting { ts, .. }
            | NetEvent::NotSent { ts, .. }
            | NetEvent::LeftBeforeHandshake { ts, .. }
            | NetEvent::Error { ts, .. } => *ts,
        }
    }

    /// A command that will never be sent, as the event that says so.
    pub fn not_sent(conn: ConnId, cmd: NetCommand, reason: &str) -> NetEvent {
        let (kind, payload) = match cmd {
            NetCommand::Text(t) => (FrameKind::Text, Bytes::from(t)),
            NetCommand::Binary(b) => (FrameKind::Binary, b),
            NetCommand::Ping(p) => (FrameKind::Ping, p),
            NetCommand::Close(c) => (FrameKind::Close, c.map(|c| c.payload()).unwrap_or_default()),
            NetCommand::Raw(frames) => (
                FrameKind::Binary,
                Bytes::from(
                    frames
                        .iter()
                        .flat_map(|f| f.payload.to_vec())
                        .collect::<Vec<u8>>(),
                ),
            ),
        };
        NetEvent::NotSent {
            conn,
            ts: Utc::now(),
            kind,
            payload,
            reason: reason.to_string(),
        }
    }
}

/// A failed read or write as a person would put it; `peer` names the other
/// side ("server" for the client, "peer" for the server).
pub(crate) fn error_text(e: tokio_tungstenite::tungstenite::Error, peer: &str) -> String {
    use tokio_tungstenite::tungstenite::error::ProtocolError;
    use tokio_tungstenite::tungstenite::Error as WsError;
    match e {
        WsError::Capacity(c) => format!(
            "the {peer} sent a message larger than allowed ({c}); raise --max-message-size to accept it"
        ),
        WsError::Protocol(ProtocolError::ResetWithoutClosingHandshake) => {
            format!("the {peer} closed the connection without a close frame")
        }
        WsError::Protocol(ProtocolError::InvalidCloseSequence) => format!(
            "the {peer} sent a close frame with a 1-byte payload (a close code takes 2 bytes)"
        ),
        WsError::Protocol(p) => format!("protocol error: {p}"),
        WsError::Utf8(_) => format!("the {peer} sent a text message that is not valid UTF-8"),
        WsError::Io(io) => match io.kind() {
            std::io::ErrorKind::ConnectionReset => {
                format!("the connection was reset by the {peer}")
            }
            // Over TLS, rustls reports a missing close_notify as an unexpected EOF.
            std::io::ErrorKind::UnexpectedEof | std::io::ErrorKind::BrokenPipe => {
                format!("the {peer} closed the connection without a close frame")
            }
            _ => format!("connection error: {io}"),
        },
        other => other.to_string(),
    }
}

/// The close frame tungstenite hands over when the peer's code may not be sent:
/// it answers 1002 and reports that instead of what came.
fn replaced_close(frame: &CloseFrame) -> bool {
    u16::from(frame.code) == 1002 && frame.reason.as_str() == "Protocol violation"
}

/// What the peer really sent, when tungstenite replaced an invalid close code.
pub(crate) fn invalid_peer_close(
    msg: &Message,
    raw: impl FnOnce() -> Option<witness::RawClose>,
) -> Option<CloseInfo> {
    let Message::Close(Some(frame)) = msg else {
        return None;
    };
    if !replaced_close(frame) {
        return None;
    }
    let raw = raw()?;
    let code = raw.code()?;
    (!CloseCode::from(code).is_allowed()).then(|| CloseInfo::invalid(code, raw.reason()))
}

/// How a connection that closed with an invalid code ended.
pub(crate) fn invalid_close_cause(theirs: &CloseInfo, peer: &str) -> CloseCause {
    CloseCause::Error(format!(
        "the {peer} sent close code {}, which may not be sent; answered 1002 Protocol Error",
        theirs.code
    ))
}

/// What a driver can ask a connection to do.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum NetCommand {
    Text(String),
    Binary(Bytes),
    Ping(Bytes),
    Close(Option<CloseInfo>),
    /// Frames of the user's own shape (`/frame`, `/frag`), put on the wire as
    /// they are, between tungstenite's frames.
    Raw(Vec<RawFrame>),
}

/// One frame to send as it is: any opcode, FIN and RSV bits, any payload.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RawFrame {
    pub opcode: u8,
    pub fin: bool,
    /// RSV1-3 as three bits, RSV1 the highest.
    pub rsv: u8,
    pub payload: Bytes,
}

impl RawFrame {
    /// The data message these frames make, when they make exactly one: a text
    /// or binary frame, continuations, the last one FIN (control frames between).
    pub fn message(frames: &[RawFrame]) -> Option<(FrameKind, Bytes)> {
        use crate::frames::head::{BINARY, CONTINUATION, TEXT};
        let mut data = frames.iter().filter(|f| f.opcode & 0x8 == 0);
        let first = data.next()?;
        let kind = match first.opcode {
            TEXT => FrameKind::Text,
            BINARY => FrameKind::Binary,
            _ => return None,
        };
        let mut payload = first.payload.to_vec();
        let mut fin = first.fin;
        for f in data {
            if fin || f.opcode != CONTINUATION {
                return None;
            }
            payload.extend_from_slice(&f.payload);
            fin = f.fin;
        }
        fin.then(|| (kind, Bytes::from(payload)))
    }

    pub fn head(&self) -> crate::frames::head::Head {
        crate::frames::head::Head {
            rsv: self.rsv,
            ..crate::frames::head::Head::new(self.opcode, self.fin, self.payload.len() as u64)
        }
    }
}

/// Tungstenite's default read buffer is 128 KiB per connection, allocated up front;
/// idle connections must be cheap. It also caps one read call, so larger is faster
/// for large messages (see the README's Performance section for the trade).
pub const READ_BUFFER_SIZE: usize = 4 * 1024;
/// What a busy server connection's read buffer grows to (`--read-buffer`).
pub const MAX_READ_BUFFER_SIZE: usize = 256 * 1024;
/// The interactive client's read size: one connection can afford more than the
/// server's per-connection buffer, and large messages arrive in fewer reads.
pub const CLIENT_READ_BUFFER_SIZE: usize = 16 * 1024;
/// The default limit on one message, as tungstenite's.
pub const DEFAULT_MAX_MESSAGE_SIZE: usize = 64 << 20;

pub fn ws_config(max_message_size: usize, read_buffer_size: usize) -> WebSocketConfig {
    WebSocketConfig::default()
        .read_buffer_size(read_buffer_size.max(256))
        .max_message_size(Some(max_message_size))
        .max_frame_size(Some(max_message_size))
}

/// The payload size as a frame reports it, without building the frame.
pub(crate) fn payload_len(msg: &Message) -> usize {
    match msg {
        Message::Close(Some(c)) => 2 + c.reason.len(),
        Message::Close(None) => 0,
        m => m.len(),
    }
}

/// A data message's payload; None for control frames.
pub(crate) fn data_payload(msg: &Message) -> Option<&[u8]> {
    match msg {
        Message::Text(t) => Some(t.as_bytes()),
        Message::Binary(b) => Some(b),
        _ => None,
    }
}

/// Splits a tungstenite message into the parts a [`Frame`] reports.
fn describe(msg: &Message) -> Option<(FrameKind, Bytes, Option<CloseInfo>)> {
    Some(match msg {
        Message::Text(t) => (FrameKind::Text, Bytes::from(t.clone()), None),
        Message::Binary(b) => (FrameKind::Binary, b.clone(), None),
        Message::Ping(p) => (FrameKind::Ping, p.clone(), None),
        Message::Pong(p) => (FrameKind::Pong, p.clone(), None),
        Message::Close(c) => {
            let info = c.as_ref().map(CloseInfo::from_frame);
            let payload = match &info {
                Some(i) => i.payload(),
                None => Bytes::new(),
            };
            (FrameKind::Close, payload, info)
        }
        Message::Frame(_) => return None,
    })
}

impl NetCommand {
    /// The message tungstenite sends for it; raw frames are not one.
    pub fn into_message(self) -> Result<Message, Vec<RawFrame>> {
        Ok(match self {
            NetCommand::Text(t) => Message::text(t),
            NetCommand::Binary(b) => Message::Binary(b),
            NetCommand::Ping(p) => Message::Ping(p),
            NetCommand::Close(c) => Message::Close(c.map(|c| c.to_frame())),
            NetCommand::Raw(frames) => return Err(frames),
        })
    }
}

/// Puts raw frames on the wire through the frame layer, between tungstenite's.
pub(crate) async fn send_raw<S>(
    ws: &mut tokio_tungstenite::WebSocketStream<crate::frames::Frames<S>>,
    frames: &[RawFrame],
) -> Result<(), tokio_tungstenite::tungstenite::Error>
where
    S: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin,
{
    use futures_util::SinkExt;
    for f in frames {
        ws.get_mut().inject(f.head(), &f.payload);
    }
    ws.flush().await
}

/// Headers as displayable pairs; non-UTF-8 values are shown lossily.
fn header_pairs(
    headers: &tokio_tungstenite::tungstenite::http::HeaderMap,
) -> Vec<(String, String)> {
    headers
        .iter()
        .map(|(k, v)| {
            (
                k.as_str().to_string(),
                String::from_utf8_lossy(v.as_bytes()).into_owned(),
            )
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_invalid_close_code_says_so_where_it_is_named() {
        assert_eq!(CloseInfo::new(1000, "").name(), "Normal Closure");
        assert_eq!(
            CloseInfo::invalid(1005, "").name(),
            "No Status Received (invalid on the wire)"
        );
    }
}
