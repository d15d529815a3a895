//! The command line: clap derive, every flag also readable from `WSPROBE_*`.

use std::path::PathBuf;
use std::time::Duration;

use clap::builder::FalseyValueParser;
use clap::{Args, Parser, Subcommand};
use tokio_tungstenite::tungstenite::http::{HeaderName, HeaderValue, Uri};

use crate::net::client::{parse_header, parse_ws_url};
use crate::net::proxy::{parse_proxy_url, Proxy};
use crate::units::{parse_close_code, parse_duration, parse_percent, parse_size, parse_speed};

const ABOUT: &str = "WebSocket echo server, client and inspector with a live terminal dashboard";

const EXAMPLES: &str = "\
Examples:
  wsprobe                             echo server + client side by side (demo)
  wsprobe server                      echo server on 127.0.0.1:8765
  wsprobe client ws://127.0.0.1:8765  client with a dashboard
  echo hi | wsprobe client ws://127.0.0.1:8765  pipe: lines in, replies out
  wsprobe server 127.0.0.1:0 --json   any free port, JSON lines for scripts
  wsprobe run checks.wsp ws://127.0.0.1:8765  a scripted check for CI
  wsprobe --record demo.jsonl         the demo, every frame of both sides kept
  wsprobe replay demo.jsonl           a recording back in the dashboard";

/// Each subcommand takes the output flags that mean something for it; the top
/// level takes them all, for the demo (no subcommand) and for spellings that
/// put them before the subcommand. `config::resolve` merges the two.
#[derive(Debug, Parser)]
#[command(name = "wsprobe", version, about = ABOUT, after_help = EXAMPLES)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Option<Command>,

    #[command(flatten)]
    pub output: OutputArgs,

    #[command(flatten)]
    pub dashboard: DashboardArgs,

    #[command(flatten)]
    pub record: RecordArgs,

    /// Write logs to this file (logs never go to the terminal)
    #[arg(
        help_heading = "Output",
        display_order = 1000,
        long,
        global = true,
        value_name = "FILE",
        env = "WSPROBE_LOG_FILE"
    )]
    pub log_file: Option<PathBuf>,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Run an echo server: every message comes back as it was sent
    #[command(after_help = SERVER_EXAMPLES)]
    Server(ServerArgs),
    /// Connect to a WebSocket server, send messages and watch what comes back
    #[command(after_help = CLIENT_EXAMPLES)]
    Client(Box<ClientArgs>),
    /// Sit between a client and its server: pass every message on both ways, show it, steer it
    #[command(
        after_help = RELAY_EXAMPLES,
        override_usage = "wsprobe relay [OPTIONS] [LISTEN] <UPSTREAM_URL>"
    )]
    Relay(RelayArgs),
    /// Load-test an echo server: throughput and round-trip percentiles, every echo checked
    #[command(
        after_help = BENCH_EXAMPLES,
        override_usage = "wsprobe bench [OPTIONS] <URL>\n       wsprobe bench merge [OPTIONS] <FILE>..."
    )]
    Bench(BenchCommand),
    /// Run a script: the lines you would type into the client's input box, with
    /// expectations; exit 0 when every one is met (a check for CI)
    #[command(after_help = RUN_EXAMPLES)]
    Run(RunArgs),
    /// Open a recording made with --record in the dashboard, read-only
    #[command(after_help = REPLAY_EXAMPLES)]
    Replay(ReplayArgs),
    /// Print a shell completion script to stdout
    #[command(after_help = COMPLETIONS_EXAMPLES)]
    Completions(CompletionsArgs),
    /// Print the man page (roff) to stdout, or write one page per command into a directory
    #[command(after_help = MAN_EXAMPLES)]
    Man(ManArgs),
}

const RELAY_EXAMPLES: &str = "\
Examples:
  wsprobe relay ws://127.0.0.1:9000             listen on 127.0.0.1:8765, pass on to :9000
  wsprobe relay 127.0.0.1:0 wss://example.com   any free port (on the first line)
  wsprobe relay ws://127.0.0.1:9000 --correlate '$.id'
      latency of each request to the reply with the same id (JSON-RPC, GraphQL)
  wsprobe relay ws://127.0.0.1:9000 -H 'Authorization: Bearer t' --drop-header Cookie
  wsprobe relay ws://127.0.0.1:9000 --json      a JSON line per frame, with its direction
  wsprobe relay ws://127.0.0.1:9000 --record relay.jsonl
  wsprobe relay ws://127.0.0.1:9000 --break 'subscribe'
      hold matching messages; forward, edit or drop them (in the dashboard,
      or by lines on stdin: /forward 1, /edit 1 TEXT, /drop all)
  wsprobe relay ws://127.0.0.1:9000 --faults-from server --delay 200ms --drop 5%
      a slow, lossy server, on purpose

Point the app at ws://LISTEN instead of its server: the path and query it asks
for are appended to UPSTREAM_URL, its headers passed on (Host rewritten), its
subprotocol offer sent upstream and the upstream's answer passed back.";

#[derive(Clone, Debug, Args)]
pub struct RelayArgs {
    /// The ws:// or wss:// URL of the server to pass everything on to; before it, the
    /// address to listen on when not 127.0.0.1:8765 (port 0 picks a free one)
    #[arg(value_name = "UPSTREAM_URL", num_args = 1..=2, required = true, help_heading = None)]
    pub endpoints: Vec<String>,

    /// A header to send upstream, `Name: value`, replacing the client's of that name (repeatable)
    #[arg(help_heading = "Upstream", short = 'H', long = "header", value_name = "HEADER", value_parser = parse_header)]
    pub headers: Vec<(HeaderName, HeaderValue)>,

    /// A client header never to send upstream (repeatable)
    #[arg(help_heading = "Upstream", long = "drop-header", value_name = "NAME", value_parser = parse_header_name)]
    pub drop_headers: Vec<HeaderName>,

    /// Strip permessage-deflate: neither agree to it with clients nor offer it
    /// upstream (by default each leg compresses when its peer offers or agrees)
    #[arg(help_heading = "Upstream", long, env = "WSPROBE_NO_DEFLATE", value_parser = FalseyValueParser::new())]
    pub no_deflate: bool,

    /// Give up connecting upstream (TCP, TLS and handshake) after this long; the client gets 502
    #[arg(help_heading = "Upstream", long, value_name = "DURATION", default_value = "10s", value_parser = parse_duration, env = "WSPROBE_CONNECT_TIMEOUT")]
    pub connect_timeout: Duration,

    /// Do not verify the upstream's TLS certificate
    #[arg(help_heading = "Upstream", short = 'k', long, env = "WSPROBE_INSECURE", value_parser = FalseyValueParser::new())]
    pub insecure: bool,

    /// Also trust the certificates in this PEM file (for the upstream)
    #[arg(
        help_heading = "Upstream",
        long,
        value_name = "FILE",
        env = "WSPROBE_CA"
    )]
    pub ca: Option<PathBuf>,

    /// Reach the upstream through this HTTP CONNECT proxy: http://[user:pass@]host:port
    /// (without it, the proxy variables are read as the client reads them)
    #[arg(help_heading = "Upstream", long, value_name = "URL", value_parser = parse_proxy_url, env = "WSPROBE_PROXY")]
    pub proxy: Option<Proxy>,

    /// Refuse messages larger than this, either way (e.g. 16MiB)
    #[arg(help_heading = "Upstream", long, value_name = "BYTES", default_value = "64MiB", value_parser = parse_size, env = "WSPROBE_MAX_MESSAGE_SIZE")]
    pub max_message_size: usize,

    /// A request's latency is the time to the server message whose value at this
    /// JSON path equals the request's (e.g. '$.id'); without it, as --protocol
    /// pairs them, and where no protocol reads a message, to the next server message
    #[arg(help_heading = "Latency", long, value_name = "JSONPATH", value_parser = parse_json_path, env = "WSPROBE_CORRELATE")]
    pub correlate: Option<crate::net::relay::JsonPath>,

    /// How long a client may take to send its upgrade request
    #[arg(help_heading = "Upstream", long, value_name = "DURATION", default_value = "10s", value_parser = parse_duration, env = "WSPROBE_HANDSHAKE_TIMEOUT")]
    pub handshake_timeout: Duration,

    /// What the pairs speak, decoded in the log and --json and timed request→reply:
    /// auto finds it from the agreed subprotocol and the first messages; --correlate
    /// takes over the timing
    #[arg(
        help_heading = "Latency",
        long,
        value_enum,
        value_name = "PROTOCOL",
        default_value = "auto",
        env = "WSPROBE_PROTOCOL"
    )]
    pub protocol: crate::proto::Choice,

    /// Hold every message whose text matches REGEX until it is forwarded, edited or
    /// dropped (in the dashboard, or by a line on stdin: /forward N, /drop N)
    #[arg(help_heading = "Steering", long = "break", value_name = "REGEX", value_parser = parse_regex, env = "WSPROBE_BREAK")]
    pub breakpoint: Option<regex::Regex>,

    /// Hold every message from this side from the start: client, server or both
    #[arg(help_heading = "Steering", long, value_name = "SIDE", value_parser = ["client", "server", "both"], env = "WSPROBE_PAUSE")]
    pub pause: Option<String>,

    /// The messages the faults below apply to: those from the client, from the server, or both
    #[arg(help_heading = "Faults (on the relayed messages)", long, value_name = "SIDE", default_value = "both", value_parser = ["client", "server", "both"], env = "WSPROBE_FAULTS_FROM")]
    pub faults_from: String,

    /// Fault: hold each message this long before passing it on (e.g. 50ms)
    #[arg(help_heading = "Faults (on the relayed messages)", long, value_name = "DURATION", value_parser = parse_duration, env = "WSPROBE_DELAY")]
    pub delay: Option<Duration>,

    /// Fault: add a random extra delay of up to this much (order is kept)
    #[arg(help_heading = "Faults (on the relayed messages)", long, value_name = "DURATION", value_parser = parse_duration, env = "WSPROBE_JITTER")]
    pub jitter: Option<Duration>,

    /// Fault: silently drop this share of messages (e.g. 5%)
    #[arg(help_heading = "Faults (on the relayed messages)", long = "drop", value_name = "PERCENT", value_parser = parse_percent, env = "WSPROBE_DROP")]
    pub drop_percent: Option<f64>,

    /// Fault: pass each message on split into N frames
    #[arg(
        help_heading = "Faults (on the relayed messages)",
        long,
        value_name = "N",
        env = "WSPROBE_FRAGMENT"
    )]
    pub fragment: Option<usize>,

    /// Fault: close the pair after passing on N messages one way
    #[arg(
        help_heading = "Faults (on the relayed messages)",
        long,
        value_name = "N",
        env = "WSPROBE_CLOSE_AFTER"
    )]
    pub close_after: Option<u64>,

    /// The code --close-after closes with
    #[arg(help_heading = "Faults (on the relayed messages)", long, value_name = "CODE", default_value_t = 1000, value_parser = parse_close_code, env = "WSPROBE_CLOSE_CODE")]
    pub close_code: u16,

    #[command(flatten)]
    pub output: OutputArgs,

    #[command(flatten)]
    pub dashboard: DashboardArgs,

    #[command(flatten)]
    pub record: RecordArgs,
}

fn parse_regex(s: &str) -> Result<regex::Regex, String> {
    regex::RegexBuilder::new(s)
        .size_limit(1 << 20)
        .build()
        .map_err(|e| format!("bad regex: {}", e.to_string().lines().last().unwrap_or("")))
}

/// A client's URL: ws(s)://, or http(s):// for Socket.IO (checked once the
/// protocol is known).
pub fn parse_client_url(s: &str) -> Result<Uri, String> {
    match s
        .split_once("://")
        .map(|(scheme, _)| scheme.to_ascii_lowercase())
    {
        Some(scheme) if scheme == "http" || scheme == "https" => {
            let uri: Uri = s
                .parse()
                .map_err(|e| format!("`{s}` is not a valid URL ({e})"))?;
            match uri.host() {
                Some(h) if !h.is_empty() => Ok(uri),
                _ => Err(format!("`{s}` has no host")),
            }
        }
        _ => parse_ws_url(s),
    }
}

fn parse_json(s: &str) -> Result<serde_json::Value, String> {
    serde_json::from_str(s).map_err(|e| format!("not JSON: {e}"))
}

fn parse_path(s: &str) -> Result<String, String> {
    match s.starts_with('/') && !s.contains(['?', '#', ' ']) {
        true => Ok(s.to_string()),
        false => Err(format!(
            "`{s}` is not a path: it starts with / (e.g. /socket.io/)"
        )),
    }
}

fn parse_namespace(s: &str) -> Result<String, String> {
    if s.starts_with('/') && !s.contains([',', ' ', '?']) {
        Ok(s.to_string())
    } else {
        Err(format!(
            "`{s}` is not a namespace: it starts with / (e.g. /chat)"
        ))
    }
}

fn parse_json_path(s: &str) -> Result<crate::net::relay::JsonPath, String> {
    crate::net::relay::JsonPath::parse(s)
}

fn parse_header_name(s: &str) -> Result<HeaderName, String> {
    HeaderName::from_bytes(s.trim().as_bytes()).map_err(|_| format!("`{s}` is not a header name"))
}

const RUN_EXAMPLES: &str = "\
Examples:
  wsprobe run checks.wsp ws://127.0.0.1:8765
  wsprobe run checks.wsp ws://127.0.0.1:8765 --junit results.xml
  wsprobe run rpc.wsp ws://127.0.0.1:8545/ --json --var user=ci
  wsprobe client ws://127.0.0.1:8765 --script checks.wsp     the same

A script (one step a line; # comments):
  hello                           sent as typed: text, /json {…}, /hex, /ping,
  /call add 1 2                   /close, /repeat, /frag, a protocol's /call…
  /expect ^Echo: hello$           the next message matches (a regex)
  /expect json $.result == 3 within 2s
  /capture sum json $.result      then ${sum} in any later line
  /set user ${env:USER}           ${NAME}, ${env:NAME}; --var NAME=VALUE wins
  /wait 100ms
  /close 4000                     then /expect-close 4000
  /connect ws://127.0.0.1:9000/   a second connection

Every line is checked before connecting. Exit codes: 0 every step passed,
1 a step failed (an expectation unmet or timed out, a connection refused),
2 a problem in the script (its file:line with a caret) or the command line,
130 interrupted (Ctrl-C or SIGTERM; the report so far is still written).";

#[derive(Clone, Debug, Args)]
pub struct RunArgs {
    /// The script: one line per step, as typed into the input box, plus /expect,
    /// /expect-close, /wait, /set, /capture and /connect
    #[arg(value_name = "FILE")]
    pub file: PathBuf,

    /// Where to connect first (ws://, wss://; http:// with --protocol socketio);
    /// without it the script starts with /connect URL
    #[arg(value_name = "URL", value_parser = parse_client_url, env = "WSPROBE_URL")]
    pub url: Option<Uri>,

    #[command(flatten)]
    pub script: ScriptArgs,

    #[command(flatten)]
    pub connect: ConnectFlags,

    #[command(flatten)]
    pub protocol: ProtocolArgs,

    #[command(flatten)]
    pub output: ScriptOutputArgs,
}

/// How a script runs and reports: `run`, and `client --script`.
#[derive(Clone, Debug, Args)]
#[command(next_help_heading = "Script")]
pub struct ScriptArgs {
    /// How long an /expect or /expect-close waits when its line gives no `within`
    #[arg(long = "timeout", value_name = "DURATION", default_value = crate::script::DEFAULT_TIMEOUT, value_parser = parse_duration, env = "WSPROBE_SCRIPT_TIMEOUT")]
    pub timeout: Duration,

    /// Set ${NAME} for the script (repeatable); wins over the script's own /set
    #[arg(long = "var", value_name = "NAME=VALUE", value_parser = crate::script::vars::parse_var)]
    pub vars: Vec<(String, String)>,

    /// Also write the result as JUnit XML to FILE (a test case per step), even
    /// when interrupted
    #[arg(long, value_name = "FILE", env = "WSPROBE_JUNIT")]
    pub junit: Option<PathBuf>,
}

/// How a script's result is printed.
#[derive(Clone, Debug, Default, Args)]
#[command(next_help_heading = "Output")]
pub struct ScriptOutputArgs {
    /// Print a JSON object per step and a summary object instead of lines
    #[arg(long, env = "WSPROBE_JSON", value_parser = FalseyValueParser::new())]
    pub json: bool,

    /// Print only the failed steps and the summary
    #[arg(short, long, env = "WSPROBE_QUIET", value_parser = FalseyValueParser::new())]
    pub quiet: bool,
}

const REPLAY_EXAMPLES: &str = "\
Examples:
  wsprobe client ws://127.0.0.1:8765 --record session.jsonl
  wsprobe replay session.jsonl                    log, filter, detail, RTT
  wsprobe replay session.jsonl --no-tui           the recording as lines
  wsprobe replay session.jsonl --har session.har  export for browser DevTools";

#[derive(Clone, Debug, Args)]
pub struct ReplayArgs {
    /// A JSON Lines recording written by --record
    #[arg(value_name = "FILE")]
    pub file: PathBuf,

    /// Also export the recording as HAR (with _webSocketMessages) to this file
    #[arg(
        help_heading = "Recording and replay",
        long,
        value_name = "FILE",
        env = "WSPROBE_HAR"
    )]
    pub har: Option<PathBuf>,

    #[command(flatten)]
    pub output: OutputArgs,

    #[command(flatten)]
    pub dashboard: DashboardArgs,
}

/// How results are shown: server, client, replay and the demo.
#[derive(Clone, Debug, Default, Args)]
#[command(next_help_heading = "Output")]
pub struct OutputArgs {
    /// Print lines instead of the dashboard (the default when stdout is not a terminal)
    #[arg(long, env = "WSPROBE_NO_TUI", value_parser = FalseyValueParser::new())]
    pub no_tui: bool,

    /// Print one JSON object per line instead of human-readable lines (implies --no-tui)
    #[arg(long, env = "WSPROBE_JSON", value_parser = FalseyValueParser::new())]
    pub json: bool,

    /// Print only the listening line, connection events, errors and the summary
    #[arg(short, long, env = "WSPROBE_QUIET", value_parser = FalseyValueParser::new())]
    pub quiet: bool,

    /// Also print every frame as it crossed the wire (opcode, FIN, RSV, mask,
    /// lengths on the wire and inflated, close code as sent), one line each
    #[arg(long, env = "WSPROBE_FRAMES", value_parser = FalseyValueParser::new())]
    pub frames: bool,
}

/// How the bench shows its results: a live view, or only the summary.
#[derive(Clone, Debug, Default, Args)]
#[command(next_help_heading = "Output")]
pub struct BenchOutputArgs {
    /// Print only the summary, no live view (the default when stdout is not a terminal)
    #[arg(long, env = "WSPROBE_NO_TUI", value_parser = FalseyValueParser::new())]
    pub no_tui: bool,

    /// Print the summary as one JSON object (implies --no-tui)
    #[arg(long, env = "WSPROBE_JSON", value_parser = FalseyValueParser::new())]
    pub json: bool,
}

/// The dashboard's memory: server, client, replay and the demo.
#[derive(Clone, Debug, Default, Args)]
#[command(next_help_heading = "Output")]
pub struct DashboardArgs {
    /// How many frames the dashboard keeps for scrolling (default 10000; counters cover all)
    #[arg(long, value_name = "N", env = "WSPROBE_KEEP")]
    pub keep: Option<usize>,
}

/// Recording: server, client and the demo.
#[derive(Clone, Debug, Default, Args)]
#[command(next_help_heading = "Recording and replay")]
pub struct RecordArgs {
    /// Record every event and frame to FILE as JSON Lines; nothing is dropped:
    /// under a flood the echo slows to the disk's pace
    #[arg(long, value_name = "FILE", env = "WSPROBE_RECORD")]
    pub record: Option<PathBuf>,
}

const SERVER_EXAMPLES: &str = "\
Examples:
  wsprobe server                        listen on 127.0.0.1:8765
  wsprobe server 127.0.0.1:0            any free port (on the first line)
  wsprobe server --prefix 'Echo: '      answer like the Python example server
  wsprobe server --subprotocol chat,v2  only these (default: the first offered)
  wsprobe server --no-subprotocol       none, to see how a client copes
  wsprobe server --tls-self-signed      wss:// with a certificate made at start
  wsprobe server --tls-cert cert.pem --tls-key key.pem
  wsprobe server --drop 5% --close-after 100 --close-code 4000
      a bad server, on purpose
  wsprobe server --no-pong --delay 50ms --jitter 20ms
      a slow one that never pongs
  wsprobe server --record server.jsonl  every frame of every connection
  wsprobe server --mock relay.jsonl --correlate '$.id'
      answer as the recorded back end did (a relay's or a client's recording)";

#[derive(Clone, Debug, Args)]
pub struct ServerArgs {
    /// Address to listen on (port 0 picks a free one)
    #[arg(default_value = "127.0.0.1:8765", env = "WSPROBE_LISTEN", value_parser = parse_listen_addr)]
    pub addr: String,

    /// Answer each message with what followed the same message in this recording
    /// (of a relay or a client) instead of echoing it
    #[arg(
        long,
        value_name = "FILE",
        env = "WSPROBE_MOCK",
        conflicts_with = "prefix"
    )]
    pub mock: Option<PathBuf>,

    /// With --mock: match a message by all but the value at this JSON path (e.g.
    /// '$.id'); the answer carries the new message's value there
    #[arg(long, value_name = "JSONPATH", requires = "mock", value_parser = parse_json_path, env = "WSPROBE_CORRELATE")]
    pub correlate: Option<crate::net::relay::JsonPath>,

    /// Prepend TEXT to every text echo
    #[arg(long, value_name = "TEXT", env = "WSPROBE_PREFIX")]
    pub prefix: Option<String>,

    /// Accept only these subprotocols, the first a client offers that is listed
    /// (comma-separated or repeated; without it the first one offered is accepted)
    #[arg(
        long = "subprotocol",
        value_name = "NAME,...",
        value_delimiter = ',',
        env = "WSPROBE_SUBPROTOCOL"
    )]
    pub subprotocols: Vec<String>,

    /// Accept no subprotocol, whatever a client offers (to test how clients cope)
    #[arg(long, conflicts_with = "subprotocols", env = "WSPROBE_NO_SUBPROTOCOL", value_parser = FalseyValueParser::new())]
    pub no_subprotocol: bool,

    /// Close a connection with 1009 when a message is larger than this (e.g. 1MiB);
    /// a compressed one is closed once it inflates past it
    #[arg(long, value_name = "BYTES", default_value = "64MiB", value_parser = parse_size, env = "WSPROBE_MAX_MESSAGE_SIZE")]
    pub max_message_size: usize,

    /// Agree to permessage-deflate compression (RFC 7692) when a client offers it
    #[arg(long, env = "WSPROBE_DEFLATE", value_parser = FalseyValueParser::new())]
    pub deflate: bool,

    /// The most a busy connection's read buffer grows to. A connection reads
    /// into 4KiB, grows to this once a message outgrows that (large messages
    /// then take a few reads, not hundreds), and gives it all back when quiet
    #[arg(long, value_name = "BYTES", default_value = "256KiB", value_parser = parse_size, env = "WSPROBE_READ_BUFFER")]
    pub read_buffer: usize,

    /// Serve wss:// with this certificate chain (PEM); needs --tls-key
    #[arg(
        help_heading = "TLS",
        long,
        value_name = "FILE",
        requires = "tls_key",
        env = "WSPROBE_TLS_CERT"
    )]
    pub tls_cert: Option<PathBuf>,

    /// The private key (PEM) for --tls-cert
    #[arg(
        help_heading = "TLS",
        long,
        value_name = "FILE",
        requires = "tls_cert",
        env = "WSPROBE_TLS_KEY"
    )]
    pub tls_key: Option<PathBuf>,

    /// Serve wss:// with a certificate for localhost, 127.0.0.1 and ::1 made at start;
    /// prints its fingerprint and how a client can trust it
    #[arg(help_heading = "TLS", long, conflicts_with = "tls_cert", env = "WSPROBE_TLS_SELF_SIGNED", value_parser = FalseyValueParser::new())]
    pub tls_self_signed: bool,

    /// Fault: silently drop this share of echoes (e.g. 5%)
    #[arg(help_heading = "Faults (to test clients against a bad server)", long = "drop", value_name = "PERCENT", value_parser = parse_percent, env = "WSPROBE_DROP")]
    pub drop_percent: Option<f64>,

    /// Fault: close each connection after echoing N messages (with --close-code)
    #[arg(
        help_heading = "Faults (to test clients against a bad server)",
        long,
        value_name = "N",
        env = "WSPROBE_CLOSE_AFTER"
    )]
    pub close_after: Option<u64>,

    /// The code --close-after closes with
    #[arg(help_heading = "Faults (to test clients against a bad server)", long, value_name = "CODE", default_value_t = 1000, value_parser = parse_close_code, env = "WSPROBE_CLOSE_CODE")]
    pub close_code: u16,

    /// Fault: hold each echo this long before sending it (e.g. 50ms)
    #[arg(help_heading = "Faults (to test clients against a bad server)", long, value_name = "DURATION", value_parser = parse_duration, env = "WSPROBE_DELAY")]
    pub delay: Option<Duration>,

    /// Fault: add a random extra delay of up to this much (echoes keep their order)
    #[arg(help_heading = "Faults (to test clients against a bad server)", long, value_name = "DURATION", value_parser = parse_duration, env = "WSPROBE_JITTER")]
    pub jitter: Option<Duration>,

    /// Fault: split each echo into N frames (a first frame and continuations)
    #[arg(
        help_heading = "Faults (to test clients against a bad server)",
        long,
        value_name = "N",
        env = "WSPROBE_FRAGMENT"
    )]
    pub fragment: Option<usize>,

    /// Fault: never answer pings (their pongs are taken out before they leave)
    #[arg(help_heading = "Faults (to test clients against a bad server)", long, env = "WSPROBE_NO_PONG", value_parser = FalseyValueParser::new())]
    pub no_pong: bool,

    /// Fault: answer further handshakes with 503 beyond N open connections
    #[arg(
        help_heading = "Faults (to test clients against a bad server)",
        long,
        value_name = "N",
        env = "WSPROBE_MAX_CONNECTIONS"
    )]
    pub max_connections: Option<usize>,

    /// Drop a connection that has not finished its handshake after this long
    #[arg(long, value_name = "DURATION", default_value = "10s", value_parser = parse_duration, env = "WSPROBE_HANDSHAKE_TIMEOUT")]
    pub handshake_timeout: Duration,

    /// What clients speak, decoded in the log and --json: auto finds it from the
    /// agreed subprotocol and the first messages
    #[arg(
        long,
        value_enum,
        value_name = "PROTOCOL",
        default_value = "auto",
        env = "WSPROBE_PROTOCOL"
    )]
    pub protocol: crate::proto::Choice,

    /// Serve Prometheus metrics (connections, messages and bytes each way) on
    /// http://ADDR/metrics, e.g. 0.0.0.0:9100
    #[arg(long, value_name = "ADDR", value_parser = parse_listen_addr, env = "WSPROBE_METRICS")]
    pub metrics: Option<String>,

    #[command(flatten)]
    pub output: OutputArgs,

    #[command(flatten)]
    pub dashboard: DashboardArgs,

    #[command(flatten)]
    pub record: RecordArgs,
}

const CLIENT_EXAMPLES: &str = "\
Examples:
  wsprobe client ws://127.0.0.1:8765
  wsprobe client wss://example.com/socket -H 'Authorization: Bearer x'
  wsprobe client wss://example.com/graphql --protocol graphql-ws
  wsprobe client http://127.0.0.1:3000/ --protocol socketio --namespace /chat
  wsprobe client ws://127.0.0.1:9001/ --protocol mqtt
  printf '/call eth_blockNumber\\n' | wsprobe client ws://127.0.0.1:8545/
  printf 'a\\nb\\n' | wsprobe client ws://127.0.0.1:8765 --json
  wsprobe client ws://127.0.0.1:8765 --ping-interval 1s --quiet
  wsprobe client ws://127.0.0.1:9001/runCase?case=1 --echo
  wsprobe client ws://127.0.0.1:8765 --reconnect --ping-timeout 5s \\
      --init '{\"op\":\"subscribe\"}'
  wsprobe client ws://127.0.0.1:8765 --record s.jsonl --har s.har
  wsprobe client ws://127.0.0.1:8765 --send-file s.jsonl --speed 10
  wsprobe client ws://127.0.0.1:8765 --script checks.wsp --junit out.xml
  wsprobe client wss://example.com/ws --proxy http://user:pass@proxy:3128

Exit codes: 0 normal, 1 runtime failure (refused, reset, unexpected close, TLS,
non-101 answer), 2 usage error (bad URL, bad header).";

/// Where and how to connect; shared by `client` and `bench`.
#[derive(Clone, Debug, Args)]
pub struct ConnectArgs {
    /// ws:// or wss:// URL to connect to (http:// or https:// with --protocol socketio)
    #[arg(value_parser = parse_client_url, env = "WSPROBE_URL", help_heading = None)]
    pub url: Uri,

    #[command(flatten)]
    pub flags: ConnectFlags,
}

/// How to connect, wherever to: `client`, `bench`, and `run`, whose URL may
/// come from the script.
#[derive(Clone, Debug, Args)]
#[command(next_help_heading = "Connection")]
pub struct ConnectFlags {
    /// Extra request header, `Name: value` (repeatable)
    #[arg(short = 'H', long = "header", value_name = "HEADER", value_parser = parse_header)]
    pub headers: Vec<(HeaderName, HeaderValue)>,

    /// Offer these subprotocols, in order of preference (comma-separated or repeated)
    #[arg(
        long = "subprotocol",
        value_name = "NAME,...",
        value_delimiter = ',',
        env = "WSPROBE_SUBPROTOCOL"
    )]
    pub subprotocols: Vec<String>,

    /// Origin header to send
    #[arg(long, value_name = "ORIGIN", env = "WSPROBE_ORIGIN")]
    pub origin: Option<String>,

    /// Give up connecting (TCP, TLS and handshake) after this long
    #[arg(long, value_name = "DURATION", default_value = "10s", value_parser = parse_duration, env = "WSPROBE_CONNECT_TIMEOUT")]
    pub connect_timeout: Duration,

    /// Do not verify the server's TLS certificate
    #[arg(short = 'k', long, env = "WSPROBE_INSECURE", value_parser = FalseyValueParser::new())]
    pub insecure: bool,

    /// Also trust the certificates in this PEM file
    #[arg(long, value_name = "FILE", env = "WSPROBE_CA")]
    pub ca: Option<PathBuf>,

    /// The server prefixes its echoes with TEXT (e.g. 'Echo: '); strip it to match them
    #[arg(long, value_name = "TEXT", env = "WSPROBE_ECHO_PREFIX")]
    pub echo_prefix: Option<String>,

    /// Refuse messages larger than this (e.g. 16MiB); a compressed one is refused
    /// once it inflates past it
    #[arg(long, value_name = "BYTES", default_value = "64MiB", value_parser = parse_size, env = "WSPROBE_MAX_MESSAGE_SIZE")]
    pub max_message_size: usize,

    /// Offer permessage-deflate compression (RFC 7692); the handshake shows what was agreed
    #[arg(long, env = "WSPROBE_DEFLATE", value_parser = FalseyValueParser::new())]
    pub deflate: bool,

    /// Tunnel through this HTTP CONNECT proxy: http://[user:pass@]host:port.
    /// Without it, https_proxy/HTTPS_PROXY (wss://), http_proxy (ws://), ALL_PROXY
    /// and NO_PROXY are read as curl reads them; loopback hosts skip those
    #[arg(long, value_name = "URL", value_parser = parse_proxy_url, env = "WSPROBE_PROXY")]
    pub proxy: Option<Proxy>,
}

/// What is spoken over the WebSocket: decoded, answered, timed.
#[derive(Clone, Debug, Args)]
#[command(next_help_heading = "Protocol")]
pub struct ProtocolArgs {
    /// What the messages are: decoded in the log, the detail view and --json
    /// (`decoded`), with request→reply latency. auto finds it from the agreed
    /// subprotocol and the first messages (and reads JSON-RPC 2.0 anywhere);
    /// naming one also sends its greeting (GraphQL connection_init, STOMP and
    /// MQTT CONNECT) and offers its subprotocols when --subprotocol names none
    #[arg(
        long,
        value_enum,
        value_name = "PROTOCOL",
        default_value = "auto",
        env = "WSPROBE_PROTOCOL"
    )]
    pub protocol: crate::proto::Choice,

    /// Socket.IO: the namespace to join (and /emit to)
    #[arg(long, value_name = "NAMESPACE", default_value = "/", value_parser = parse_namespace, env = "WSPROBE_NAMESPACE")]
    pub namespace: String,

    /// Socket.IO: the server's engine.io path, used when the URL has none
    #[arg(long, value_name = "PATH", default_value = crate::proto::socketio::DEFAULT_PATH, value_parser = parse_path, env = "WSPROBE_SOCKETIO_PATH")]
    pub socketio_path: String,

    /// JSON for the protocol's connect message: Socket.IO's auth, GraphQL's
    /// connection_init payload, STOMP CONNECT headers, MQTT username/password
    #[arg(long, value_name = "JSON", value_parser = parse_json, env = "WSPROBE_CONNECT_PAYLOAD")]
    pub connect_payload: Option<serde_json::Value>,

    /// Time each request to the reply carrying the same value at this JSON path
    /// (e.g. $.id), for any JSON protocol; replaces the protocol's own pairing
    #[arg(long, value_name = "JSONPATH", value_parser = parse_json_path, env = "WSPROBE_CORRELATE")]
    pub correlate: Option<crate::net::relay::JsonPath>,
}

impl ProtocolArgs {
    /// Only `--protocol` said (the bench's): the rest as their defaults.
    pub fn of(protocol: crate::proto::Choice) -> ProtocolArgs {
        ProtocolArgs {
            protocol,
            namespace: "/".into(),
            socketio_path: crate::proto::socketio::DEFAULT_PATH.into(),
            connect_payload: None,
            correlate: None,
        }
    }
}

#[derive(Clone, Debug, Args)]
pub struct ClientArgs {
    #[command(flatten)]
    pub connect: ConnectArgs,

    #[command(flatten)]
    pub protocol: ProtocolArgs,

    /// Send each input line as a binary message instead of text, byte for byte
    /// (only the newline is taken off)
    #[arg(help_heading = "Pipe mode", long, env = "WSPROBE_BINARY", value_parser = FalseyValueParser::new())]
    pub binary: bool,

    /// Send a line that is not valid UTF-8 as text with its bad bytes replaced
    /// (U+FFFD) instead of stopping there with an error
    #[arg(help_heading = "Pipe mode", long, conflicts_with = "binary", env = "WSPROBE_LOSSY", value_parser = FalseyValueParser::new())]
    pub lossy: bool,

    /// Run this script of input-box lines with expectations instead of reading
    /// stdin, as `wsprobe run FILE URL` does (exit 0 when every step passes)
    #[arg(help_heading = "Script", long, value_name = "FILE", conflicts_with_all = ["echo", "send_file"], env = "WSPROBE_SCRIPT")]
    pub script: Option<PathBuf>,

    #[command(flatten)]
    pub script_args: ScriptArgs,

    /// Echo every received message back and run until the server closes (stdin is not read)
    #[arg(help_heading = "Pipe mode", long, env = "WSPROBE_ECHO", value_parser = FalseyValueParser::new())]
    pub echo: bool,

    /// Send a ping this often; each pong gives a ping RTT
    #[arg(help_heading = "Staying connected", long, value_name = "DURATION", value_parser = parse_duration, env = "WSPROBE_PING_INTERVAL")]
    pub ping_interval: Option<Duration>,

    /// At end of input, wait this long for outstanding echoes before closing
    #[arg(help_heading = "Pipe mode", long, value_name = "DURATION", default_value = "5s", value_parser = parse_duration, env = "WSPROBE_WAIT")]
    pub wait: Duration,

    /// Drop the connection when a ping goes unanswered this long (pings every
    /// --ping-interval, or every DURATION when that is not given)
    #[arg(help_heading = "Staying connected", long, value_name = "DURATION", value_parser = parse_duration, env = "WSPROBE_PING_TIMEOUT")]
    pub ping_timeout: Option<Duration>,

    /// Reconnect after any drop, with exponential backoff and jitter; re-sends
    /// the --init messages after each connect
    #[arg(help_heading = "Staying connected", long, env = "WSPROBE_RECONNECT", value_parser = FalseyValueParser::new())]
    pub reconnect: bool,

    /// The longest wait between reconnect attempts
    #[arg(help_heading = "Staying connected", long, value_name = "DURATION", default_value = "30s", value_parser = parse_duration, env = "WSPROBE_RECONNECT_MAX_DELAY")]
    pub reconnect_max_delay: Duration,

    /// Send this text message after every (re)connect, before anything else (repeatable)
    #[arg(
        help_heading = "Staying connected",
        long = "init",
        value_name = "MESSAGE"
    )]
    pub init: Vec<String>,

    /// Send each line of FILE as a message after every (re)connect (after --init)
    #[arg(
        help_heading = "Staying connected",
        long,
        value_name = "FILE",
        env = "WSPROBE_INIT_FILE"
    )]
    pub init_file: Option<PathBuf>,

    /// Send the outgoing messages of a recording (or the lines of a text file)
    /// with their original spacing, then close; stdin is not read
    #[arg(
        help_heading = "Recording and replay",
        long,
        value_name = "FILE",
        conflicts_with = "echo",
        env = "WSPROBE_SEND_FILE"
    )]
    pub send_file: Option<PathBuf>,

    /// With --send-file: play the spacing X times as fast (2 = twice as fast,
    /// 0 = as fast as possible)
    #[arg(help_heading = "Recording and replay", long, value_name = "X", default_value = "1", requires = "send_file", value_parser = parse_speed, env = "WSPROBE_SPEED")]
    pub speed: f64,

    /// Write the session as HAR with _webSocketMessages (for browser DevTools) when it ends
    #[arg(
        help_heading = "Recording and replay",
        long,
        value_name = "FILE",
        env = "WSPROBE_HAR"
    )]
    pub har: Option<PathBuf>,

    #[command(flatten)]
    pub output: OutputArgs,

    #[command(flatten)]
    pub dashboard: DashboardArgs,

    #[command(flatten)]
    pub record: RecordArgs,
}

const BENCH_EXAMPLES: &str = "\
Examples:
  wsprobe bench ws://127.0.0.1:8765
      10 connections, closed loop, 10s
  wsprobe bench ws://127.0.0.1:8765 -c 50 -w 16 -n 1000000
      throughput: 16 messages in flight per connection
  wsprobe bench ws://127.0.0.1:8765 -c 1 -d 10s
      round-trip latency, one message at a time
  wsprobe bench ws://127.0.0.1:8765 -c 1000 --rate 20000 -d 30s
      open loop: tail latency at a fixed rate
  wsprobe bench ws://127.0.0.1:8765 -s 1MiB -n 500 --binary
      bandwidth with large messages
  wsprobe bench ws://127.0.0.1:8545 --protocol jsonrpc --call eth_blockNumber
      a JSON-RPC endpoint: calls paired with their replies by id
  wsprobe bench ws://127.0.0.1:8765 --json | jq .rtt_us.p99
  wsprobe bench ws://192.0.2.80:8765 -c 40000 --source 192.0.2.10-192.0.2.11 \\
      --ramp 2000
      more connections than one source address has ports, opened 2000/s
  wsprobe bench ws://127.0.0.1:8765 -c 100 --rate 8000 --shard 1/4 \\
      --start-at 2026-01-01T12:00:00Z --hdr-out w1.json
      worker 1 of 4: a quarter of the connections and of the rate
  wsprobe bench merge w0.json w1.json w2.json w3.json
      the four workers' results as one report, exactly

Every payload carries a sequence number and every echo is checked byte for
byte; mismatched, lost, reordered or duplicated echoes and errors make the
exit code 1.";

#[derive(Clone, Debug, Args)]
pub struct BenchArgs {
    #[command(flatten)]
    pub connect: ConnectArgs,

    /// Connections to open
    #[arg(
        help_heading = "Load",
        short = 'c',
        long,
        value_name = "N",
        default_value_t = 10,
        env = "WSPROBE_CONNECTIONS"
    )]
    pub connections: usize,

    /// Messages to send in total (over all connections)
    #[arg(
        help_heading = "Load",
        short = 'n',
        long,
        value_name = "TOTAL",
        conflicts_with = "duration",
        env = "WSPROBE_MESSAGES"
    )]
    pub messages: Option<u64>,

    /// Send for this long (default 10s when -n is not given)
    #[arg(help_heading = "Load", short = 'd', long, value_name = "DURATION", value_parser = parse_duration, env = "WSPROBE_DURATION")]
    pub duration: Option<Duration>,

    /// Payload size (at least 17 bytes: each carries its sequence number)
    #[arg(help_heading = "Load", short = 's', long, value_name = "BYTES", default_value = "64", value_parser = parse_size, env = "WSPROBE_SIZE")]
    pub size: usize,

    /// Send binary messages instead of text
    #[arg(help_heading = "Load", long, env = "WSPROBE_BINARY", value_parser = FalseyValueParser::new())]
    pub binary: bool,

    /// Messages in flight per connection (1 = closed loop, one at a time)
    #[arg(
        help_heading = "Load",
        short = 'w',
        long,
        value_name = "W",
        default_value_t = 1,
        env = "WSPROBE_WINDOW"
    )]
    pub window: usize,

    /// Open loop: send this many messages per second in total, whatever the replies do;
    /// latency counts from when each message should have gone out
    #[arg(help_heading = "Load", long, value_name = "R", env = "WSPROBE_RATE")]
    pub rate: Option<f64>,

    /// Run this long before measuring (echoes are still checked)
    #[arg(help_heading = "Load", long, value_name = "DURATION", default_value = "0s", value_parser = parse_duration, env = "WSPROBE_WARMUP")]
    pub warmup: Duration,

    /// After sending stops, wait this long for outstanding echoes (then they count as lost)
    #[arg(help_heading = "Load", long, value_name = "DURATION", default_value = "5s", value_parser = parse_duration, env = "WSPROBE_TIMEOUT")]
    pub timeout: Duration,

    /// What the messages are: echoed payloads (auto, the default), or with
    /// jsonrpc and --call, JSON-RPC calls
    #[arg(
        help_heading = "Load",
        long,
        value_enum,
        value_name = "PROTOCOL",
        default_value = "auto",
        env = "WSPROBE_PROTOCOL"
    )]
    pub protocol: crate::proto::Choice,

    /// Spread the connections over these local source addresses, round robin
    /// (`127.0.0.2,127.0.0.3` or a range `127.0.0.2-127.0.0.9`): each address has
    /// its own ephemeral ports, about 28 000 per destination
    #[arg(help_heading = "Scale", long, value_name = "ADDR[,ADDR…]", value_parser = parse_sources_arg, env = "WSPROBE_SOURCE")]
    pub source: Option<Sources>,

    /// Open connections at this many per second instead of all at once; sending
    /// starts when all are open
    #[arg(
        help_heading = "Scale",
        long,
        value_name = "RATE",
        env = "WSPROBE_RAMP"
    )]
    pub ramp: Option<f64>,

    /// Be worker I of N (from 0): open this worker's share of the connections,
    /// send its share of the messages and of --rate. `/N` takes I from
    /// JOB_COMPLETION_INDEX (a Kubernetes Indexed Job)
    #[arg(
        help_heading = "Scale",
        long,
        value_name = "I/N",
        env = "WSPROBE_SHARD"
    )]
    pub shard: Option<String>,

    /// Start sending at this wall-clock time (RFC 3339, e.g. 2026-01-01T12:00:00Z,
    /// or +30s from now) once connected, so workers on many machines start together
    #[arg(help_heading = "Scale", long, value_name = "TIME", value_parser = parse_start_at, env = "WSPROBE_START_AT")]
    pub start_at: Option<std::time::SystemTime>,

    /// Also write the result, with the full latency histograms (HdrHistogram's
    /// compressed V2 form, base64), to FILE as JSON for `wsprobe bench merge`
    #[arg(
        help_heading = "Scale",
        long,
        value_name = "FILE",
        env = "WSPROBE_HDR_OUT"
    )]
    pub hdr_out: Option<PathBuf>,

    /// Serve Prometheus metrics (messages, errors, a round-trip histogram) on
    /// http://ADDR/metrics while the bench runs, e.g. 0.0.0.0:9100
    #[arg(help_heading = "Scale", long, value_name = "ADDR", value_parser = parse_listen_addr, env = "WSPROBE_METRICS")]
    pub metrics: Option<String>,

    /// With --protocol jsonrpc: each message calls METHOD with PARAMS (JSON, as
    /// /call takes them, e.g. --call add '[1,2]'); replies are paired by id, in
    /// any order, and error replies counted (--size, --binary and --echo-prefix
    /// do not apply)
    #[arg(help_heading = "Load", long, num_args = 1..=2, value_names = ["METHOD", "PARAMS"], env = "WSPROBE_CALL")]
    pub call: Option<Vec<String>>,

    #[command(flatten)]
    pub output: BenchOutputArgs,
}

/// `--source`'s addresses, as one value.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Sources(pub Vec<std::net::IpAddr>);

fn parse_sources_arg(s: &str) -> Result<Sources, String> {
    crate::bench::source::parse_sources(s).map(Sources)
}

/// `--start-at`: an RFC 3339 time, or `+DURATION` from now.
pub fn parse_start_at(s: &str) -> Result<std::time::SystemTime, String> {
    if let Some(after) = s.strip_prefix('+') {
        return parse_duration(after).map(|d| std::time::SystemTime::now() + d);
    }
    chrono::DateTime::parse_from_rfc3339(s)
        .map(std::time::SystemTime::from)
        .map_err(|e| {
            format!(
                "`{s}` is not a time ({e}): expected RFC 3339 like 2026-01-01T12:00:00Z, or +30s"
            )
        })
}

/// `wsprobe bench URL …` runs a bench; `wsprobe bench merge FILE…` adds up the
/// results of several (clap derive cannot say "a required URL unless a
/// subcommand", so the two are told apart here).
#[derive(Debug)]
pub enum BenchCommand {
    Run(Box<BenchArgs>),
    Merge(MergeArgs),
}

#[derive(Debug, Subcommand)]
enum BenchSub {
    /// Add up `--hdr-out` files of several workers (or runs of one load) into one
    /// report: histograms added, counters summed, rates over their joint time span
    #[command(after_help = MERGE_EXAMPLES)]
    Merge(MergeArgs),
}

const MERGE_EXAMPLES: &str = "\
Examples:
  wsprobe bench merge w0.json w1.json w2.json w3.json
  wsprobe bench merge results/*.json --json | jq .rtt_us.p99

Files of different loads (message size, window, open or closed loop) are
refused. The exit code is 1 when the merged result counts a failure, as a
bench's would.";

#[derive(Clone, Debug, Args)]
pub struct MergeArgs {
    /// `--hdr-out` files to add up
    #[arg(value_name = "FILE", required = true, num_args = 1..)]
    pub files: Vec<PathBuf>,

    /// Print the merged report as one JSON object (as `bench --json`)
    #[arg(long, env = "WSPROBE_JSON", value_parser = FalseyValueParser::new())]
    pub json: bool,

    /// Also write the merged result as an --hdr-out file (to merge further)
    #[arg(long, value_name = "FILE")]
    pub hdr_out: Option<PathBuf>,
}

impl clap::FromArgMatches for BenchCommand {
    fn from_arg_matches(m: &clap::ArgMatches) -> Result<Self, clap::Error> {
        if m.subcommand().is_some() {
            let BenchSub::Merge(a) = BenchSub::from_arg_matches(m)?;
            return Ok(BenchCommand::Merge(a));
        }
        Ok(BenchCommand::Run(Box::new(BenchArgs::from_arg_matches(m)?)))
    }

    fn update_from_arg_matches(&mut self, m: &clap::ArgMatches) -> Result<(), clap::Error> {
        *self = Self::from_arg_matches(m)?;
        Ok(())
    }
}

impl Args for BenchCommand {
    fn augment_args(cmd: clap::Command) -> clap::Command {
        BenchSub::augment_subcommands(BenchArgs::augment_args(cmd))
            .args_conflicts_with_subcommands(true)
            .subcommand_negates_reqs(true)
    }

    fn augment_args_for_update(cmd: clap::Command) -> clap::Command {
        Self::augment_args(cmd)
    }
}

/// `HOST:PORT` with a port that exists: a typo is a usage error, not a failed bind.
pub fn parse_listen_addr(s: &str) -> Result<String, String> {
    let hint = "expected HOST:PORT, e.g. 127.0.0.1:8765, [::1]:8765 or 0.0.0.0:0";
    let (host, port) = s
        .rsplit_once(':')
        .ok_or_else(|| format!("`{s}` has no port: {hint}"))?;
    if host.is_empty() {
        return Err(format!("`{s}` has no host: {hint}"));
    }
    match port.parse::<u64>() {
        Ok(p) if p <= u64::from(u16::MAX) => Ok(s.to_string()),
        Ok(p) => Err(format!(
            "port {p} is out of range: ports go from 0 to 65535"
        )),
        Err(_) => Err(format!("`{port}` is not a port number: {hint}")),
    }
}

const COMPLETIONS_EXAMPLES: &str = "\
Examples:
  wsprobe completions bash > ~/.local/share/bash-completion/completions/wsprobe
  wsprobe completions zsh > ~/.zfunc/_wsprobe       with fpath+=~/.zfunc in ~/.zshrc
  wsprobe completions fish > ~/.config/fish/completions/wsprobe.fish";

#[derive(Clone, Debug, Args)]
pub struct CompletionsArgs {
    /// The shell to write completions for
    #[arg(value_name = "SHELL")]
    pub shell: clap_complete::Shell,
}

const MAN_EXAMPLES: &str = "\
Examples:
  wsprobe man | man -l -                          read it now
  wsprobe man --out ~/.local/share/man/man1       wsprobe.1, wsprobe-server.1, … for `man wsprobe`";

#[derive(Clone, Debug, Args)]
pub struct ManArgs {
    /// Write wsprobe.1 and a page per subcommand (wsprobe-server.1, …) into DIR instead
    #[arg(long, value_name = "DIR")]
    pub out: Option<PathBuf>,
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::CommandFactory;

    #[test]
    fn cli_is_consistent() {
        Cli::command().debug_assert();
    }

    #[test]
    fn examples_fit_an_80_column_terminal() {
        for text in [
            EXAMPLES,
            SERVER_EXAMPLES,
            CLIENT_EXAMPLES,
            BENCH_EXAMPLES,
            MERGE_EXAMPLES,
            REPLAY_EXAMPLES,
            RUN_EXAMPLES,
        ] {
            for line in text.lines() {
                assert!(
                    line.chars().count() <= 80,
                    "{} columns: {line}",
                    line.chars().count()
                );
            }
        }
    }

    #[test]
    fn no_subcommand_is_the_demo() {
        let cli = Cli::try_parse_from(["wsprobe"]).unwrap();
        assert!(cli.command.is_none());
    }

    #[test]
    fn client_flags() {
        let cli = Cli::try_parse_from([
            "wsprobe",
            "client",
            "ws://127.0.0.1:1/x",
            "-H",
            "A: b",
            "-H",
            "C: d",
            "--subprotocol",
            "chat",
            "--ping-interval",
            "1s",
            "--echo-prefix",
            "Echo: ",
        ])
        .unwrap();
        let Some(Command::Client(c)) = cli.command else {
            panic!("not a client")
        };
        assert_eq!(c.connect.flags.headers.len(), 2);
        assert_eq!(c.connect.flags.subprotocols, vec!["chat"]);
        assert_eq!(c.ping_interval, Some(Duration::from_secs(1)));
        assert_eq!(c.connect.flags.echo_prefix.as_deref(), Some("Echo: "));
        assert_eq!(c.wait, Duration::from_secs(5));
    }

    #[test]
    fn bench_flags() {
        let cli = Cli::try_parse_from([
            "wsprobe",
            "bench",
            "ws://127.0.0.1:1",
            "-c",
            "50",
            "-w",
            "16",
            "-n",
            "1000",
            "-s",
            "1KiB",
            "--binary",
        ])
        .unwrap();
        let Some(Command::Bench(BenchCommand::Run(b))) = cli.command else {
            panic!("not a bench")
        };
        assert_eq!(
            (b.connections, b.window, b.messages, b.size),
            (50, 16, Some(1000), 1024)
        );
        assert!(b.binary);
        assert!(
            Cli::try_parse_from(["wsprobe", "bench", "ws://x", "-n", "5", "-d", "1s"]).is_err()
        );
    }

    #[test]
    fn scale_flags() {
        let cli = Cli::try_parse_from([
            "wsprobe",
            "bench",
            "ws://127.0.0.1:1",
            "--source",
            "127.0.0.2-127.0.0.4",
            "--ramp",
            "100",
            "--shard",
            "1/4",
            "--start-at",
            "2030-01-01T00:00:00Z",
            "--metrics",
            "127.0.0.1:0",
        ])
        .unwrap();
        let Some(Command::Bench(BenchCommand::Run(b))) = cli.command else {
            panic!("not a bench")
        };
        assert_eq!(b.source.unwrap().0.len(), 3);
        assert_eq!((b.ramp, b.shard.as_deref()), (Some(100.0), Some("1/4")));
        assert!(b.start_at.is_some());
        let cli = Cli::try_parse_from(["wsprobe", "bench", "merge", "a.json", "b.json", "--json"])
            .unwrap();
        let Some(Command::Bench(BenchCommand::Merge(m))) = cli.command else {
            panic!("not a merge")
        };
        assert_eq!((m.files.len(), m.json), (2, true));
        for bad in [
            vec!["wsprobe", "bench", "merge"],
            vec!["wsprobe", "bench", "ws://x", "--source", "nowhere"],
            vec!["wsprobe", "bench", "ws://x", "--start-at", "noon"],
            vec!["wsprobe", "bench", "ws://x", "--metrics", "9100"],
        ] {
            assert_eq!(
                Cli::try_parse_from(&bad).unwrap_err().exit_code(),
                2,
                "{bad:?}"
            );
        }
    }

    #[test]
    fn fault_flags() {
        let cli = Cli::try_parse_from([
            "wsprobe",
            "server",
            "--drop",
            "5%",
            "--close-after",
            "3",
            "--close-code",
            "4000",
        ])
        .unwrap();
        let Some(Command::Server(s)) = cli.command else {
            panic!("not a server")
        };
        assert_eq!(
            (s.drop_percent, s.close_after, s.close_code),
            (Some(5.0), Some(3), 4000)
        );
        assert!(Cli::try_parse_from(["wsprobe", "server", "--close-code", "1005"]).is_err());
        assert!(Cli::try_parse_from(["wsprobe", "server", "--drop", "150%"]).is_err());
    }

    #[test]
    fn bad_input_is_a_usage_error() {
        for args in [
            vec!["wsprobe", "client", "localhost:1"],
            vec!["wsprobe", "client", "ws://x", "-H", "nocolon"],
            vec!["wsprobe", "server", "--max-message-size", "big"],
            vec!["wsprobe", "server", "127.0.0.1:99999"],
            vec!["wsprobe", "server", "8765"],
        ] {
            let err = Cli::try_parse_from(&args).unwrap_err();
            assert_eq!(err.exit_code(), 2, "{args:?}");
        }
    }
}
