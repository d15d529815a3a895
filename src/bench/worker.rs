//! One bench connection: sends numbered payloads (closed loop with a window, or
//! open loop at a fixed rate), checks every echo byte for byte, and keeps its
//! own counts and histogram so connections never contend.

use std::collections::{BTreeMap, VecDeque};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

use bytes::Bytes;
use futures_util::{FutureExt, SinkExt, StreamExt};
use hdrhistogram::Histogram;
use tokio::sync::watch;
use tokio_tungstenite::tungstenite::{Error as WsError, Message};

use super::buckets::{Buckets, LocalBuckets};
use super::payload;
use super::rpc::{self, Call};
use crate::frames::head::{apply_mask, Head, BINARY, MAX_HEAD};
use crate::net::client::{self, ClientOptions, WsStream};
use crate::net::CloseInfo;

/// How often a connection hands its fresh RTTs to the live view.
const PUBLISH_EVERY: Duration = Duration::from_millis(100);
/// RTTs a connection hands the live view per publish at most: a sample is
/// all a live chart needs (the report's histogram has every one).
const RECENT_KEEP: usize = 4096;
/// Echoes read in one go before the window is refilled.
const READ_BATCH: usize = 256;
/// The most echoes read ahead while a send waits (see [`reading_while`]): a
/// window's worth from a correct server.
const EARLY_CAP: usize = 4096;

/// What the server sent while a send of ours waited, with when it came,
/// handled before any read after.
type Early = VecDeque<(Instant, Option<Result<Message, WsError>>)>;

/// Waits for `io` (room to send, or a flush) while reading what the server
/// sends meanwhile into `early`. A server that echoes a big message while it
/// arrives, or that reads no more until its echoes are read, would otherwise
/// wait on us as we wait on it: with a window of big messages, both sides'
/// socket buffers fill and neither moves again.
async fn reading_while(
    ws: &mut WsStream,
    early: &mut Early,
    mut io: impl FnMut(&mut WsStream, &mut Context<'_>) -> Poll<Result<(), WsError>>,
) -> Result<(), WsError> {
    std::future::poll_fn(|cx| loop {
        if let Poll::Ready(done) = io(ws, cx) {
            return Poll::Ready(done);
        }
        let ended = matches!(early.back(), Some((_, None | Some(Err(_)))));
        if ended || early.len() >= EARLY_CAP {
            return Poll::Pending;
        }
        match ws.poll_next_unpin(cx) {
            Poll::Ready(m) => early.push_back((Instant::now(), m)),
            Poll::Pending => return Poll::Pending,
        }
    })
    .await
}

/// [`SinkExt::feed`], reading while it waits.
async fn feed(ws: &mut WsStream, early: &mut Early, msg: Message) -> Result<(), WsError> {
    reading_while(ws, early, |ws, cx| ws.poll_ready_unpin(cx)).await?;
    ws.start_send_unpin(msg)
}

/// [`SinkExt::flush`], reading while it waits.
async fn flush(ws: &mut WsStream, early: &mut Early) -> Result<(), WsError> {
    reading_while(ws, early, |ws, cx| ws.poll_flush_unpin(cx)).await
}

/// Binary messages this large or larger are framed here, not by tungstenite.
const BIG_SEND: usize = 64 * 1024;

/// Sends a big binary payload as one frame built in place (the payload made
/// and masked in one buffer, reused from the last one) rather than made, then
/// copied and masked again by tungstenite: at 1 MiB the sender's copies are
/// what limits a bench against a fast server.
async fn send_big(
    ws: &mut WsStream,
    early: &mut Early,
    seq: u64,
    pattern: &payload::Pattern,
) -> Result<(), WsError> {
    // What tungstenite holds, and the frame before, leave first.
    flush(ws, early).await?;
    let frames = ws.get_mut();
    let mut frame = frames.owing();
    let key = (seq as u32 ^ 0x5bd1_e995)
        .wrapping_mul(0x9e37_79b9)
        .to_be_bytes();
    let mut head = Head::new(BINARY, true, pattern.size() as u64);
    head.mask = Some(key);
    frame.reserve_exact(MAX_HEAD + pattern.size());
    head.encode(&mut frame);
    let start = frame.len();
    pattern.append(seq, &mut frame);
    apply_mask(&mut frame[start..], key, 0);
    frames.owe(frame);
    Ok(())
}

/// The next thing the server sent and when it came: first what was read
/// while a send waited.
async fn next_message(
    ws: &mut WsStream,
    early: &mut Early,
) -> (Instant, Option<Result<Message, WsError>>) {
    match early.pop_front() {
        Some(m) => m,
        None => {
            let m = ws.next().await;
            (Instant::now(), m)
        }
    }
}

pub fn new_histogram() -> Histogram<u64> {
    // 1 µs to 1 hour, 3 significant figures.
    Histogram::new_with_bounds(1, 3_600_000_000, 3).expect("static histogram bounds are valid")
}

/// What every connection shares with the live view.
#[derive(Debug)]
pub struct Progress {
    pub sent: AtomicU64,
    pub received: AtomicU64,
    pub errors: AtomicU64,
    pub connected: AtomicU64,
    /// RTTs since the live view last looked.
    pub recent: Mutex<Histogram<u64>>,
    /// Every RTT in Prometheus' buckets, for `--metrics`.
    pub buckets: Buckets,
}

impl Default for Progress {
    fn default() -> Self {
        Progress {
            sent: AtomicU64::new(0),
            received: AtomicU64::new(0),
            errors: AtomicU64::new(0),
            connected: AtomicU64::new(0),
            recent: Mutex::new(new_histogram()),
            buckets: Buckets::default(),
        }
    }
}

#[derive(Clone, Debug)]
pub struct Plan {
    pub connect: ClientOptions,
    /// Messages this connection sends (count mode).
    pub messages: Option<u64>,
    /// When sending stops (duration mode); set when the run starts.
    pub send_until: Option<Instant>,
    pub window: usize,
    /// Open loop: the spacing between this connection's sends.
    pub interval: Option<Duration>,
    /// Open loop: when this connection's first message is due; set when the
    /// run starts (connections are spread over one interval, not all at once).
    pub first_due: Instant,
    /// Echoes received before this are checked but not measured; set when the run starts.
    pub warmup_end: Instant,
    pub size: usize,
    pub binary: bool,
    pub echo_prefix: Bytes,
    /// How long to wait for outstanding echoes once sending is over.
    pub drain: Duration,
    /// JSON-RPC calls instead of echoed payloads (`--call`).
    pub call: Option<Arc<Call>>,
}

/// What was sent and how every echo checked out; added up over connections.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Checks {
    pub sent: u64,
    pub received: u64,
    /// Echoes after the warm-up, and their bytes.
    pub measured: u64,
    pub measured_bytes: u64,
    pub mismatched: u64,
    pub lost: u64,
    pub reordered: u64,
    pub duplicated: u64,
    /// Sent but not answered when the user stopped the run (not an error).
    pub unanswered: u64,
}

impl std::ops::AddAssign for Checks {
    fn add_assign(&mut self, o: Checks) {
        self.sent += o.sent;
        self.received += o.received;
        self.measured += o.measured;
        self.measured_bytes += o.measured_bytes;
        self.mismatched += o.mismatched;
        self.lost += o.lost;
        self.reordered += o.reordered;
        self.duplicated += o.duplicated;
        self.unanswered += o.unanswered;
    }
}

#[derive(Debug)]
pub struct Outcome {
    pub checks: Checks,
    pub errors: BTreeMap<&'static str, u64>,
    pub rtt: Histogram<u64>,
    pub tcp: Option<Duration>,
    pub handshake: Option<Duration>,
    pub last_echo: Option<Instant>,
    /// When the last message went out: how long sending really took.
    pub last_send: Option<Instant>,
    /// The first error's message, for the one line a person reads.
    pub first_error: Option<String>,
}

impl Default for Outcome {
    fn default() -> Self {
        Self::new()
    }
}

impl Outcome {
    pub fn new() -> Self {
        Outcome {
            checks: Checks::default(),
            errors: BTreeMap::new(),
            rtt: new_histogram(),
            tcp: None,
            handshake: None,
            last_echo: None,
            last_send: None,
            first_error: None,
        }
    }

    fn error(&mut self, kind: &'static str, progress: &Progress) {
        *self.errors.entry(kind).or_default() += 1;
        progress.errors.fetch_add(1, Ordering::Relaxed);
    }
}

/// Sent and not yet echoed, oldest first: (seq, when it was due to go out).
type Outstanding = VecDeque<(u64, Instant)>;

struct Tracker {
    pattern: payload::Pattern,
    outstanding: Outstanding,
    next_seq: u64,
    /// RTTs (µs) since the last publish: a few values, not a histogram, so
    /// handing them over costs what they are (adding one whole histogram to
    /// another walks all its buckets, and a thousand connections did so ten
    /// times a second under one lock: the bench became its own bottleneck).
    recent: Vec<u64>,
    buckets: LocalBuckets,
    published: Instant,
}

impl Tracker {
    /// Checks one echo and counts it; true when it answered an outstanding send.
    fn echo(&mut self, payload: &[u8], plan: &Plan, out: &mut Outcome, now: Instant) -> bool {
        if plan.call.is_some() {
            return self.replied(payload, plan, out, now);
        }
        out.checks.received += 1;
        let body = if !plan.binary && !plan.echo_prefix.is_empty() {
            match payload.strip_prefix(&plan.echo_prefix[..]) {
                Some(b) => b,
                None => {
                    out.checks.mismatched += 1;
                    return false;
                }
            }
        } else {
            payload
        };
        let Some(seq) = self.pattern.verify(body) else {
            out.checks.mismatched += 1;
            return false;
        };
        if seq >= self.next_seq {
            // Never sent: not an echo of ours.
            out.checks.mismatched += 1;
            return false;
        }
        let Some(pos) = self.outstanding.iter().position(|(s, _)| *s == seq) else {
            out.checks.duplicated += 1;
            return false;
        };
        if pos > 0 {
            out.checks.reordered += 1;
        }
        self.answered(pos, payload.len(), plan, out, now);
        true
    }

    /// A JSON-RPC reply, found by its id: replies may come in any order.
    fn replied(&mut self, payload: &[u8], plan: &Plan, out: &mut Outcome, now: Instant) -> bool {
        let (seq, failed) = match rpc::reply(payload) {
            rpc::Reply::Result(seq) => (seq, false),
            rpc::Reply::Error(seq) => (seq, true),
            // An echo server returns the call itself: answered all the same
            // (how a dashboard is loaded with JSON-RPC to decode), when it is
            // byte for byte the call sent.
            rpc::Reply::Call(seq)
                if plan
                    .call
                    .as_ref()
                    .is_some_and(|c| c.make(seq).as_bytes() == payload) =>
            {
                (seq, false)
            }
            rpc::Reply::Call(_) => return false,
            // A notification the server pushed answers nothing.
            rpc::Reply::Other => return false,
        };
        out.checks.received += 1;
        let Some(pos) = self.outstanding.iter().position(|(s, _)| *s == seq) else {
            match seq < self.next_seq {
                true => out.checks.duplicated += 1,
                false => out.checks.mismatched += 1,
            }
            return false;
        };
        if failed {
            *out.errors.entry("error replies").or_default() += 1;
        }
        self.answered(pos, payload.len(), plan, out, now);
        true
    }

    /// The send at `pos` was answered at `now`: timed, unless still warming up.
    fn answered(&mut self, pos: usize, len: usize, plan: &Plan, out: &mut Outcome, now: Instant) {
        let Some((_, due)) = self.outstanding.remove(pos) else {
            return;
        };
        out.last_echo = Some(now);
        if now >= plan.warmup_end {
            let us = (now.saturating_duration_since(due).as_micros() as u64).max(1);
            out.rtt.saturating_record(us);
            self.buckets.record(us);
            if self.recent.len() < RECENT_KEEP {
                self.recent.push(us);
            }
            out.checks.measured += 1;
            out.checks.measured_bytes += len as u64;
        }
    }

    fn publish(&mut self, progress: &Progress, now: Instant) {
        if now.saturating_duration_since(self.published) < PUBLISH_EVERY || self.recent.is_empty() {
            return;
        }
        self.buckets.flush_into(&progress.buckets);
        if let Ok(mut shared) = progress.recent.lock() {
            for us in &self.recent {
                shared.saturating_record(*us);
            }
        }
        self.recent.clear();
        self.published = now;
    }
}

impl Tracker {
    /// Hands over everything not yet published, whenever it came.
    fn finish(&mut self, progress: &Progress) {
        self.buckets.flush_into(&progress.buckets);
        self.publish(progress, Instant::now() + PUBLISH_EVERY);
    }
}

fn message(seq: u64, plan: &Plan, pattern: &payload::Pattern) -> Message {
    if let Some(call) = &plan.call {
        return Message::text(call.make(seq));
    }
    if plan.binary {
        Message::Binary(Bytes::from(pattern.make(seq)))
    } else {
        Message::text(pattern.make_text(seq))
    }
}

/// Opens the connection, timing its TCP connect and handshake; `None` (the
/// error counted in `out`) when it fails.
pub async fn connect(plan: &Plan, progress: &Progress, out: &mut Outcome) -> Option<WsStream> {
    let conn = match client::connect(&plan.connect).await {
        Ok(c) => c,
        Err(e) => {
            out.first_error = Some(e.to_string());
            out.error("connect failed", progress);
            return None;
        }
    };
    progress.connected.fetch_add(1, Ordering::Relaxed);
    out.tcp = Some(conn.tcp_time);
    out.handshake = Some(conn.handshake_time);
    Some(conn.ws)
}

/// Sends and checks on a connection made by [`connect`], once the run has
/// started (the plan's times set), until the plan's bound or a stop.
pub async fn run(
    plan: Plan,
    mut ws: WsStream,
    progress: Arc<Progress>,
    mut stop: watch::Receiver<bool>,
    mut out: Outcome,
) -> Outcome {
    let start = Instant::now();
    let mut t = Tracker {
        pattern: payload::Pattern::new(plan.size),
        outstanding: VecDeque::new(),
        next_seq: 0,
        recent: Vec::new(),
        buckets: LocalBuckets::default(),
        published: start,
    };
    let mut stopped = *stop.borrow();
    let mut drain_deadline: Option<Instant> = None;
    // The last time an echo answered something: a server that stops answering
    // (or answers only garbage) cannot hold the run forever.
    let mut last_answer = start;
    let mut early = Early::new();
    let big = plan.binary && plan.call.is_none() && plan.size >= BIG_SEND;

    loop {
        let now = Instant::now();
        if !t.outstanding.is_empty()
            && now.saturating_duration_since(last_answer) >= plan.drain
            && !stopped
        {
            out.checks.lost += t.outstanding.len() as u64;
            out.error("timeout", &progress);
            t.outstanding.clear();
            break;
        }
        // Open loop, the run's length is a schedule: every message due before
        // its end goes out, even when the clock has passed the end by then.
        let next_due = plan
            .interval
            .map(|every| plan.first_due + every.mul_f64(t.next_seq as f64));
        let sending = !stopped
            && plan.messages.is_none_or(|n| t.next_seq < n)
            && plan.send_until.is_none_or(|u| next_due.unwrap_or(now) < u);
        if !sending {
            if t.outstanding.is_empty() {
                break;
            }
            let deadline = *drain_deadline.get_or_insert(
                now + if stopped {
                    Duration::from_secs(1)
                } else {
                    plan.drain
                },
            );
            if now >= deadline {
                if stopped {
                    out.checks.unanswered += t.outstanding.len() as u64;
                } else {
                    out.checks.lost += t.outstanding.len() as u64;
                    out.error("timeout", &progress);
                }
                t.outstanding.clear();
                break;
            }
        }
        // Send what is due: up to the window (closed loop) or by the clock (open loop).
        let mut fed = 0u64;
        if sending {
            let result: Result<(), String> = async {
                match plan.interval {
                    None => {
                        while t.outstanding.len() < plan.window
                            && plan.messages.is_none_or(|n| t.next_seq < n)
                        {
                            if t.outstanding.is_empty() {
                                last_answer = now;
                            }
                            if big && ws.get_ref().takes_whole_frames() {
                                send_big(&mut ws, &mut early, t.next_seq, &t.pattern)
                                    .await
                                    .map_err(|e| e.to_string())?;
                            } else {
                                let msg = message(t.next_seq, &plan, &t.pattern);
                                feed(&mut ws, &mut early, msg)
                                    .await
                                    .map_err(|e| e.to_string())?;
                            }
                            t.outstanding.push_back((t.next_seq, now));
                            t.next_seq += 1;
                            fed += 1;
                        }
                    }
                    Some(every) => {
                        loop {
                            let due = plan.first_due + every.mul_f64(t.next_seq as f64);
                            if due > now
                                || plan.messages.is_some_and(|n| t.next_seq >= n)
                                || plan.send_until.is_some_and(|u| due >= u)
                            {
                                break;
                            }
                            if t.outstanding.is_empty() {
                                last_answer = now;
                            }
                            let msg = message(t.next_seq, &plan, &t.pattern);
                            feed(&mut ws, &mut early, msg)
                                .await
                                .map_err(|e| e.to_string())?;
                            // Measured from when it should have gone: a stalled server cannot hide.
                            t.outstanding.push_back((t.next_seq, due));
                            t.next_seq += 1;
                            fed += 1;
                        }
                    }
                }
                if fed > 0 {
                    flush(&mut ws, &mut early)
                        .await
                        .map_err(|e| e.to_string())?;
                }
                Ok(())
            }
            .await;
            out.checks.sent += fed;
            if fed > 0 {
                out.last_send = Some(Instant::now());
            }
            progress.sent.fetch_add(fed, Ordering::Relaxed);
            if result.is_err() {
                out.checks.lost += t.outstanding.len() as u64;
                out.error("closed early", &progress);
                t.outstanding.clear();
                break;
            }
        }
        if t.outstanding.is_empty() && sending && plan.interval.is_none() {
            continue;
        }
        // Wait for echoes, the next open-loop send, the end of the run, or a stop.
        let next_send = plan
            .interval
            .map(|every| plan.first_due + every.mul_f64(t.next_seq as f64))
            .filter(|due| plan.send_until.is_none_or(|u| *due < u));
        let wake = match (sending, next_send, plan.send_until, drain_deadline) {
            (false, _, _, Some(d)) => Some(d),
            (true, Some(n), _, _) => Some(n),
            (true, None, Some(u), _) => Some(u),
            _ => None,
        };
        let stall = (!t.outstanding.is_empty()).then(|| last_answer + plan.drain);
        let wake = match (wake, stall) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        };
        let before = out.checks.received;
        tokio::select! {
            biased;
            changed = stop.changed(), if !stopped => {
                stopped = changed.is_err() || *stop.borrow();
            }
            (came, msg) = next_message(&mut ws, &mut early) => {
                let mut msg = msg;
                let mut n = 0;
                // One clock reading per batch: these echoes were all read
                // together (those read while a send waited carry their own).
                let now = Instant::now();
                let mut at = came;
                loop {
                    match msg {
                        Some(Ok(Message::Text(p))) => {
                            if t.echo(p.as_bytes(), &plan, &mut out, at) {
                                last_answer = at;
                            }
                        }
                        Some(Ok(Message::Binary(p))) => {
                            if t.echo(&p, &plan, &mut out, at) {
                                last_answer = at;
                            }
                        }
                        Some(Ok(_)) => {}
                        Some(Err(_)) | None => {
                            out.checks.lost += t.outstanding.len() as u64;
                            out.error("closed early", &progress);
                            t.outstanding.clear();
                            progress.received.fetch_add(out.checks.received - before, Ordering::Relaxed);
                            t.finish(&progress);
                            return out;
                        }
                    }
                    n += 1;
                    if n >= READ_BATCH {
                        break;
                    }
                    match early.pop_front() {
                        Some((came, m)) => (at, msg) = (came, m),
                        None => match ws.next().now_or_never() {
                            Some(m) => (at, msg) = (now, m),
                            None => break,
                        },
                    }
                }
            }
            _ = async { tokio::time::sleep_until(wake.expect("guarded").into()).await }, if wake.is_some() => {}
        }
        progress
            .received
            .fetch_add(out.checks.received - before, Ordering::Relaxed);
        t.publish(&progress, Instant::now());
    }
    t.finish(&progress);
    let _ = tokio::time::timeout(Duration::from_secs(1), async {
        let _ = ws.close(Some(CloseInfo::new(1000, "").to_frame())).await;
        while let Some(Ok(_)) = ws.next().await {}
    })
    .await;
    out
}
