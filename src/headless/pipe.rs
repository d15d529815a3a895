//! `wsprobe client` without a dashboard: each stdin line goes out as a message,
//! every frame is printed, and at end of input the outstanding echoes are waited
//! for before a clean close. No reply is lost by exiting early.

use std::time::{Duration, Instant};

use bytes::Bytes;
use tokio::io::{AsyncBufReadExt, BufReader};
use tokio::sync::mpsc;

use super::output::{ClientTotals, Format, Printer};
use super::shutdown_signal;
use crate::net::client::{self, ClientOptions, SessionOptions};
use crate::net::{close_code_name, CloseCause, CloseInfo, NetCommand, NetEvent};

/// How long a close may take, queue and handshake included, before the client
/// gives up on the connection.
const GIVE_UP_AFTER_CLOSE: Duration = Duration::from_secs(5);

#[derive(Clone, Debug)]
pub struct PipeOptions {
    pub binary: bool,
    pub wait: Duration,
    /// Messages to send instead of stdin's lines (`--send-file`), each at its offset.
    pub script: Option<crate::sendfile::Script>,
    /// `--har FILE`: the session as HAR when it ends.
    pub har: Option<std::path::PathBuf>,
}

/// Connects, pipes stdin to the server and the server to stdout, and returns the
/// exit code. Connection failures come back as errors.
pub async fn run(
    connect: ClientOptions,
    session: SessionOptions,
    pipe: PipeOptions,
    mut printer: Printer,
    format: Format,
) -> anyhow::Result<u8> {
    let started = Instant::now();
    let echo_mode = session.echo;
    let init_len = session.init.len() as u64;
    let mut opens = 0u64;
    // Without --reconnect a failed first connect is the program's error (and
    // its exit code); with it, the supervisor keeps trying.
    let first = if session.reconnect.is_some() {
        None
    } else {
        match client::connect(&connect).await {
            Ok(c) => Some(c),
            Err(e) => {
                if let Some(r) = &session.recorder {
                    r.record(NetEvent::Error {
                        conn: Some(1),
                        ts: chrono::Utc::now(),
                        message: e.to_string(),
                    })
                    .await;
                }
                return Err(e.into());
            }
        }
    };
    let mut har = pipe.har.as_ref().map(|_| crate::har::Har::default());
    let (events_tx, mut events) = mpsc::channel(1024);
    let (commands, task) = client::supervise(Some(connect), first, 1, session, events_tx);

    let mut stdin = match pipe.script.clone() {
        Some(script) => script.play(pipe.binary),
        None if echo_mode => mpsc::channel(1).1,
        None => stdin_lines(pipe.binary),
    };
    let mut stdin_open = !echo_mode;
    let mut sent_lines = 0u64;
    let mut totals = ClientTotals::default();
    let mut wait_until: Option<tokio::time::Instant> = None;
    let mut closing = false;
    // A line read from stdin, waiting for room in the connection's queue.
    let mut pending: Option<NetCommand> = None;
    let mut outcome: Option<(Option<CloseInfo>, CloseCause)> = None;
    let shutdown = shutdown_signal();
    tokio::pin!(shutdown);

    // The close waits for room in the queue without holding up this loop, and a
    // server that never lets it through (it stopped reading) is given up on.
    let mut give_up_at: Option<tokio::time::Instant> = None;

    loop {
        // Everything sent has come back: no need to wait any longer.
        // Init messages went out on every connect and are echoed like lines.
        let echoed = totals.rtt.echo.count() + totals.lost;
        if !stdin_open
            && !echo_mode
            && !closing
            && (sent_lines + init_len * opens <= echoed
                || wait_until.is_some_and(|w| w <= tokio::time::Instant::now()))
        {
            give_up_at = Some(request_close(&commands));
            closing = true;
        }
        tokio::select! {
            ev = events.recv() => {
                let Some(ev) = ev else { break };
                let mut batch = vec![ev];
                while let Ok(ev) = events.try_recv() {
                    batch.push(ev);
                }
                for ev in &batch {
                    match ev {
                        NetEvent::Frame(f) => totals.count(f),
                        NetEvent::Opened(_) => opens += 1,
                        NetEvent::Reconnecting { lost, .. } => totals.lost += lost,
                        // A failed (re)connect: if nothing follows, it is how the run ended.
                        NetEvent::Error { message, .. } => {
                            outcome = Some((None, CloseCause::Error(message.clone())));
                        }
                        _ => {}
                    }
                    if let Some(h) = har.as_mut() {
                        h.event(&crate::record::Record::from_event(ev), crate::recorder::Side::Client);
                    }
                    printer.event(ev);
                }
                printer.flush().await;
                for ev in batch {
                    if let NetEvent::Closed { close, cause, .. } = ev {
                        outcome = Some((close, cause));
                    }
                }
            }
            line = stdin.recv(), if stdin_open && !closing && pending.is_none() => {
                match line {
                    Some(cmd) => pending = Some(cmd),
                    None => {
                        stdin_open = false;
                        wait_until = Some(tokio::time::Instant::now() + pipe.wait);
                    }
                }
            }
            // Waiting for room here, not inside the stdin branch, keeps the events
            // drained: the connection may be waiting for us to take its frames.
            permit = commands.reserve(), if pending.is_some() && !closing => {
                match permit {
                    Ok(permit) => {
                        permit.send(pending.take().expect("guarded"));
                        sent_lines += 1;
                    }
                    Err(_) => {
                        pending = None;
                        stdin_open = false;
                    }
                }
            }
            _ = async { tokio::time::sleep_until(wait_until.expect("guarded")).await }, if wait_until.is_some() && !closing => {}
            _ = &mut shutdown, if !closing => {
                give_up_at = Some(request_close(&commands));
                closing = true;
            }
            _ = async { tokio::time::sleep_until(give_up_at.expect("guarded")).await }, if give_up_at.is_some() => {
                task.abort();
                outcome = Some((None, CloseCause::Error(format!(
                    "the connection did not close within {} (the server may have stopped reading)",
                    humantime::format_duration(GIVE_UP_AFTER_CLOSE)
                ))));
                break;
            }
        }
    }
    let _ = task.await;

    let elapsed = started.elapsed();
    for line in totals.human(elapsed) {
        eprintln!("{line}");
    }
    if format == Format::Json {
        printer.line_record(&totals.record());
        printer.flush().await;
    }
    if let (Some(h), Some(path)) = (&har, &pipe.har) {
        if let Err(e) = h.write(path) {
            eprintln!("error: {e}");
            return Ok(1);
        }
    }
    let (close, cause) = outcome.unwrap_or((
        None,
        CloseCause::Error("the connection task ended unexpectedly".into()),
    ));
    Ok(exit_code(close.as_ref(), &cause))
}

/// Stdin's lines as messages, read by a task of their own so the loop can wait
/// on them like on anything else.
fn stdin_lines(binary: bool) -> mpsc::Receiver<NetCommand> {
    let (tx, rx) = mpsc::channel(1);
    tokio::spawn(async move {
        let mut lines = BufReader::new(tokio::io::stdin()).lines();
        while let Ok(Some(line)) = lines.next_line().await {
            let cmd = if binary {
                NetCommand::Binary(Bytes::from(line.into_bytes()))
            } else {
                NetCommand::Text(line)
            };
            if tx.send(cmd).await.is_err() {
                break;
            }
        }
    });
    rx
}

/// Queues a 1000 close without waiting for room; returns when to give up on it.
fn request_close(commands: &mpsc::Sender<NetCommand>) -> tokio::time::Instant {
    let commands = commands.clone();
    tokio::spawn(async move {
        let _ = commands
            .send(NetCommand::Close(Some(CloseInfo::new(1000, ""))))
            .await;
    });
    tokio::time::Instant::now() + GIVE_UP_AFTER_CLOSE
}

/// 0 when the connection ended the way it should, 1 (with a line on stderr) when not.
fn exit_code(close: Option<&CloseInfo>, cause: &CloseCause) -> u8 {
    match cause {
        CloseCause::Local => 0,
        CloseCause::Peer => match close {
            // 1005: a close frame without a code, which is a clean close too.
            Some(c) if matches!(c.code, 1000 | 1001 | 1005) => 0,
            Some(c) => {
                eprintln!(
                    "error: the server closed the connection with {} {}{}",
                    c.code,
                    close_code_name(c.code),
                    if c.reason.is_empty() {
                        String::new()
                    } else {
                        format!(": {}", crate::escape::escape_text(&c.reason, 200))
                    }
                );
                1
            }
            None => 0,
        },
        CloseCause::Error(e) => {
            eprintln!("error: {}", crate::escape::escape_text(e, 500));
            1
        }
    }
}
