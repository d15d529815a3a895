//! Socket.IO 4 over engine.io 4, as it crosses one WebSocket: engine.io packets
//! (open, ping, pong, message…) carrying Socket.IO packets (connect, event,
//! ack…) in a namespace; a binary message is an attachment of the packet before.
//! An event sent with an ack id is a request; the ack with that id its reply.

use serde_json::Value;
use tokio_tungstenite::tungstenite::http::Uri;

use super::{clip, first_word, json_values, Codec, Context, Decoded, SUMMARY_VALUE};
use crate::net::speak::Pair;
use crate::net::NetCommand;

pub struct SocketIo;

/// The path a Socket.IO server answers on unless told otherwise.
pub const DEFAULT_PATH: &str = "/socket.io/";

/// The WebSocket endpoint of a Socket.IO server at `base` (http(s):// or
/// ws(s)://): its engine.io path (`path` when the URL names none) asking for
/// engine.io 4 over WebSocket.
pub fn endpoint(base: &Uri, path: &str) -> Result<Uri, String> {
    let scheme = match base.scheme_str() {
        Some("http" | "ws") => "ws",
        Some("https" | "wss") => "wss",
        _ => return Err(format!("`{base}` is not an http(s):// or ws(s):// URL")),
    };
    let authority = base
        .authority()
        .ok_or_else(|| format!("`{base}` has no host"))?;
    let at = match base.path() {
        "" | "/" => path,
        p => p,
    };
    let query = match base.query() {
        Some(q) if q.contains("EIO=") => q.to_string(),
        Some(q) if !q.is_empty() => format!("{q}&EIO=4&transport=websocket"),
        _ => "EIO=4&transport=websocket".to_string(),
    };
    format!("{scheme}://{authority}{at}?{query}")
        .parse()
        .map_err(|e| format!("cannot make a Socket.IO URL from `{base}` and `{path}`: {e}"))
}

/// Whether a message is engine.io's open packet: `0{"sid":…}`.
pub fn is_open_packet(payload: &[u8]) -> bool {
    payload.starts_with(b"0{")
        && serde_json::from_slice::<Value>(&payload[1..])
            .ok()
            .is_some_and(|v| v.get("sid").is_some_and(Value::is_string))
}

/// A Socket.IO packet: `<type>[<attachments>-][<namespace>,][<ack id>][<data>]`.
#[derive(Debug, PartialEq)]
struct Packet<'a> {
    kind: u8,
    attachments: Option<u64>,
    namespace: &'a str,
    ack: Option<u64>,
    data: Option<Value>,
}

fn packet(s: &str) -> Option<Packet<'_>> {
    let mut rest = s;
    let kind = rest
        .as_bytes()
        .first()
        .filter(|b| (b'0'..=b'6').contains(b))?
        - b'0';
    rest = &rest[1..];
    let mut attachments = None;
    if kind == 5 || kind == 6 {
        let (n, after) = rest.split_once('-')?;
        attachments = Some(n.parse().ok()?);
        rest = after;
    }
    let mut namespace = "/";
    if rest.starts_with('/') {
        let end = rest.find(',').unwrap_or(rest.len());
        namespace = &rest[..end];
        rest = rest.get(end + 1..).unwrap_or("");
    }
    let digits = rest.bytes().take_while(u8::is_ascii_digit).count();
    let ack = match digits {
        0 => None,
        // An id too long for a number is not one.
        _ => Some(rest[..digits].parse().ok()?),
    };
    rest = &rest[digits..];
    let data = match rest {
        "" => None,
        _ => Some(serde_json::from_str(rest).ok()?),
    };
    Some(Packet {
        kind,
        attachments,
        namespace,
        ack,
        data,
    })
}

const PACKET_NAMES: [&str; 7] = [
    "CONNECT",
    "DISCONNECT",
    "EVENT",
    "ACK",
    "CONNECT_ERROR",
    "BINARY_EVENT",
    "BINARY_ACK",
];

/// `"hi", {"a":1}` from `["hi",{"a":1}]`, attachments shown as `<binary #0>`.
fn args_text(args: &[Value]) -> String {
    let shown: Vec<String> = args
        .iter()
        .map(|a| match a {
            Value::Object(o) if o.get("_placeholder") == Some(&Value::Bool(true)) => {
                format!(
                    "<binary #{}>",
                    o.get("num").map(Value::to_string).unwrap_or_default()
                )
            }
            other => other.to_string(),
        })
        .collect();
    shown.join(", ")
}

impl Packet<'_> {
    fn summary(&self) -> String {
        let ns = match self.namespace {
            "/" => String::new(),
            ns => format!("{ns} "),
        };
        let ack = self.ack.map(|a| format!(" #{a}")).unwrap_or_default();
        let att = self
            .attachments
            .map(|n| format!(" +{n} binary"))
            .unwrap_or_default();
        match self.kind {
            0 => match &self.data {
                Some(d) if d.get("sid").is_some() => format!("{ns}connected sid {}", d["sid"]),
                Some(d) => format!("{ns}connect {}", clip(&d.to_string(), SUMMARY_VALUE)),
                None => format!("{ns}connect"),
            },
            1 => format!("{ns}disconnect"),
            2 | 5 => match self.data.as_ref().and_then(Value::as_array) {
                Some(a) if !a.is_empty() => {
                    let name = a[0]
                        .as_str()
                        .map(str::to_string)
                        .unwrap_or_else(|| a[0].to_string());
                    format!(
                        "{ns}event {name}({}){ack}{att}",
                        clip(&args_text(&a[1..]), SUMMARY_VALUE)
                    )
                }
                _ => format!("{ns}event{ack}{att}"),
            },
            3 | 6 => {
                let args = self
                    .data
                    .as_ref()
                    .and_then(Value::as_array)
                    .map(|a| args_text(a));
                format!(
                    "{ns}ack{ack}({}){att}",
                    clip(&args.unwrap_or_default(), SUMMARY_VALUE)
                )
            }
            _ => {
                let message = self
                    .data
                    .as_ref()
                    .and_then(|d| d.get("message").and_then(Value::as_str).map(str::to_string))
                    .or_else(|| self.data.as_ref().map(Value::to_string))
                    .unwrap_or_default();
                format!("{ns}connect error {}", clip(&message, SUMMARY_VALUE))
            }
        }
    }
}

fn engine_name(kind: u8) -> &'static str {
    match kind {
        b'0' => "open",
        b'1' => "close",
        b'2' => "ping",
        b'3' => "pong",
        b'4' => "message",
        b'5' => "upgrade",
        _ => "noop",
    }
}

impl Codec for SocketIo {
    fn decode(&self, text: bool, payload: &[u8]) -> Option<Decoded> {
        if !text {
            return Some(
                Decoded::new(format!("binary attachment ({} B)", payload.len()))
                    .field("engine.io", "binary message")
                    .field("size", payload.len().to_string()),
            );
        }
        let s = std::str::from_utf8(payload).ok()?;
        let kind = *s.as_bytes().first().filter(|b| (b'0'..=b'6').contains(b))?;
        let body = &s[1..];
        let d = Decoded::new("").field("engine.io", engine_name(kind));
        match kind {
            b'0' => {
                let v: Value = serde_json::from_str(body).ok()?;
                let mut d = d.field(
                    "sid",
                    v.get("sid").map(Value::to_string).unwrap_or_default(),
                );
                for k in ["pingInterval", "pingTimeout", "maxPayload"] {
                    if let Some(x) = v.get(k) {
                        d = d.field(
                            match k {
                                "pingInterval" => "ping interval ms",
                                "pingTimeout" => "ping timeout ms",
                                _ => "max payload",
                            },
                            x.to_string(),
                        );
                    }
                }
                d.summary = format!(
                    "engine.io open sid {}",
                    v.get("sid").map(Value::to_string).unwrap_or_default()
                );
                Some(d)
            }
            b'2' | b'3' => {
                let mut d = d;
                d.summary = format!(
                    "engine.io {}{}",
                    engine_name(kind),
                    match body {
                        "" => String::new(),
                        b => format!(" {}", clip(b, SUMMARY_VALUE)),
                    }
                );
                Some(d)
            }
            b'4' => {
                let p = packet(body)?;
                let mut d = d
                    .field("socket.io", PACKET_NAMES[p.kind as usize])
                    .field("namespace", p.namespace);
                if let Some(ack) = p.ack {
                    d = d.field("ack id", ack.to_string());
                }
                if let Some(n) = p.attachments {
                    d = d.field("attachments", n.to_string());
                }
                match (&p.data, p.kind) {
                    (Some(Value::Array(a)), 2 | 5) if !a.is_empty() => {
                        d = d.field(
                            "event",
                            a[0].as_str()
                                .map(str::to_string)
                                .unwrap_or_else(|| a[0].to_string()),
                        );
                        d = d.field("args", Value::Array(a[1..].to_vec()).to_string());
                    }
                    (Some(data), _) => d = d.field("data", data.to_string()),
                    (None, _) => {}
                }
                d.summary = p.summary();
                Some(d)
            }
            _ => {
                let mut d = d;
                d.summary = format!("engine.io {}", engine_name(kind));
                Some(d)
            }
        }
    }

    fn pairs(&self, from_client: bool, text: bool, payload: &[u8], out: &mut Vec<Pair>) {
        let Some(body) = payload.strip_prefix(b"4").filter(|_| text) else {
            return;
        };
        let Some(p) = std::str::from_utf8(body).ok().and_then(packet) else {
            return;
        };
        match (p.kind, from_client, p.ack) {
            (2 | 5, true, Some(ack)) => {
                let label = p
                    .data
                    .as_ref()
                    .and_then(|d| d.get(0))
                    .and_then(Value::as_str)
                    .unwrap_or("event");
                out.push(Pair::Request {
                    key: format!("{}#{ack}", p.namespace),
                    label: label.to_string(),
                });
            }
            (3 | 6, false, Some(ack)) => out.push(Pair::Reply {
                key: format!("{}#{ack}", p.namespace),
            }),
            // Joining a namespace: the server's CONNECT (or refusal) answers it.
            (0, true, _) => out.push(Pair::Request {
                key: format!("connect {}", p.namespace),
                label: "connect".into(),
            }),
            (0 | 4, false, _) => out.push(Pair::Reply {
                key: format!("connect {}", p.namespace),
            }),
            _ => {}
        }
    }

    fn commands(&self) -> &'static [(&'static str, &'static str)] {
        &[
            (
                "/emit EVENT [ARGS…]",
                "emit an event with JSON args and ask for an ack, e.g. /emit chat \"hi\" {\"to\":2}",
            ),
            ("/emit-noack EVENT [ARGS…]", "emit an event without asking for an ack"),
            ("/join /NAMESPACE", "join another namespace; /emit then goes there"),
        ]
    }

    fn encode(
        &self,
        command: &str,
        args: &str,
        ctx: &mut Context,
    ) -> Option<Result<NetCommand, String>> {
        Some(match command {
            "emit" | "emit-noack" => emit(args, command == "emit", ctx),
            "join" => {
                let ns = args.trim();
                if !ns.starts_with('/') || ns.contains([',', ' ']) {
                    return Some(Err("a namespace starts with /, e.g. /join /chat".into()));
                }
                ctx.namespace = ns.to_string();
                Ok(NetCommand::Text(connect_packet(ctx)))
            }
            _ => return None,
        })
    }

    fn answer(&self, text: bool, payload: &[u8], ctx: &Context) -> Option<NetCommand> {
        if !text {
            return None;
        }
        match payload {
            // engine.io's heartbeat: the server pings, the client must pong.
            [b'2', rest @ ..] => {
                let mut pong = Vec::with_capacity(payload.len());
                pong.push(b'3');
                pong.extend_from_slice(rest);
                Some(NetCommand::Text(String::from_utf8(pong).ok()?))
            }
            // Opened: join the namespace, as every Socket.IO client does.
            _ if is_open_packet(payload) => Some(NetCommand::Text(connect_packet(ctx))),
            _ => None,
        }
    }
}

/// `40` (or `40/chat,`) and the auth payload, joining the context's namespace.
fn connect_packet(ctx: &Context) -> String {
    let ns = match ctx.namespace.as_str() {
        "" | "/" => String::new(),
        ns => format!("{ns},"),
    };
    let auth = ctx
        .connect_payload
        .as_ref()
        .map(Value::to_string)
        .unwrap_or_default();
    format!("40{ns}{auth}")
}

fn emit(args: &str, ack: bool, ctx: &mut Context) -> Result<NetCommand, String> {
    let (event, rest) = event_name(args)?;
    let mut values = vec![Value::String(event)];
    values.extend(json_values(rest)?);
    let ns = match ctx.namespace.as_str() {
        "" | "/" => String::new(),
        ns => format!("{ns},"),
    };
    let id = match ack {
        true => ctx.take_id().to_string(),
        false => String::new(),
    };
    Ok(NetCommand::Text(format!(
        "42{ns}{id}{}",
        Value::Array(values)
    )))
}

/// The event's name, bare or quoted (`"two words"`), and what follows it.
fn event_name(args: &str) -> Result<(String, &str), String> {
    let args = args.trim_start();
    if args.starts_with('"') {
        let mut names = serde_json::Deserializer::from_str(args).into_iter::<String>();
        return match names.next() {
            Some(Ok(name)) => Ok((name, &args[names.byte_offset()..])),
            _ => Err("an event name in quotes must be a JSON string".into()),
        };
    }
    match first_word(args) {
        ("", _) => Err("which event? e.g. /emit chat \"hello\"".into()),
        (name, rest) => Ok((name.to_string(), rest)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn summary(s: &str) -> String {
        SocketIo.decode(true, s.as_bytes()).expect(s).summary
    }

    #[test]
    fn the_endpoint_of_a_server() {
        let at = |u: &str, p: &str| endpoint(&u.parse().unwrap(), p).unwrap().to_string();
        assert_eq!(
            at("http://127.0.0.1:3000/", DEFAULT_PATH),
            "ws://127.0.0.1:3000/socket.io/?EIO=4&transport=websocket"
        );
        assert_eq!(
            at("https://example.com", "/io/"),
            "wss://example.com/io/?EIO=4&transport=websocket"
        );
        assert_eq!(
            at("ws://h/custom/?token=a", DEFAULT_PATH),
            "ws://h/custom/?token=a&EIO=4&transport=websocket"
        );
        assert_eq!(
            at("ws://h/socket.io/?EIO=4&transport=websocket", DEFAULT_PATH),
            "ws://h/socket.io/?EIO=4&transport=websocket"
        );
    }

    #[test]
    fn packets_as_people_read_them() {
        assert_eq!(
            summary(r#"0{"sid":"abc","upgrades":[],"pingInterval":25000,"pingTimeout":20000}"#),
            r#"engine.io open sid "abc""#
        );
        assert_eq!(summary("2"), "engine.io ping");
        assert_eq!(summary("3probe"), "engine.io pong probe");
        assert_eq!(summary(r#"40{"sid":"x1"}"#), r#"connected sid "x1""#);
        assert_eq!(summary("40/chat,"), "/chat connect");
        assert_eq!(
            summary(r#"42["echo","hi",{"a":1}]"#),
            r#"event echo("hi", {"a":1})"#
        );
        assert_eq!(
            summary(r#"42/chat,7["add",1,2]"#),
            "/chat event add(1, 2) #7"
        );
        assert_eq!(summary("43/chat,7[3]"), "/chat ack #7(3)");
        assert_eq!(
            summary(r#"451-["bin",{"_placeholder":true,"num":0}]"#),
            "event bin(<binary #0>) +1 binary"
        );
        assert_eq!(
            summary(r#"44{"message":"Not authorized"}"#),
            "connect error Not authorized"
        );
        assert_eq!(
            SocketIo.decode(false, &[0, 1, 2]).unwrap().summary,
            "binary attachment (3 B)"
        );
        assert!(SocketIo.decode(true, b"hello").is_none());
        assert!(SocketIo.decode(true, b"42[oops").is_none());
        assert!(SocketIo
            .decode(true, b"499999999999999999999999[]")
            .is_none());
    }

    #[test]
    fn an_ack_answers_the_event_that_asked_for_it() {
        let mut out = Vec::new();
        SocketIo.pairs(true, true, br#"42/chat,7["add",1,2]"#, &mut out);
        SocketIo.pairs(false, true, b"43/chat,7[3]", &mut out);
        SocketIo.pairs(false, true, br#"42["no","ack"]"#, &mut out);
        SocketIo.pairs(true, true, b"40", &mut out);
        SocketIo.pairs(false, true, br#"40{"sid":"s"}"#, &mut out);
        assert_eq!(
            out,
            vec![
                Pair::Request {
                    key: "/chat#7".into(),
                    label: "add".into()
                },
                Pair::Reply {
                    key: "/chat#7".into()
                },
                Pair::Request {
                    key: "connect /".into(),
                    label: "connect".into()
                },
                Pair::Reply {
                    key: "connect /".into()
                },
            ]
        );
    }

    #[test]
    fn the_client_keeps_the_connection_alive_and_joins() {
        let mut ctx = Context {
            namespace: "/chat".into(),
            connect_payload: Some(serde_json::json!({"token":"t"})),
            ..Default::default()
        };
        let text = |c: Option<NetCommand>| match c {
            Some(NetCommand::Text(t)) => t,
            other => panic!("{other:?}"),
        };
        assert_eq!(text(SocketIo.answer(true, b"2", &ctx)), "3");
        assert_eq!(text(SocketIo.answer(true, b"2probe", &ctx)), "3probe");
        assert_eq!(
            text(SocketIo.answer(true, br#"0{"sid":"a","pingInterval":1}"#, &ctx)),
            r#"40/chat,{"token":"t"}"#
        );
        assert!(SocketIo.answer(true, br#"42["x"]"#, &ctx).is_none());
        let emitted = text(
            SocketIo
                .encode("emit", r#"add 1 2"#, &mut ctx)
                .map(Result::unwrap),
        );
        assert_eq!(emitted, r#"42/chat,1["add",1,2]"#);
        let emitted = text(
            SocketIo
                .encode("emit-noack", r#"say hello there"#, &mut ctx)
                .map(Result::unwrap),
        );
        assert_eq!(emitted, r#"42/chat,["say","hello there"]"#);
        ctx.namespace = "/".into();
        let emitted = text(
            SocketIo
                .encode("emit", r#""odd name" {"a":1}"#, &mut ctx)
                .map(Result::unwrap),
        );
        assert_eq!(emitted, r#"422["odd name",{"a":1}]"#);
    }
}
