//! The stream wrapper under tungstenite. Each direction's bytes are walked frame
//! by frame: what was seen is logged (when someone asked), compressed messages
//! are inflated before tungstenite reads them and deflated after it writes them,
//! pongs can be kept in (`--no-pong`), and raw frames of the user's own are put
//! out between tungstenite's. When none of that is asked for, bytes pass untouched.

use std::io;
use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};

use chrono::{DateTime, Utc};
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};

use super::boundary::Boundary;
use super::deflate::{Codec, InflateError, Params, Role};
use super::head::{apply_mask, Head, CLOSE, CONTINUATION, MAX_HEAD, PONG, RSV1};
use super::through::{PassOn, Through};

/// One frame as it crossed the wire.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FrameInfo {
    pub at: DateTime<Utc>,
    pub outgoing: bool,
    pub opcode: u8,
    pub fin: bool,
    /// RSV1-3 as three bits, RSV1 the highest.
    pub rsv: u8,
    pub mask: Option<[u8; 4]>,
    /// The payload's length on the wire.
    pub wire_len: u64,
    /// Its length inflated (the same as on the wire when not compressed).
    pub len: u64,
    /// For a close frame: the code and reason exactly as sent (no code: `None`).
    pub close: Option<(Option<u16>, String)>,
    /// The data message it belongs to, counted from 1 in its direction (0: none
    /// started yet); a control frame carries the count so far.
    pub message: u64,
    /// Put out by the user as a raw frame, not by tungstenite.
    pub injected: bool,
}

/// How many frames wait for their reader before the oldest are counted lost.
const LOG_CAP: usize = 4096;

#[derive(Default, Debug)]
pub struct FrameBuf {
    pub frames: std::collections::VecDeque<FrameInfo>,
    pub lost: u64,
}

/// Where the frames seen are left for the connection task to take.
pub type FrameLog = Arc<Shared>;

/// The log, and whether its connection rests from logging (the screen cannot
/// take more): shared by a stream and whoever reports for it, split or not.
#[derive(Default, Debug)]
pub struct Shared {
    frames: Mutex<FrameBuf>,
    resting: std::sync::atomic::AtomicBool,
}

impl Shared {
    fn lock(&self) -> std::sync::LockResult<std::sync::MutexGuard<'_, FrameBuf>> {
        self.frames.lock()
    }

    /// Frames go unlogged (counted as lost) while `on`.
    pub fn rest(&self, on: bool) {
        self.resting.store(on, std::sync::atomic::Ordering::Relaxed);
    }

    fn resting(&self) -> bool {
        self.resting.load(std::sync::atomic::Ordering::Relaxed)
    }
}

/// Takes everything logged so far.
pub fn drain(log: &FrameLog) -> (Vec<FrameInfo>, u64) {
    match log.lock() {
        Ok(mut b) => {
            let lost = std::mem::take(&mut b.lost);
            let frames = b.frames.drain(..).collect();
            // A flood's worth of room is given back once it is over.
            b.frames.shrink_to(64);
            (frames, lost)
        }
        Err(_) => (Vec::new(), 0),
    }
}

/// Frames taken from the log that never reached anyone: counted as lost.
pub fn lost(log: &FrameLog, n: u64) {
    if let Ok(mut b) = log.lock() {
        b.lost += n;
    }
}

/// How permessage-deflate is decided.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum DeflateSetup {
    #[default]
    Off,
    /// From the `Sec-WebSocket-Extensions` of the handshake's response, which
    /// a client reads and a server writes through this stream.
    FromHandshake,
    /// Already negotiated (the handshake went by before the stream was wrapped).
    Fixed(Params),
}

#[derive(Clone, Debug)]
pub struct FrameOptions {
    pub role: Role,
    pub log: Option<FrameLog>,
    pub deflate: DeflateSetup,
    pub no_pong: bool,
    /// The largest message tungstenite takes; nothing inflates past it.
    pub max_message_size: usize,
}

impl FrameOptions {
    pub fn new(role: Role, max_message_size: usize) -> FrameOptions {
        FrameOptions {
            role,
            log: None,
            deflate: DeflateSetup::Off,
            no_pong: false,
            max_message_size,
        }
    }
}

/// Where a direction's walk stands.
#[derive(Default)]
struct Walker {
    /// The HTTP head, while it is still coming (`None` once frames begin).
    http: Option<Vec<u8>>,
    hdr: [u8; MAX_HEAD],
    have: usize,
    cur: Option<Head>,
    /// Payload bytes of `cur` walked so far.
    done: u64,
}

enum Step<'a> {
    /// Part of the HTTP head; `true` when it ends the head.
    Http(&'a [u8], bool),
    /// A whole header, with its bytes as they came.
    Head(Head, &'a [u8]),
    Payload,
    /// A header not yet whole: its bytes are kept.
    Partial,
}

/// The longest HTTP head looked at; a longer one is not a handshake we know.
const MAX_HTTP: usize = 64 * 1024;

impl Walker {
    fn new(http: bool) -> Walker {
        Walker {
            http: http.then(Vec::new),
            ..Walker::default()
        }
    }

    fn at_boundary(&self) -> bool {
        self.http.is_none() && self.have == 0 && self.cur.is_none_or(|h| self.done == h.len)
    }

    fn frame_done(&self) -> bool {
        self.cur.is_some_and(|h| self.done == h.len)
    }

    /// Walks the front of `buf`; returns what it was and how many bytes it took.
    fn step<'a>(&'a mut self, buf: &'a [u8]) -> (Step<'a>, usize) {
        if let Some(head) = &mut self.http {
            let before = head.len();
            let take = buf.len().min(MAX_HTTP.saturating_sub(before).max(1));
            head.extend_from_slice(&buf[..take]);
            let from = before.saturating_sub(3);
            if let Some(i) = head[from..].windows(4).position(|w| w == b"\r\n\r\n") {
                let end = from + i + 4 - before;
                head.truncate(before + end);
                return (Step::Http(&buf[..end], true), end);
            }
            if head.len() >= MAX_HTTP {
                // Not a head we can read: its bytes pass as they are.
                head.clear();
            }
            return (Step::Http(&buf[..take], false), take);
        }
        if let Some(h) = self.cur {
            if self.done < h.len {
                let n = (h.len - self.done).min(buf.len() as u64) as usize;
                self.done += n as u64;
                return (Step::Payload, n);
            }
            self.cur = None;
        }
        let mut used = 0;
        while used < buf.len() {
            let need = if self.have < 2 {
                2
            } else {
                Head::size([self.hdr[0], self.hdr[1]])
            };
            if self.have == need {
                break;
            }
            let n = (need - self.have).min(buf.len() - used);
            self.hdr[self.have..self.have + n].copy_from_slice(&buf[used..used + n]);
            self.have += n;
            used += n;
            if self.have >= 2 && self.have == Head::size([self.hdr[0], self.hdr[1]]) {
                break;
            }
        }
        let whole = self.have >= 2 && self.have == Head::size([self.hdr[0], self.hdr[1]]);
        if !whole {
            return (Step::Partial, used);
        }
        let head = Head::parse(&self.hdr[..self.have]);
        let size = self.have;
        self.have = 0;
        self.cur = Some(head);
        self.done = 0;
        (Step::Head(head, &self.hdr[..size]), used)
    }

    /// The head once it is complete (`http` taken).
    fn take_head(&mut self) -> Vec<u8> {
        self.http.take().unwrap_or_default()
    }
}

/// One direction: its walk, and the frame under way.
struct Lane {
    walker: Walker,
    outgoing: bool,
    message: u64,
    info: Option<FrameInfo>,
    /// A control frame's payload (at most 125 bytes), unmasked.
    control: Vec<u8>,
    /// The current frame is transcoded (inflated in, deflated out).
    transcode: bool,
    /// The current frame is dropped (a pong under `--no-pong`).
    drop: bool,
    /// Inside a message whose frames are transcoded.
    in_compressed: bool,
    /// The transcoded frame's payload: collected to deflate, or inflated.
    payload: Vec<u8>,
    /// What the message inflated to so far.
    message_len: usize,
    /// Room to unmask or deflate into, kept from frame to frame.
    scratch: Vec<u8>,
    /// Frames over, not yet in the log.
    seen: Vec<FrameInfo>,
    /// When this read or write came.
    now: Option<DateTime<Utc>>,
    /// Frames walked but not logged (the connection was resting).
    skipped: u64,
}

impl Lane {
    fn new(outgoing: bool, http: bool) -> Lane {
        Lane {
            walker: Walker::new(http),
            outgoing,
            message: 0,
            info: None,
            control: Vec::new(),
            transcode: false,
            drop: false,
            in_compressed: false,
            payload: Vec::new(),
            message_len: 0,
            scratch: Vec::new(),
            seen: Vec::new(),
            now: None,
            skipped: 0,
        }
    }

    /// Kept buffers stay small enough to cost nothing when the traffic is.
    fn trim(&mut self) {
        const KEEP: usize = 64 * 1024;
        if self.payload.capacity() > KEEP {
            self.payload = Vec::new();
        }
        if self.scratch.capacity() > KEEP {
            self.scratch = Vec::new();
        }
    }

    fn begin(&mut self, head: &Head, observe: bool, resting: bool) {
        if head.is_data_start() {
            self.message += 1;
        }
        self.control.clear();
        if !observe {
            self.skipped += u64::from(resting);
            return;
        }
        // One clock reading for all the frames one read or write brings.
        let at = *self.now.get_or_insert_with(Utc::now);
        self.info = Some(FrameInfo {
            at,
            outgoing: self.outgoing,
            opcode: head.opcode,
            fin: head.fin,
            rsv: head.rsv,
            mask: head.mask,
            wire_len: head.len,
            len: head.len,
            close: None,
            message: self.message,
            injected: false,
        });
    }

    /// Hands the frames this call walked to the log, under one lock.
    fn publish(&mut self, log: &Option<FrameLog>) {
        self.now = None;
        if self.seen.is_empty() && self.skipped == 0 {
            return;
        }
        if let Some(Ok(mut b)) = log.as_ref().map(|l| l.lock()) {
            b.lost += std::mem::take(&mut self.skipped);
            for info in self.seen.drain(..) {
                if b.frames.len() >= LOG_CAP {
                    b.frames.pop_front();
                    b.lost += 1;
                }
                b.frames.push_back(info);
            }
        }
        self.seen.clear();
    }

    fn keep_control(&mut self, head: &Head, bytes: &[u8], offset: u64) {
        if head.opcode == CLOSE && self.info.is_some() && self.control.len() < 125 {
            let start = self.control.len();
            let n = bytes.len().min(125 - start);
            self.control.extend_from_slice(&bytes[..n]);
            if let Some(key) = head.mask {
                apply_mask(&mut self.control[start..], key, offset);
            }
        }
    }

    /// The frame is over: its record waits for [`Lane::publish`].
    fn end(&mut self, len: Option<u64>) {
        let Some(mut info) = self.info.take() else {
            return;
        };
        if let Some(len) = len {
            info.len = len;
        }
        if info.opcode == CLOSE {
            let code = (self.control.len() >= 2)
                .then(|| u16::from_be_bytes([self.control[0], self.control[1]]));
            let reason =
                String::from_utf8_lossy(self.control.get(2..).unwrap_or_default()).into_owned();
            info.close = Some((code, reason));
        }
        self.seen.push(info);
    }
}

fn push(log: &Option<FrameLog>, info: FrameInfo) {
    if let Some(log) = log {
        if let Ok(mut b) = log.lock() {
            if b.frames.len() >= LOG_CAP {
                b.frames.pop_front();
                b.lost += 1;
            }
            b.frames.push_back(info);
        }
    }
}

/// A header's bytes as they came, copied out of the walker.
struct HeadBytes {
    bytes: [u8; MAX_HEAD],
    len: usize,
}

impl HeadBytes {
    fn of(raw: &[u8]) -> HeadBytes {
        let mut bytes = [0; MAX_HEAD];
        bytes[..raw.len()].copy_from_slice(raw);
        HeadBytes {
            bytes,
            len: raw.len(),
        }
    }

    fn bytes(&self) -> &[u8] {
        &self.bytes[..self.len]
    }
}

/// A raw frame waiting for a frame boundary in tungstenite's output.
struct Raw {
    bytes: Vec<u8>,
    info: FrameInfo,
}

/// The wrapper. With nothing asked of it (no log, no deflate, no fault) it
/// holds no state at all and passes bytes untouched: idle connections stay small.
pub struct Frames<S> {
    inner: S,
    role: Role,
    layer: Option<Box<Layer>>,
    /// Where the bytes handed up stand against frames (see [`Frames::at_rest`]).
    handed: Boundary,
    /// While asked ([`Frames::keep_partial`]): the bytes handed up since the last
    /// whole frame, and whether a frame has ended since keeping began.
    partial: Option<Box<(Vec<u8>, bool)>>,
    /// A layer put down while its connection rests ([`Frames::doze`]).
    dozing: Option<Box<Dozing>>,
    /// A whole frame handed down ([`Frames::owe`]), sent before anything else;
    /// once sent, its buffer is kept for the next ([`Frames::owing`]) until the
    /// connection rests.
    owed: Option<Box<Owed>>,
    /// Big binary frames are echoed as they arrive ([`Frames::pass_big_binary`]).
    pass: Option<PassOn>,
    /// The writer above holds nothing unwritten ([`Frames::set_clean`]).
    clean: bool,
    /// A frame passed through since [`Frames::take_passed`] last asked.
    passed: bool,
    /// The byte that ended a rest ([`Frames::poll_wake`]), read again first.
    woken: Option<u8>,
    /// The frame passing through now, or the buffer kept for the next one
    /// until the connection rests.
    through: Option<Box<Through>>,
}

/// A frame's bytes, the first `sent` of them gone.
struct Owed {
    frame: Vec<u8>,
    sent: usize,
}

/// What a layer that only logs keeps while its connection rests: where its log
/// goes and how far each direction's messages are numbered.
struct Dozing {
    opts: FrameOptions,
    messages: [u64; 2],
}

/// Everything the wrapper keeps when it has work to do.
struct Layer {
    opts: FrameOptions,
    /// Frames are walked (false: only raw frames are put out, at a flush).
    walk: bool,
    /// Frames go unlogged for now (the screen cannot take them): counted instead.
    resting: bool,
    codec: Option<Codec>,
    /// The server's answer could not be read (a client fails the connection).
    deflate_error: Option<String>,
    rd: Lane,
    wr: Lane,
    /// Read from the peer, not yet walked (only while transcoding).
    inbuf: Vec<u8>,
    in_pos: usize,
    /// Walked and ready for tungstenite.
    ready: Vec<u8>,
    ready_pos: usize,
    /// An inflate failure, reported once `ready` is empty.
    failed: Option<io::Error>,
    /// Ready for the peer, not yet written.
    out: Vec<u8>,
    out_pos: usize,
    raw: std::collections::VecDeque<Raw>,
}

/// How much is read at once while transcoding.
const READ_CHUNK: usize = 16 * 1024;
/// How much inflated data waits for tungstenite before walking pauses.
const READY_CAP: usize = 256 * 1024;

impl<S> Frames<S> {
    /// Wraps a stream whose HTTP handshake is still to come (`http`) or done.
    pub fn new(inner: S, opts: FrameOptions, http: bool) -> Frames<S> {
        let idle = opts.log.is_none() && opts.deflate == DeflateSetup::Off && !opts.no_pong;
        Frames {
            inner,
            role: opts.role,
            layer: (!idle).then(|| Box::new(Layer::new(opts, http, true))),
            handed: Boundary::new(http),
            partial: None,
            dozing: None,
            owed: None,
            pass: None,
            clean: false,
            passed: false,
            woken: None,
            through: None,
        }
    }

    /// Wraps a stream past its handshake, with bytes already read from it.
    pub fn with_leftover(inner: S, opts: FrameOptions, leftover: Vec<u8>) -> Frames<S> {
        let role = opts.role;
        let mut f = Frames::new(inner, opts, false);
        if !leftover.is_empty() {
            let layer = f.layer.get_or_insert_with(|| {
                Box::new(Layer::new(
                    FrameOptions::new(role, usize::MAX),
                    false,
                    false,
                ))
            });
            layer.inbuf = leftover;
        }
        f
    }

    /// A stream that only passes bytes (nothing asked of it).
    pub fn plain(inner: S, role: Role) -> Frames<S> {
        Frames::new(inner, FrameOptions::new(role, usize::MAX), false)
    }

    pub fn get_ref(&self) -> &S {
        &self.inner
    }

    /// Starts keeping a copy of what is handed up since the last whole frame:
    /// what the reader above holds of a frame not yet whole, so that a fresh
    /// reader can be given it ([`Frames::take_partial`]).
    pub fn keep_partial(&mut self) {
        self.partial.get_or_insert_with(Default::default);
    }

    /// What the reader above holds of a frame not yet whole, once that is known
    /// exactly and no message is under way; keeping stops.
    pub fn take_partial(&mut self) -> Option<Vec<u8>> {
        let aligned = self.partial.as_ref().is_some_and(|p| p.1);
        if !aligned || !self.handed.between_messages() {
            return None;
        }
        self.partial.take().map(|p| p.0)
    }

    /// Whether whoever reads above holds nothing of the peer's (every byte
    /// handed up ends a whole frame of a whole message) and nothing waits here
    /// to be written: the reader above can be put down and a fresh one made
    /// later, with no byte lost either way.
    pub fn at_rest(&self) -> bool {
        self.handed.at_rest()
            && !self.owes()
            && !self.passing()
            && self.woken.is_none()
            && self.layer.as_deref().is_none_or(Layer::writes_done)
    }

    pub fn get_mut(&mut self) -> &mut S {
        &mut self.inner
    }

    /// Puts the layer down while the connection rests, when all it does is
    /// log frames and it is between frames both ways with nothing pending: it
    /// is a kilobyte and more per connection, made again on the next byte
    /// either way. A layer that transcodes or holds bytes stays. The buffer
    /// kept for owed frames is given back too.
    pub fn doze(&mut self) {
        self.owed = None;
        if !self.passing() {
            self.through = None;
        }
        let Some(layer) = self.layer.as_deref_mut() else {
            return;
        };
        let idle = layer.codec.is_none()
            && !layer.opts.no_pong
            && layer.deflate_error.is_none()
            && layer.failed.is_none()
            && layer.raw.is_empty()
            && layer.writes_done()
            && layer.in_pos >= layer.inbuf.len()
            && layer.ready_pos >= layer.ready.len()
            && layer.rd.walker.at_boundary()
            && layer.wr.walker.at_boundary();
        if !idle {
            return;
        }
        layer.publish_frames();
        let layer = self.layer.take().expect("checked");
        if let Some(Ok(mut b)) = layer.opts.log.as_ref().map(|l| l.lock()) {
            if b.frames.is_empty() {
                b.frames = Default::default();
            }
        }
        self.dozing = Some(Box::new(Dozing {
            messages: [layer.rd.message, layer.wr.message],
            opts: layer.opts,
        }));
    }

    /// Whether [`Frames::owe`] can take a frame: nothing is asked of the layer
    /// (a layer sees every byte written) and no frame is owed already.
    pub fn can_owe(&self) -> bool {
        self.takes_whole_frames() && !self.owes()
    }

    /// Whether frames may be handed down whole ([`Frames::owe`]) once what
    /// is owed now has gone: nothing is asked of the layer.
    pub fn takes_whole_frames(&self) -> bool {
        self.layer.is_none() && self.dozing.is_none()
    }

    fn owes(&self) -> bool {
        self.owed.as_deref().is_some_and(|o| o.sent < o.frame.len())
    }

    /// An echo server's: big binary messages are echoed here as they arrive
    /// (see `through`), counted by `pass.tally`, while nothing is asked of
    /// the layer and the writer above is clean. Such a message never reaches
    /// the reader above.
    pub fn pass_big_binary(&mut self, pass: PassOn) {
        self.pass = Some(pass);
        self.clean = true;
    }

    /// Whether the writer above has handed down everything it was given (true
    /// after its flush; false from its next write on). Frames pass through
    /// only while it has: their echoes must not overtake its earlier ones.
    pub fn set_clean(&mut self, clean: bool) {
        self.clean = clean;
    }

    /// Whether a frame passed through since the last call.
    pub fn take_passed(&mut self) -> bool {
        std::mem::take(&mut self.passed)
    }

    /// Whether a resting connection can wait with [`Frames::poll_wake`]:
    /// frames pass through and nothing else is asked of the layer.
    pub fn wakes_in_place(&self) -> bool {
        self.pass.is_some() && self.takes_whole_frames()
    }

    fn passing(&self) -> bool {
        self.through.as_deref().is_some_and(Through::busy)
    }

    /// An empty buffer to encode the next owed frame into: the last one's, so
    /// that a stream of big echoes does not allocate one each.
    pub fn owing(&mut self) -> Vec<u8> {
        debug_assert!(!self.owes());
        let mut frame = self.owed.take().map(|o| o.frame).unwrap_or_default();
        frame.clear();
        frame
    }

    /// Takes a whole encoded frame, to be sent by the next write or flush before
    /// anything written after it. Only when [`Frames::can_owe`] and the writer
    /// above has handed down all it had: the frame leaves in the order given.
    pub fn owe(&mut self, frame: Vec<u8>) {
        debug_assert!(self.can_owe());
        self.owed = Some(Box::new(Owed { frame, sent: 0 }));
    }

    /// A dozing layer, made again before any byte passes.
    fn wake_layer(&mut self) {
        if let Some(d) = self.dozing.take() {
            let mut layer = Layer::new(d.opts, false, true);
            [layer.rd.message, layer.wr.message] = d.messages;
            self.layer = Some(Box::new(layer));
        }
    }

    /// The permessage-deflate parameters in use, if any.
    pub fn deflate(&self) -> Option<Params> {
        self.layer.as_ref()?.codec.as_ref().map(Codec::params)
    }

    /// Whether frames are logged now: a connection whose screen cannot keep
    /// up stops logging them (each is counted as lost instead) until it can.
    pub fn watch(&mut self, on: bool) {
        if let Some(layer) = self.layer.as_deref_mut() {
            layer.resting = !on;
        }
    }

    /// Why the server's permessage-deflate answer was refused.
    pub fn deflate_error(&self) -> Option<&str> {
        self.layer.as_ref()?.deflate_error.as_deref()
    }

    pub fn log(&self) -> Option<&FrameLog> {
        match (&self.layer, &self.dozing) {
            (Some(layer), _) => layer.opts.log.as_ref(),
            (None, Some(d)) => d.opts.log.as_ref(),
            (None, None) => None,
        }
    }

    /// Queues a raw frame, put out between tungstenite's frames at the next
    /// flush (or write, when frames are walked). Masked when this is a client.
    pub fn inject(&mut self, head: Head, payload: &[u8]) {
        self.wake_layer();
        // Here only after a flush has handed over all of tungstenite's bytes:
        // a layer made now starts at a frame boundary.
        let role = self.role;
        self.layer
            .get_or_insert_with(|| {
                Box::new(Layer::new(
                    FrameOptions::new(role, usize::MAX),
                    false,
                    false,
                ))
            })
            .inject(head, payload);
    }
}

impl Layer {
    fn new(opts: FrameOptions, http: bool, walk: bool) -> Layer {
        let codec = match opts.deflate {
            DeflateSetup::Fixed(p) => Some(Codec::new(p, opts.role)),
            _ => None,
        };
        Layer {
            walk,
            resting: false,
            codec,
            deflate_error: None,
            rd: Lane::new(false, http),
            wr: Lane::new(true, http),
            inbuf: Vec::new(),
            in_pos: 0,
            ready: Vec::new(),
            ready_pos: 0,
            failed: None,
            out: Vec::new(),
            out_pos: 0,
            raw: Default::default(),
            opts,
        }
    }

    fn publish_frames(&mut self) {
        self.rd.publish(&self.opts.log);
        self.wr.publish(&self.opts.log);
    }

    /// Queues a raw frame (see [`Frames::inject`]).
    fn inject(&mut self, head: Head, payload: &[u8]) {
        let mut head = head;
        head.len = payload.len() as u64;
        head.mask = (self.opts.role == Role::Client).then(mask_key);
        let mut bytes = Vec::with_capacity(payload.len() + MAX_HEAD);
        head.encode(&mut bytes);
        let start = bytes.len();
        bytes.extend_from_slice(payload);
        if let Some(key) = head.mask {
            apply_mask(&mut bytes[start..], key, 0);
        }
        let close = (head.opcode == CLOSE).then(|| {
            let code = (payload.len() >= 2).then(|| u16::from_be_bytes([payload[0], payload[1]]));
            (
                code,
                String::from_utf8_lossy(payload.get(2..).unwrap_or_default()).into_owned(),
            )
        });
        let info = FrameInfo {
            at: Utc::now(),
            outgoing: true,
            opcode: head.opcode,
            fin: head.fin,
            rsv: head.rsv,
            mask: head.mask,
            wire_len: head.len,
            len: head.len,
            close,
            message: 0,
            injected: true,
        };
        self.raw.push_back(Raw { bytes, info });
    }

    /// Bytes that pass straight through are walked: while logging (even when
    /// resting from it: the frames are counted, and the walk must stay in step
    /// for when logging resumes) or while a handshake is under way.
    fn walks(&self) -> bool {
        self.walk
            && (self.opts.log.is_some()
                || self.rd.walker.http.is_some()
                || self.wr.walker.http.is_some())
    }

    fn observe(&self) -> bool {
        self.opts.log.is_some() && !self.rests()
    }

    /// Logging, but resting from it for now.
    fn rests(&self) -> bool {
        self.resting || self.opts.log.as_ref().is_some_and(|l| l.resting())
    }

    /// Whether reads go through `inbuf`/`ready` (else straight to tungstenite).
    fn read_transcodes(&self) -> bool {
        self.codec.is_some()
            || self.ready_pos < self.ready.len()
            || self.in_pos < self.inbuf.len()
            || self.failed.is_some()
            || (self.rd.walker.http.is_some()
                && self.opts.role == Role::Client
                && self.opts.deflate == DeflateSetup::FromHandshake)
    }

    fn writes_done(&self) -> bool {
        self.out_pos >= self.out.len() && self.raw.is_empty()
    }

    fn write_queues(&self) -> bool {
        self.codec.is_some()
            || self.opts.no_pong
            || self.out_pos < self.out.len()
            || !self.raw.is_empty()
    }

    /// An HTTP head ended, read (`outgoing` false) or written: a response
    /// comes in to a client and goes out of a server, and decides deflate.
    fn head_ended(&mut self, outgoing: bool) {
        let lane = if outgoing { &mut self.wr } else { &mut self.rd };
        let head = lane.walker.take_head();
        let answers = if outgoing { Role::Server } else { Role::Client };
        if self.opts.role == answers {
            self.response_seen(&head);
        }
    }

    /// The handshake's response went by: permessage-deflate is decided.
    fn response_seen(&mut self, head: &[u8]) {
        if self.opts.deflate != DeflateSetup::FromHandshake {
            return;
        }
        let mut headers = [httparse::EMPTY_HEADER; 64];
        let mut resp = httparse::Response::new(&mut headers);
        if !matches!(resp.parse(head), Ok(httparse::Status::Complete(_))) || resp.code != Some(101)
        {
            return;
        }
        let values = resp
            .headers
            .iter()
            .filter(|h| h.name.eq_ignore_ascii_case("sec-websocket-extensions"))
            .filter_map(|h| std::str::from_utf8(h.value).ok());
        match Params::from_answer(values) {
            Ok(p) => self.codec = p.map(|p| Codec::new(p, self.opts.role)),
            Err(e) => self.deflate_error = Some(e),
        }
    }

    /// Walks bytes that passed straight through, only to log them: read
    /// (`outgoing` false) or written.
    fn watch(&mut self, bytes: &[u8], outgoing: bool) {
        let observe = self.observe();
        let resting = self.opts.log.is_some() && self.rests();
        let mut rest = bytes;
        while !rest.is_empty() {
            let lane = if outgoing { &mut self.wr } else { &mut self.rd };
            let (step, n) = lane.walker.step(rest);
            let chunk = &rest[..n];
            rest = &rest[n..];
            match step {
                Step::Http(_, ended) => {
                    if ended {
                        self.head_ended(outgoing);
                    }
                }
                Step::Head(head, _) => {
                    lane.begin(&head, observe, resting);
                    if head.len == 0 {
                        lane.end(None);
                    }
                }
                Step::Payload => {
                    let head = lane.walker.cur.expect("a frame under way");
                    lane.keep_control(&head, chunk, lane.walker.done - n as u64);
                    if lane.walker.frame_done() {
                        lane.end(None);
                    }
                }
                Step::Partial => {}
            }
        }
        self.publish_frames();
    }

    /// Walks what is in `inbuf` into `ready`, inflating compressed messages.
    fn transcode_in(&mut self) {
        let observe = self.observe();
        let resting = self.opts.log.is_some() && self.rests();
        let inbuf = std::mem::take(&mut self.inbuf);
        let mut rest = &inbuf[self.in_pos..];
        // A bounded amount inflated at a time: many small messages that each
        // inflate a thousandfold cannot pile up past what tungstenite takes.
        while !rest.is_empty()
            && self.failed.is_none()
            && self.ready.len() - self.ready_pos < READY_CAP
        {
            let (step, n) = self.rd.walker.step(rest);
            let chunk = &rest[..n];
            rest = &rest[n..];
            match step {
                Step::Http(bytes, ended) => {
                    self.ready.extend_from_slice(bytes);
                    if ended {
                        self.head_ended(false);
                    }
                }
                Step::Head(head, raw) => {
                    let raw = HeadBytes::of(raw);
                    self.rd.begin(&head, observe, resting);
                    let compressed = head.rsv & RSV1 != 0;
                    self.rd.transcode = self.codec.is_some()
                        && ((head.is_data_start() && compressed)
                            || (head.opcode == CONTINUATION
                                && self.rd.in_compressed
                                && !compressed));
                    if head.is_data_start() {
                        self.rd.in_compressed = self.rd.transcode;
                        self.rd.message_len = 0;
                    }
                    if self.rd.transcode {
                        self.rd.payload.clear();
                    } else {
                        self.ready.extend_from_slice(raw.bytes());
                    }
                    if head.len == 0 {
                        self.end_in(head);
                    }
                }
                Step::Payload => {
                    let head = self.rd.walker.cur.expect("a frame under way");
                    let offset = self.rd.walker.done - n as u64;
                    if self.rd.transcode {
                        let mut plain = std::mem::take(&mut self.rd.scratch);
                        plain.clear();
                        plain.extend_from_slice(chunk);
                        if let Some(key) = head.mask {
                            apply_mask(&mut plain, key, offset);
                        }
                        self.inflate(&plain, false);
                        self.rd.scratch = plain;
                    } else {
                        self.ready.extend_from_slice(chunk);
                        self.rd.keep_control(&head, chunk, offset);
                    }
                    if self.rd.walker.frame_done() {
                        self.end_in(head);
                    }
                }
                Step::Partial => {}
            }
        }
        let used = inbuf.len() - rest.len();
        self.inbuf = inbuf;
        self.in_pos = used;
        if self.in_pos == self.inbuf.len() {
            self.inbuf.clear();
            self.in_pos = 0;
            if self.inbuf.capacity() > 2 * READ_CHUNK {
                self.inbuf = Vec::new();
            }
        }
        self.publish_frames();
    }

    fn inflate(&mut self, input: &[u8], fin: bool) {
        let Some(codec) = self.codec.as_mut() else {
            return;
        };
        let limit = self
            .opts
            .max_message_size
            .saturating_sub(self.rd.message_len);
        match codec.inflate(input, fin, &mut self.rd.payload, limit) {
            Ok(()) => {}
            Err(InflateError::TooBig) => {
                // Told to tungstenite as a frame over its limit: it answers 1009.
                let head = self
                    .rd
                    .walker
                    .cur
                    .unwrap_or(Head::new(CONTINUATION, true, 0));
                let too_big = Head {
                    rsv: 0,
                    mask: head.mask.map(|_| [0; 4]),
                    len: (self.opts.max_message_size as u64).saturating_add(1),
                    ..head
                };
                too_big.encode(&mut self.ready);
                self.failed = Some(io::Error::new(
                    io::ErrorKind::InvalidData,
                    "a compressed message inflates past the largest message allowed",
                ));
            }
            Err(InflateError::Corrupt(e)) => {
                self.failed = Some(io::Error::new(
                    io::ErrorKind::InvalidData,
                    format!("a compressed message does not inflate: {e}"),
                ));
            }
        }
    }

    /// A frame read is over: a transcoded one goes to tungstenite inflated.
    fn end_in(&mut self, head: Head) {
        if !self.rd.transcode {
            self.rd.end(None);
            return;
        }
        self.inflate(&[], head.fin);
        if self.failed.is_some() {
            return;
        }
        let plain = Head {
            rsv: head.rsv & !RSV1,
            // A server's tungstenite wants a mask; an all-zero one changes nothing.
            mask: head.mask.map(|_| [0; 4]),
            len: self.rd.payload.len() as u64,
            ..head
        };
        plain.encode(&mut self.ready);
        self.ready.extend_from_slice(&self.rd.payload);
        self.rd.message_len += self.rd.payload.len();
        if head.fin {
            self.rd.in_compressed = false;
        }
        let len = self.rd.payload.len() as u64;
        self.rd.payload.clear();
        self.rd.trim();
        self.rd.end(Some(len));
    }

    /// Walks what tungstenite wrote into `out`: deflating data frames, dropping
    /// pongs under `--no-pong`, passing the rest.
    fn transcode_out(&mut self, buf: &[u8]) {
        let observe = self.observe();
        let resting = self.opts.log.is_some() && self.rests();
        let mut rest = buf;
        while !rest.is_empty() {
            let (step, n) = self.wr.walker.step(rest);
            let chunk = &rest[..n];
            rest = &rest[n..];
            match step {
                Step::Http(bytes, ended) => {
                    self.out.extend_from_slice(bytes);
                    if ended {
                        self.head_ended(true);
                    }
                }
                Step::Head(head, raw) => {
                    let raw = HeadBytes::of(raw);
                    self.wr.begin(&head, observe, resting);
                    self.wr.drop = self.opts.no_pong && head.opcode == PONG;
                    self.wr.transcode = self.codec.is_some()
                        && (head.is_data_start()
                            || (head.opcode == CONTINUATION && self.wr.in_compressed));
                    if head.is_data_start() {
                        self.wr.in_compressed = self.wr.transcode;
                    }
                    if self.wr.transcode {
                        self.wr.payload.clear();
                    } else if !self.wr.drop {
                        self.out.extend_from_slice(raw.bytes());
                    }
                    if head.len == 0 {
                        self.end_out(head);
                    }
                }
                Step::Payload => {
                    let head = self.wr.walker.cur.expect("a frame under way");
                    let offset = self.wr.walker.done - n as u64;
                    if self.wr.transcode {
                        self.wr.payload.extend_from_slice(chunk);
                    } else if !self.wr.drop {
                        self.out.extend_from_slice(chunk);
                        self.wr.keep_control(&head, chunk, offset);
                    }
                    if self.wr.walker.frame_done() {
                        self.end_out(head);
                    }
                }
                Step::Partial => {}
            }
        }
        self.queue_raw(false);
        self.publish_frames();
    }

    fn end_out(&mut self, head: Head) {
        if self.wr.drop {
            self.wr.info = None;
            return;
        }
        if !self.wr.transcode {
            self.wr.end(None);
            return;
        }
        let mut plain = std::mem::take(&mut self.wr.payload);
        if let Some(key) = head.mask {
            apply_mask(&mut plain, key, 0);
        }
        let mut packed = std::mem::take(&mut self.wr.scratch);
        packed.clear();
        let mut compressed = true;
        if let Some(codec) = self.codec.as_mut() {
            codec.deflate(&plain, head.fin, &mut packed);
            // A whole message that deflate made longer goes as it is: an empty
            // one (its empty block changes no window), or random bytes (after
            // which the window starts over without them). A short one goes
            // deflated all the same: it fills the window the next ones use.
            let longer = packed.len() > plain.len();
            if head.is_data_start()
                && head.fin
                && longer
                && (plain.is_empty() || plain.len() >= 256)
            {
                if !plain.is_empty() {
                    codec.restart_deflate();
                }
                packed.clear();
                packed.extend_from_slice(&plain);
                compressed = false;
            }
        }
        let wire = Head {
            rsv: if head.is_data_start() && compressed {
                head.rsv | RSV1
            } else {
                head.rsv
            },
            len: packed.len() as u64,
            ..head
        };
        if let Some(key) = head.mask {
            apply_mask(&mut packed, key, 0);
        }
        wire.encode(&mut self.out);
        self.out.extend_from_slice(&packed);
        self.wr.scratch = packed;
        if head.fin {
            self.wr.in_compressed = false;
        }
        if let Some(info) = &mut self.wr.info {
            info.wire_len = wire.len;
            info.rsv = wire.rsv;
        }
        self.wr.payload = plain;
        self.wr.payload.clear();
        self.wr.trim();
        self.wr.end(Some(head.len));
    }

    /// Raw frames go out between tungstenite's frames, never inside one: where
    /// frames are walked, at a boundary; else only at a flush, when tungstenite
    /// has handed over every byte it had.
    fn queue_raw(&mut self, flushing: bool) {
        let boundary = if self.walk {
            self.wr.walker.at_boundary()
        } else {
            flushing
        };
        if !boundary {
            return;
        }
        while let Some(raw) = self.raw.pop_front() {
            self.out.extend_from_slice(&raw.bytes);
            push(&self.opts.log, raw.info);
        }
    }
}

/// A client's mask: unpredictable enough for a test tool (RFC 6455 asks for
/// unpredictability against proxies' caches, which loopback tests do not meet).
fn mask_key() -> [u8; 4] {
    use std::hash::{BuildHasher, Hasher};
    let mut h = std::collections::hash_map::RandomState::new().build_hasher();
    h.write_u64(Utc::now().timestamp_nanos_opt().unwrap_or_default() as u64);
    (h.finish() as u32).to_be_bytes()
}

impl Layer {
    /// Writes what waits in `out`; ready once all of it is gone.
    fn poll_out<S: AsyncWrite + Unpin>(
        &mut self,
        inner: &mut S,
        cx: &mut Context<'_>,
    ) -> Poll<io::Result<()>> {
        if poll_write_from(inner, &self.out, &mut self.out_pos, cx)?.is_pending() {
            return Poll::Pending;
        }
        self.out.clear();
        self.out_pos = 0;
        if self.out.capacity() > 256 * 1024 {
            self.out = Vec::new();
        }
        Poll::Ready(Ok(()))
    }

    /// A read straight into tungstenite's buffer, walked afterwards if need be.
    fn read_through<S: AsyncRead + Unpin>(
        &mut self,
        inner: &mut S,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let before = buf.filled().len();
        let polled = Pin::new(inner).poll_read(cx, buf);
        if let Poll::Ready(Ok(())) = polled {
            if self.walks() && buf.filled().len() > before {
                self.watch(&buf.filled()[before..], false);
            }
        }
        polled
    }
}

impl<S: AsyncRead + AsyncWrite + Unpin> AsyncRead for Frames<S> {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        loop {
            // The socket's next bytes are the passing frame's until it is whole.
            if self.poll_through(cx)?.is_pending() {
                return Poll::Pending;
            }
            let before = buf.filled().len();
            let may_pass = self.may_pass();
            let read = if let Some(byte) = self.woken.take() {
                buf.put_slice(&[byte]);
                // With whatever else has come: a frame's header whole at once
                // lets the frame pass through.
                match Pin::new(&mut self.inner).poll_read(cx, buf) {
                    // The connection failed: that is what matters now.
                    Poll::Ready(Err(e)) => Poll::Ready(Err(e)),
                    _ => Poll::Ready(Ok(())),
                }
            } else if self.dozing.is_some() {
                self.as_mut().poll_read_dozing(cx, buf)
            } else {
                self.as_mut().poll_read_frames(cx, buf)
            };
            if let Poll::Ready(Ok(())) = read {
                // All that was read is a frame now passing through: read on
                // once it has (zero bytes handed up would say the stream ended).
                if may_pass && self.begin_through(buf, before) && buf.filled().len() == before {
                    continue;
                }
                self.hand_up(&buf.filled()[before..]);
            }
            return read;
        }
    }
}

impl<S> Frames<S> {
    /// Whether a frame starting with the next bytes read may pass through.
    fn may_pass(&self) -> bool {
        self.clean && self.wakes_in_place() && self.handed.at_rest()
    }

    /// When the bytes read at `before` start a frame that passes through,
    /// takes that frame's bytes out of `buf` (leaving what follows it) and
    /// starts its echo.
    fn begin_through(&mut self, buf: &mut ReadBuf<'_>, before: usize) -> bool {
        let (Some(pass), new) = (&self.pass, &buf.filled()[before..]) else {
            return false;
        };
        let size = match new {
            [a, b, ..] => Head::size([*a, *b]),
            _ => return false,
        };
        if new.len() < size {
            return false;
        }
        let head = Head::parse(&new[..size]);
        if !pass.takes(&head) {
            return false;
        }
        let through = self.through.get_or_insert_with(|| Box::new(Through::new()));
        let taken = size + through.begin(&head, &new[size..]);
        let end = buf.filled().len();
        buf.filled_mut().copy_within(before + taken..end, before);
        buf.set_filled(end - taken);
        true
    }

    /// Notes bytes handed up to the reader above.
    fn hand_up(&mut self, handed: &[u8]) {
        let ended = self.handed.pass(handed);
        if let Some(kept) = self.partial.as_deref_mut() {
            let (bytes, aligned) = kept;
            let from = match ended {
                Some(end) => {
                    bytes.clear();
                    *aligned = true;
                    end
                }
                None => 0,
            };
            bytes.extend_from_slice(&handed[from..]);
        }
    }
}

impl<S: AsyncRead + AsyncWrite + Unpin> Frames<S> {
    /// While the connection rests ([`Frames::wakes_in_place`]): waits for the
    /// peer's next byte and keeps it, for the reader made next to read it
    /// first. Handed up with the bytes after it, a frame's header arrives
    /// whole and the frame can pass through. False at the end of the stream.
    pub fn poll_wake(&mut self, cx: &mut Context<'_>) -> Poll<io::Result<bool>> {
        debug_assert!(self.wakes_in_place() && self.woken.is_none());
        let mut byte = [0u8; 1];
        let mut rb = ReadBuf::new(&mut byte);
        match Pin::new(&mut self.inner).poll_read(cx, &mut rb) {
            Poll::Ready(Ok(())) if rb.filled().is_empty() => Poll::Ready(Ok(false)),
            Poll::Ready(Ok(())) => {
                self.woken = Some(byte[0]);
                Poll::Ready(Ok(true))
            }
            Poll::Ready(Err(e)) => Poll::Ready(Err(e)),
            Poll::Pending => Poll::Pending,
        }
    }

    /// What was handed down before a write, a flush or a shutdown leaves
    /// first: a frame passing through (itself after whatever is owed), then
    /// whatever is owed.
    fn poll_ahead(&mut self, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        if self.poll_through(cx)?.is_pending() {
            return Poll::Pending;
        }
        poll_owed(&mut self.inner, &mut self.owed, cx)
    }

    /// Carries the frame passing through, if one is, until it is whole both
    /// ways: after whatever is owed, before anything written later.
    fn poll_through(&mut self, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        let Frames {
            inner,
            owed,
            through,
            pass,
            passed,
            ..
        } = self;
        let Some(t) = through.as_deref_mut().filter(|t| t.busy()) else {
            return Poll::Ready(Ok(()));
        };
        let before = |inner: &mut S, cx: &mut Context<'_>| poll_owed(inner, owed, cx);
        if t.poll_pass(inner, cx, before, pass.as_ref())?.is_pending() {
            return Poll::Pending;
        }
        *passed = true;
        Poll::Ready(Ok(()))
    }
}

impl<S: AsyncRead + Unpin> Frames<S> {
    /// A dozing layer is made again only once bytes come: a connection resting
    /// on a read costs no more than one that logs nothing.
    fn poll_read_dozing(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let before = buf.filled().len();
        let polled = Pin::new(&mut self.inner).poll_read(cx, buf);
        if matches!(polled, Poll::Ready(Ok(()))) && buf.filled().len() > before {
            self.wake_layer();
            if let Some(layer) = self.layer.as_deref_mut().filter(|l| l.walks()) {
                layer.watch(&buf.filled()[before..], false);
            }
        }
        polled
    }

    fn poll_read_frames(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let Frames { inner, layer, .. } = &mut *self;
        let Some(this) = layer.as_deref_mut() else {
            return Pin::new(inner).poll_read(cx, buf);
        };
        if !this.read_transcodes() {
            return this.read_through(inner, cx, buf);
        }
        loop {
            if this.ready_pos < this.ready.len() {
                let n = buf.remaining().min(this.ready.len() - this.ready_pos);
                buf.put_slice(&this.ready[this.ready_pos..this.ready_pos + n]);
                this.ready_pos += n;
                if this.ready_pos == this.ready.len() {
                    this.ready.clear();
                    this.ready_pos = 0;
                    if this.ready.capacity() > 256 * 1024 {
                        this.ready = Vec::new();
                    }
                }
                return Poll::Ready(Ok(()));
            }
            if let Some(e) = this.failed.take() {
                return Poll::Ready(Err(e));
            }
            if this.in_pos < this.inbuf.len() {
                this.transcode_in();
                if this.ready_pos < this.ready.len() || this.failed.is_some() {
                    continue;
                }
            }
            if !this.read_transcodes() {
                // Nothing transcoded any more (no deflate was agreed) and nothing left over.
                return this.read_through(inner, cx, buf);
            }
            let start = this.inbuf.len();
            this.inbuf.resize(start + READ_CHUNK, 0);
            let mut rb = ReadBuf::new(&mut this.inbuf[start..]);
            match Pin::new(&mut *inner).poll_read(cx, &mut rb) {
                Poll::Ready(Ok(())) => {
                    let n = rb.filled().len();
                    this.inbuf.truncate(start + n);
                    if n == 0 {
                        return Poll::Ready(Ok(()));
                    }
                    this.transcode_in();
                }
                other => {
                    this.inbuf.truncate(start);
                    return other;
                }
            }
        }
    }
}

/// Writes `bytes` from `*sent` on; ready once all of them are gone.
fn poll_write_from<S: AsyncWrite + Unpin>(
    inner: &mut S,
    bytes: &[u8],
    sent: &mut usize,
    cx: &mut Context<'_>,
) -> Poll<io::Result<()>> {
    while *sent < bytes.len() {
        match Pin::new(&mut *inner).poll_write(cx, &bytes[*sent..]) {
            Poll::Ready(Ok(0)) => return Poll::Ready(Err(io::ErrorKind::WriteZero.into())),
            Poll::Ready(Ok(n)) => *sent += n,
            Poll::Ready(Err(e)) => return Poll::Ready(Err(e)),
            Poll::Pending => return Poll::Pending,
        }
    }
    Poll::Ready(Ok(()))
}

/// Sends what is owed; ready once all of it is gone.
fn poll_owed<S: AsyncWrite + Unpin>(
    inner: &mut S,
    owed: &mut Option<Box<Owed>>,
    cx: &mut Context<'_>,
) -> Poll<io::Result<()>> {
    match owed.as_deref_mut() {
        Some(o) => poll_write_from(inner, &o.frame, &mut o.sent, cx),
        None => Poll::Ready(Ok(())),
    }
}

impl<S: AsyncRead + AsyncWrite + Unpin> AsyncWrite for Frames<S> {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        self.wake_layer();
        if self.poll_ahead(cx)?.is_pending() {
            return Poll::Pending;
        }
        let Frames { inner, layer, .. } = &mut *self;
        let Some(this) = layer.as_deref_mut() else {
            return Pin::new(inner).poll_write(cx, buf);
        };
        if !this.write_queues() {
            let polled = Pin::new(&mut *inner).poll_write(cx, buf);
            if let Poll::Ready(Ok(n)) = polled {
                if this.walks() {
                    this.watch(&buf[..n], true);
                }
            }
            return polled;
        }
        if this.poll_out(inner, cx)?.is_pending() {
            return Poll::Pending;
        }
        if buf.is_empty() {
            return Poll::Ready(Ok(0));
        }
        if this.walk {
            this.transcode_out(buf);
        } else {
            this.out.extend_from_slice(buf);
        }
        // Started now; what the socket cannot take yet waits for the next call.
        let _ = this.poll_out(inner, cx)?;
        Poll::Ready(Ok(buf.len()))
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        if self.poll_ahead(cx)?.is_pending() {
            return Poll::Pending;
        }
        let Frames { inner, layer, .. } = &mut *self;
        if let Some(this) = layer.as_deref_mut() {
            this.queue_raw(true);
            if this.poll_out(inner, cx)?.is_pending() {
                return Poll::Pending;
            }
        }
        Pin::new(inner).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        if self.poll_ahead(cx)?.is_pending() {
            return Poll::Pending;
        }
        let Frames { inner, layer, .. } = &mut *self;
        if let Some(this) = layer.as_deref_mut() {
            if this.poll_out(inner, cx)?.is_pending() {
                return Poll::Pending;
            }
        }
        Pin::new(inner).poll_shutdown(cx)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::frames::head::{BINARY, PING, TEXT};
    use crate::frames::trickle::Trickle;
    use futures_util::{FutureExt, SinkExt, StreamExt};
    use tokio::io::AsyncWriteExt;
    use tokio_tungstenite::tungstenite::protocol::Role as WsRole;
    use tokio_tungstenite::tungstenite::{Error as WsError, Message};
    use tokio_tungstenite::WebSocketStream;

    fn opts(role: Role, deflate: Option<Params>, max: usize) -> FrameOptions {
        FrameOptions {
            log: Some(FrameLog::default()),
            deflate: deflate.map_or(DeflateSetup::Off, DeflateSetup::Fixed),
            ..FrameOptions::new(role, max)
        }
    }

    type Ws = WebSocketStream<Frames<tokio::io::DuplexStream>>;

    async fn pair(deflate: Option<Params>, server_max: usize) -> (Ws, Ws) {
        let (a, b) = tokio::io::duplex(1 << 16);
        let client = Frames::new(a, opts(Role::Client, deflate, 64 << 20), false);
        let server = Frames::new(b, opts(Role::Server, deflate, server_max), false);
        let limits = tokio_tungstenite::tungstenite::protocol::WebSocketConfig::default()
            .max_message_size(Some(server_max))
            .max_frame_size(Some(server_max));
        (
            WebSocketStream::from_raw_socket(client, WsRole::Client, None).await,
            WebSocketStream::from_raw_socket(server, WsRole::Server, Some(limits)).await,
        )
    }

    fn logged(ws: &Ws) -> Vec<FrameInfo> {
        drain(ws.get_ref().log().expect("a log")).0
    }

    #[tokio::test]
    async fn a_dozing_layer_wakes_for_the_next_bytes_and_numbers_on() {
        let (mut client, server) = pair(None, 64 << 20).await;
        let server = server.into_inner();
        // Between frames, with nothing pending: it dozes and keeps only its log.
        let (mut server_ws, mut reply) = (
            WebSocketStream::from_raw_socket(server, WsRole::Server, None).await,
            Vec::new(),
        );
        client.send(Message::text("one")).await.unwrap();
        reply.push(server_ws.next().await.unwrap().unwrap());
        let mut server = server_ws.into_inner();
        assert!(server.at_rest());
        server.doze();
        assert!(server.layer.is_none() && server.dozing.is_some());
        assert!(
            server.log().is_some(),
            "the log stays reachable while dozing"
        );
        let mut server_ws = WebSocketStream::from_raw_socket(server, WsRole::Server, None).await;
        client.send(Message::text("two")).await.unwrap();
        reply.push(server_ws.next().await.unwrap().unwrap());
        assert_eq!(reply, [Message::text("one"), Message::text("two")]);
        assert!(server_ws.get_ref().layer.is_some(), "woken by the read");
        let numbers: Vec<u64> = logged(&server_ws)
            .iter()
            .filter(|f| !f.outgoing)
            .map(|f| f.message)
            .collect();
        assert_eq!(numbers, [1, 2], "messages are numbered on across the doze");
    }

    #[tokio::test]
    async fn a_dozing_layer_sleeps_on_while_its_reader_waits_for_bytes() {
        let (mut client, server) = pair(None, 64 << 20).await;
        let mut server = server.into_inner();
        server.doze();
        let mut byte = [0u8; 1];
        let waiting = tokio::io::AsyncReadExt::read(&mut server, &mut byte).now_or_never();
        assert!(waiting.is_none(), "nothing was sent yet");
        assert!(server.layer.is_none(), "waiting woke nothing");
        client.send(Message::text("hi")).await.unwrap();
        let mut server_ws = WebSocketStream::from_raw_socket(server, WsRole::Server, None).await;
        assert_eq!(
            server_ws.next().await.unwrap().unwrap(),
            Message::text("hi")
        );
        let seen = logged(&server_ws);
        assert_eq!(seen.len(), 1, "{seen:?}");
        assert_eq!((seen[0].opcode, seen[0].len, seen[0].message), (TEXT, 2, 1));
    }

    #[tokio::test]
    async fn frames_unlogged_while_the_screen_lags_are_counted_and_the_walk_stays_in_step() {
        let (mut client, mut server) = pair(None, 64 << 20).await;
        server.get_mut().watch(false);
        for i in 0..5 {
            client
                .send(Message::binary(vec![7u8; 300 + i]))
                .await
                .unwrap();
            server.next().await.unwrap().unwrap();
        }
        server.get_mut().watch(true);
        client.send(Message::text("after")).await.unwrap();
        assert_eq!(
            server.next().await.unwrap().unwrap(),
            Message::text("after")
        );
        let (seen, lost) = drain(server.get_ref().log().expect("a log"));
        let incoming: Vec<_> = seen.iter().filter(|f| !f.outgoing).collect();
        assert_eq!(incoming.len(), 1, "{seen:?}");
        assert_eq!(
            (incoming[0].opcode, incoming[0].len, incoming[0].message),
            (TEXT, 5, 6),
            "the frame after the lag is read at its own header"
        );
        assert_eq!(lost, 5, "the unlogged frames are counted");
    }

    #[tokio::test]
    async fn compressed_messages_cross_intact_and_the_wire_shows_it() {
        let (mut client, mut server) = pair(Some(Params::default()), 64 << 20).await;
        let big: Vec<u8> = (0..1 << 20).map(|i| (i % 251) as u8).collect();
        let json = r#"{"jsonrpc":"2.0","method":"subscribe","params":["newHeads"],"id":1}"#;
        let messages = vec![
            Message::text(json),
            Message::text(json),
            Message::binary(big.clone()),
            Message::text(""),
            Message::binary(vec![0u8; 100_000]),
        ];
        for m in &messages {
            client.send(m.clone()).await.unwrap();
            let got = server.next().await.unwrap().unwrap();
            assert_eq!(&got, m);
            server.send(got).await.unwrap();
            assert_eq!(&client.next().await.unwrap().unwrap(), m);
        }
        let sent = logged(&client);
        let data: Vec<&FrameInfo> = sent
            .iter()
            .filter(|f| f.outgoing && f.opcode != CLOSE)
            .collect();
        assert_eq!(data.len(), messages.len());
        // The empty message goes as it is: deflated it would be a byte longer.
        assert!(
            data.iter()
                .all(|f| (f.rsv == RSV1) != (f.len == 0) && f.mask.is_some() && f.fin),
            "{data:?}"
        );
        // Context taken over: the same message again costs a few bytes.
        assert!(data[1].wire_len < data[0].wire_len / 3, "{:?}", &data[..2]);
        assert_eq!(data[4].len, 100_000);
        assert!(data[4].wire_len < 1000);
        assert_eq!(
            data.iter().map(|f| f.message).collect::<Vec<_>>(),
            [1, 2, 3, 4, 5]
        );
        let got = logged(&server);
        assert!(got
            .iter()
            .filter(|f| !f.outgoing && f.opcode != CLOSE)
            .all(|f| (f.rsv == RSV1) != (f.len == 0)));
    }

    #[tokio::test]
    async fn a_fragmented_compressed_message_inflates_frame_by_frame() {
        let (a, b) = tokio::io::duplex(1 << 16);
        let mut raw = a;
        let server = Frames::new(
            b,
            opts(Role::Server, Some(Params::default()), 1 << 20),
            false,
        );
        let mut server = WebSocketStream::from_raw_socket(server, WsRole::Server, None).await;
        let text = "fragments of a compressed message, ".repeat(50);
        let mut packed = Vec::new();
        Codec::new(Params::default(), Role::Client).deflate(text.as_bytes(), true, &mut packed);
        let third = packed.len() / 3;
        let parts = [
            &packed[..third],
            &packed[third..2 * third],
            &packed[2 * third..],
        ];
        let mut wire = Vec::new();
        for (i, part) in parts.iter().enumerate() {
            let head = Head {
                fin: i == 2,
                rsv: if i == 0 { RSV1 } else { 0 },
                opcode: if i == 0 { TEXT } else { CONTINUATION },
                mask: Some([1, 2, 3, 4]),
                len: part.len() as u64,
            };
            head.encode(&mut wire);
            let start = wire.len();
            wire.extend_from_slice(part);
            apply_mask(&mut wire[start..], [1, 2, 3, 4], 0);
            if i == 0 {
                // A ping between fragments, as the RFC allows.
                Head {
                    mask: Some([0; 4]),
                    ..Head::new(PING, true, 2)
                }
                .encode(&mut wire);
                wire.extend_from_slice(b"hi");
            }
        }
        // Written a byte at a time: every split of a header or payload is walked.
        for b in wire {
            raw.write_all(&[b]).await.unwrap();
        }
        assert_eq!(
            server.next().await.unwrap().unwrap(),
            Message::Ping("hi".into())
        );
        assert_eq!(
            server.next().await.unwrap().unwrap(),
            Message::text(text.clone())
        );
        let frames: Vec<FrameInfo> = logged(&server)
            .into_iter()
            .filter(|f| !f.outgoing)
            .collect();
        let seen: Vec<(u8, bool)> = frames.iter().map(|f| (f.opcode, f.fin)).collect();
        assert_eq!(
            seen,
            [
                (TEXT, false),
                (PING, true),
                (CONTINUATION, false),
                (CONTINUATION, true)
            ]
        );
        let inflated: u64 = frames
            .iter()
            .filter(|f| f.opcode != PING)
            .map(|f| f.len)
            .sum();
        assert_eq!(inflated, text.len() as u64);
    }

    #[tokio::test]
    async fn a_bomb_is_refused_as_too_big() {
        let (mut client, mut server) = pair(Some(Params::default()), 64 * 1024).await;
        client
            .send(Message::binary(vec![0u8; 4 << 20]))
            .await
            .unwrap();
        match server.next().await {
            Some(Err(WsError::Capacity(_))) => {}
            other => panic!("expected a capacity error, got {other:?}"),
        }
        // What the server holds stayed near the limit, not the bomb's size.
        assert!(
            server
                .get_ref()
                .layer
                .as_ref()
                .unwrap()
                .rd
                .payload
                .capacity()
                < 1 << 20
        );
    }

    #[tokio::test]
    async fn without_deflate_bytes_pass_and_closes_show_as_sent() {
        let (mut client, mut server) = pair(None, 1 << 20).await;
        let (sent, got) = tokio::join!(
            client.send(Message::binary(vec![7u8; 70_000])),
            server.next()
        );
        sent.unwrap();
        assert_eq!(got.unwrap().unwrap().len(), 70_000);
        // A code no one may send: tungstenite answers 1002, the wire keeps 1005.
        client
            .get_mut()
            .inject(Head::new(CLOSE, true, 0), &[0x03, 0xED, b'x']);
        client.flush().await.unwrap();
        let _ = server.next().await;
        let frames = logged(&server);
        let close = frames
            .iter()
            .find(|f| f.opcode == CLOSE && !f.outgoing)
            .expect("the close");
        assert_eq!(close.close, Some((Some(1005), "x".to_string())));
        let data = frames.iter().find(|f| f.opcode == BINARY).unwrap();
        assert_eq!((data.wire_len, data.len, data.rsv), (70_000, 70_000, 0));
        assert!(logged(&client)
            .iter()
            .any(|f| f.injected && f.opcode == CLOSE));
    }

    #[tokio::test]
    async fn an_owed_frame_leaves_whole_before_anything_written_after_it() {
        let gate = Trickle {
            out: Vec::new(),
            chunk: 1000,
            stalls: true,
            ..Default::default()
        };
        let mut s = Frames::plain(gate, Role::Server);
        assert!(s.can_owe());
        let big = frame(BINARY, &vec![5u8; 100_000]);
        s.owe(big.clone());
        assert!(!s.can_owe() && !s.at_rest(), "owed until sent");
        let pong = frame(PONG, b"after");
        s.write_all(&pong).await.unwrap();
        s.flush().await.unwrap();
        assert!(s.inner.out == [big, pong].concat(), "in the order given");
        assert!(s.at_rest() && s.can_owe(), "nothing kept once sent");
        let logging = Frames::new(tokio::io::sink(), opts(Role::Server, None, 1 << 20), false);
        assert!(!logging.can_owe(), "a layer that logs must see every byte");
    }

    fn frame(opcode: u8, payload: &[u8]) -> Vec<u8> {
        let mut f = Vec::new();
        Head::new(opcode, true, payload.len() as u64).encode(&mut f);
        f.extend_from_slice(payload);
        f
    }

    #[tokio::test]
    async fn no_pong_drops_pongs_whole_and_nothing_else() {
        let http = b"HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\n\r\n".to_vec();
        let big = vec![7u8; 70_000];
        let mid = vec![8u8; 300];
        let parts: Vec<(Vec<u8>, bool)> = vec![
            (http, true),
            (frame(TEXT, b"hello"), true),
            (frame(PONG, b"ping payload"), false),
            (frame(BINARY, &mid), true),
            (frame(PONG, b""), false),
            (frame(PING, b"a ping passes"), true),
            (frame(BINARY, &big), true),
            (frame(PONG, &mid), false),
            (frame(CLOSE, &[0x03, 0xE8]), true),
        ];
        let all: Vec<u8> = parts.iter().flat_map(|(b, _)| b.clone()).collect();
        let kept: Vec<u8> = parts
            .iter()
            .filter(|(_, k)| *k)
            .flat_map(|(b, _)| b.clone())
            .collect();
        for (chunk, write_size) in [(1, 3), (7, 1000), (4096, 5), (1 << 20, 1 << 20)] {
            let mut o = FrameOptions::new(Role::Server, 1 << 20);
            o.no_pong = true;
            let mut s = Frames::new(
                Trickle {
                    out: Vec::new(),
                    chunk,
                    ..Default::default()
                },
                o,
                true,
            );
            for piece in all.chunks(write_size) {
                s.write_all(piece).await.unwrap();
            }
            s.flush().await.unwrap();
            assert!(s.inner.out == kept, "chunk {chunk}, writes of {write_size}");
        }
    }
}
