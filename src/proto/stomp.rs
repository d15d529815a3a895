//! STOMP 1.2 (and 1.0, 1.1): frames of a command line, `name:value` header
//! lines, a blank line and a body ended by NUL, one or more to a WebSocket
//! message (text or binary). A client frame with a `receipt` header is a
//! request, the server's RECEIPT (or ERROR) with that `receipt-id` its reply;
//! CONNECTED (or an ERROR) answers CONNECT.

use super::{clip, first_word, one_line, text_of, Codec, Context, Decoded, SUMMARY_VALUE};
use crate::net::speak::Pair;
use crate::net::NetCommand;

pub struct Stomp;

const COMMANDS: [&str; 15] = [
    "CONNECT",
    "STOMP",
    "SEND",
    "SUBSCRIBE",
    "UNSUBSCRIBE",
    "ACK",
    "NACK",
    "BEGIN",
    "COMMIT",
    "ABORT",
    "DISCONNECT",
    "CONNECTED",
    "MESSAGE",
    "RECEIPT",
    "ERROR",
];

/// Headers listed in the detail view; a frame may carry any number.
const HEADERS_SHOWN: usize = 50;
/// The most of a body's text the detail view gets.
const BODY_SHOWN: usize = 2000;

/// One frame, headers unescaped.
#[derive(Debug)]
struct Frame<'a> {
    command: &'static str,
    headers: Vec<(String, String)>,
    body: &'a [u8],
    /// The message ended before the frame's NUL (or before its blank line).
    truncated: bool,
}

impl Frame<'_> {
    /// A header's value; the first of repeated ones counts, as the spec says.
    fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.as_str())
    }

    fn is_client_frame(&self) -> bool {
        !matches!(self.command, "CONNECTED" | "MESSAGE" | "RECEIPT" | "ERROR")
    }

    fn summary(&self) -> String {
        let h = |name: &str| self.header(name).map(short);
        let tagged = |tag: &str, name: &str| h(name).map(|v| format!("{tag}{v}"));
        let mut parts: Vec<Option<String>> = match self.command {
            "CONNECT" | "STOMP" => vec![tagged("host ", "host"), tagged("login ", "login")],
            "CONNECTED" => vec![tagged("version ", "version"), tagged("server ", "server")],
            "SEND" => vec![h("destination"), tagged("tx:", "transaction")],
            "MESSAGE" => vec![h("destination"), h("subscription")],
            "SUBSCRIBE" => vec![
                h("destination"),
                tagged("id:", "id"),
                h("ack").filter(|a| a != "auto").map(|a| format!("ack:{a}")),
            ],
            "UNSUBSCRIBE" => vec![tagged("id:", "id")],
            // 1.2 acknowledges by `id`, 1.0 and 1.1 by `message-id`.
            "ACK" | "NACK" => vec![
                tagged("id:", "id").or_else(|| tagged("message-id:", "message-id")),
                tagged("tx:", "transaction"),
            ],
            "BEGIN" | "COMMIT" | "ABORT" => vec![h("transaction")],
            "RECEIPT" => vec![h("receipt-id")],
            "ERROR" => vec![h("message")],
            _ => Vec::new(),
        };
        if self.is_client_frame() {
            parts.push(tagged("receipt:", "receipt"));
        }
        if !self.body.is_empty() {
            parts.push(Some(body_summary(self.body)));
        }
        if self.truncated {
            parts.push(Some("(truncated)".into()));
        }
        let mut s = self.command.to_string();
        for p in parts.into_iter().flatten() {
            s.push(' ');
            s.push_str(&p);
        }
        s
    }

    fn decoded(&self) -> Decoded {
        let mut d = Decoded::new(self.summary()).field("command", self.command);
        for (n, v) in self.headers.iter().take(HEADERS_SHOWN) {
            d = d.field("header", format!("{n}:{v}"));
        }
        if self.headers.len() > HEADERS_SHOWN {
            d = d.field(
                "header",
                format!("(+{} more)", self.headers.len() - HEADERS_SHOWN),
            );
        }
        if !self.body.is_empty() {
            d = d.field(
                "body",
                match text_of(self.body) {
                    Some(t) => clip(t, BODY_SHOWN),
                    None => format!("({} B binary)", self.body.len()),
                },
            );
        }
        if self.truncated {
            d = d.field("truncated", "the message ends inside the frame");
        }
        d
    }

    /// A request this frame makes (from the client) or answers (from the server).
    fn pair(&self, from_client: bool) -> Option<Pair> {
        match (from_client, self.command) {
            // CONNECT may not ask for a receipt: CONNECTED is its answer.
            (true, "CONNECT" | "STOMP") => Some(Pair::Request {
                key: "CONNECT".into(),
                label: "CONNECT".into(),
            }),
            (true, command) if self.is_client_frame() => {
                let key = self.header("receipt")?.to_string();
                let label = match self.header("destination") {
                    Some(d) => format!("{command} {}", clip(d, SUMMARY_VALUE)),
                    None => command.to_string(),
                };
                Some(Pair::Request { key, label })
            }
            (false, "RECEIPT") => Some(Pair::Reply {
                key: self.header("receipt-id")?.to_string(),
            }),
            // An ERROR without receipt-id most often refuses the CONNECT (a
            // server closes the connection after any ERROR).
            (false, "ERROR") => Some(Pair::Reply {
                key: self.header("receipt-id").unwrap_or("CONNECT").to_string(),
            }),
            (false, "CONNECTED") => Some(Pair::Reply {
                key: "CONNECT".into(),
            }),
            _ => None,
        }
    }
}

/// A value for a summary: clipped, on one line.
fn short(v: &str) -> String {
    one_line(&clip(v, SUMMARY_VALUE))
}

/// `(5 B) hello` or `(5 B binary)`.
fn body_summary(body: &[u8]) -> String {
    match text_of(body) {
        Some(t) => format!("({} B) {}", body.len(), short(t)),
        None => format!("({} B binary)", body.len()),
    }
}

fn is_eol(b: &u8) -> bool {
    *b == b'\n' || *b == b'\r'
}

/// Only line breaks: the heart-beats STOMP sends between frames.
fn is_heartbeat(payload: &[u8]) -> bool {
    !payload.is_empty() && payload.iter().all(is_eol)
}

/// One line without its `\n` (or `\r\n`), and what follows; None without `\n`.
fn line(buf: &[u8]) -> Option<(&[u8], &[u8])> {
    let at = memchr::memchr(b'\n', buf)?;
    let (l, rest) = (&buf[..at], &buf[at + 1..]);
    Some((l.strip_suffix(b"\r").unwrap_or(l), rest))
}

/// A header value as 1.2 escapes it (`\c` for `:`); an escape the spec does
/// not define stays as it is, for the reader to see.
fn unescape(v: &str) -> String {
    let mut out = String::with_capacity(v.len());
    let mut chars = v.chars();
    while let Some(c) = chars.next() {
        if c != '\\' {
            out.push(c);
            continue;
        }
        match chars.next() {
            Some('r') => out.push('\r'),
            Some('n') => out.push('\n'),
            Some('c') => out.push(':'),
            Some('\\') => out.push('\\'),
            Some(other) => {
                out.push('\\');
                out.push(other);
            }
            None => out.push('\\'),
        }
    }
    out
}

/// A header value escaped as 1.2 wants it in every frame but CONNECT.
fn escape(v: &str) -> String {
    let mut out = String::with_capacity(v.len());
    for c in v.chars() {
        match c {
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            ':' => out.push_str("\\c"),
            c => out.push(c),
        }
    }
    out
}

fn header(line: &[u8], escapes: bool) -> (String, String) {
    let text = String::from_utf8_lossy(line);
    // A line without a colon is malformed; kept as a name so it shows.
    let (name, value) = text.split_once(':').unwrap_or((&text, ""));
    match escapes {
        true => (unescape(name), unescape(value)),
        false => (name.to_string(), value.to_string()),
    }
}

/// The frame at the start of `buf` (after heart-beats) and what follows it;
/// None when no STOMP command starts it.
fn frame(buf: &[u8]) -> Option<(Frame<'_>, &[u8])> {
    let start = buf.iter().position(|b| !is_eol(b))?;
    let buf = &buf[start..];
    let (command, mut rest, mut truncated) = match line(buf) {
        Some((l, rest)) => (l, rest, false),
        None => (buf, &[][..], true),
    };
    let command = *COMMANDS.iter().find(|c| c.as_bytes() == command)?;
    // CONNECT and CONNECTED predate escapes; 1.2 keeps them raw for 1.0 peers.
    let escapes = !matches!(command, "CONNECT" | "CONNECTED");
    let mut headers = Vec::new();
    while !truncated {
        // A NUL where a header would be: a frame without the blank line.
        if rest.first() == Some(&0) {
            let f = Frame {
                command,
                headers,
                body: &[],
                truncated: false,
            };
            return Some((f, &rest[1..]));
        }
        match line(rest) {
            Some((l, after)) => {
                rest = after;
                if l.is_empty() {
                    break;
                }
                headers.push(header(l, escapes));
            }
            None => {
                if !rest.is_empty() {
                    headers.push(header(rest, escapes));
                }
                rest = &[];
                truncated = true;
            }
        }
    }
    let mut f = Frame {
        command,
        headers,
        body: &[],
        truncated,
    };
    if truncated {
        return Some((f, &[]));
    }
    // content-length lets a body hold NULs; one that does not end on a NUL
    // within the message is not believed.
    let length = f
        .header("content-length")
        .and_then(|v| v.trim().parse::<usize>().ok())
        .filter(|&n| rest.get(n) == Some(&0));
    let end = length.or_else(|| memchr::memchr(0, rest));
    match end {
        Some(n) => {
            f.body = &rest[..n];
            Some((f, &rest[n + 1..]))
        }
        None => {
            f.body = rest;
            f.truncated = true;
            Some((f, &[]))
        }
    }
}

/// Every frame of a message, up to the first that is not one.
fn frames(payload: &[u8]) -> impl Iterator<Item = Frame<'_>> {
    let mut rest = payload;
    std::iter::from_fn(move || {
        let (f, after) = frame(rest)?;
        rest = after;
        Some(f)
    })
}

impl Codec for Stomp {
    fn decode(&self, _text: bool, payload: &[u8]) -> Option<Decoded> {
        if is_heartbeat(payload) {
            return Some(Decoded::new("heart-beat").field("command", "heart-beat"));
        }
        let mut all = frames(payload);
        let first = all.next()?;
        let mut d = first.decoded();
        let more = all.count();
        if more > 0 {
            let s = if more == 1 { "" } else { "s" };
            d.summary.push_str(&format!(" +{more} more frame{s}"));
            d = d.field("frames", (more + 1).to_string());
        }
        Some(d)
    }

    fn pairs(&self, from_client: bool, _text: bool, payload: &[u8], out: &mut Vec<Pair>) {
        out.extend(frames(payload).filter_map(|f| f.pair(from_client)));
    }

    fn commands(&self) -> &'static [(&'static str, &'static str)] {
        &[
            (
                "/send DESTINATION BODY",
                "send a text message asking for a receipt, e.g. /send /queue/a hello",
            ),
            (
                "/subscribe DESTINATION",
                "subscribe (ack:auto) asking for a receipt; the id is the receipt's number",
            ),
            ("/unsubscribe ID", "end the subscription with this id"),
            (
                "/disconnect",
                "say goodbye (the server's RECEIPT means all was received)",
            ),
        ]
    }

    fn encode(
        &self,
        command: &str,
        args: &str,
        ctx: &mut Context,
    ) -> Option<Result<NetCommand, String>> {
        let frame = match command {
            "send" => send(args, ctx),
            "subscribe" => match first_word(args) {
                ("", _) => Err("which destination? e.g. /subscribe /topic/news".into()),
                (dest, _) => {
                    // One number serves as the subscription's id and receipt.
                    let id = ctx.take_id();
                    Ok(format!(
                        "SUBSCRIBE\nid:{id}\ndestination:{}\nack:auto\nreceipt:{id}\n\n\0",
                        escape(dest)
                    ))
                }
            },
            "unsubscribe" => match first_word(args) {
                ("", _) => Err("which subscription id? e.g. /unsubscribe 1".into()),
                (sub, _) => Ok(format!(
                    "UNSUBSCRIBE\nid:{}\nreceipt:{}\n\n\0",
                    escape(sub),
                    ctx.take_id()
                )),
            },
            "disconnect" => Ok(format!("DISCONNECT\nreceipt:{}\n\n\0", ctx.take_id())),
            _ => return None,
        };
        Some(frame.map(NetCommand::Text))
    }

    fn greet(&self, ctx: &mut Context) -> Vec<NetCommand> {
        // Headers from --connect-payload (login, passcode, or a host that
        // names a broker's virtual host), as long as a CONNECT, which has no
        // escapes, can carry them.
        let mut extra: Vec<(String, String)> = Vec::new();
        if let Some(serde_json::Value::Object(o)) = &ctx.connect_payload {
            for (k, v) in o {
                let v = match v {
                    serde_json::Value::String(s) => s.clone(),
                    serde_json::Value::Number(_) | serde_json::Value::Bool(_) => v.to_string(),
                    _ => continue,
                };
                let bad = |s: &str| s.contains(['\n', '\r', '\0']);
                if !k.is_empty() && !k.contains(':') && !bad(k) && !bad(&v) {
                    extra.push((k.clone(), v));
                }
            }
        }
        // The virtual host: `/` is every broker's default, and RabbitMQ refuses
        // a host name it has no virtual host for (`"host"` names another).
        let host = "/";
        let mut f = String::from("CONNECT\n");
        for (name, value) in [
            ("accept-version", "1.2,1.1,1.0"),
            ("host", host),
            ("heart-beat", "0,0"),
        ] {
            if !extra.iter().any(|(k, _)| k == name) {
                f.push_str(&format!("{name}:{value}\n"));
            }
        }
        for (k, v) in &extra {
            f.push_str(&format!("{k}:{v}\n"));
        }
        f.push_str("\n\0");
        vec![NetCommand::Text(f)]
    }
}

fn send(args: &str, ctx: &mut Context) -> Result<String, String> {
    let (dest, body) = first_word(args);
    if dest.is_empty() {
        return Err("which destination? e.g. /send /queue/a hello".into());
    }
    // No content-length unless the body needs one: ActiveMQ takes a message
    // with it for bytes, not text.
    let length = match body.contains('\0') {
        true => format!("content-length:{}\n", body.len()),
        false => String::new(),
    };
    Ok(format!(
        "SEND\ndestination:{}\ncontent-type:text/plain\n{length}receipt:{}\n\n{body}\0",
        escape(dest),
        ctx.take_id()
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn decode(s: &str) -> Decoded {
        Stomp.decode(true, s.as_bytes()).expect(s)
    }

    fn summary(s: &str) -> String {
        decode(s).summary
    }

    fn pairs(from_client: bool, s: &str) -> Vec<Pair> {
        let mut out = Vec::new();
        Stomp.pairs(from_client, true, s.as_bytes(), &mut out);
        out
    }

    fn text(c: Option<Result<NetCommand, String>>) -> String {
        match c {
            Some(Ok(NetCommand::Text(t))) => t,
            other => panic!("{other:?}"),
        }
    }

    // The frames below are the examples of the STOMP 1.2 specification
    // (stomp.github.io/stomp-specification-1.2.html).
    const SPEC_CONNECT: &str = "CONNECT\naccept-version:1.2\nhost:stomp.github.org\n\n\0";
    const SPEC_CONNECTED: &str = "CONNECTED\nversion:1.2\n\n\0";
    const SPEC_SEND: &str =
        "SEND\ndestination:/queue/a\ncontent-type:text/plain\n\nhello queue a\n\0";
    const SPEC_SEND_TX: &str =
        "SEND\ndestination:/queue/a\ntransaction:tx1\ncontent-type:text/plain\n\nhello queue a\0";
    const SPEC_SUBSCRIBE: &str = "SUBSCRIBE\nid:0\ndestination:/queue/foo\nack:client\n\n\0";
    const SPEC_UNSUBSCRIBE: &str = "UNSUBSCRIBE\nid:0\n\n\0";
    const SPEC_ACK: &str = "ACK\nid:12345\ntransaction:tx1\n\n\0";
    const SPEC_BEGIN: &str = "BEGIN\ntransaction:tx1\n\n\0";
    const SPEC_DISCONNECT: &str = "DISCONNECT\nreceipt:77\n\n\0";
    const SPEC_RECEIPT: &str = "RECEIPT\nreceipt-id:77\n\n\0";
    const SPEC_MESSAGE: &str = "MESSAGE\nsubscription:0\nmessage-id:007\ndestination:/queue/a\ncontent-type:text/plain\n\nhello queue a\0";
    const SPEC_ERROR: &str = "ERROR\nreceipt-id:message-12345\ncontent-type:text/plain\ncontent-length:170\nmessage:malformed frame received\n\nThe message:\n-----\nMESSAGE\ndestined:/queue/a\nreceipt:message-12345\n\nHello queue a!\n-----\nDid not contain a destination header, which is REQUIRED\nfor message propagation.\n\0";

    #[test]
    fn the_specs_frames_as_people_read_them() {
        assert_eq!(summary(SPEC_CONNECT), "CONNECT host stomp.github.org");
        assert_eq!(summary(SPEC_CONNECTED), "CONNECTED version 1.2");
        assert_eq!(summary(SPEC_SEND), "SEND /queue/a (14 B) hello queue a");
        assert_eq!(
            summary(SPEC_SEND_TX),
            "SEND /queue/a tx:tx1 (13 B) hello queue a"
        );
        assert_eq!(
            summary(SPEC_SUBSCRIBE),
            "SUBSCRIBE /queue/foo id:0 ack:client"
        );
        assert_eq!(summary(SPEC_UNSUBSCRIBE), "UNSUBSCRIBE id:0");
        assert_eq!(summary(SPEC_ACK), "ACK id:12345 tx:tx1");
        assert_eq!(summary(SPEC_BEGIN), "BEGIN tx1");
        assert_eq!(summary(SPEC_RECEIPT), "RECEIPT 77");
        assert_eq!(
            summary(SPEC_MESSAGE),
            "MESSAGE /queue/a 0 (13 B) hello queue a"
        );
        let e = decode(SPEC_ERROR);
        assert!(
            e.summary
                .starts_with("ERROR malformed frame received (170 B) The message: ----- MESSAGE"),
            "{}",
            e.summary
        );
        assert!(!e.summary.contains('\n'));
        assert!(e
            .fields
            .contains(&("header", "receipt-id:message-12345".into())));
        assert!(e
            .fields
            .iter()
            .any(|(n, v)| *n == "body" && v.ends_with("propagation.\n")));
        assert_eq!(summary(SPEC_DISCONNECT), "DISCONNECT receipt:77");
        // Without the blank line before the NUL, read all the same.
        assert_eq!(
            summary("DISCONNECT\nreceipt:77\n\0RECEIPT\n\n\0"),
            "DISCONNECT receipt:77 +1 more frame"
        );
    }

    #[test]
    fn fields_list_command_headers_and_body() {
        let d = decode(SPEC_MESSAGE);
        assert_eq!(d.fields[0], ("command", "MESSAGE".into()));
        assert_eq!(d.fields[1], ("header", "subscription:0".into()));
        assert_eq!(d.fields.last().unwrap(), &("body", "hello queue a".into()));
        assert_eq!(d.fields.len(), 6);
    }

    #[test]
    fn heart_beats_crlf_and_escapes() {
        assert_eq!(summary("\n"), "heart-beat");
        assert_eq!(summary("\r\n"), "heart-beat");
        assert_eq!(
            summary("\r\nMESSAGE\r\ndestination:/a\\cb\r\nsubscription:s\\\\1\r\n\r\nx\0\r\n"),
            "MESSAGE /a:b s\\1 (1 B) x"
        );
        // CONNECT and CONNECTED keep backslashes as they are.
        assert_eq!(summary("CONNECT\nhost:a\\cb\n\n\0"), "CONNECT host a\\cb");
        // An escaped line break stays off the summary line.
        assert_eq!(summary("ERROR\nmessage:a\\nb\n\n\0"), "ERROR a b");
        assert_eq!(
            decode("ERROR\nmessage:a\\nb\n\n\0").fields[1].1,
            "message:a\nb"
        );
        // The first of repeated headers counts.
        assert_eq!(
            summary("RECEIPT\nreceipt-id:1\nreceipt-id:2\n\n\0"),
            "RECEIPT 1"
        );
    }

    #[test]
    fn content_length_lets_a_body_hold_nul() {
        let f = b"MESSAGE\ndestination:/b\ncontent-length:3\n\n\x01\x00\x02\x00\n";
        let d = Stomp.decode(false, f).unwrap();
        assert_eq!(d.summary, "MESSAGE /b (3 B binary)");
        // A length that does not end on a NUL is not believed.
        assert_eq!(
            summary("SEND\ndestination:/q\ncontent-length:99\n\nab\0"),
            "SEND /q (2 B) ab"
        );
        assert_eq!(
            summary("SEND\ndestination:/q\ncontent-length:-1\n\nab\0"),
            "SEND /q (2 B) ab"
        );
    }

    #[test]
    fn several_frames_truncation_and_strangers() {
        let two = format!("{SPEC_RECEIPT}\n{SPEC_MESSAGE}\n\n{SPEC_CONNECTED}");
        let d = decode(&two);
        assert_eq!(d.summary, "RECEIPT 77 +2 more frames");
        assert!(d.fields.contains(&("frames", "3".into())));
        assert_eq!(
            summary(&format!("{SPEC_RECEIPT}{SPEC_RECEIPT}")),
            "RECEIPT 77 +1 more frame"
        );
        assert_eq!(
            summary("SEND\ndestination:/q\n\nhel"),
            "SEND /q (3 B) hel (truncated)"
        );
        assert_eq!(summary("SEND\ndestination:/q"), "SEND /q (truncated)");
        assert_eq!(summary("DISCONNECT"), "DISCONNECT (truncated)");
        assert!(Stomp.decode(true, b"HELLO\n\n\0").is_none());
        assert!(Stomp.decode(true, b"send\n\n\0").is_none());
        assert!(Stomp.decode(true, b"").is_none());
        assert!(Stomp.decode(true, b"{\"a\":1}").is_none());
        assert!(Stomp.decode(false, &[0xff, 0, 0x0a]).is_none());
    }

    #[test]
    fn receipts_answer_requests_and_connected_answers_connect() {
        assert_eq!(
            pairs(true, SPEC_CONNECT),
            vec![Pair::Request {
                key: "CONNECT".into(),
                label: "CONNECT".into()
            }]
        );
        assert_eq!(
            pairs(false, SPEC_CONNECTED),
            vec![Pair::Reply {
                key: "CONNECT".into()
            }]
        );
        assert_eq!(
            pairs(false, "ERROR\nmessage:bad login\n\n\0"),
            vec![Pair::Reply {
                key: "CONNECT".into()
            }]
        );
        assert_eq!(
            pairs(true, "SEND\ndestination:/queue/a\nreceipt:r-3\n\nx\0SUBSCRIBE\nid:1\ndestination:/t\nreceipt:r-4\n\n\0"),
            vec![
                Pair::Request { key: "r-3".into(), label: "SEND /queue/a".into() },
                Pair::Request { key: "r-4".into(), label: "SUBSCRIBE /t".into() },
            ]
        );
        assert_eq!(
            pairs(true, SPEC_DISCONNECT),
            vec![Pair::Request {
                key: "77".into(),
                label: "DISCONNECT".into()
            }]
        );
        assert_eq!(
            pairs(false, SPEC_RECEIPT),
            vec![Pair::Reply { key: "77".into() }]
        );
        assert_eq!(
            pairs(false, SPEC_ERROR),
            vec![Pair::Reply {
                key: "message-12345".into()
            }]
        );
        assert!(pairs(true, SPEC_SEND).is_empty(), "no receipt asked for");
        assert!(
            pairs(true, SPEC_RECEIPT).is_empty(),
            "a reply from the client"
        );
        assert!(
            pairs(false, SPEC_CONNECT).is_empty(),
            "a request from the server"
        );
        assert!(pairs(false, "MESSAGE\nreceipt:1\n\n\0").is_empty());
    }

    #[test]
    fn typed_frames_read_back() {
        let mut ctx = Context::default();
        let sent = text(Stomp.encode("send", "/queue/a hello there", &mut ctx));
        assert_eq!(
            sent,
            "SEND\ndestination:/queue/a\ncontent-type:text/plain\nreceipt:1\n\nhello there\0"
        );
        assert_eq!(summary(&sent), "SEND /queue/a receipt:1 (11 B) hello there");
        let sub = text(Stomp.encode("subscribe", "/topic/a:b", &mut ctx));
        assert_eq!(
            sub,
            "SUBSCRIBE\nid:2\ndestination:/topic/a\\cb\nack:auto\nreceipt:2\n\n\0"
        );
        assert_eq!(summary(&sub), "SUBSCRIBE /topic/a:b id:2 receipt:2");
        assert_eq!(
            pairs(true, &sub),
            vec![Pair::Request {
                key: "2".into(),
                label: "SUBSCRIBE /topic/a:b".into()
            }]
        );
        let unsub = text(Stomp.encode("unsubscribe", "2", &mut ctx));
        assert_eq!(unsub, "UNSUBSCRIBE\nid:2\nreceipt:3\n\n\0");
        let bye = text(Stomp.encode("disconnect", "", &mut ctx));
        assert_eq!(bye, "DISCONNECT\nreceipt:4\n\n\0");
        assert_eq!(summary(&bye), "DISCONNECT receipt:4");
        let nul = text(Stomp.encode("send", "/q a\0b", &mut ctx));
        assert_eq!(summary(&nul), "SEND /q receipt:5 (3 B binary)");
        assert!(matches!(Stomp.encode("send", " ", &mut ctx), Some(Err(_))));
        assert!(matches!(
            Stomp.encode("subscribe", "", &mut ctx),
            Some(Err(_))
        ));
        assert!(matches!(
            Stomp.encode("unsubscribe", "", &mut ctx),
            Some(Err(_))
        ));
        assert!(Stomp.encode("publish", "x", &mut ctx).is_none());
    }

    #[test]
    fn the_greeting_is_a_connect() {
        let mut ctx = Context::default();
        let greet = |ctx: &mut Context| match Stomp.greet(ctx).as_slice() {
            [NetCommand::Text(t)] => t.clone(),
            other => panic!("{other:?}"),
        };
        assert_eq!(
            greet(&mut ctx),
            "CONNECT\naccept-version:1.2,1.1,1.0\nhost:/\nheart-beat:0,0\n\n\0"
        );
        ctx.connect_payload = Some(serde_json::json!({
            "login": "guest", "passcode": "pw", "host": "vh", "bad": "a\nb", "n": 1, "o": {}
        }));
        let g = greet(&mut ctx);
        assert!(
            g.starts_with("CONNECT\naccept-version:1.2,1.1,1.0\nheart-beat:0,0\n"),
            "{g}"
        );
        for h in [
            "\nlogin:guest\n",
            "\npasscode:pw\n",
            "\nhost:vh\n",
            "\nn:1\n",
        ] {
            assert!(g.contains(h), "{g}");
        }
        assert!(
            !g.contains("bad") && !g.contains("\no:") && !g.contains("host:/\n"),
            "{g}"
        );
        assert_eq!(summary(&g), "CONNECT host vh login guest");
        assert!(Stomp.answer(true, b"\n", &ctx).is_none());
    }

    proptest::proptest! {
        #[test]
        fn any_bytes_decode_without_panic(bytes in proptest::collection::vec(proptest::prelude::any::<u8>(), 0..300)) {
            let _ = Stomp.decode(false, &bytes);
            let mut out = Vec::new();
            Stomp.pairs(true, false, &bytes, &mut out);
            Stomp.pairs(false, false, &bytes, &mut out);
        }

        #[test]
        fn frame_like_text_decodes_without_panic(s in "(SEND|MESSAGE|ERROR|CONNECT)[\n\r:\\\\a-z0-9\0]{0,80}") {
            let _ = Stomp.decode(true, s.as_bytes());
        }
    }
}
