//! wsprobe: a WebSocket echo server, client and inspector with a live terminal
//! dashboard, each usable headless.
//!
//! `main` parses the command line and calls [`run`]; tests drive the modules
//! directly. `net` owns the sockets and knows nothing of terminals.

pub mod app;
pub mod bench;
pub mod cli;
pub mod config;
pub mod error;
pub mod escape;
pub mod har;
pub mod headless;
pub mod logging;
pub mod manual;
pub mod net;
pub mod present;
pub mod private_file;
pub mod record;
pub mod recorder;
pub mod replay;
pub mod sendfile;
pub mod tui;

use std::io::IsTerminal;
use std::sync::Arc;

use cli::{BenchArgs, Cli, ClientArgs, Command, ConnectArgs, ServerArgs};
use config::Options;
use headless::output::{Format, Printer};
use net::client::{ClientOptions, SessionOptions};
use net::server::{Server, ServerConfig, SubprotocolPolicy};
use recorder::{Recording, Side};

/// Runs what the command line asks for and returns the exit code.
pub async fn run(cli: Cli) -> anyhow::Result<u8> {
    let out = config::resolve(&cli)?;
    let mut recording = match &out.record {
        Some(path) => Some(recorder::Recording::start(path).map_err(error::UsageError)?),
        None => None,
    };
    let rec = recording.as_ref();
    let code = match cli.command {
        Some(Command::Server(args)) => run_server(args, &out, rec).await,
        Some(Command::Client(args)) => run_client(args, &out, rec).await,
        Some(Command::Bench(args)) => run_bench(args, &out).await,
        Some(Command::Replay(args)) => replay::run(args, &out).await,
        Some(Command::Completions(args)) => manual::completions(args.shell),
        Some(Command::Man(args)) => manual::man(args.out.as_deref()),
        None => run_demo(&out, rec).await,
    };
    // Everything recorded so far is on disk before the program ends, however it ends.
    if let Some(e) = recording.as_mut().and_then(|r| r.finish()) {
        eprintln!("error: {e}");
        return Ok(1);
    }
    code
}

fn format(out: &Options) -> Format {
    if out.json {
        Format::Json
    } else {
        Format::Human
    }
}

fn server_config(
    args: &ServerArgs,
    report_frames: bool,
    tls: Option<Arc<rustls::ServerConfig>>,
    rec: Option<&Recording>,
) -> ServerConfig {
    ServerConfig {
        tap: rec.map(|r| r.tap(Side::Server)),
        tls,
        switches: Arc::default(),
        faults: net::server::faults::Faults {
            drop_percent: args.drop_percent.unwrap_or(0.0),
            close_after: args.close_after,
            close_code: args.close_code,
            max_connections: args.max_connections,
            fragment: args.fragment.unwrap_or(0),
            no_pong: args.no_pong,
            delay: args.delay.unwrap_or_default(),
            jitter: args.jitter.unwrap_or_default(),
        },
        prefix: args.prefix.clone(),
        subprotocols: if args.no_subprotocol {
            SubprotocolPolicy::Refuse
        } else if args.subprotocols.is_empty() {
            SubprotocolPolicy::FirstOffered
        } else {
            SubprotocolPolicy::OneOf(args.subprotocols.clone())
        },
        max_message_size: args.max_message_size,
        handshake_timeout: args.handshake_timeout,
        read_buffer_size: args.read_buffer,
        report_frames,
    }
}

/// Writes the self-signed certificate where a client of the same user can read
/// it (a private directory; removed when the returned guard drops, that is when
/// the server stops) and says how to trust it.
fn trust_hint(
    server: &Server,
    s: &net::tls::SelfSigned,
) -> anyhow::Result<(String, private_file::PrivateFile)> {
    let port = server.local_addr().port();
    let name = format!("self-signed-{port}-{}.pem", std::process::id());
    let file = private_file::PrivateFile::create(&name, s.cert_pem.as_bytes())
        .map_err(|e| anyhow::anyhow!("cannot write the self-signed certificate: {e}"))?;
    let url = format!("wss://127.0.0.1:{port}");
    let hint = present::self_signed_note(&s.fingerprint, &url, file.path());
    Ok((hint, file))
}

/// The dashboard's note line, with where the recording goes when there is one.
fn with_recording(hint: Option<String>, rec: Option<&Recording>) -> Option<String> {
    let Some(r) = rec else { return hint };
    let note = format!(" recording to {}", r.path().display());
    Some(match hint {
        Some(h) => format!("{h} ·{note}"),
        None => note,
    })
}

/// Reachable from other machines: worth one line of warning.
fn warn_if_exposed(server: &Server) {
    let ip = server.local_addr().ip();
    if !ip.is_loopback() {
        eprintln!(
            "warning: listening on {}, which other machines may be able to reach",
            server.local_addr()
        );
    }
}

/// The dashboard needs a terminal to draw on and one to read keys from.
pub(crate) fn use_tui(out: &Options) -> bool {
    !out.no_tui && !out.json && std::io::stdout().is_terminal() && std::io::stdin().is_terminal()
}

async fn run_server(
    args: ServerArgs,
    out: &Options,
    rec: Option<&Recording>,
) -> anyhow::Result<u8> {
    let tui = use_tui(out);
    let (tls, self_signed) = match (&args.tls_cert, &args.tls_key) {
        (Some(cert), Some(key)) => (Some(net::tls::server_from_pem(cert, key)?), None),
        _ if args.tls_self_signed => {
            let s = net::tls::self_signed()?;
            (Some(s.config.clone()), Some(s))
        }
        _ => (None, None),
    };
    let server = Server::bind(
        &args.addr,
        server_config(&args, tui || !out.quiet, tls, rec),
    )
    .await?;
    warn_if_exposed(&server);
    // Held until the server stops, however it stops: the certificate file goes with it.
    let (hint, _cert_file) = match &self_signed {
        Some(s) => {
            let (hint, file) = trust_hint(&server, s)?;
            (Some(hint), Some(file))
        }
        None => (None, None),
    };
    if let Some(h) = &hint {
        eprintln!("{h}");
    }
    if tui {
        return tui::run(tui::Setup {
            mode: app::Mode::Server,
            client: None,
            server: Some(server),
            keep: out.keep,
            // One row per line, wrapped rather than cut: the `--ca` command must be whole.
            hint: with_recording(hint.map(|h| format!(" {}", h.replace('\n', "\n "))), rec),
            replay: None,
        })
        .await;
    }
    headless::server::run(server, Printer::new(format(out), out.quiet)).await
}

fn client_options(args: &ConnectArgs) -> Result<ClientOptions, error::UsageError> {
    let proxy = match &args.proxy {
        Some(p) => Some(p.clone()),
        None => {
            net::proxy::from_env(&args.url, |k| std::env::var(k).ok()).map_err(error::UsageError)?
        }
    };
    Ok(ClientOptions {
        url: args.url.clone(),
        headers: args.headers.clone(),
        subprotocols: args.subprotocols.clone(),
        origin: args.origin.clone(),
        connect_timeout: args.connect_timeout,
        insecure: args.insecure,
        ca_file: args.ca.clone(),
        max_message_size: args.max_message_size,
        read_buffer_size: net::CLIENT_READ_BUFFER_SIZE,
        proxy,
    })
}

async fn run_client(
    args: ClientArgs,
    out: &Options,
    rec: Option<&Recording>,
) -> anyhow::Result<u8> {
    let mut init = args.init.clone();
    if let Some(path) = &args.init_file {
        let text = std::fs::read_to_string(path).map_err(|e| {
            error::UsageError(format!("cannot read --init-file {}: {e}", path.display()))
        })?;
        init.extend(text.lines().map(str::to_string));
    }
    let script = match &args.send_file {
        Some(path) => Some(sendfile::Script::load(path, args.speed).map_err(error::UsageError)?),
        None => None,
    };
    let session = SessionOptions {
        echo: args.echo,
        // A ping timeout needs pings: every timeout's length unless told otherwise.
        ping_interval: args.ping_interval.or(args.ping_timeout),
        ping_timeout: args.ping_timeout,
        echo_prefix: args.connect.echo_prefix.clone(),
        init,
        reconnect: args.reconnect.then_some(args.reconnect_max_delay),
        tap: rec.map(|r| r.tap(Side::Client)),
    };
    if use_tui(out) && !args.echo {
        return tui::run(tui::Setup {
            mode: app::Mode::Client,
            client: Some(tui::ClientSetup {
                connect: client_options(&args.connect)?,
                session,
                script,
                har: args.har.clone(),
            }),
            server: None,
            keep: out.keep,
            hint: with_recording(None, rec),
            replay: None,
        })
        .await;
    }
    let pipe = headless::pipe::PipeOptions {
        binary: args.binary,
        lossy: args.lossy,
        wait: args.wait,
        script,
        har: args.har.clone(),
    };
    headless::pipe::run(
        client_options(&args.connect)?,
        session,
        pipe,
        Printer::new(format(out), out.quiet),
        format(out),
    )
    .await
}

async fn run_bench(args: BenchArgs, out: &Options) -> anyhow::Result<u8> {
    let config = bench::BenchConfig {
        connect: client_options(&args.connect)?,
        connections: args.connections,
        messages: args.messages,
        duration: match (args.messages, args.duration) {
            (None, None) => Some(std::time::Duration::from_secs(10)),
            (_, d) => d,
        },
        size: args.size,
        binary: args.binary,
        window: args.window,
        rate: args.rate,
        warmup: args.warmup,
        echo_prefix: args.connect.echo_prefix.clone(),
        drain: args.timeout,
    };
    config.validate().map_err(error::UsageError)?;
    let live = !out.no_tui && !out.json && std::io::stdout().is_terminal();
    let report = if live {
        let title = vec![
            format!("wsprobe bench {}", args.connect.url),
            present::count(config.connections as u64, "connection", "connections"),
            format!("{} B", config.size),
            match config.rate {
                Some(r) => format!("open loop {r} msg/s"),
                None => format!("window {}", config.window),
            },
        ];
        bench::live::run(&config, title).await?
    } else {
        let (running, handle) = bench::start(&config);
        tokio::pin!(handle);
        let shutdown = headless::shutdown_signal();
        tokio::pin!(shutdown);
        loop {
            tokio::select! {
                r = &mut handle => break r?,
                _ = &mut shutdown => running.stop(),
            }
        }
    };
    if out.json {
        println!("{}", serde_json::to_string(&report.to_json())?);
    } else {
        print!("{}", report.text());
    }
    // The text report on a terminal already says why no connection succeeded.
    let said = report.no_connection() && !out.json && std::io::stdout().is_terminal();
    match &report.first_error {
        Some(_) if said => {}
        Some(e) if report.no_connection() => eprintln!("error: no connection succeeded: {e}"),
        Some(e) => eprintln!("error: {e}"),
        None => {}
    }
    Ok(if report.failed() { 1 } else { 0 })
}

/// No arguments: an echo server on loopback and a client connected to it.
async fn run_demo(out: &Options, rec: Option<&Recording>) -> anyhow::Result<u8> {
    let session = SessionOptions {
        tap: rec.map(|r| r.tap(Side::Client)),
        ..SessionOptions::default()
    };
    let server_tap = rec.map(|r| r.tap(Side::Server));
    if use_tui(out) {
        let config = ServerConfig {
            tap: server_tap,
            ..ServerConfig::default()
        };
        let server = Server::bind("127.0.0.1:0", config).await?;
        let uri = net::client::parse_ws_url(&server.url()).map_err(error::UsageError)?;
        return tui::run(tui::Setup {
            mode: app::Mode::Demo,
            client: Some(tui::ClientSetup {
                connect: ClientOptions::new(uri),
                session,
                script: None,
                har: None,
            }),
            server: Some(server),
            keep: out.keep,
            hint: with_recording(
                Some(
                    " demo · in two terminals: wsprobe server  +  wsprobe client ws://127.0.0.1:8765"
                        .to_string(),
                ),
                rec,
            ),
            replay: None,
        })
        .await;
    }
    let config = ServerConfig {
        report_frames: false,
        tap: server_tap,
        ..ServerConfig::default()
    };
    let server = Server::bind("127.0.0.1:0", config).await?;
    let url = server.url();
    let mut printer = Printer::new(format(out), out.quiet);
    printer.listening(&url);
    printer.flush().await;
    if std::io::stdin().is_terminal() {
        eprintln!("type a line and press Enter to send it; Ctrl-D ends");
    }
    // Nobody watches the embedded server: its events are dropped unread.
    let (tx, _rx) = tokio::sync::mpsc::channel(1);
    let accept = tokio::spawn(server.run(tx));
    let url = net::client::parse_ws_url(&url).map_err(error::UsageError)?;
    let code = headless::pipe::run(
        ClientOptions::new(url),
        session,
        headless::pipe::PipeOptions {
            binary: false,
            lossy: false,
            wait: std::time::Duration::from_secs(5),
            script: None,
            har: None,
        },
        printer,
        format(out),
    )
    .await;
    accept.abort();
    code
}

/// The exit code for an error that stopped the program: 2 for usage errors, 1 otherwise.
pub fn exit_code(e: &anyhow::Error) -> u8 {
    if let Some(net) = e.downcast_ref::<error::NetError>() {
        return net.exit_code();
    }
    if e.downcast_ref::<error::UsageError>().is_some() {
        return 2;
    }
    1
}
