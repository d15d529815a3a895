//! One connection's echo: every message read is echoed back, batched (fed, then
//! flushed once when nothing more is ready), with the faults asked for; frames are
//! offered to whoever watches with `try_send` and counted when there is no room.

use std::collections::VecDeque;
use std::net::SocketAddr;
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use chrono::Utc;
use futures_util::{FutureExt, SinkExt, StreamExt};
use tokio::io::{AsyncRead, AsyncWrite, AsyncWriteExt};
use tokio_tungstenite::tungstenite::protocol::frame::coding::{Data, OpCode};
use tokio_tungstenite::tungstenite::protocol::frame::Frame as WsFrame;
use tokio_tungstenite::tungstenite::protocol::Role;
use tokio_tungstenite::tungstenite::{Error as WsError, Message};
use tokio_tungstenite::WebSocketStream;

use super::handshake::Upgraded;
use super::{mock, Registry, Reporter, ServerConfig};
use crate::frames::head::{Head, BINARY, MAX_HEAD, TEXT};
use crate::frames::through::PassOn;
use crate::frames::Frames;
use crate::net::dice::Dice;
use crate::net::inbox::{Alarm, Inbox, Outbox};
use crate::net::witness::Witness;
use crate::net::{
    describe, error_text, payload_len, CloseCause, CloseInfo, ConnCounters, ConnId,
    CounterSnapshot, Direction, Frame, NetCommand, NetEvent, Opened,
};

/// How many already-read messages one batch may echo before the connection task
/// looks at its commands again.
const MAX_BATCH: usize = 256;
/// Echoes this large or larger are sent past tungstenite's write buffer.
const BIG_ECHO: usize = 64 * 1024;
/// Echoes `--delay` may hold per connection before the connection stops reading.
const MAX_DELAYED: usize = 10_000;
type Socket<S> = WebSocketStream<Frames<Witness<S>>>;

/// The connection's WebSocket socket, or only the stream under it while it rests.
///
/// tungstenite's socket holds a read buffer from the moment it is made, and its
/// write buffer keeps the size of the largest burst: kilobytes per connection that
/// an idle one does not need. A quiet connection whose frame layer says
/// tungstenite holds nothing of the peer's (see [`Frames::at_rest`]) gives the
/// socket back and waits on the bare stream; the next byte or command makes a
/// fresh socket that reads on where the old one stopped. Its read buffer starts
/// small and grows when a message outgrows it: 1 MiB messages are read in a
/// few calls, not hundreds.
enum Link<S> {
    Open(Box<Socket<S>>),
    Resting(Frames<Witness<S>>),
    /// Only while one becomes the other.
    Changing,
}

/// What ended a rest.
enum Woken {
    Byte(u8),
    /// A byte came and the stream keeps it for the next reader.
    Kept,
    Command(NetCommand),
    CommandsGone,
    GiveUp,
    Ended(Option<String>),
}

/// How an open stretch ended.
enum Ran {
    Rest,
    End(Option<String>),
}

/// One connection from its completed handshake to its close: registered (so a
/// shutdown can close it), reported as opened, echoed, reported as closed.
/// A connection past its handshake, on its way to being served.
pub(super) struct Welcome<S> {
    pub(super) upgraded: Upgraded<S>,
    pub(super) peer: SocketAddr,
    pub(super) id: ConnId,
    pub(super) config: Arc<ServerConfig>,
    pub(super) reporter: Arc<Reporter>,
}

pub(super) async fn serve<S: AsyncRead + AsyncWrite + Unpin>(
    welcome: Box<Welcome<S>>,
    registry: Registry,
) {
    let id = welcome.id;
    let (cmd_tx, mut cmd_rx) = crate::net::inbox::channel(64);
    registry.add_ringing(id, cmd_tx.clone());
    let give_up = cmd_rx.alarm();
    // The connection lives in a box, and every large future it awaits is boxed
    // too: what an idle connection's task holds is only what it needs to rest.
    let mut conn = Box::pin(open(welcome, cmd_tx)).await;
    let (close, cause) = conn.run(&mut cmd_rx, &give_up).await;
    let closed = NetEvent::Closed {
        conn: id,
        ts: Utc::now(),
        close,
        cause,
    };
    Box::pin(conn.reporter.event(closed)).await;
    // Only now does a shutdown waiting for the registry to empty see it gone:
    // its close is recorded and reported before the program may exit.
    registry.remove(id);
}

/// Reports the connection opened and makes its state.
async fn open<S: AsyncRead + AsyncWrite + Unpin>(
    welcome: Box<Welcome<S>>,
    commands: Outbox<NetCommand>,
) -> Box<EchoConn<S>> {
    let Welcome {
        upgraded: Upgraded {
            ws,
            path,
            handshake,
        },
        peer,
        id,
        config,
        reporter,
    } = *welcome;
    let counters = Arc::new(ConnCounters::default());
    let mut ws = ws;
    if passes_through(&config, &reporter) {
        ws.get_mut().pass_big_binary(PassOn {
            tally: counters.clone(),
            max: config.max_message_size as u64,
        });
    }
    reporter
        .event(NetEvent::Opened(Box::new(Opened {
            conn: id,
            ts: Utc::now(),
            peer,
            path,
            handshake,
            counters: counters.clone(),
            commands,
            faults: config.faults.describe_live(&config.switches),
        })))
        .await;
    Box::new(EchoConn {
        id,
        ws: Link::Open(Box::new(ws)),
        read_buffer: config.read_buffer_size.min(crate::net::READ_BUFFER_SIZE),
        outgrown: false,
        commands_open: true,
        fresh: true,
        config,
        reporter,
        counters,
        batch: CounterSnapshot::default(),
        show: false,
        unshown: 0,
        first_close: None,
        echoed: 0,
        messages: [0; 2],
        delayed: VecDeque::new(),
        recording: Vec::new(),
        dice: Dice::new(id.wrapping_mul(0x9E37_79B9_7F4A_7C15) ^ std::process::id() as u64),
    })
}

/// Whether big binary messages may be echoed as they arrive, never seen
/// whole: only when nobody looks at them (no frames reported, no recording)
/// and they are echoed as they came, when they came (no fault, no mock).
fn passes_through(config: &ServerConfig, reporter: &Reporter) -> bool {
    let faults = &config.faults;
    !reporter.frames
        && reporter.tap.is_none()
        && config.mock.is_none()
        && faults.drop_percent == 0.0
        && faults.close_after.is_none()
        && faults.fragment <= 1
        && !faults.delays()
}

const GAVE_UP: &str = "the peer did not answer our close frame before the server stopped";

/// One echo connection's state while it runs.
struct EchoConn<S> {
    id: ConnId,
    ws: Link<S>,
    /// The read buffer of the socket now open; it grows up to the configured size.
    read_buffer: usize,
    /// A message came that was larger than the read buffer.
    outgrown: bool,
    commands_open: bool,
    /// Not yet past its first open stretch.
    fresh: bool,
    config: Arc<ServerConfig>,
    reporter: Arc<Reporter>,
    counters: Arc<ConnCounters>,
    /// Counted locally and published once per batch: cheaper than an atomic per frame.
    batch: CounterSnapshot,
    /// Whether this batch's frames go to the reporter (decided per batch).
    show: bool,
    /// Frames of this batch that could not be shown.
    unshown: u64,
    /// The first close frame of the closing handshake and who sent it.
    first_close: Option<Box<(CloseInfo, CloseCause)>>,
    /// Data messages echoed so far (for `close_after`).
    echoed: u64,
    /// Data messages in and out, numbered as the frame layer numbers them.
    messages: [u64; 2],
    /// Echoes held back by `--delay`, oldest first, with when they are due.
    delayed: VecDeque<(tokio::time::Instant, Message)>,
    /// Decides which echoes a `drop` fault swallows.
    dice: Dice,
    /// Frames for `--record` not yet handed to the tap: handed over before
    /// the bytes they describe leave, so a recording never misses an echo.
    recording: Vec<NetEvent>,
}

impl<S: AsyncRead + AsyncWrite + Unpin> EchoConn<S> {
    async fn run(
        &mut self,
        commands: &mut Inbox<NetCommand>,
        give_up: &Alarm<NetCommand>,
    ) -> (Option<CloseInfo>, CloseCause) {
        let mut woken_by = None;
        let error = loop {
            if matches!(self.ws, Link::Resting(_)) {
                match self.rest(commands, give_up).await {
                    Woken::Byte(b) => Box::pin(self.reopen(vec![b])).await,
                    Woken::Kept => Box::pin(self.reopen(Vec::new())).await,
                    Woken::Command(cmd) => {
                        Box::pin(self.reopen(Vec::new())).await;
                        woken_by = Some(cmd);
                    }
                    Woken::CommandsGone => {
                        self.commands_open = false;
                        continue;
                    }
                    Woken::GiveUp => break Some(GAVE_UP.to_string()),
                    Woken::Ended(e) => break e,
                }
            }
            // Boxed: the open stretch's futures are large, and a resting
            // connection should not carry room for them.
            match Box::pin(self.run_open(commands, give_up, woken_by.take())).await {
                Ran::Rest => continue,
                Ran::End(e) => break e,
            }
        };
        if let Link::Resting(_) = self.ws {
            self.reporter.resting.fetch_sub(1, Ordering::Relaxed);
        }
        self.publish();
        match (self.first_close.take().map(|b| *b), error) {
            (Some((close, cause)), _) => (Some(close), cause),
            (None, Some(e)) => (None, CloseCause::Error(e)),
            (None, None) => (
                None,
                CloseCause::Error("the peer closed the connection without a close frame".into()),
            ),
        }
    }

    /// The frame layer, open or resting.
    fn frames(&self) -> &Frames<Witness<S>> {
        match &self.ws {
            Link::Open(ws) => ws.get_ref(),
            Link::Resting(stream) => stream,
            Link::Changing => unreachable!("never left changing"),
        }
    }

    /// The open socket; only called while the connection is open.
    fn ws(&mut self) -> &mut Socket<S> {
        match &mut self.ws {
            Link::Open(ws) => ws,
            _ => unreachable!("the socket is used only while open"),
        }
    }

    /// Echoes until the connection ends or has been quiet for a while with
    /// nothing of the peer's held anywhere.
    async fn run_open(
        &mut self,
        commands: &mut Inbox<NetCommand>,
        give_up: &Alarm<NetCommand>,
        first: Option<NetCommand>,
    ) -> Ran {
        if let Some(cmd) = first {
            if let Err(e) = self.command(cmd).await {
                return Ran::End(Some(e));
            }
        }
        // A connection fresh from its handshake rests as soon as it has nothing
        // to read: when thousands arrive at once, each gives its buffers back
        // for the next one to use instead of all holding them for a second.
        let rest_after = self.config.rest_after;
        let first_quiet = if self.fresh {
            Duration::ZERO
        } else {
            rest_after
        };
        self.fresh = false;
        let mut quiet = std::pin::pin!(tokio::time::sleep(first_quiet));
        let mut busy = false;
        loop {
            let next_due = self.delayed.front().map(|(due, _)| *due);
            let commands_open = self.commands_open;
            tokio::select! {
                biased;
                // Shutting down, and the peer has not answered our close in time.
                _ = give_up.rung() => return Ran::End(Some(GAVE_UP.to_string())),
                _ = async { tokio::time::sleep_until(next_due.expect("guarded")).await }, if next_due.is_some() => {
                    if let Err(e) = self.send_due().await {
                        return Ran::End(Some(e));
                    }
                }
                cmd = commands.recv(), if commands_open => match cmd {
                    Some(cmd) => {
                        busy = true;
                        // A write may wait for a peer that stopped halfway
                        // through a frame passing through: giving up still ends it.
                        let done = tokio::select! {
                            done = self.command(cmd) => done,
                            _ = give_up.rung() => Err(GAVE_UP.to_string()),
                        };
                        if let Err(e) = done {
                            return Ran::End(Some(e));
                        }
                    }
                    None => self.commands_open = false,
                },
                // With echoes held back, reading stops at a bound: memory stays bounded.
                msg = self.ws().next(), if self.delayed.len() < MAX_DELAYED => {
                    let Some(msg) = msg else { return Ran::End(None) };
                    busy = true;
                    if let Err(e) = self.echo_batch(msg).await {
                        return Ran::End(Some(e));
                    }
                }
                // Last: reached only when the socket has nothing to read now.
                _ = &mut quiet => {
                    busy |= self.ws().get_mut().take_passed();
                    if !busy && self.can_rest() {
                        self.put_down();
                        return Ran::Rest;
                    }
                    busy = false;
                    quiet.as_mut().reset(tokio::time::Instant::now() + rest_after);
                }
            }
        }
    }

    /// Nothing is owed to the peer or held of its bytes.
    fn can_rest(&mut self) -> bool {
        self.first_close.is_none()
            && self.delayed.is_empty()
            && self.recording.is_empty()
            && self.ws().get_ref().at_rest()
    }

    /// Gives the socket back and keeps the stream (call when [`Self::can_rest`]).
    fn put_down(&mut self) {
        self.publish();
        if let Link::Open(ws) = std::mem::replace(&mut self.ws, Link::Changing) {
            let mut stream = ws.into_inner();
            stream.get_mut().forget_tail();
            stream.doze();
            self.ws = Link::Resting(stream);
            self.reporter.resting.fetch_add(1, Ordering::Relaxed);
        }
    }

    /// Waits, holding no socket, for the peer's next byte or a command.
    async fn rest(
        &mut self,
        commands: &mut Inbox<NetCommand>,
        give_up: &Alarm<NetCommand>,
    ) -> Woken {
        let Link::Resting(stream) = &mut self.ws else {
            unreachable!("called while resting")
        };
        // The byte that ends the rest is kept by the stream where frames pass
        // through (so the next frame can), else handed to the next socket.
        // One small poll, not two futures: a resting connection holds its state.
        let in_place = stream.wakes_in_place();
        let byte = std::future::poll_fn(|cx| {
            if in_place {
                return stream
                    .poll_wake(cx)
                    .map_ok(|woke| woke.then_some(Woken::Kept));
            }
            let mut byte = [0u8; 1];
            let mut buf = tokio::io::ReadBuf::new(&mut byte);
            std::pin::Pin::new(&mut *stream)
                .poll_read(cx, &mut buf)
                .map_ok(|()| buf.filled().first().map(|b| Woken::Byte(*b)))
        });
        tokio::select! {
            biased;
            _ = give_up.rung() => Woken::GiveUp,
            cmd = commands.recv(), if self.commands_open => match cmd {
                Some(cmd) => Woken::Command(cmd),
                None => Woken::CommandsGone,
            },
            read = byte => match read {
                Ok(Some(woken)) => woken,
                Ok(None) => Woken::Ended(None),
                Err(e) => Woken::Ended(Some(error_text(WsError::Io(e), "peer"))),
            },
        }
    }

    /// A fresh socket over the stream, with the read buffer now wanted. Only
    /// where the old socket held nothing of the peer's.
    async fn reopen(&mut self, first: Vec<u8>) {
        let stream = match std::mem::replace(&mut self.ws, Link::Changing) {
            Link::Open(ws) => ws.into_inner(),
            Link::Resting(stream) => {
                self.reporter.resting.fetch_sub(1, Ordering::Relaxed);
                stream
            }
            Link::Changing => unreachable!("never left changing"),
        };
        let ws = remake(
            stream,
            first,
            self.read_buffer,
            self.config.max_message_size,
        );
        self.ws = Link::Open(Box::new(ws.await));
    }

    /// After a batch: a socket whose messages outgrew its read buffer gets a
    /// larger one, handed what the old one held of a frame not yet whole (a peer
    /// with messages in flight is never between frames when the echo is done).
    async fn grow_if_outgrown(&mut self) {
        let most = self.config.read_buffer_size;
        if !self.outgrown || self.read_buffer >= most {
            return;
        }
        if let Some(partial) = self.ws().get_mut().take_partial() {
            self.outgrown = false;
            self.read_buffer = most;
            self.reopen(partial).await;
        }
    }

    /// Echoes one message and every further one that is already readable, then
    /// flushes once: batching the writes is what makes the echo fast.
    async fn echo_batch(&mut self, first: Result<Message, WsError>) -> Result<(), String> {
        self.show = self.reporter.has_room();
        // Frames the screen cannot take are not logged either, only counted.
        let show = self.show;
        self.ws().get_mut().watch(show);
        self.ws().get_mut().set_clean(false);
        let mut result = self.echo_one(first).await;
        let mut drained = false;
        for _ in 1..MAX_BATCH {
            if result.is_err() {
                break;
            }
            match self.ws().next().now_or_never() {
                Some(Some(msg)) => result = self.echo_one(msg).await,
                None => {
                    drained = true;
                    break;
                }
                Some(None) => break,
            }
        }
        // Even when a later frame of the batch was bad, the echoes already fed
        // are owed to the peer (and so is any close frame tungstenite queued).
        self.record_pending().await;
        let flushed = self.ws().flush().await;
        self.publish();
        result?;
        match flushed {
            Ok(()) => {
                self.flushed();
                if drained && self.first_close.is_none() {
                    self.grow_if_outgrown().await;
                }
                Ok(())
            }
            Err(WsError::ConnectionClosed) => Ok(()),
            Err(e) => Err(error_text(e, "peer")),
        }
    }

    async fn echo_one(&mut self, msg: Result<Message, WsError>) -> Result<(), String> {
        let msg = match msg {
            Ok(msg) => {
                if msg.len() > self.read_buffer && !self.outgrown {
                    self.outgrown = true;
                    self.ws().get_mut().keep_partial();
                }
                msg
            }
            Err(WsError::Capacity(e)) => {
                let info = CloseInfo::new(1009, "message too big");
                self.report(Direction::Out, &Message::Close(Some(info.to_frame())));
                self.record_pending().await;
                let _ = self.ws().close(Some(info.to_frame())).await;
                self.first_close = Some(Box::new((info, CloseCause::Error(format!("{e}")))));
                return Err(e.to_string());
            }
            Err(WsError::ConnectionClosed) => return Ok(()),
            Err(e) => return Err(error_text(e, "peer")),
        };
        let invalid =
            crate::net::invalid_peer_close(&msg, || self.ws().get_ref().get_ref().peer_close(true));
        // Logged as it came, not as tungstenite rewrote it.
        self.report_with(Direction::In, &msg, invalid.clone());
        if let (Some(mock), Message::Text(_) | Message::Binary(_)) = (&self.config.mock, &msg) {
            let mock = mock.clone();
            return self.answer_from(&mock, &msg).await;
        }
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
                            let cause = crate::net::invalid_close_cause(&theirs, "peer");
                            (theirs, cause)
                        }
                        None => (
                            info.unwrap_or_else(|| CloseInfo::new(1005, "")),
                            CloseCause::Peer,
                        ),
                    };
                    self.first_close = Some(Box::new((first, cause)));
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

    /// `--mock`: the recorded replies to `msg` instead of its echo (each with
    /// the faults an echo would get), or a word that there are none.
    async fn answer_from(&mut self, mock: &mock::Mock, msg: &Message) -> Result<(), String> {
        let Some(replies) = mock.answer(msg) else {
            let (kind, payload, _) = describe(msg).expect("a data message");
            let message = format!(
                "mock: no recorded reply to this {} message of {} bytes: {}",
                kind.as_str(),
                payload.len(),
                crate::escape::escape_bytes(&payload, 60)
            );
            self.reporter
                .event(NetEvent::Error {
                    conn: Some(self.id),
                    ts: Utc::now(),
                    message,
                })
                .await;
            return Ok(());
        };
        for reply in replies {
            if self.first_close.is_some() {
                break;
            }
            self.send_echo(reply).await?;
        }
        Ok(())
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
            self.first_close = Some(Box::new((info.clone(), CloseCause::Local)));
            self.delayed.clear();
            let msg = Message::Close(Some(info.to_frame()));
            self.report(Direction::Out, &msg);
            self.record_pending().await;
            self.ws().feed(msg).await.map_err(|e| e.to_string())?;
        }
        Ok(())
    }

    /// Sends the held-back echoes whose time has come.
    async fn send_due(&mut self) -> Result<(), String> {
        self.show = self.reporter.has_room();
        self.ws().get_mut().set_clean(false);
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
        let flushed = self.ws().flush().await;
        self.publish();
        result?;
        if flushed.is_ok() {
            self.flushed();
        }
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
            _ if echo.len() >= BIG_ECHO && self.frames().can_owe() => {
                return self.owe_echo(echo).await
            }
            _ => return self.ws().feed(echo).await.map_err(|e| e.to_string()),
        };
        // At least one byte a frame (a text frame may end mid-character: the peer
        // validates the whole message).
        let pieces = wanted.min(data.len().max(1));
        for i in 0..pieces {
            let part = data.slice(i * data.len() / pieces..(i + 1) * data.len() / pieces);
            let opcode = OpCode::Data(if i == 0 { kind } else { Data::Continue });
            let frame = WsFrame::message(part, opcode, i + 1 == pieces);
            self.ws()
                .feed(Message::Frame(frame))
                .await
                .map_err(|e| e.to_string())?;
        }
        Ok(())
    }

    /// Sends a big echo from a buffer of its own rather than through
    /// tungstenite's, which shifts its whole contents down after every partial
    /// write. It is started now and finished by a later write or the batch's
    /// flush, so the next message is read while this one goes out.
    async fn owe_echo(&mut self, echo: Message) -> Result<(), String> {
        let (opcode, payload) = match echo {
            Message::Text(t) => (TEXT, Bytes::from(t)),
            Message::Binary(b) => (BINARY, b),
            other => return self.ws().feed(other).await.map_err(|e| e.to_string()),
        };
        // Whatever tungstenite holds, and a frame still owed, leaves first.
        match self.ws().flush().await {
            Ok(()) => {}
            Err(WsError::ConnectionClosed) => return Ok(()),
            Err(e) => return Err(error_text(e, "peer")),
        }
        // Copied, not sent from the read buffer: measured, sending the payload
        // where it lies (at an odd offset in the read buffer, behind a header of
        // its own) echoed 1 MiB messages about a tenth slower than this copy.
        let frames = self.ws().get_mut();
        let mut frame = frames.owing();
        frame.reserve_exact(MAX_HEAD + payload.len());
        Head::new(opcode, true, payload.len() as u64).encode(&mut frame);
        frame.extend_from_slice(&payload);
        drop(payload);
        frames.owe(frame);
        match frames.flush().now_or_never() {
            Some(Err(e)) => Err(error_text(WsError::Io(e), "peer")),
            _ => Ok(()),
        }
    }

    /// Everything fed to tungstenite has been written: a big frame read next
    /// may pass through, unless a close frame has gone (nothing follows it).
    fn flushed(&mut self) {
        let open = self.first_close.is_none();
        self.ws().get_mut().set_clean(open);
    }

    /// Hands the batch's counts to the shared counters.
    fn publish(&mut self) {
        self.counters.add(&self.batch);
        self.batch = CounterSnapshot::default();
        self.reporter.not_shown(std::mem::take(&mut self.unshown));
        // As the messages: offered only while the screen keeps up, else counted.
        let (reporter, show) = (&self.reporter, self.show);
        crate::net::offer_wire(self.id, self.frames().log(), |ev| {
            show && reporter.offer(ev)
        });
    }

    async fn command(&mut self, cmd: NetCommand) -> Result<(), String> {
        self.show = self.reporter.has_room();
        self.ws().get_mut().set_clean(false);
        if self.first_close.is_some() && !matches!(cmd, NetCommand::Close(_)) {
            // Nothing may follow a close frame: say it never left.
            let reason = "the connection was already closing";
            let unsent = NetEvent::not_sent(self.id, cmd, reason);
            self.reporter.event(unsent).await;
            return Ok(());
        }
        let msg = match cmd.into_message() {
            Ok(msg) => msg,
            Err(raw) => {
                let sent = crate::net::send_raw(self.ws(), &raw).await;
                self.publish();
                if sent.is_ok() {
                    self.flushed();
                }
                return match sent {
                    Ok(()) | Err(WsError::ConnectionClosed) => Ok(()),
                    Err(e) => Err(error_text(e, "peer")),
                };
            }
        };
        if let Message::Close(frame) = &msg {
            if self.first_close.is_some() {
                return Ok(());
            }
            let info = frame
                .as_ref()
                .map(CloseInfo::from_frame)
                .unwrap_or_else(|| CloseInfo::new(1005, ""));
            self.first_close = Some(Box::new((info, CloseCause::Local)));
        }
        self.report(Direction::Out, &msg);
        self.record_pending().await;
        let sent = self.ws().send(msg).await;
        if sent.is_ok() {
            self.flushed();
        }
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
        let number = &mut self.messages[(dir == Direction::Out) as usize];
        let message = if matches!(msg, Message::Text(_) | Message::Binary(_)) {
            *number += 1;
            *number
        } else {
            0
        };
        let recording = self.reporter.tap.is_some();
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
            message,
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
        let reporter = &self.reporter;
        if let Some(tap) = &reporter.tap {
            for ev in self.recording.drain(..) {
                let _ = tap.send(ev).await;
            }
        }
    }
}

/// A server socket over `stream` that reads on from `first`, bytes of the
/// peer's already read.
async fn remake<S: AsyncRead + AsyncWrite + Unpin>(
    stream: S,
    mut first: Vec<u8>,
    read_buffer: usize,
    max_message_size: usize,
) -> WebSocketStream<S> {
    // tungstenite's read buffer is made from this vector, and every buffer it
    // allocates later is as large as the vector was: one with room for a byte
    // would read each frame in pieces ever after (and echo at half the rate).
    first.reserve(read_buffer.saturating_sub(first.len()));
    let config = crate::net::ws_config(max_message_size, read_buffer);
    WebSocketStream::from_partially_read(stream, first, Role::Server, Some(config)).await
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::pin::Pin;
    use std::sync::atomic::AtomicUsize;
    use std::task::{Context, Poll};
    use tokio::io::ReadBuf;

    /// A reader that counts the reads that brought bytes.
    struct Counted {
        inner: tokio::io::ReadHalf<tokio::io::DuplexStream>,
        reads: Arc<AtomicUsize>,
    }

    impl AsyncRead for Counted {
        fn poll_read(
            mut self: Pin<&mut Self>,
            cx: &mut Context<'_>,
            buf: &mut ReadBuf<'_>,
        ) -> Poll<std::io::Result<()>> {
            let before = buf.filled().len();
            let polled = Pin::new(&mut self.inner).poll_read(cx, buf);
            if buf.filled().len() > before {
                self.reads.fetch_add(1, Ordering::Relaxed);
            }
            polled
        }
    }

    #[tokio::test]
    async fn a_remade_socket_reads_many_frames_at_once_however_little_came_first() {
        for first in [Vec::new(), vec![0x82]] {
            let (mut client, b) = tokio::io::duplex(1 << 16);
            let reads = Arc::new(AtomicUsize::new(0));
            let (read, write) = tokio::io::split(b);
            let counted = Counted {
                inner: read,
                reads: reads.clone(),
            };
            // 200 small frames, 14 000 bytes: far past the first 4 KiB, so most
            // are read into buffers tungstenite allocated after the remake.
            let mut wire = Vec::new();
            for i in 0..200u8 {
                // Masked with a zero key: the payload reads as written.
                wire.extend([0x82, 0x80 | 64, 0, 0, 0, 0]);
                wire.extend(std::iter::repeat_n(i, 64));
            }
            // The first byte, when there is one, was read before the remake.
            tokio::io::AsyncWriteExt::write_all(&mut client, &wire[first.len()..])
                .await
                .unwrap();
            let stream = tokio::io::join(counted, write);
            let mut server = remake(stream, first, 4096, 1 << 20).await;
            let mut kept = Vec::new();
            for i in 0..200u8 {
                let msg = server.next().await.unwrap().unwrap();
                assert_eq!(msg, Message::binary(vec![i; 64]));
                // Held, as an echo is until it is written back.
                kept.push(msg);
            }
            let reads = reads.load(Ordering::Relaxed);
            assert!(
                reads <= 20,
                "14 000 bytes took {reads} reads through a 4 KiB buffer"
            );
        }
    }
}
