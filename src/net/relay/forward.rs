//! One direction of a relayed pair: messages read from one leg are written to
//! the other, batched (fed, then flushed once when nothing more is ready), and
//! reported as they came. Reading waits while the other leg cannot take more,
//! so a peer that stops reading holds back the one that writes, and memory
//! stays bounded. Commands for the leg written to (inject, close) come here too.

use std::collections::VecDeque;
use std::sync::Arc;
use std::time::Instant;

use bytes::Bytes;

use chrono::Utc;
use futures_util::{FutureExt, Sink, SinkExt, Stream, StreamExt};
use tokio::sync::mpsc;
use tokio_tungstenite::tungstenite::error::ProtocolError;
use tokio_tungstenite::tungstenite::protocol::frame::coding::{Data, OpCode};
use tokio_tungstenite::tungstenite::protocol::frame::Frame as WsFrame;
use tokio_tungstenite::tungstenite::{Error as WsError, Message};

use super::ends::Ends;
use super::latency::Pending;
use super::steer::{leg_index, DirFaults, Order, Steering};
use super::Reporter;
use crate::net::dice::Dice;
use crate::net::inbox::Inbox;
use crate::net::{
    data_payload, describe, error_text, payload_len, CloseCause, CloseInfo, ConnCounters, ConnId,
    CounterSnapshot, Direction, Frame, NetCommand, NetEvent, Rtt, RttKind, Side, SteerEvent,
    Steered,
};

/// How many already-read messages one batch may pass on before the task looks
/// at its commands again.
const MAX_BATCH: usize = 256;
/// How long a leg that is closing may take to finish its closing handshake.
const CLOSE_WAIT: std::time::Duration = std::time::Duration::from_secs(3);
/// Messages one direction may hold (paused, at a breakpoint) before it stops
/// reading: the peer that sends is held back, and memory stays bounded.
pub const MAX_HELD: usize = 1000;
/// Messages a delay fault may keep waiting per direction before reading stops.
const MAX_DELAYED: usize = 10_000;
/// And the bytes held or delayed per direction, whatever their count.
const MAX_KEPT_BYTES: usize = 64 << 20;

/// The leg at the other end.
pub(super) fn other(side: Side) -> Side {
    match side {
        Side::Client => Side::Server,
        Side::Server => Side::Client,
    }
}

enum Flow {
    Go,
    End,
}

/// The parts of a pair one direction works with.
pub(super) struct Links {
    pub(super) conn: ConnId,
    pub(super) reporter: Reporter,
    pub(super) pending: Arc<Pending>,
    pub(super) ends: Arc<Ends>,
    pub(super) steering: Arc<Steering>,
    /// Each leg's frames on the wire, by leg (client, server), when watched.
    pub(super) wire: [Option<crate::frames::FrameLog>; 2],
}

pub(super) struct Forward<R, W> {
    links: Arc<Links>,
    from: Side,
    source: R,
    dest: W,
    from_counters: Arc<ConnCounters>,
    to_counters: Arc<ConnCounters>,
    from_batch: CounterSnapshot,
    to_batch: CounterSnapshot,
    /// Whether this batch's frames are offered to the reporter (decided per batch).
    show: bool,
    unshown: u64,
    /// The leg written to failed; what comes is read and no longer passed on.
    dest_dead: bool,
    /// Events for `--record` handed to the tap before the bytes they describe leave.
    recording: Vec<(Side, NetEvent)>,
    /// Messages held, oldest first, with their numbers and whether a pause
    /// (rather than a breakpoint) holds them.
    held: VecDeque<(u64, Message, bool)>,
    /// Payload bytes in `held` and `delayed`.
    kept_bytes: usize,
    /// Messages a delay fault keeps, with when they are due and when they came.
    delayed: VecDeque<(tokio::time::Instant, tokio::time::Instant, Message)>,
    /// Data messages passed on (for a close-after fault).
    passed: u64,
    /// Data messages read, numbered as the frame layer numbers them.
    read: u64,
    dice: Dice,
}

impl<R, W> Forward<R, W>
where
    R: Stream<Item = Result<Message, WsError>> + Unpin,
    W: Sink<Message, Error = WsError> + Unpin,
{
    pub(super) fn new(
        links: Arc<Links>,
        from: Side,
        source: R,
        dest: W,
        from_counters: Arc<ConnCounters>,
        to_counters: Arc<ConnCounters>,
    ) -> Self {
        let seed = links.conn.wrapping_mul(0x9E37_79B9_7F4A_7C15)
            ^ (leg_index(from) as u64 + 1).wrapping_mul(std::process::id() as u64);
        Forward {
            links,
            from,
            source,
            dest,
            from_counters,
            to_counters,
            from_batch: CounterSnapshot::default(),
            to_batch: CounterSnapshot::default(),
            show: false,
            unshown: 0,
            dest_dead: false,
            recording: Vec::new(),
            held: VecDeque::new(),
            kept_bytes: 0,
            delayed: VecDeque::new(),
            passed: 0,
            read: 0,
            dice: Dice::new(seed),
        }
    }

    fn to(&self) -> Side {
        other(self.from)
    }

    /// Passes messages on until the leg read from has ended.
    pub(super) async fn run(
        mut self,
        mut commands: Inbox<NetCommand>,
        mut orders: mpsc::Receiver<Order>,
    ) {
        let mut commands_open = true;
        let mut orders_open = true;
        let mut deadline: Option<tokio::time::Instant> = None;
        let links = self.links.clone();
        loop {
            let changed = links.ends.changed.notified();
            tokio::pin!(changed);
            changed.as_mut().enable();
            if deadline.is_none() && links.ends.closing(self.from) {
                deadline = Some(tokio::time::Instant::now() + CLOSE_WAIT);
            }
            let flow = tokio::select! {
                biased;
                _ = &mut changed, if deadline.is_none() => Flow::Go,
                _ = async { tokio::time::sleep_until(deadline.expect("guarded")).await }, if deadline.is_some() => {
                    links.ends.broke(self.from, format!(
                        "the {} did not finish the closing handshake within {}",
                        self.from.as_str(),
                        humantime::format_duration(CLOSE_WAIT)
                    ));
                    Flow::End
                }
                cmd = commands.recv(), if commands_open => match cmd {
                    Some(cmd) => self.command(cmd).await,
                    None => {
                        commands_open = false;
                        Flow::Go
                    }
                },
                order = orders.recv(), if orders_open => match order {
                    Some(order) => self.order(order).await,
                    None => {
                        orders_open = false;
                        Flow::Go
                    }
                },
                _ = async { tokio::time::sleep_until(self.delayed.front().expect("guarded").0).await }, if !self.delayed.is_empty() => {
                    self.send_due().await
                }
                // While too much is held or delayed, reading waits: the sender is held back.
                msg = self.source.next(), if self.has_room() => {
                    self.batch(msg).await
                }
            };
            if let Flow::End = flow {
                break;
            }
        }
        // What a delay fault still keeps goes now: the pair is ending.
        while let Some((_, _, msg)) = self.delayed.pop_front() {
            self.kept_bytes = self.kept_bytes.saturating_sub(payload_len(&msg));
            self.send_now(msg).await;
        }
        // What is still held will never go: say so.
        let left: Vec<(u64, Message, bool)> = self.held.drain(..).collect();
        for (id, msg, _) in left {
            self.steered(id, SteerEvent::Dropped("the pair closed".into()), &msg)
                .await;
        }
        self.kept_bytes = 0;
        self.close_other().await;
        self.record_pending().await;
        self.publish();
    }

    /// Whether more may be read: not while too much is held or delayed.
    fn has_room(&self) -> bool {
        self.held.len() < MAX_HELD
            && self.delayed.len() < MAX_DELAYED
            && self.kept_bytes < MAX_KEPT_BYTES
    }

    /// This direction is done: the other leg gets a close if it has had none
    /// (the peer's own close when there was one, else why the relay ends it).
    /// Bounded: a peer that reads nothing cannot keep the task.
    async fn close_other(&mut self) {
        let to = self.to();
        let info = match self.links.ends.outcome(self.from) {
            (Some(close), _) => close,
            (None, _) => match self.from {
                Side::Client => CloseInfo::new(1001, "wsprobe relay: the client went away"),
                Side::Server => {
                    CloseInfo::new(1011, "wsprobe relay: the server dropped the connection")
                }
            },
        };
        if self.dest_dead || !self.links.ends.sending(to, &info) {
            return;
        }
        // Codes that may not be sent (1005 no status, 1006) go as a close without one.
        let frame = (!matches!(info.code, 1005 | 1006 | 1015)).then(|| info.to_frame());
        let msg = Message::Close(frame);
        self.report(to, Direction::Out, &msg, None);
        self.record_pending().await;
        let sent = tokio::time::timeout(CLOSE_WAIT, self.dest.send(msg)).await;
        match sent {
            Ok(result) => self.wrote(result),
            Err(_) => self.dest_dead = true,
        }
    }

    /// Passes on one message and every further one already readable, then
    /// flushes once.
    async fn batch(&mut self, first: Option<Result<Message, WsError>>) -> Flow {
        self.show = self.links.reporter.has_room();
        let mut flow = self.one(first).await;
        for _ in 1..MAX_BATCH {
            if matches!(flow, Flow::End) || !self.has_room() {
                break;
            }
            match self.source.next().now_or_never() {
                Some(msg) => flow = self.one(msg).await,
                None => break,
            }
        }
        self.flush_dest().await;
        self.report_wire();
        flow
    }

    /// Both legs' frames on the wire since the last batch, offered to the screen;
    /// while it cannot keep up, the legs rest from logging them.
    fn report_wire(&self) {
        for leg in [Side::Client, Side::Server] {
            let log = self.links.wire[leg_index(leg)].as_ref();
            let (reporter, show) = (&self.links.reporter, self.show);
            crate::net::offer_wire(self.links.conn, log, |ev| show && reporter.offer(leg, ev));
            if let Some(log) = log {
                log.rest(!show);
            }
        }
    }

    async fn one(&mut self, msg: Option<Result<Message, WsError>>) -> Flow {
        let msg = match msg {
            Some(Ok(msg)) => msg,
            None | Some(Err(WsError::ConnectionClosed | WsError::AlreadyClosed)) => {
                self.source_ended(None).await;
                return Flow::End;
            }
            Some(Err(e)) => {
                let why = error_text(e, self.from.as_str());
                self.source_ended(Some(why)).await;
                return Flow::End;
            }
        };
        let from = self.from;
        let to = self.to();
        match &msg {
            Message::Text(_) | Message::Binary(_) => {
                self.read += 1;
                let payload = data_payload(&msg).unwrap_or_default();
                let text = matches!(msg, Message::Text(_));
                let rtt = match from {
                    // A request is timed from when it leaves for the server.
                    Side::Client => None,
                    Side::Server => {
                        self.links
                            .pending
                            .reply(text, payload, Instant::now())
                            .map(|a| Rtt {
                                kind: RttKind::Reply,
                                duration: a.latency,
                                label: a.label,
                            })
                    }
                };
                self.report(from, Direction::In, &msg, rtt);
                if self.links.steering.active() {
                    if let Some((why, paused)) = self.hold_reason(&msg) {
                        let id = self.links.steering.next_id();
                        self.steered(id, SteerEvent::Held(why), &msg).await;
                        self.kept_bytes += payload_len(&msg);
                        self.held.push_back((id, msg, paused));
                        return Flow::Go;
                    }
                }
                self.pass_data(msg).await;
            }
            Message::Ping(p) => {
                self.report(from, Direction::In, &msg, None);
                // tungstenite answers it on this leg; the peer on the other leg
                // hears it too, and its pong is shown but goes no further.
                self.report(from, Direction::Out, &Message::Pong(p.clone()), None);
                self.report(to, Direction::Out, &msg, None);
                self.pass_in_order(msg).await;
            }
            Message::Pong(_) => self.report(from, Direction::In, &msg, None),
            Message::Close(frame) => {
                let info = frame
                    .as_ref()
                    .map(CloseInfo::from_frame)
                    .unwrap_or_else(|| CloseInfo::new(1005, ""));
                let first = !self.links.ends.closing(from);
                self.report(from, Direction::In, &msg, None);
                self.links
                    .ends
                    .received(from, info.clone(), CloseCause::Peer);
                if first {
                    // tungstenite answers with the same frame.
                    self.report(from, Direction::Out, &msg, None);
                }
                if self.links.ends.sending(to, &info) {
                    self.report(to, Direction::Out, &msg, None);
                    self.pass_in_order(msg).await;
                }
            }
            Message::Frame(_) => {}
        }
        Flow::Go
    }

    /// Why a data message is held, if it is, and whether by a pause (a resume
    /// lets exactly those go) rather than the breakpoint.
    fn hold_reason(&self, msg: &Message) -> Option<(String, bool)> {
        let from = leg_index(self.from);
        self.links.steering.with_rules(|r| {
            if r.paused[from] {
                return Some(("paused".to_string(), true));
            }
            let re = r.breakpoint.as_ref()?;
            let text = match msg {
                Message::Text(t) => std::borrow::Cow::Borrowed(t.as_str()),
                Message::Binary(b) => String::from_utf8_lossy(b),
                _ => return None,
            };
            re.is_match(&text)
                .then(|| (format!("breakpoint /{}/", re.as_str()), false))
        })
    }

    /// A data message on its way to the other leg: the faults of its
    /// direction, then fed (flushed with the batch).
    async fn pass_data(&mut self, msg: Message) {
        if !self.links.steering.active() && self.delayed.is_empty() {
            return self.send_faulted(msg, &DirFaults::default()).await;
        }
        let faults = self
            .links
            .steering
            .with_rules(|r| r.faults[leg_index(self.to())].clone());
        if faults.drop_percent > 0.0 && self.dice.roll(faults.drop_percent) {
            let why = format!("fault: drop {}%", faults.drop_percent);
            return self.steered(0, SteerEvent::Dropped(why), &msg).await;
        }
        // Behind what a delay keeps, even once the delay is lifted: order is kept.
        if faults.delays() || !self.delayed.is_empty() {
            let now = tokio::time::Instant::now();
            let extra = if faults.delays() {
                faults.delay + faults.jitter.mul_f64(self.dice.unit())
            } else {
                std::time::Duration::ZERO
            };
            let due = now + extra;
            // Jitter never reorders: a message is not due before the one ahead of it.
            let due = self
                .delayed
                .back()
                .map_or(due, |(last, _, _)| due.max(*last));
            self.kept_bytes += payload_len(&msg);
            self.delayed.push_back((due, now, msg));
            return;
        }
        self.send_faulted(msg, &faults).await;
    }

    /// A control frame (ping, close) goes behind what a delay keeps.
    async fn pass_in_order(&mut self, msg: Message) {
        match self.delayed.back() {
            Some((last, _, _)) => {
                let due = *last;
                self.delayed
                    .push_back((due, tokio::time::Instant::now(), msg));
            }
            None => self.pass_on(msg).await,
        }
    }

    /// A delayed message whose time has come (or whose pair is ending).
    async fn send_now(&mut self, msg: Message) {
        if data_payload(&msg).is_none() {
            return self.pass_on(msg).await;
        }
        let faults = self
            .links
            .steering
            .with_rules(|r| r.faults[leg_index(self.to())].clone());
        self.send_faulted(msg, &faults).await;
    }

    /// Sends the delayed messages whose time has come.
    async fn send_due(&mut self) -> Flow {
        self.show = self.links.reporter.has_room();
        let now = tokio::time::Instant::now();
        while self.delayed.front().is_some_and(|(due, _, _)| *due <= now) {
            let (_, came, msg) = self.delayed.pop_front().expect("checked front");
            self.kept_bytes = self.kept_bytes.saturating_sub(payload_len(&msg));
            if data_payload(&msg).is_some() {
                self.steered(0, SteerEvent::Delayed(now - came), &msg).await;
            }
            self.send_now(msg).await;
        }
        self.flush_dest().await;
        Flow::Go
    }

    /// Feeds a message with its direction's fragment and close-after faults.
    async fn send_faulted(&mut self, msg: Message, faults: &DirFaults) {
        let to = self.to();
        self.count(to, Direction::Out, &msg);
        // A request is timed from when it leaves for the server.
        if let Some(payload) = data_payload(&msg).filter(|_| self.from == Side::Client) {
            if !self.dest_dead {
                let text = matches!(msg, Message::Text(_));
                self.links.pending.request(text, payload, Instant::now());
            }
        }
        let (kind, data) = match &msg {
            Message::Text(t) if faults.fragment > 1 => (Data::Text, Bytes::from(t.clone())),
            Message::Binary(b) if faults.fragment > 1 => (Data::Binary, b.clone()),
            _ => (Data::Binary, Bytes::new()),
        };
        if faults.fragment > 1 && !self.dest_dead {
            // At least one byte a frame; a text frame may end mid-character (the
            // peer validates the whole message).
            let pieces = faults.fragment.min(data.len().max(1));
            self.steered(0, SteerEvent::Fragmented(pieces), &msg).await;
            self.record_pending().await;
            for i in 0..pieces {
                let part = data.slice(i * data.len() / pieces..(i + 1) * data.len() / pieces);
                let opcode = OpCode::Data(if i == 0 { kind } else { Data::Continue });
                let fed = self
                    .dest
                    .feed(Message::Frame(WsFrame::message(
                        part,
                        opcode,
                        i + 1 == pieces,
                    )))
                    .await;
                self.wrote(fed);
            }
        } else {
            self.pass_on(msg).await;
        }
        self.passed += 1;
        if faults.close_after.is_some_and(|n| self.passed >= n) {
            let info = CloseInfo::new(faults.close_code, "wsprobe relay: close-after fault");
            if self.links.ends.sending(to, &info) && !self.dest_dead {
                let close = Message::Close(Some(info.to_frame()));
                self.report(to, Direction::Out, &close, None);
                self.record_pending().await;
                let fed = self.dest.feed(close).await;
                self.wrote(fed);
            }
        }
    }

    /// An order for the held messages: pass them on (perhaps edited) or drop them.
    async fn order(&mut self, order: Order) -> Flow {
        self.show = self.links.reporter.has_room();
        let (id, edited, forward, paused_only) = match order {
            Order::Forward {
                id,
                edited,
                paused_only,
            } => (id, edited, true, paused_only),
            Order::Drop { id } => (id, None, false, false),
        };
        let picked: Vec<(u64, Message)> = match id {
            None => {
                let (go, stay) = self
                    .held
                    .drain(..)
                    .partition(|(_, _, by_pause)| *by_pause || !paused_only);
                self.held = stay;
                go.into_iter().map(|(id, msg, _)| (id, msg)).collect()
            }
            Some(id) => match self.held.iter().position(|(h, _, _)| *h == id) {
                Some(i) => self
                    .held
                    .remove(i)
                    .into_iter()
                    .map(|(id, msg, _)| (id, msg))
                    .collect(),
                None => return Flow::Go,
            },
        };
        for (_, msg) in &picked {
            self.kept_bytes = self.kept_bytes.saturating_sub(payload_len(msg));
        }
        for (id, msg) in picked {
            if !forward {
                self.steered(id, SteerEvent::Dropped("by the user".into()), &msg)
                    .await;
                continue;
            }
            let msg = match &edited {
                Some(new) => {
                    let msg = match (&msg, std::str::from_utf8(new)) {
                        (Message::Text(_), Ok(text)) => Message::text(text.to_string()),
                        _ => Message::Binary(new.clone()),
                    };
                    self.steered(id, SteerEvent::Forwarded { edited: true }, &msg)
                        .await;
                    // What goes out is the relay's word now: shown as it left
                    // (and counted once, as it is passed on).
                    self.offer(self.to(), Direction::Out, &msg, None);
                    msg
                }
                None => {
                    self.steered(id, SteerEvent::Forwarded { edited: false }, &msg)
                        .await;
                    msg
                }
            };
            if self.links.ends.closing(self.to()) {
                continue;
            }
            self.pass_data(msg).await;
        }
        self.flush_dest().await;
        Flow::Go
    }

    /// Reports what the relay did to a message: offered to the screen like a
    /// frame, always recorded.
    async fn steered(&mut self, id: u64, what: SteerEvent, msg: &Message) {
        let Some((kind, payload, _)) = describe(msg) else {
            return;
        };
        let ev = NetEvent::Steered(Steered {
            conn: self.links.conn,
            ts: Utc::now(),
            id,
            what,
            kind,
            payload: detached(payload),
        });
        let reporter = &self.links.reporter;
        if reporter.tap.is_some() {
            self.recording.push((self.from, ev.clone()));
        }
        // Held messages must be seen (they wait for the user); faults are offered.
        if id > 0 {
            let _ = reporter.tx.send((self.from, ev)).await;
        } else if reporter.frames && !(self.show && reporter.tx.try_send((self.from, ev)).is_ok()) {
            self.unshown += 1;
        }
    }

    async fn flush_dest(&mut self) {
        self.record_pending().await;
        if !self.dest_dead {
            let flushed = self.dest.flush().await;
            self.wrote(flushed);
        }
        self.publish();
    }

    /// Feeds one message to the other leg (flushed with the batch).
    async fn pass_on(&mut self, msg: Message) {
        if self.dest_dead {
            return;
        }
        self.record_pending().await;
        let fed = self.dest.feed(msg).await;
        self.wrote(fed);
    }

    /// Notes a write's failure: a leg that is closing refuses further messages
    /// (not a failure); anything else means the leg is gone.
    fn wrote(&mut self, result: Result<(), WsError>) {
        match result {
            Ok(())
            | Err(WsError::ConnectionClosed)
            | Err(WsError::Protocol(ProtocolError::SendAfterClosing)) => {}
            Err(_) => self.dest_dead = true,
        }
    }

    /// The leg read from has ended. Without a close handshake, the other leg is
    /// closed for it, saying which side dropped.
    async fn source_ended(&mut self, why: Option<String>) {
        let from = self.from;
        if self.links.ends.closing(from) {
            return;
        }
        let why = why.unwrap_or_else(|| {
            format!(
                "the {} closed the connection without a close frame",
                from.as_str()
            )
        });
        self.links.ends.broke(from, why);
        let info = match from {
            Side::Client => CloseInfo::new(1001, "wsprobe relay: the client went away"),
            Side::Server => {
                CloseInfo::new(1011, "wsprobe relay: the server dropped the connection")
            }
        };
        let to = self.to();
        if self.links.ends.sending(to, &info) && !self.dest_dead {
            let msg = Message::Close(Some(info.to_frame()));
            self.report(to, Direction::Out, &msg, None);
            self.record_pending().await;
            let sent = self.dest.send(msg).await;
            self.wrote(sent);
        }
        self.publish();
    }

    /// A command for the leg written to: a message to inject, or a close.
    async fn command(&mut self, cmd: NetCommand) -> Flow {
        let to = self.to();
        self.show = self.links.reporter.has_room();
        if let NetCommand::Close(close) = &cmd {
            let info = close.clone().unwrap_or_else(|| CloseInfo::new(1005, ""));
            if !self.links.ends.sending(to, &info) {
                return Flow::Go;
            }
        } else if self.links.ends.closing(to) || self.dest_dead {
            let unsent = NetEvent::not_sent(self.links.conn, cmd, "the connection was closing");
            self.links.reporter.event(to, unsent).await;
            return Flow::Go;
        }
        let msg = match cmd.into_message() {
            Ok(msg) => msg,
            Err(_) => {
                let why = "raw frames go from a client or server, not through the relay";
                let unsent = NetEvent::Error {
                    conn: Some(self.links.conn),
                    ts: Utc::now(),
                    message: why.into(),
                };
                self.links.reporter.event(to, unsent).await;
                return Flow::Go;
            }
        };
        if let Some(payload) = data_payload(&msg).filter(|_| to == Side::Server) {
            let text = matches!(msg, Message::Text(_));
            self.links.pending.request(text, payload, Instant::now());
        }
        self.report(to, Direction::Out, &msg, None);
        self.record_pending().await;
        let sent = self.dest.send(msg).await;
        self.wrote(sent);
        self.publish();
        Flow::Go
    }

    fn count(&mut self, side: Side, dir: Direction, msg: &Message) {
        let len = payload_len(msg);
        if side == self.from {
            self.from_batch.count(dir, len);
        } else {
            self.to_batch.count(dir, len);
        }
    }

    /// Counts `msg` on `side`, and offers it to the screen and the recording.
    fn report(&mut self, side: Side, dir: Direction, msg: &Message, rtt: Option<Rtt>) {
        self.count(side, dir, msg);
        self.offer(side, dir, msg, rtt);
    }

    /// Offers `msg` to the screen and the recording, uncounted.
    fn offer(&mut self, side: Side, dir: Direction, msg: &Message, rtt: Option<Rtt>) {
        let reporter = &self.links.reporter;
        let recording = reporter.tap.is_some();
        let show = reporter.frames && self.show;
        if reporter.frames && !self.show {
            self.unshown += 1;
        }
        if !show && !recording {
            return;
        }
        let Some((kind, payload, close)) = describe(msg) else {
            return;
        };
        let message = if dir == Direction::In && kind.is_data() {
            self.read
        } else {
            0
        };
        let frame = Frame {
            payload: detached(payload),
            conn: self.links.conn,
            ts: Utc::now(),
            dir,
            kind,
            close,
            rtt,
            message,
        };
        if recording {
            self.recording.push((side, NetEvent::Frame(frame.clone())));
        }
        if show && !self.links.reporter.frame(side, frame) {
            self.show = false;
            self.unshown += 1;
        }
    }

    async fn record_pending(&mut self) {
        if self.recording.is_empty() {
            return;
        }
        let links = self.links.clone();
        if let Some(tap) = &links.reporter.tap {
            for (side, ev) in self.recording.drain(..) {
                let _ = tap.send_as(side, ev).await;
            }
        }
    }

    fn publish(&mut self) {
        if !self.from_batch.is_zero() {
            self.from_counters.add(&self.from_batch);
            self.from_batch = CounterSnapshot::default();
        }
        if !self.to_batch.is_zero() {
            self.to_counters.add(&self.to_batch);
            self.to_batch = CounterSnapshot::default();
        }
        self.links
            .reporter
            .not_shown(std::mem::take(&mut self.unshown));
    }
}

/// Payloads up to this size are copied before they are handed over.
const DETACH_MAX: usize = 64 * 1024;

/// A small payload as a copy of its own. A message's payload shares tungstenite's
/// read buffer; while a frame waiting in a queue holds on to it the buffer cannot
/// be reused, and each read then gets a new buffer only as large as the frame in
/// hand (reads of 14 and 64 bytes under a flood, twice the CPU per message). A
/// large one keeps sharing: its buffer was its own.
fn detached(payload: Bytes) -> Bytes {
    if payload.len() <= DETACH_MAX {
        Bytes::copy_from_slice(&payload)
    } else {
        payload
    }
}
