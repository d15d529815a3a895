//! Keeping a client connected: the supervisor runs one session after another on
//! one command queue, waits (with backoff) between attempts, and says what was
//! never sent when no connection follows.

use std::collections::VecDeque;
use std::time::Duration;

use chrono::Utc;
use tokio::sync::mpsc;
use tokio::task::JoinHandle;

use super::connect::{connect, Connected};
use super::{session, ClientOptions, Reporter, SessionOptions};
use crate::error::NetError;
use crate::net::inbox::{Inbox, Outbox};
use crate::net::{ConnId, NetCommand, NetEvent};

/// The first wait before reconnecting; it doubles with each failed attempt.
pub const RECONNECT_FIRST_DELAY: Duration = Duration::from_millis(500);

/// The wait before reconnect attempt `attempt` (1-based): exponential, capped,
/// with jitter in its upper half so that many clients do not retry in step.
pub fn backoff(attempt: u32, max: Duration, unit: f64) -> Duration {
    let doubled = RECONNECT_FIRST_DELAY.saturating_mul(1u32 << attempt.saturating_sub(1).min(20));
    let cap = doubled.min(max);
    cap.mul_f64(0.5 + 0.5 * unit.clamp(0.0, 1.0))
}

/// Starts the connection task for a connection already made. It reports
/// `Opened` first, then every frame in order (waiting for room rather than
/// dropping), and `Closed` last. Without connect options it cannot reconnect.
pub fn spawn(
    conn: Connected,
    id: ConnId,
    opts: SessionOptions,
    events: mpsc::Sender<NetEvent>,
) -> (Outbox<NetCommand>, JoinHandle<()>) {
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
) -> (Outbox<NetCommand>, JoinHandle<()>) {
    let (cmd_tx, cmd_rx) = crate::net::inbox::channel(256);
    let commands = cmd_tx.clone();
    let task = tokio::spawn(async move {
        Supervisor {
            connect_opts,
            reporter: Reporter {
                events,
                tap: opts.tap.clone(),
            },
            opts,
            commands,
            dice: crate::net::dice::Dice::new(
                std::process::id() as u64 ^ Utc::now().timestamp_subsec_nanos() as u64,
            ),
        }
        .run(first, first_id, cmd_rx)
        .await
    });
    (cmd_tx, task)
}

struct Supervisor {
    connect_opts: Option<ClientOptions>,
    opts: SessionOptions,
    reporter: Reporter,
    commands: Outbox<NetCommand>,
    dice: crate::net::dice::Dice,
}

impl Supervisor {
    async fn run(
        mut self,
        first: Option<Connected>,
        first_id: ConnId,
        mut cmd_rx: Inbox<NetCommand>,
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
                self.reporter
                    .event(NetEvent::not_sent(last, cmd, reason))
                    .await;
            }
        }
    }

    /// Runs connections until one ends for good; returns the last one's id.
    async fn connections(
        &mut self,
        mut first: Option<Connected>,
        mut id: ConnId,
        cmd_rx: &mut Inbox<NetCommand>,
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
                    let end = session::run(
                        conn,
                        id,
                        &self.opts,
                        &self.reporter,
                        &self.commands,
                        cmd_rx,
                        held,
                    )
                    .await;
                    if end.for_good {
                        return id;
                    }
                    lost = end.lost;
                }
                Err(e) => {
                    self.reporter
                        .event(NetEvent::Error {
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
            self.reporter
                .event(NetEvent::Reconnecting {
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
}

/// Waits out a reconnect delay while keeping an eye on the commands: a close (or
/// nobody left to send any) ends the retries; anything else waits its turn.
/// False when there is to be no retry.
async fn wait_for_retry(
    delay: Duration,
    cmd_rx: &mut Inbox<NetCommand>,
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
