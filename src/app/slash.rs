//! Slash commands typed into the input box. Parsing is pure and never panics:
//! anything it cannot make sense of comes back as a message for the user.

use std::time::Duration;

use bytes::Bytes;

use crate::frames::head::{self, CONTINUATION, PING, TEXT};
use crate::net::relay::steer::{Command as SteerCommand, DirFaults};
use crate::net::{CloseInfo, NetCommand, RawFrame, Side};
use crate::proto::{Context, Protocol};

/// At most this many messages for one `/repeat`, so a typo cannot flood forever.
pub const MAX_REPEAT: u64 = 1_000_000;

#[derive(Clone, Debug, PartialEq)]
pub enum SlashCommand {
    Text(String),
    Binary(Bytes),
    Ping(Bytes),
    Close {
        code: u16,
        reason: String,
    },
    Repeat {
        count: u64,
        interval: Duration,
        text: String,
    },
    /// Frames of the user's own shape: `/frame`, `/frag`.
    Raw(Vec<RawFrame>),
    Help,
    /// `/run FILE`: a script of these lines with expectations, on this connection.
    Run(String),
}

/// At most this many frames for one `/frag`.
pub const MAX_FRAGMENTS: usize = 10_000;

pub const HELP: &[(&str, &str)] = &[
    ("text", "send a text message (Alt-Enter for a newline)"),
    ("/ping [text]", "send a ping; its pong gives a ping RTT"),
    (
        "/close [code] [reason]",
        "close the connection (default 1000)",
    ),
    ("/hex 01 ff …", "send bytes as a binary message"),
    ("/json {…}", "check JSON and send it compact"),
    (
        "/repeat N INTERVAL text",
        "send text N times, e.g. /repeat 100 50ms hi",
    ),
    (
        "/frag N [--ping] text",
        "send text as N frames (with a ping between each)",
    ),
    (
        "/frame OP [nofin] [rsv1..3] [payload]",
        "send one raw frame: OP text, binary, cont, ping, pong, close or 0-15; payload text, hex:01ff or *N (N bytes)",
    ),
    (
        "/run FILE",
        "run a script of these lines with /expect, /wait…: each step in t, the result under the box",
    ),
    ("//text", "send text that starts with /"),
    ("/help", "show the keys and commands"),
];

impl SlashCommand {
    /// What one connection is asked to send; None for what is not one message
    /// (`/repeat`, `/help`).
    pub fn into_net(self) -> Option<NetCommand> {
        Some(match self {
            SlashCommand::Text(t) => NetCommand::Text(t),
            SlashCommand::Binary(b) => NetCommand::Binary(b),
            SlashCommand::Ping(p) => NetCommand::Ping(p),
            SlashCommand::Close { code, reason } => {
                NetCommand::Close(Some(CloseInfo::new(code, reason)))
            }
            SlashCommand::Raw(frames) => NetCommand::Raw(frames),
            SlashCommand::Repeat { .. } | SlashCommand::Help | SlashCommand::Run(_) => return None,
        })
    }
}

/// The relay's own commands: which leg a line goes to.
pub const RELAY_HELP: &[(&str, &str)] = &[
    (
        "text, /json, /hex, /ping",
        "to the selected pair's server, as if its client sent it",
    ),
    (
        "/inject client|server …",
        "to that leg: text, or /json {…}, /hex …, /ping",
    ),
    (
        "/close client|server [code] [reason]",
        "close that leg (the close is passed on to the other)",
    ),
];

/// Which leg of a relayed pair a typed line goes to, and the line as the
/// leg's own input box would take it: `/inject client hi` goes to the client
/// as `hi`; `/close server 4000 bye` to the server as `/close 4000 bye`;
/// anything else to the server as it is.
pub fn relay_leg(input: &str) -> Result<(Side, String), String> {
    let leg = |word: &str| match word {
        "client" => Some(Side::Client),
        "server" => Some(Side::Server),
        _ => None,
    };
    let split = |rest: &str| -> (String, String) {
        let rest = rest.trim_start();
        match rest.split_once(char::is_whitespace) {
            Some((w, r)) => (w.to_string(), r.trim_start().to_string()),
            None => (rest.to_string(), String::new()),
        }
    };
    if let Some(rest) = input
        .strip_prefix("/inject")
        .filter(|r| r.is_empty() || r.starts_with(' '))
    {
        let (word, line) = split(rest);
        let side =
            leg(&word).ok_or("usage: /inject client|server TEXT (or /json {…}, /hex …, /ping)")?;
        if line.is_empty() {
            return Err(format!("/inject {word}: nothing to send"));
        }
        return Ok((side, line));
    }
    if let Some(rest) = input.strip_prefix("/close ") {
        let (word, line) = split(rest);
        if let Some(side) = leg(&word) {
            return Ok((side, format!("/close {line}").trim_end().to_string()));
        }
    }
    Ok((Side::Server, input.to_string()))
}

/// The relay's steering commands, for the help.
pub const STEER_HELP: &[(&str, &str)] = &[
    (
        "/pause [client|server]",
        "hold every message from that side (both without)",
    ),
    (
        "/resume [client|server]",
        "stop holding, and pass on what the pause held",
    ),
    ("/break REGEX", "hold the messages that match (/break off clears)"),
    ("/forward [N|all]", "pass on held message N (all without)"),
    ("/edit N TEXT", "pass on held message N with TEXT instead"),
    ("/drop [N|all]", "drop held message N (all without)"),
    (
        "/fault [client|server] SPEC",
        "on messages from that side: delay 50ms jitter 20ms drop 5% fragment 3 close-after 100 code 4000; off",
    ),
];

/// A relay's steering command, when the line is one: `None` for anything else.
pub fn parse_steer(input: &str) -> Option<Result<SteerCommand, String>> {
    let rest = input.strip_prefix('/')?;
    let (name, args) = match rest.split_once(char::is_whitespace) {
        Some((n, a)) => (n, a.trim()),
        None => (rest, ""),
    };
    let side = |word: &str| -> Result<Option<Side>, String> {
        match word {
            "" | "both" => Ok(None),
            "client" => Ok(Some(Side::Client)),
            "server" => Ok(Some(Side::Server)),
            other => Err(format!("/{name}: `{other}` is not client, server or both")),
        }
    };
    let held = |word: &str| -> Result<Option<u64>, String> {
        match word.trim_start_matches('#') {
            "" | "all" => Ok(None),
            n => n
                .parse()
                .map(Some)
                .map_err(|_| format!("/{name}: `{word}` is not a held message's number")),
        }
    };
    Some(match name {
        "pause" => side(args).map(SteerCommand::Pause),
        "resume" => side(args).map(SteerCommand::Resume),
        "break" => match args {
            "" | "off" => Ok(SteerCommand::Break(None)),
            re => regex::RegexBuilder::new(re)
                .size_limit(1 << 20)
                .build()
                .map(|re| SteerCommand::Break(Some(re)))
                .map_err(|e| {
                    format!(
                        "/break: bad regex: {}",
                        e.to_string().lines().last().unwrap_or("")
                    )
                }),
        },
        "forward" => held(args).map(SteerCommand::Forward),
        "drop" => held(args).map(SteerCommand::Drop),
        "edit" => {
            let (n, text) = args.split_once(char::is_whitespace).unwrap_or((args, ""));
            match held(n) {
                Ok(Some(id)) if !text.is_empty() => Ok(SteerCommand::Edit(
                    id,
                    Bytes::from(text.trim_start().to_string()),
                )),
                Ok(_) => Err("usage: /edit N TEXT".into()),
                Err(e) => Err(e),
            }
        }
        "fault" | "faults" => parse_faults(args),
        _ => return None,
    })
}

/// `[client|server|both] off` or `[client|server|both] delay 50ms drop 5% …`.
fn parse_faults(args: &str) -> Result<SteerCommand, String> {
    let mut words = args.split_whitespace().peekable();
    let side = match words.peek() {
        Some(&"client") => Some(Side::Client),
        Some(&"server") => Some(Side::Server),
        _ => None,
    };
    if matches!(words.peek(), Some(&("client" | "server" | "both"))) {
        words.next();
    }
    let mut f = DirFaults {
        close_code: 1000,
        ..DirFaults::default()
    };
    let mut any = false;
    while let Some(word) = words.next() {
        if word == "off" {
            any = true;
            continue;
        }
        let value = words
            .next()
            .ok_or_else(|| format!("/fault: `{word}` needs a value"))?;
        let bad = |e: String| format!("/fault {word}: {e}");
        match word {
            "delay" => f.delay = crate::units::parse_duration(value).map_err(bad)?,
            "jitter" => f.jitter = crate::units::parse_duration(value).map_err(bad)?,
            "drop" => f.drop_percent = crate::units::parse_percent(value).map_err(bad)?,
            "fragment" => {
                f.fragment = value
                    .parse()
                    .map_err(|_| bad(format!("`{value}` is not a count")))?
            }
            "close-after" => {
                f.close_after = Some(
                    value
                        .parse()
                        .map_err(|_| bad(format!("`{value}` is not a count")))?,
                )
            }
            "code" => f.close_code = crate::units::parse_close_code(value).map_err(bad)?,
            other => {
                return Err(format!(
                    "/fault: `{other}` is none of delay, jitter, drop, fragment, close-after, code, off"
                ))
            }
        }
        any = true;
    }
    if !any {
        return Err("usage: /fault [client|server] delay 50ms jitter 20ms drop 5% fragment 3 close-after 100 code 4000, or off".into());
    }
    Ok(SteerCommand::Faults(side, f))
}

/// What was typed, with the commands of the protocol spoken (`/emit`,
/// `/call`…) besides wsprobe's own.
pub fn parse_speaking(
    input: &str,
    protocol: Option<Protocol>,
    ctx: &mut Context,
) -> Result<SlashCommand, String> {
    if let (Some(p), Some(rest)) = (protocol, input.strip_prefix('/')) {
        if let Some(encoded) = crate::proto::typed_command(p, rest, ctx) {
            return match encoded? {
                NetCommand::Text(t) => Ok(SlashCommand::Text(t)),
                NetCommand::Binary(b) => Ok(SlashCommand::Binary(b)),
                _ => Err("the command made no message".into()),
            };
        }
    }
    parse(input)
}

pub fn parse(input: &str) -> Result<SlashCommand, String> {
    let Some(rest) = input.strip_prefix('/') else {
        return Ok(SlashCommand::Text(input.to_string()));
    };
    if rest.starts_with('/') {
        return Ok(SlashCommand::Text(rest.to_string()));
    }
    let (name, args) = match rest.split_once(char::is_whitespace) {
        Some((n, a)) => (n, a.trim_start()),
        None => (rest, ""),
    };
    match name {
        "ping" => Ok(SlashCommand::Ping(Bytes::from(args.as_bytes().to_vec()))),
        "close" => parse_close(args),
        "hex" => parse_hex(args).map(SlashCommand::Binary),
        "json" => parse_json(args),
        "repeat" => parse_repeat(args),
        "frame" => parse_frame(args),
        "frag" => parse_frag(args),
        "help" | "?" => Ok(SlashCommand::Help),
        "run" => match args.trim() {
            "" => Err("usage: /run FILE (a script: these lines, with /expect, /wait…)".into()),
            file => Ok(SlashCommand::Run(file.to_string())),
        },
        "" => Err("type a command after /, or //text to send text starting with /".into()),
        other => Err(format!("unknown command /{other}; /help lists them")),
    }
}

/// `/frame OPCODE [fin|nofin] [rsv1] [rsv2] [rsv3] [PAYLOAD]`: one frame as typed.
fn parse_frame(args: &str) -> Result<SlashCommand, String> {
    let usage = "usage: /frame OPCODE [fin|nofin] [rsv1] [rsv2] [rsv3] [PAYLOAD], e.g. /frame cont fin hello, /frame ping *126, /frame 0x3";
    let mut rest = args.trim_start();
    let op = rest.split_whitespace().next().ok_or(usage)?;
    let opcode = head::parse_opcode(op).ok_or_else(|| format!("/frame: `{op}` is not an opcode (text, binary, cont, close, ping, pong or 0-15); {usage}"))?;
    rest = rest[op.len()..].trim_start();
    let (mut fin, mut rsv) = (true, 0u8);
    while let Some(w) = rest.split_whitespace().next() {
        match w.to_ascii_lowercase().as_str() {
            "fin" => fin = true,
            "nofin" => fin = false,
            "rsv1" => rsv |= 0b100,
            "rsv2" => rsv |= 0b010,
            "rsv3" => rsv |= 0b001,
            _ => break,
        }
        rest = rest[w.len()..].trim_start();
    }
    let payload = parse_payload(rest)?;
    Ok(SlashCommand::Raw(vec![RawFrame {
        opcode,
        fin,
        rsv,
        payload,
    }]))
}

/// A raw frame's payload: text as typed, `hex:01ff…`, or `*N` for N bytes of `x`.
fn parse_payload(s: &str) -> Result<Bytes, String> {
    if let Some(hex) = s.strip_prefix("hex:") {
        return parse_hex(hex).map_err(|e| e.replacen("/hex", "/frame hex:", 1));
    }
    if let Some(n) = s
        .strip_prefix('*')
        .filter(|n| !n.is_empty() && n.bytes().all(|b| b.is_ascii_digit()))
    {
        let n: usize = n
            .parse()
            .map_err(|_| format!("/frame: `*{n}` is too many bytes"))?;
        if n > 16 << 20 {
            return Err("/frame: at most 16 MiB of payload".into());
        }
        return Ok(Bytes::from(vec![b'x'; n]));
    }
    Ok(Bytes::from(s.as_bytes().to_vec()))
}

/// `/frag N [--ping] TEXT`: TEXT as N frames of a fragmented message, with a
/// ping between each with `--ping`.
fn parse_frag(args: &str) -> Result<SlashCommand, String> {
    let usage = "usage: /frag N [--ping] TEXT, e.g. /frag 3 hello world";
    let (n, rest) = args
        .trim_start()
        .split_once(char::is_whitespace)
        .unwrap_or((args.trim(), ""));
    let n: usize = n
        .parse()
        .ok()
        .filter(|n| (1..=MAX_FRAGMENTS).contains(n))
        .ok_or_else(|| format!("/frag: `{n}` is not a count from 1 to {MAX_FRAGMENTS}; {usage}"))?;
    let mut text = rest.trim_start();
    let ping = match text.strip_prefix("--ping") {
        Some(after) if after.is_empty() || after.starts_with(char::is_whitespace) => {
            text = after.trim_start();
            true
        }
        _ => false,
    };
    let bytes = text.as_bytes();
    if bytes.len() < n {
        return Err(format!(
            "/frag: {} bytes cannot make {n} frames of at least one byte each",
            bytes.len()
        ));
    }
    let mut frames = Vec::with_capacity(n * 2);
    let (size, extra) = (bytes.len() / n, bytes.len() % n);
    let mut at = 0;
    for i in 0..n {
        let len = size + usize::from(i < extra);
        frames.push(RawFrame {
            opcode: if i == 0 { TEXT } else { CONTINUATION },
            fin: i == n - 1,
            rsv: 0,
            payload: Bytes::copy_from_slice(&bytes[at..at + len]),
        });
        at += len;
        if ping && i < n - 1 {
            frames.push(RawFrame {
                opcode: PING,
                fin: true,
                rsv: 0,
                payload: Bytes::from(format!("between fragments {} and {}", i + 1, i + 2)),
            });
        }
    }
    Ok(SlashCommand::Raw(frames))
}

fn parse_close(args: &str) -> Result<SlashCommand, String> {
    let args = args.trim();
    if args.is_empty() {
        return Ok(SlashCommand::Close {
            code: 1000,
            reason: String::new(),
        });
    }
    let (code, reason) = match args.split_once(char::is_whitespace) {
        Some((c, r)) => (c, r.trim()),
        None => (args, ""),
    };
    let code = crate::units::parse_close_code(code).map_err(|e| format!("/close: {e}"))?;
    if reason.len() > 123 {
        return Err("/close: the reason must fit in 123 bytes".into());
    }
    Ok(SlashCommand::Close {
        code,
        reason: reason.to_string(),
    })
}

fn parse_hex(args: &str) -> Result<Bytes, String> {
    let digits: String = args
        .split(|c: char| c.is_whitespace() || c == ',' || c == ':')
        .map(|t| {
            t.strip_prefix("0x")
                .or_else(|| t.strip_prefix("0X"))
                .unwrap_or(t)
        })
        .collect();
    if digits.is_empty() {
        return Err("/hex: give bytes, e.g. /hex 01 ff 7e".into());
    }
    if let Some(bad) = digits.chars().find(|c| !c.is_ascii_hexdigit()) {
        return Err(format!("/hex: `{bad}` is not a hex digit"));
    }
    if !digits.len().is_multiple_of(2) {
        return Err("/hex: an odd number of hex digits; write each byte as two".into());
    }
    let bytes = (0..digits.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&digits[i..i + 2], 16).expect("checked hex digits"))
        .collect::<Vec<u8>>();
    Ok(Bytes::from(bytes))
}

fn parse_json(args: &str) -> Result<SlashCommand, String> {
    let value: serde_json::Value =
        serde_json::from_str(args).map_err(|e| format!("/json: not valid JSON: {e}"))?;
    Ok(SlashCommand::Text(value.to_string()))
}

fn parse_repeat(args: &str) -> Result<SlashCommand, String> {
    let usage = "usage: /repeat N INTERVAL text, e.g. /repeat 100 50ms hello";
    let mut parts = args.splitn(3, char::is_whitespace);
    let count = parts.next().filter(|s| !s.is_empty()).ok_or(usage)?;
    let interval = parts.next().ok_or(usage)?;
    let text = parts.next().unwrap_or("").to_string();
    let count: u64 = count
        .parse()
        .map_err(|_| format!("/repeat: `{count}` is not a count; {usage}"))?;
    if count == 0 || count > MAX_REPEAT {
        return Err(format!("/repeat: the count must be 1 to {MAX_REPEAT}"));
    }
    let interval = crate::units::parse_duration(interval).map_err(|e| format!("/repeat: {e}"))?;
    if text.is_empty() {
        return Err(format!("/repeat: nothing to send; {usage}"));
    }
    Ok(SlashCommand::Repeat {
        count,
        interval,
        text,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn plain_text_and_escaped_slash() {
        assert_eq!(parse("hello"), Ok(SlashCommand::Text("hello".into())));
        assert_eq!(parse("//etc"), Ok(SlashCommand::Text("/etc".into())));
        assert_eq!(parse(""), Ok(SlashCommand::Text("".into())));
    }

    #[test]
    fn ping_with_and_without_text() {
        assert_eq!(parse("/ping"), Ok(SlashCommand::Ping(Bytes::new())));
        assert_eq!(
            parse("/ping are you there"),
            Ok(SlashCommand::Ping(Bytes::from_static(b"are you there")))
        );
    }

    #[test]
    fn close_codes() {
        assert_eq!(
            parse("/close"),
            Ok(SlashCommand::Close {
                code: 1000,
                reason: "".into()
            })
        );
        assert_eq!(
            parse("/close 4000 bye now"),
            Ok(SlashCommand::Close {
                code: 4000,
                reason: "bye now".into()
            })
        );
        assert!(parse("/close 1005").unwrap_err().contains("cannot be sent"));
        assert!(parse("/close abc")
            .unwrap_err()
            .contains("not a close code"));
        assert!(parse("/close 99999").is_err());
        assert!(parse(&format!("/close 1000 {}", "x".repeat(200))).is_err());
    }

    #[test]
    fn hex_bytes() {
        assert_eq!(
            parse("/hex 01 ff 7e"),
            Ok(SlashCommand::Binary(Bytes::from_static(&[1, 0xff, 0x7e])))
        );
        assert_eq!(
            parse("/hex 0x01,0XFF"),
            Ok(SlashCommand::Binary(Bytes::from_static(&[1, 0xff])))
        );
        assert_eq!(
            parse("/hex deadbeef"),
            Ok(SlashCommand::Binary(Bytes::from_static(&[
                0xde, 0xad, 0xbe, 0xef
            ])))
        );
        assert!(parse("/hex").unwrap_err().contains("give bytes"));
        assert!(parse("/hex 1").unwrap_err().contains("odd"));
        assert!(parse("/hex zz").unwrap_err().contains("not a hex digit"));
        assert!(parse("/hex é").is_err());
    }

    #[test]
    fn json_is_validated_and_compacted() {
        assert_eq!(
            parse("/json { \"a\" : [1, 2] }"),
            Ok(SlashCommand::Text("{\"a\":[1,2]}".into()))
        );
        assert!(parse("/json {oops").unwrap_err().contains("not valid JSON"));
    }

    #[test]
    fn repeat() {
        assert_eq!(
            parse("/repeat 3 10ms hi there"),
            Ok(SlashCommand::Repeat {
                count: 3,
                interval: Duration::from_millis(10),
                text: "hi there".into()
            })
        );
        assert!(parse("/repeat").is_err());
        assert!(parse("/repeat 0 1s x").is_err());
        assert!(parse("/repeat 5 soon x").is_err());
        assert!(parse("/repeat 5 1s").is_err());
        assert!(parse("/repeat 99999999999 1s x").is_err());
    }

    #[test]
    fn raw_frames_as_typed() {
        let raw = |line: &str| match parse(line) {
            Ok(SlashCommand::Raw(frames)) => frames,
            other => panic!("{line}: {other:?}"),
        };
        let f = raw("/frame cont fin hello");
        assert_eq!((f[0].opcode, f[0].fin, f[0].rsv), (CONTINUATION, true, 0));
        assert_eq!(&f[0].payload[..], b"hello");
        let f = raw("/frame text nofin rsv1 rsv3 a b");
        assert_eq!((f[0].opcode, f[0].fin, f[0].rsv), (TEXT, false, 0b101));
        assert_eq!(&f[0].payload[..], b"a b");
        assert_eq!(raw("/frame ping *126")[0].payload.len(), 126);
        assert_eq!(&raw("/frame 0xB hex:01ff")[0].payload[..], &[1, 0xff]);
        assert!(raw("/frame close")[0].payload.is_empty());
        assert!(parse("/frame 16 x").unwrap_err().contains("not an opcode"));
        assert!(parse("/frame").unwrap_err().contains("usage"));
        assert!(parse("/frame text hex:0").is_err());
        assert!(parse("/frame text *99999999999").is_err());

        let f = raw("/frag 3 hello world");
        let shape: Vec<(u8, bool, &[u8])> = f
            .iter()
            .map(|f| (f.opcode, f.fin, &f.payload[..]))
            .collect();
        assert_eq!(
            shape,
            [
                (TEXT, false, &b"hell"[..]),
                (CONTINUATION, false, b"o wo"),
                (CONTINUATION, true, b"rld")
            ]
        );
        // Timed like a message: the whole of it, once its last frame is sent.
        assert_eq!(
            RawFrame::message(&f),
            Some((
                crate::net::FrameKind::Text,
                Bytes::from_static(b"hello world")
            ))
        );
        assert_eq!(RawFrame::message(&raw("/frame cont fin x")), None);
        assert_eq!(RawFrame::message(&raw("/frame text nofin x")), None);
        let f = raw("/frag 2 --ping ab");
        let ops: Vec<u8> = f.iter().map(|f| f.opcode).collect();
        assert_eq!(ops, [TEXT, PING, CONTINUATION]);
        assert!(parse("/frag 5 abc")
            .unwrap_err()
            .contains("cannot make 5 frames"));
        assert!(parse("/frag 0 abc").is_err());
        assert!(parse("/frag x abc").is_err());
    }

    #[test]
    fn unknown_commands_are_errors() {
        assert!(parse("/frobnicate")
            .unwrap_err()
            .contains("unknown command"));
        assert!(parse("/").is_err());
        assert_eq!(parse("/help"), Ok(SlashCommand::Help));
        assert_eq!(
            parse("/run checks.wsp"),
            Ok(SlashCommand::Run("checks.wsp".into()))
        );
        assert!(parse("/run").unwrap_err().contains("usage"));
    }

    #[test]
    fn a_relay_line_goes_to_the_leg_it_names() {
        assert_eq!(relay_leg("hello").unwrap(), (Side::Server, "hello".into()));
        assert_eq!(
            relay_leg("/inject client /json {}").unwrap(),
            (Side::Client, "/json {}".into())
        );
        assert_eq!(
            relay_leg("/close server 4000 bye").unwrap(),
            (Side::Server, "/close 4000 bye".into())
        );
        assert_eq!(
            relay_leg("/close client").unwrap(),
            (Side::Client, "/close".into())
        );
        assert_eq!(
            relay_leg("/close 1000").unwrap(),
            (Side::Server, "/close 1000".into())
        );
        assert!(relay_leg("/inject nobody hi").is_err());
        assert!(relay_leg("/inject client").is_err());
        assert_eq!(
            relay_leg("/injected").unwrap().1,
            "/injected",
            "only the command itself"
        );
    }

    #[test]
    fn steering_lines_are_read_as_people_write_them() {
        let p = |s: &str| parse_steer(s).expect("a steering command");
        assert_eq!(p("/pause").unwrap(), SteerCommand::Pause(None));
        assert_eq!(
            p("/pause client").unwrap(),
            SteerCommand::Pause(Some(Side::Client))
        );
        assert_eq!(p("/resume both").unwrap(), SteerCommand::Resume(None));
        assert!(p("/pause everyone").is_err());
        assert_eq!(p("/forward").unwrap(), SteerCommand::Forward(None));
        assert_eq!(p("/forward #12").unwrap(), SteerCommand::Forward(Some(12)));
        assert_eq!(p("/drop all").unwrap(), SteerCommand::Drop(None));
        assert!(p("/drop x").is_err());
        assert_eq!(
            p("/edit 3 new text").unwrap(),
            SteerCommand::Edit(3, Bytes::from_static(b"new text"))
        );
        assert!(p("/edit 3").is_err());
        assert!(matches!(p("/break ^a"), Ok(SteerCommand::Break(Some(_)))));
        assert_eq!(p("/break off").unwrap(), SteerCommand::Break(None));
        assert!(p("/break (").is_err());
        let SteerCommand::Faults(side, f) =
            p("/fault server delay 50ms jitter 10ms drop 5% fragment 3 close-after 9 code 4000")
                .unwrap()
        else {
            panic!("faults")
        };
        assert_eq!(side, Some(Side::Server));
        assert_eq!(f.delay, Duration::from_millis(50));
        assert_eq!(f.jitter, Duration::from_millis(10));
        assert_eq!(f.drop_percent, 5.0);
        assert_eq!(
            (f.fragment, f.close_after, f.close_code),
            (3, Some(9), 4000)
        );
        assert_eq!(
            p("/fault off").unwrap(),
            SteerCommand::Faults(
                None,
                DirFaults {
                    close_code: 1000,
                    ..DirFaults::default()
                }
            )
        );
        assert!(p("/fault server slow").is_err());
        assert!(p("/fault").is_err());
        assert!(parse_steer("/ping").is_none(), "not a steering command");
        assert!(parse_steer("hello").is_none());
    }
}
