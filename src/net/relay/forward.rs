//! One direction of a relayed pair: messages read from one leg are written to
//! the other, batched (fed, then flushed once when nothing more is ready), and
//! reported as they came. Reading waits while the other leg cannot take more,
//! so a peer that stops reading holds back the one that writes, and memory
//! stays bounded. Commands for the leg written to (inject, close) come here too.

use std::sync::Arc;
use std::time::Instant;

use chrono::Utc;
use futures_util::{FutureExt, Sink, SinkExt, Stream, StreamExt};
use tokio::sync::mpsc;
use tokio_tungstenite::tungstenite::error::ProtocolError;
use tokio_tungstenite::tungstenite::{Error as WsError, Message};

use super::ends::Ends;
use super::latency::Pending;
use super::Reporter;
use crate::net::{
    describe, error_text, CloseCause, CloseInfo, ConnCounters, ConnId, CounterSnapshot, Direction,
    Frame, NetCommand, NetEvent, Rtt, RttKind, Side,
};

/// How many already-read messages one batch may pass on before the task looks
/// at its commands again.
const MAX_BATCH: usize = 256;
/// How long a leg that is closing may take to finish its closing handshake.
const CLOSE_WAIT: std::time::Duration = std::time::Duration::from_secs(3);

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
        }
    }

    fn to(&self) -> Side {
        other(self.from)
    }

    /// Passes messages on until the leg read from has ended.
    pub(super) async fn run(mut self, mut commands: mpsc::Receiver<NetCommand>) {
        let mut commands_open = true;
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
                msg = self.source.next() => self.batch(msg).await,
            };
            if let Flow::End = flow {
                break;
            }
        }
        self.record_pending().await;
        self.publish();
    }

    /// Passes on one message and every further one already readable, then
    /// flushes once.
    async fn batch(&mut self, first: Option<Result<Message, WsError>>) -> Flow {
        self.show = self.links.reporter.has_room();
        let mut flow = self.one(first).await;
        for _ in 1..MAX_BATCH {
            if let Flow::End = flow {
                break;
            }
            match self.source.next().now_or_never() {
                Some(msg) => flow = self.one(msg).await,
                None => break,
            }
        }
        self.record_pending().await;
        if !self.dest_dead {
            let flushed = self.dest.flush().await;
            self.wrote(flushed);
        }
        self.publish();
        flow
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
                let payload: &[u8] = match &msg {
                    Message::Text(t) => t.as_bytes(),
                    Message::Binary(b) => b,
                    _ => unreachable!("matched above"),
                };
                let now = Instant::now();
                let rtt = match from {
                    Side::Client => {
                        self.links.pending.request(payload, now);
                        None
                    }
                    Side::Server => self.links.pending.reply(payload, now).map(|duration| Rtt {
                        kind: RttKind::Reply,
                        duration,
                    }),
                };
                self.report(from, Direction::In, &msg, rtt);
                self.count(to, Direction::Out, &msg);
                self.pass_on(msg).await;
            }
            Message::Ping(p) => {
                self.report(from, Direction::In, &msg, None);
                // tungstenite answers it on this leg; the peer on the other leg
                // hears it too, and its pong is shown but goes no further.
                self.report(from, Direction::Out, &Message::Pong(p.clone()), None);
                self.report(to, Direction::Out, &msg, None);
                self.pass_on(msg).await;
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
                    self.pass_on(msg).await;
                }
            }
            Message::Frame(_) => {}
        }
        Flow::Go
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
        let msg = cmd.into_message();
        if to == Side::Server && matches!(msg, Message::Text(_) | Message::Binary(_)) {
            let payload: &[u8] = match &msg {
                Message::Text(t) => t.as_bytes(),
                Message::Binary(b) => b,
                _ => &[],
            };
            self.links.pending.request(payload, Instant::now());
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
        let frame = Frame {
            conn: self.links.conn,
            ts: Utc::now(),
            dir,
            kind,
            payload,
            close,
            rtt,
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

fn payload_len(msg: &Message) -> usize {
    match msg {
        Message::Close(Some(c)) => 2 + c.reason.len(),
        Message::Close(None) => 0,
        m => m.len(),
    }
}
