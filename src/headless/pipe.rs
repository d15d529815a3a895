//! `wsprobe client` without a dashboard: each stdin line goes out as a message,
//! every frame is printed, and at end of input the outstanding echoes are waited
//! for before a clean close. No reply is lost by exiting early.

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use bytes::Bytes;
use tokio::io::{AsyncBufReadExt, BufReader};
use tokio::sync::mpsc;

use super::output::{Format, Printer};
use crate::net::client::{self, ClientOptions, SessionOptions};
use crate::net::inbox::Outbox;
use crate::net::{CloseCause, CloseInfo, Direction, NetCommand, NetEvent, Side};
use crate::present::ClientTotals;
use crate::proto::speech::Speech;
use crate::proto::{Context, Spoken};
use crate::record::har::HarFile;
use crate::record::sendfile::Script;
use crate::record::Record;

/// How long a close may take, queue and handshake included, before the client
/// gives up on the connection.
const GIVE_UP_AFTER_CLOSE: Duration = Duration::from_secs(5);

#[derive(Default)]
pub struct PipeOptions {
    pub binary: bool,
    /// Text mode: send a line that is not UTF-8 with its bad bytes replaced (U+FFFD)
    /// instead of stopping at it.
    pub lossy: bool,
    pub wait: Duration,
    /// Messages to send instead of stdin's lines (`--send-file`), each at its offset.
    pub script: Option<Script>,
    /// `--har FILE`: the session as HAR when it ends.
    pub har: Option<HarFile>,
    /// `--protocol`: what lines like `/call add 1 2` are encoded as.
    pub speech: Speech,
}

/// Connects, pipes stdin to the server and the server to stdout, and returns the
/// exit code. Connection failures come back as errors.
pub async fn run(
    connect: ClientOptions,
    session: SessionOptions,
    mut pipe: PipeOptions,
    mut printer: Printer,
    format: Format,
    shutdown: impl std::future::Future<Output = ()>,
) -> anyhow::Result<u8> {
    let started = Instant::now();
    let echo_mode = session.echo;
    let init_len = session.init.len() as u64;
    let mut opens = 0u64;
    let mut last_conn = 1;
    // Without --reconnect a failed first connect is the program's error (and
    // its exit code); with it, the supervisor keeps trying.
    let first = if session.reconnect.is_some() {
        None
    } else {
        match client::connect(&connect).await {
            Ok(c) => Some(c),
            Err(e) => {
                if let Some(tap) = &session.tap {
                    let _ = tap
                        .send(NetEvent::Error {
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
    // One subprotocol offered is the one a server can agree on (legacy
    // graphql-ws is told apart by it): known before the connection is.
    let offered = match connect.subprotocols.as_slice() {
        [one] => Some(one.clone()),
        _ => None,
    };
    let mut har = pipe.har.take();
    let (events_tx, mut events) = mpsc::channel(1024);
    let (commands, task) = client::supervise(Some(connect), first, 1, session, events_tx);

    // Why input stopped before its end, if it did: set before the channel closes.
    let input_error: InputError = Arc::default();
    let choice = pipe.speech.choice;
    // What lines like `/call add 1 2` are encoded with, kept up to date as
    // connections open and messages come (a recording's are sent as they are).
    let typed = pipe.script.is_none();
    let mut spoken = Spoken::new(choice, offered.as_deref());
    let mut ctx = pipe.speech.ctx.clone();
    let mut stdin = match pipe.script.clone() {
        Some(script) => script.play(pipe.binary),
        None if echo_mode => mpsc::channel(1).1,
        None => stdin_lines(pipe.binary, pipe.lossy, input_error.clone()),
    };
    let mut stdin_open = !echo_mode;
    let mut sent_lines = 0u64;
    let mut totals = ClientTotals::default();
    let mut wait_until: Option<tokio::time::Instant> = None;
    let mut closing = false;
    // Ctrl-C or SIGTERM: the rest of the input is left unsent on purpose.
    let mut interrupted = false;
    // The connection went for good while input was still coming.
    let mut input_cut = false;
    // A line read from stdin, waiting for room in the connection's queue.
    let mut pending: Option<NetCommand> = None;
    let mut outcome: Option<(Option<CloseInfo>, CloseCause)> = None;
    tokio::pin!(shutdown);

    // The close waits for room in the queue without holding up this loop, and a
    // server that never lets it through (it stopped reading) is given up on.
    let mut give_up_at: Option<tokio::time::Instant> = None;

    loop {
        // Everything sent has come back: no need to wait any longer.
        // Init messages went out on every connect and are echoed like lines.
        let echoed = totals.rtt.answered() + totals.lost + totals.not_sent;
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
                    totals.event(ev);
                    match ev {
                        NetEvent::Opened(o) => {
                            opens += 1;
                            last_conn = o.conn;
                            spoken = Spoken::new(choice, o.handshake.subprotocol.as_deref());
                        }
                        NetEvent::Frame(f) if f.kind.is_data() => {
                            spoken.read(f.dir == Direction::Out, f.kind, &f.payload);
                        }
                        // A failed (re)connect: if nothing follows, it is how the run ended.
                        NetEvent::Error { message, .. } => {
                            outcome = Some((None, CloseCause::Error(message.clone())));
                        }
                        _ => {}
                    }
                    if let Some(h) = har.as_mut() {
                        h.event(ev);
                    }
                    printer.event(Side::Client, ev);
                }
                printer.flush().await;
                for ev in batch {
                    if let NetEvent::Closed { close, cause, .. } = ev {
                        outcome = Some((close, cause));
                    }
                }
            }
            // Read once connected: a protocol's command is encoded as the
            // connection's protocol says (legacy GraphQL, a Socket.IO found out).
            line = stdin.recv(), if stdin_open && !closing && pending.is_none() && opens > 0 => {
                let line = match line {
                    Some(NetCommand::Text(t)) if typed => encode_typed(t, &spoken, &mut ctx),
                    other => Ok(other),
                };
                match line {
                    Ok(Some(cmd)) => pending = Some(cmd),
                    Ok(None) | Err(_) => {
                        if let (Err(e), Ok(mut slot)) = (line, input_error.lock()) {
                            *slot = Some(e);
                        }
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
                        // The connection is gone for good: this line never leaves.
                        if let Some(cmd) = pending.take() {
                            let reason = "the connection had ended before it could be sent";
                            let ev = NetEvent::not_sent(last_conn, cmd, reason);
                            totals.event(&ev);
                            printer.event(Side::Client, &ev);
                            printer.flush().await;
                        }
                        stdin_open = false;
                        input_cut = !echo_mode;
                    }
                }
            }
            _ = async { tokio::time::sleep_until(wait_until.expect("guarded")).await }, if wait_until.is_some() && !closing => {}
            _ = &mut shutdown, if !closing => {
                give_up_at = Some(request_close(&commands));
                closing = true;
                interrupted = true;
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
        printer.line_record(&Record::summary(&totals));
        printer.flush().await;
    }
    if let Some(h) = &har {
        if let Err(e) = h.write() {
            eprintln!("error: {e}");
            return Ok(1);
        }
    }
    let (close, cause) = outcome.unwrap_or((
        None,
        CloseCause::Error("the connection task ended unexpectedly".into()),
    ));
    let mut code = exit_code(close.as_ref(), &cause);
    // Input that was still coming when the connection ended for good: a line
    // ready now was never sent (one that takes longer may not exist at all).
    if stdin_open && !interrupted && !echo_mode {
        let next = tokio::time::timeout(Duration::from_millis(100), stdin.recv()).await;
        input_cut |= matches!(next, Ok(Some(_)));
    }
    if input_cut && !interrupted {
        eprintln!("error: the connection ended before the end of the input; the rest was not sent");
        code = code.max(1);
    }
    if totals.not_sent > 0 {
        eprintln!(
            "error: {} not sent: the connection had closed first",
            crate::present::count(totals.not_sent, "message was", "messages were")
        );
        code = code.max(1);
    }
    let input_error = input_error.lock().ok().and_then(|mut e| e.take());
    if let Some(e) = input_error {
        eprintln!("error: {e}");
        return Ok(code.max(1));
    }
    Ok(code)
}

type InputError = Arc<Mutex<Option<String>>>;

/// A line as typed: a command of the connection's protocol (`/call`, `/emit`…,
/// when one is named or was found; with `auto`, JSON-RPC's until then, as in
/// the input box) encoded, anything else sent as it is.
fn encode_typed(
    line: String,
    spoken: &Spoken,
    ctx: &mut Context,
) -> Result<Option<NetCommand>, String> {
    let (Some(p), Some(rest)) = (spoken.commands(), line.strip_prefix('/')) else {
        return Ok(Some(NetCommand::Text(line)));
    };
    match crate::proto::typed_command(p, rest, ctx) {
        Some(Ok(cmd)) => Ok(Some(cmd)),
        Some(Err(e)) => Err(format!(
            "the input's `{}`: {e}; it and the lines after it were not sent",
            crate::escape::escape_text(&line, 60)
        )),
        None => Ok(Some(NetCommand::Text(line))),
    }
}

/// Stdin's lines as messages, read by a task of their own so the loop can wait
/// on them like on anything else.
fn stdin_lines(binary: bool, lossy: bool, error: InputError) -> mpsc::Receiver<NetCommand> {
    let (tx, rx) = mpsc::channel(1);
    tokio::spawn(async move {
        let mut input = BufReader::new(tokio::io::stdin());
        let mut number = 0u64;
        loop {
            let mut line = Vec::new();
            let stop = match input.read_until(b'\n', &mut line).await {
                Ok(0) => None,
                Ok(_) => {
                    number += 1;
                    match line_to_message(line, number, binary, lossy) {
                        Ok(cmd) => match tx.send(cmd).await {
                            Ok(()) => continue,
                            Err(_) => None,
                        },
                        Err(e) => Some(e),
                    }
                }
                Err(e) => Some(format!("cannot read standard input: {e}")),
            };
            // Set before the sender drops, so the loop sees it when input ends.
            if let (Some(e), Ok(mut slot)) = (stop, error.lock()) {
                *slot = Some(e);
            }
            break;
        }
    });
    rx
}

/// One line of input (with its newline) as the message to send. In binary mode
/// the bytes go as they are, less the `\n`; in text mode a `\r\n` ending is
/// taken off too, and a line that is not UTF-8 stops the input unless `lossy`.
fn line_to_message(
    mut line: Vec<u8>,
    number: u64,
    binary: bool,
    lossy: bool,
) -> Result<NetCommand, String> {
    if line.last() == Some(&b'\n') {
        line.pop();
    }
    if binary {
        return Ok(NetCommand::Binary(Bytes::from(line)));
    }
    if line.last() == Some(&b'\r') {
        line.pop();
    }
    match String::from_utf8(line) {
        // Frames of one's own shape, as in the input box.
        Ok(text) if text.starts_with("/frag ") || text.starts_with("/frame ") => {
            match crate::app::slash::parse(&text) {
                Ok(cmd) => cmd
                    .into_net()
                    .ok_or_else(|| format!("line {number}: not a frame to send")),
                Err(e) => Err(format!(
                    "line {number} of the input: {e}; it and the lines after it were not sent"
                )),
            }
        }
        Ok(text) => Ok(NetCommand::Text(text)),
        Err(e) if lossy => Ok(NetCommand::Text(
            String::from_utf8_lossy(e.as_bytes()).into_owned(),
        )),
        Err(e) => Err(format!(
            "line {number} of the input is not valid UTF-8 (byte {} of the line), so it and \
             the lines after it were not sent; use --binary to send lines as raw bytes, \
             or --lossy to replace the bad bytes",
            e.utf8_error().valid_up_to() + 1
        )),
    }
}

/// Queues a 1000 close without waiting for room; returns when to give up on it.
fn request_close(commands: &Outbox<NetCommand>) -> tokio::time::Instant {
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
                    c.name(),
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

#[cfg(test)]
mod tests {
    use super::*;

    fn text(line: &[u8], lossy: bool) -> Result<NetCommand, String> {
        line_to_message(line.to_vec(), 7, false, lossy)
    }

    #[test]
    fn binary_lines_go_byte_for_byte() {
        let cmd = line_to_message(b"\xff\xfe two\r\n".to_vec(), 1, true, false);
        assert_eq!(
            cmd,
            Ok(NetCommand::Binary(Bytes::from_static(b"\xff\xfe two\r")))
        );
        // The last line of input may have no newline.
        let cmd = line_to_message(b"end".to_vec(), 2, true, false);
        assert_eq!(cmd, Ok(NetCommand::Binary(Bytes::from_static(b"end"))));
    }

    #[test]
    fn text_lines_lose_their_line_ending() {
        assert_eq!(text(b"one\r\n", false), Ok(NetCommand::Text("one".into())));
        assert_eq!(text(b"\n", false), Ok(NetCommand::Text(String::new())));
    }

    #[test]
    fn a_line_that_is_not_utf8_is_an_error_naming_it_unless_lossy() {
        let err = text(b"ab\xff\xfe two\n", false).unwrap_err();
        assert!(err.contains("line 7"), "{err}");
        assert!(err.contains("byte 3"), "{err}");
        assert!(err.contains("--binary") && err.contains("--lossy"), "{err}");
        assert_eq!(
            text(b"ab\xff two\n", true),
            Ok(NetCommand::Text("ab\u{fffd} two".into()))
        );
    }
}
