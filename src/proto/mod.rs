//! The protocols people run over WebSocket: Socket.IO, GraphQL, JSON-RPC,
//! STOMP and MQTT. Each module decodes a message into a one-line summary and
//! named fields, says which messages are requests and which their replies, and
//! turns the input box's commands (`/emit`, `/call`…) into messages. The app and
//! both faces decode (off the echo path, only what they show); net only ever
//! sees them through `net::speak` (greeting, keep-alive answers, pairing).

pub mod graphql;
pub mod jsonrpc;
pub mod mqtt;
pub mod socketio;
pub mod speech;
pub mod stomp;

use crate::net::speak::Pair;
use crate::net::NetCommand;

/// `--protocol`: what the user says a connection speaks.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, clap::ValueEnum)]
pub enum Choice {
    /// From the agreed subprotocol and the first messages
    #[default]
    Auto,
    /// Socket.IO 4 over engine.io 4
    Socketio,
    /// GraphQL over WebSocket: graphql-transport-ws, or the legacy graphql-ws
    GraphqlWs,
    /// JSON-RPC 2.0
    Jsonrpc,
    /// STOMP 1.2 (1.0, 1.1)
    Stomp,
    /// MQTT 3.1.1 (and 5, read from a CONNECT)
    Mqtt,
    /// MQTT 5: as mqtt, its own CONNECT asking for version 5
    Mqtt5,
    /// Nothing decoded
    Raw,
}

impl Choice {
    /// The subprotocols a client offers for this choice when the user named none.
    pub fn offers(self) -> &'static [&'static str] {
        match self {
            Choice::GraphqlWs => &["graphql-transport-ws", "graphql-ws"],
            Choice::Stomp => &["v12.stomp", "v11.stomp", "v10.stomp"],
            Choice::Mqtt | Choice::Mqtt5 => &["mqtt"],
            _ => &[],
        }
    }

    /// Asked for by name (not found out): a client then also says the
    /// protocol's greeting (GraphQL's connection_init, STOMP's and MQTT's CONNECT).
    pub fn is_explicit(self) -> bool {
        !matches!(self, Choice::Auto | Choice::Raw)
    }
}

/// A protocol one connection speaks.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Protocol {
    SocketIo,
    /// `graphql-transport-ws`, the current GraphQL over WebSocket protocol.
    GraphqlTransportWs,
    /// The legacy `graphql-ws` (subscriptions-transport-ws).
    GraphqlWs,
    JsonRpc,
    Stomp,
    /// MQTT 3.1.1 (or 3.1).
    Mqtt,
    /// MQTT 5, whose packets carry properties.
    Mqtt5,
}

impl Protocol {
    /// Every protocol wsprobe speaks.
    pub const ALL: [Protocol; 7] = [
        Protocol::SocketIo,
        Protocol::GraphqlTransportWs,
        Protocol::GraphqlWs,
        Protocol::JsonRpc,
        Protocol::Stomp,
        Protocol::Mqtt,
        Protocol::Mqtt5,
    ];

    /// Its name in summaries and JSON output.
    pub fn name(self) -> &'static str {
        match self {
            Protocol::SocketIo => "socket.io",
            Protocol::GraphqlTransportWs => "graphql-transport-ws",
            Protocol::GraphqlWs => "graphql-ws",
            Protocol::JsonRpc => "jsonrpc",
            Protocol::Stomp => "stomp",
            Protocol::Mqtt => "mqtt",
            Protocol::Mqtt5 => "mqtt5",
        }
    }

    pub fn codec(self) -> &'static dyn Codec {
        match self {
            Protocol::SocketIo => &socketio::SocketIo,
            Protocol::GraphqlTransportWs => &graphql::GraphQl { legacy: false },
            Protocol::GraphqlWs => &graphql::GraphQl { legacy: true },
            Protocol::JsonRpc => &jsonrpc::JsonRpc,
            Protocol::Stomp => &stomp::Stomp,
            Protocol::Mqtt => &mqtt::Mqtt { v5: false },
            Protocol::Mqtt5 => &mqtt::Mqtt { v5: true },
        }
    }

    /// What a subprotocol the server agreed on says is spoken.
    pub fn of_subprotocol(sub: &str) -> Option<Protocol> {
        Some(match sub.to_ascii_lowercase().as_str() {
            "graphql-transport-ws" => Protocol::GraphqlTransportWs,
            "graphql-ws" => Protocol::GraphqlWs,
            "v12.stomp" | "v11.stomp" | "v10.stomp" | "stomp" => Protocol::Stomp,
            "mqtt" | "mqttv3.1" => Protocol::Mqtt,
            _ => return None,
        })
    }
}

/// A subprotocol wsprobe knows of but does not decode, named for the handshake
/// view (`wamp.2.json` is WAMP).
pub fn unknown_subprotocol(sub: &str) -> Option<&'static str> {
    let sub = sub.to_ascii_lowercase();
    if sub.starts_with("wamp") {
        Some("WAMP (not decoded)")
    } else if Protocol::of_subprotocol(&sub).is_none() {
        Some("not decoded")
    } else {
        None
    }
}

/// One message decoded: a line for the log, fields for the detail view.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Decoded {
    /// One line, e.g. `event chat("hi")` or `PUBLISH sensors/t qos1 #7 (5 B)`.
    pub summary: String,
    /// Named parts, in order, e.g. `("event", "chat")`, `("args", "[\"hi\"]")`.
    pub fields: Vec<(&'static str, String)>,
}

impl Decoded {
    pub fn new(summary: impl Into<String>) -> Decoded {
        Decoded {
            summary: summary.into(),
            fields: Vec::new(),
        }
    }

    pub fn field(mut self, name: &'static str, value: impl Into<String>) -> Decoded {
        self.fields.push((name, value.into()));
        self
    }
}

/// What the input box's protocol commands and a client's greeting need to know.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Context {
    /// Numbers requests (JSON-RPC ids, Socket.IO acks, GraphQL operations,
    /// MQTT packet ids, STOMP receipts): the next one to use.
    pub next_id: u64,
    /// The Socket.IO namespace joined and emitted to (`--namespace`).
    pub namespace: String,
    /// `--connect-payload`: Socket.IO's auth, GraphQL's connection_init
    /// payload, STOMP's CONNECT headers, MQTT's username and password.
    pub connect_payload: Option<serde_json::Value>,
    /// The client id an MQTT CONNECT carries.
    pub client_id: String,
}

impl Context {
    /// For what is typed into a server's or a relay's input box: its requests
    /// are numbered far from the ids a client uses (a relay's client and its
    /// own requests share the server's attention).
    pub fn injected() -> Context {
        Context {
            next_id: 1_000_001,
            ..Context::default()
        }
    }

    /// The next request number (from 1).
    pub fn take_id(&mut self) -> u64 {
        let id = self.next_id.max(1);
        // Ids go round rather than overflow (a server has long forgotten id 1).
        self.next_id = id.checked_add(1).unwrap_or(1);
        id
    }
}

/// One protocol: one module implements it.
pub trait Codec: Sync {
    /// One data message as this protocol reads it; None when it is not one of its.
    fn decode(&self, text: bool, payload: &[u8]) -> Option<Decoded>;

    /// The requests and replies a message carries; `from_client` says which way
    /// it went (a request counts only from the client, a reply only to it).
    fn pairs(&self, from_client: bool, text: bool, payload: &[u8], out: &mut Vec<Pair>);

    /// The input box's commands of this protocol, for `/help`: usage, meaning.
    fn commands(&self) -> &'static [(&'static str, &'static str)];

    /// A typed command (`emit`, `call`… without its slash) as a message; None
    /// when the command is not one of this protocol's.
    fn encode(
        &self,
        command: &str,
        args: &str,
        ctx: &mut Context,
    ) -> Option<Result<NetCommand, String>>;

    /// What a client says once connected, when the protocol was asked for by name.
    fn greet(&self, _ctx: &mut Context) -> Vec<NetCommand> {
        Vec::new()
    }

    /// What a client answers at once to a server's message (engine.io's ping,
    /// GraphQL's ping): keep-alives that must not wait for a screen.
    fn answer(&self, _text: bool, _payload: &[u8], _ctx: &Context) -> Option<NetCommand> {
        None
    }
}

/// What one connection speaks: from `--protocol`, the agreed subprotocol, and
/// what its first messages show. Plain data, kept by the app for each
/// connection and by the network task's conversation alike.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Spoken {
    pub choice: Choice,
    pub protocol: Option<Protocol>,
    /// Whether a server message has been seen (engine.io's open packet is the first).
    seen_server: bool,
}

impl Default for Spoken {
    fn default() -> Spoken {
        Spoken::new(Choice::Auto, None)
    }
}

impl Spoken {
    pub fn new(choice: Choice, subprotocol: Option<&str>) -> Spoken {
        let by_sub = subprotocol.and_then(Protocol::of_subprotocol);
        let protocol = match choice {
            Choice::Auto => by_sub,
            Choice::Raw => None,
            Choice::Socketio => Some(Protocol::SocketIo),
            Choice::GraphqlWs => Some(match by_sub {
                Some(Protocol::GraphqlWs) => Protocol::GraphqlWs,
                _ => Protocol::GraphqlTransportWs,
            }),
            Choice::Jsonrpc => Some(Protocol::JsonRpc),
            Choice::Stomp => Some(Protocol::Stomp),
            Choice::Mqtt => Some(Protocol::Mqtt),
            Choice::Mqtt5 => Some(Protocol::Mqtt5),
        };
        Spoken {
            choice,
            protocol,
            seen_server: false,
        }
    }

    /// Learns from a data message what the handshake could not say: engine.io's
    /// open packet (the server's first message) and the MQTT version a CONNECT
    /// asks for.
    pub fn learn(&mut self, from_client: bool, text: bool, payload: &[u8]) {
        let first_from_server = !from_client && !self.seen_server;
        if !from_client {
            self.seen_server = true;
        }
        match self.protocol {
            None if self.choice == Choice::Auto
                && first_from_server
                && text
                && socketio::is_open_packet(payload) =>
            {
                self.protocol = Some(Protocol::SocketIo);
            }
            // A server that answers calls speaks JSON-RPC (an echo server
            // only returns them).
            None if self.choice == Choice::Auto
                && !from_client
                && text
                && jsonrpc::is_response(payload) =>
            {
                self.protocol = Some(Protocol::JsonRpc);
            }
            Some(Protocol::Mqtt | Protocol::Mqtt5) => {
                if let Some(v5) = mqtt::connect_version_5(payload) {
                    self.protocol = Some(if v5 { Protocol::Mqtt5 } else { Protocol::Mqtt });
                }
            }
            _ => {}
        }
    }

    /// A message seen: learnt from, and the protocol it is read as (a data
    /// message only).
    pub fn read(
        &mut self,
        from_client: bool,
        kind: crate::net::FrameKind,
        payload: &[u8],
    ) -> Option<Protocol> {
        if !kind.is_data() || self.choice == Choice::Raw {
            return None;
        }
        let text = kind == crate::net::FrameKind::Text;
        self.learn(from_client, text, payload);
        self.protocol_of(text, payload)
    }

    /// The protocol whose commands the input box takes: the connection's, or
    /// with `auto` and nothing found out, JSON-RPC's (`/call`).
    pub fn commands(&self) -> Option<Protocol> {
        match (self.protocol, self.choice) {
            (Some(p), _) => Some(p),
            (None, Choice::Auto) => Some(Protocol::JsonRpc),
            _ => None,
        }
    }

    /// The protocol a message is read as: the connection's, or with `auto` and
    /// nothing found out, JSON-RPC for a message that says it is.
    pub fn protocol_of(&self, text: bool, payload: &[u8]) -> Option<Protocol> {
        match (self.protocol, self.choice) {
            (Some(p), _) => Some(p),
            (None, Choice::Auto) if text && jsonrpc::looks_like(payload) => Some(Protocol::JsonRpc),
            _ => None,
        }
    }

    /// One data message decoded, with the protocol it was read as.
    pub fn decode(&self, text: bool, payload: &[u8]) -> Option<(Protocol, Decoded)> {
        let p = self.protocol_of(text, payload)?;
        Some((p, p.codec().decode(text, payload)?))
    }

    /// The requests and replies a message carries; false when no protocol reads it.
    pub fn pairs(
        &self,
        from_client: bool,
        text: bool,
        payload: &[u8],
        out: &mut Vec<Pair>,
    ) -> bool {
        let Some(p) = self.protocol_of(text, payload) else {
            return false;
        };
        p.codec().pairs(from_client, text, payload, out);
        true
    }
}

/// Messages longer than this are not decoded (shown as they are): a decode is
/// done again at each draw of the message.
pub const DECODE_MAX: usize = 1 << 20;

/// The longest text shown of one value in a summary.
pub const SUMMARY_VALUE: usize = 80;

/// A value cut to `max` characters for a summary, with `…` when cut.
pub fn clip(s: &str, max: usize) -> String {
    match s.char_indices().nth(max) {
        Some((at, _)) => format!("{}…", &s[..at]),
        None => s.to_string(),
    }
}

/// Line breaks as spaces (a run of them as one): a summary is one line, and
/// a body or a header may hold several.
pub fn one_line(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    let mut in_break = false;
    for c in s.chars() {
        if c == '\n' || c == '\r' {
            if !in_break {
                out.push(' ');
            }
            in_break = true;
        } else {
            out.push(c);
            in_break = false;
        }
    }
    out.trim().to_string()
}

/// A payload as text, when it reads as text: UTF-8 without control characters
/// other than tabs and line breaks.
pub fn text_of(b: &[u8]) -> Option<&str> {
    let t = std::str::from_utf8(b).ok()?;
    (!t.chars()
        .any(|c| c.is_control() && !matches!(c, '\t' | '\n' | '\r')))
    .then_some(t)
}

/// JSON values typed one after another (`"hi" {"a":1} 3`), as for `/emit`; a
/// text that is not JSON at all is one string.
pub fn json_values(args: &str) -> Result<Vec<serde_json::Value>, String> {
    let args = args.trim();
    if args.is_empty() {
        return Ok(Vec::new());
    }
    let mut values = Vec::new();
    let mut stream = serde_json::Deserializer::from_str(args).into_iter::<serde_json::Value>();
    loop {
        match stream.next() {
            None => return Ok(values),
            Some(Ok(v)) => values.push(v),
            Some(Err(_)) if values.is_empty() => {
                return Ok(vec![serde_json::Value::String(args.to_string())])
            }
            Some(Err(e)) => {
                let at = stream.byte_offset();
                return Err(format!(
                    "not JSON after `{}`: {e} (strings need quotes)",
                    clip(&args[..at.min(args.len())], 40)
                ));
            }
        }
    }
}

/// A command typed without its slash (`call add 1 2`) as `p` encodes it;
/// None when it is not one of `p`'s commands.
pub fn typed_command(
    p: Protocol,
    typed: &str,
    ctx: &mut Context,
) -> Option<Result<NetCommand, String>> {
    let (name, args) = match typed.split_once(char::is_whitespace) {
        Some((n, a)) => (n, a.trim_start()),
        None => (typed, ""),
    };
    p.codec().encode(name, args, ctx)
}

/// The first word of `args` and the rest, trimmed.
pub fn first_word(args: &str) -> (&str, &str) {
    let args = args.trim_start();
    match args.split_once(char::is_whitespace) {
        Some((w, rest)) => (w, rest.trim_start()),
        None => (args, ""),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn subprotocols_say_what_is_spoken() {
        let s = Spoken::new(Choice::Auto, Some("graphql-transport-ws"));
        assert_eq!(s.protocol, Some(Protocol::GraphqlTransportWs));
        let s = Spoken::new(Choice::Auto, Some("v12.stomp"));
        assert_eq!(s.protocol, Some(Protocol::Stomp));
        let s = Spoken::new(Choice::Auto, Some("wamp.2.json"));
        assert_eq!(s.protocol, None);
        assert_eq!(
            unknown_subprotocol("wamp.2.json"),
            Some("WAMP (not decoded)")
        );
        let s = Spoken::new(Choice::GraphqlWs, Some("graphql-ws"));
        assert_eq!(s.protocol, Some(Protocol::GraphqlWs));
        let s = Spoken::new(Choice::Raw, Some("mqtt"));
        assert_eq!(
            s.decode(true, br#"{"jsonrpc":"2.0","id":1,"result":1}"#),
            None
        );
    }

    #[test]
    fn auto_finds_engine_io_in_the_first_server_message_only() {
        let open = br#"0{"sid":"abc","upgrades":[],"pingInterval":25000,"pingTimeout":20000,"maxPayload":1000000}"#;
        let mut s = Spoken::new(Choice::Auto, None);
        s.learn(false, true, b"hello");
        s.learn(false, true, open);
        assert_eq!(s.protocol, None, "not the first message");
        let mut s = Spoken::new(Choice::Auto, None);
        s.learn(true, true, open);
        assert_eq!(s.protocol, None, "a client's message says nothing");
        s.learn(false, true, open);
        assert_eq!(s.protocol, Some(Protocol::SocketIo));
    }

    #[test]
    fn auto_reads_json_rpc_message_by_message() {
        let s = Spoken::new(Choice::Auto, None);
        let (p, d) = s
            .decode(
                true,
                br#"{"jsonrpc":"2.0","id":1,"method":"add","params":[1,2]}"#,
            )
            .unwrap();
        assert_eq!(p, Protocol::JsonRpc);
        assert!(d.summary.contains("add"), "{}", d.summary);
        assert_eq!(s.decode(true, b"plain text"), None);
    }

    #[test]
    fn typed_json_values() {
        assert_eq!(
            json_values(r#""hi" {"a":1} 3"#).unwrap(),
            vec![
                serde_json::json!("hi"),
                serde_json::json!({"a":1}),
                serde_json::json!(3)
            ]
        );
        assert_eq!(
            json_values("hello world").unwrap(),
            vec![serde_json::json!("hello world")]
        );
        assert!(json_values(r#""a" b"#).is_err());
        assert_eq!(json_values("  ").unwrap(), Vec::<serde_json::Value>::new());
        assert_eq!(clip("héllo", 2), "hé…");
    }
}
