//! One connection's session: what is sent and received in order, round trips
//! matched, pings and their timeout, the closing handshake, and every frame
//! reported without losing one.

use std::collections::VecDeque;
use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::Bytes;
use chrono::Utc;
use futures_util::{SinkExt, StreamExt};
use tokio_tungstenite::tungstenite::{Error as WsError, Message};
use tokio_tungstenite::MaybeTlsStream;

use super::connect::{Connected, WsStream};
use super::{Reporter, SessionOptions};
use crate::net::inbox::{Inbox, Outbox};
use crate::net::rtt::RttMatcher;
use crate::net::speak::Tracker;
use crate::net::{
    describe, error_text, CloseCause, CloseInfo, ConnCounters, ConnId, CounterSnapshot, Direction,
    Frame, FrameKind, NetCommand, NetEvent, Opened, Rtt, RttKind,
};

/// How long we wait for the peer to answer our close frame.
const CLOSE_TIMEOUT: Duration = Duration::from_secs(2);

/// Runs one connection from `Opened` to `Closed` and says how it ended.
pub(super) async fn run(
    conn: Connected,
    id: ConnId,
    opts: &SessionOptions,
    reporter: &Reporter,
    commands: &Outbox<NetCommand>,
    cmd_rx: &mut Inbox<NetCommand>,
    held: &mut VecDeque<NetCommand>,
) -> SessionEnd {
    let counters = Arc::new(ConnCounters::default());
    let handshake_subprotocol = conn.handshake.subprotocol.clone();
    reporter
        .event(NetEvent::Opened(Box::new(Opened {
            conn: id,
            ts: Utc::now(),
            peer: conn.peer,
            path: conn.path,
            handshake: conn.handshake,
            counters: counters.clone(),
            commands: commands.clone(),
            faults: None,
        })))
        .await;
    let speech = opts
        .speaker
        .as_ref()
        .map(|s| s.open(handshake_subprotocol.as_deref()));
    let session = Session {
        id,
        ws: conn.ws,
        tracker: Tracker::new(speech, false),
        matcher: RttMatcher::new(opts.echo_prefix.as_deref()),
        opts: opts.clone(),
        reporter: reporter.clone(),
        counters,
        first_close: None,
        ping_seq: 0,
        awaiting_pong: None,
        messages: [0; 2],
    };
    let end = session.run(cmd_rx, held).await;
    reporter
        .event(NetEvent::Closed {
            conn: id,
            ts: Utc::now(),
            close: end.close.clone(),
            cause: end.cause.clone(),
        })
        .await;
    end
}

/// How a session (one connection) ended, and whether another may follow.
pub(super) struct SessionEnd {
    pub(super) close: Option<CloseInfo>,
    pub(super) cause: CloseCause,
    /// Sends whose echo never came: lost with the connection.
    pub(super) lost: u64,
    /// Closed on purpose (or nobody is left to drive it): no reconnect.
    pub(super) for_good: bool,
}

struct Session {
    id: ConnId,
    ws: WsStream,
    /// The protocol's state on this connection (`--protocol`, `--correlate`)
    /// and its requests awaiting their replies.
    tracker: Tracker,
    opts: SessionOptions,
    matcher: RttMatcher,
    reporter: Reporter,
    counters: Arc<ConnCounters>,
    first_close: Option<(CloseInfo, CloseCause)>,
    ping_seq: u64,
    /// Since when our oldest unanswered ping has been waiting, for `--ping-timeout`.
    awaiting_pong: Option<tokio::time::Instant>,
    /// Data messages in and out, numbered as the frame layer numbers them.
    messages: [u64; 2],
}

impl Session {
    async fn run(
        mut self,
        commands: &mut Inbox<NetCommand>,
        held: &mut VecDeque<NetCommand>,
    ) -> SessionEnd {
        let (close, cause, commands_open) = self.exchange(commands, held).await;
        SessionEnd {
            for_good: cause == CloseCause::Local || !commands_open,
            lost: self.matcher.outstanding() as u64,
            close,
            cause,
        }
    }

    async fn exchange(
        &mut self,
        commands: &mut Inbox<NetCommand>,
        held: &mut VecDeque<NetCommand>,
    ) -> (Option<CloseInfo>, CloseCause, bool) {
        let mut commands_open = true;
        // The protocol's greeting and setup first (every connect re-runs
        // them), then what waited for a connection.
        let greeting: Vec<NetCommand> =
            self.tracker.speech().map(|s| s.greet()).unwrap_or_default();
        for cmd in greeting {
            if let Err(e) = self.send_as(cmd, true).await {
                return (None, CloseCause::Error(e), commands_open);
            }
        }
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
                        Err(e @ WsError::Capacity(_)) => {
                            // Told, not just dropped: 1009 says why (the run still fails).
                            let info = CloseInfo::new(1009, "message too big");
                            if self.ws.send(Message::Close(Some(info.to_frame()))).await.is_ok() {
                                self.report(Direction::Out, FrameKind::Close, info.payload(), Some(info), None).await;
                            }
                            break Some(error_text(e, "server"));
                        }
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
        self.report_wire().await;
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
        // A protocol's replies are its to pair; an echo is matched by content.
        let rtt = match self.replied(kind, &payload, at) {
            Some(rtt) => Some(rtt),
            None if self.tracker.established() => None,
            None => self.matcher.received(kind, &payload, at),
        };
        if kind == FrameKind::Pong {
            self.awaiting_pong = None;
        }
        // The peer opened the closing handshake: tungstenite answers it.
        let peer_first = kind == FrameKind::Close && self.first_close.is_none();
        let invalid = crate::net::invalid_peer_close(&msg, || match self.ws.get_ref().get_ref() {
            MaybeTlsStream::Plain(w) => w.peer_close(false),
            _ => None,
        });
        if peer_first {
            let info = close.clone().unwrap_or_else(|| CloseInfo::new(1005, ""));
            self.first_close = Some(match &invalid {
                Some(theirs) => (
                    theirs.clone(),
                    crate::net::invalid_close_cause(theirs, "server"),
                ),
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
        let mut answered = false;
        if kind.is_data() {
            let text = kind == FrameKind::Text;
            let answer = self.tracker.speech().and_then(|s| s.answer(text, &payload));
            if let Some(answer) = answer {
                // A keep-alive answer fails like any send: the session ends.
                self.send_as(answer, true).await?;
                answered = true;
            }
        }
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
            // What the protocol answered is not echoed as well (an engine.io
            // ping back at the server, a delivery published again).
            Message::Text(_) | Message::Binary(_) if self.opts.echo && !answered => {
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
        self.send_as(cmd, false).await
    }

    /// Sends a command; `own` when the protocol said it by itself (a greeting,
    /// an answer), so its reply answers nothing the user asked.
    async fn send_as(&mut self, cmd: NetCommand, own: bool) -> Result<(), String> {
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
            self.reporter
                .event(NetEvent::not_sent(self.id, cmd, reason))
                .await;
            return Ok(());
        }
        let msg = match cmd.into_message() {
            Ok(msg) => msg,
            Err(raw) => {
                let sent = crate::net::send_raw(&mut self.ws, &raw).await;
                // A whole message in raw frames (`/frag`) is timed like any other.
                if let (Ok(()), Some((kind, payload))) =
                    (&sent, crate::net::RawFrame::message(&raw))
                {
                    self.matcher.sent(kind, payload, Instant::now());
                }
                self.report_wire().await;
                return sent.map_err(|e| error_text(e, "server"));
            }
        };
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
                    self.reporter.event(unsent).await;
                }
                return Err(reason);
            }
        }
        // Stamped after the write: the RTT is the peer's and the network's, not our queue's.
        let at = Instant::now();
        let read = kind.is_data()
            && self
                .tracker
                .request(kind == FrameKind::Text, &payload, at, own);
        // A message a protocol reads waits for its reply, not its echo (unless
        // the protocol is only a guess about this one message).
        if !read || !self.tracker.established() {
            self.matcher.sent(kind, payload.clone(), at);
        }
        if kind == FrameKind::Ping && self.awaiting_pong.is_none() {
            self.awaiting_pong = Some(tokio::time::Instant::now());
        }
        self.report(Direction::Out, kind, payload, close, None)
            .await;
        Ok(())
    }

    /// A data message that came: the request it answers, by the protocol.
    fn replied(&mut self, kind: FrameKind, payload: &[u8], at: Instant) -> Option<Rtt> {
        if !kind.is_data() {
            return None;
        }
        let a = self.tracker.reply(kind == FrameKind::Text, payload, at)?;
        Some(Rtt {
            kind: if a.own {
                RttKind::Setup
            } else {
                RttKind::Reply
            },
            duration: a.latency,
            label: a.label,
        })
    }

    /// The frames on the wire since the last report, before the message they carry.
    async fn report_wire(&self) {
        // Offered, not waited for, and never recorded: the frames are the screen's.
        let reporter = &self.reporter;
        crate::net::offer_wire(self.id, self.ws.get_ref().log(), |ev| reporter.offer(ev));
    }

    async fn report(
        &mut self,
        dir: Direction,
        kind: FrameKind,
        payload: Bytes,
        close: Option<CloseInfo>,
        rtt: Option<crate::net::Rtt>,
    ) {
        let mut one = CounterSnapshot::default();
        one.count(dir, payload.len());
        self.counters.add(&one);
        self.report_wire().await;
        let message = if kind.is_data() {
            let n = &mut self.messages[(dir == Direction::Out) as usize];
            *n += 1;
            *n
        } else {
            0
        };
        let ev = NetEvent::Frame(Frame {
            conn: self.id,
            ts: Utc::now(),
            dir,
            kind,
            payload,
            close,
            rtt,
            message,
        });
        self.reporter.event(ev).await;
    }
}
