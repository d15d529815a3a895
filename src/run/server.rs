//! `wsprobe server`: the echo server, with its dashboard or as lines.

use std::sync::Arc;

use crate::cli::ServerArgs;
use crate::config::Options;
use crate::headless::output::Printer;
use crate::metrics::server::ServerMetrics;
use crate::net::server::{Server, ServerConfig, SubprotocolPolicy};
use std::collections::BTreeMap;

use crate::error::UsageError;
use crate::net::relay::{Flow, JsonPath};
use crate::net::server::mock::{Mock, Said};
use crate::net::{self, ConnId, Direction, NetEvent, Side};
use crate::record::reader::RecordingFile;
use crate::record::Recording;
use crate::{app, headless, present, tui};

use super::private_file::PrivateFile;
use super::with_recording;

pub async fn run(args: ServerArgs, out: &Options, rec: Option<&Recording>) -> anyhow::Result<u8> {
    let tui = out.use_tui();
    let (tls, self_signed) = match (&args.tls_cert, &args.tls_key) {
        (Some(cert), Some(key)) => (Some(net::tls::server_from_pem(cert, key)?), None),
        _ if args.tls_self_signed => {
            let s = net::tls::self_signed()?;
            (Some(s.config.clone()), Some(s))
        }
        _ => (None, None),
    };
    let mut config = server_config(&args, tui || !out.quiet, tls, rec);
    config.frames = out.watch_frames();
    if let Some(file) = &args.mock {
        config.mock = Some(Arc::new(learn(file, args.correlate.clone())?));
    }
    let server = Server::bind(&args.addr, config).await?;
    warn_if_exposed(&server);
    let (metrics, _endpoint) = match &args.metrics {
        Some(addr) => {
            let m = ServerMetrics::default();
            let seen = m.clone();
            let (at, task) = crate::metrics::http::start(addr, Arc::new(move || seen.render()))
                .await
                .map_err(anyhow::Error::msg)?;
            eprintln!("metrics on http://{at}/metrics");
            (Some(m), Some(AbortOnDrop(task)))
        }
        None => (None, None),
    };
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
            relay: None,
            mode: app::Mode::Server,
            client: None,
            server: Some(server),
            keep: out.keep,
            history: true,
            // One row per line, wrapped rather than cut: the `--ca` command must be whole.
            hint: with_recording(hint.map(|h| format!(" {}", h.replace('\n', "\n "))), rec),
            replay: None,
            speech: crate::proto::speech::Speech {
                choice: args.protocol,
                ctx: crate::proto::Context::injected(),
                ..Default::default()
            },
            metrics,
        })
        .await;
    }
    let printer = Printer::new(out.format(), out.quiet).speaking(args.protocol);
    headless::server::run(server, printer, metrics).await
}

/// Stops the metrics endpoint with the server.
struct AbortOnDrop(tokio::task::JoinHandle<()>);

impl Drop for AbortOnDrop {
    fn drop(&mut self) {
        self.0.abort();
    }
}

pub(super) fn server_config(
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
        deflate: args.deflate,
        frames: false,
        mock: None,
        ..ServerConfig::default()
    }
}

/// `--mock FILE`: the answers of every conversation in a recording. A relay's
/// conversations are its pairs; a client's or a server's, its connections (of
/// a demo's recording, the client's side).
fn learn(file: &std::path::Path, correlate: Option<JsonPath>) -> anyhow::Result<Mock> {
    let rec = RecordingFile::open(file).map_err(UsageError)?;
    let relayed = rec.relayed();
    let (has_client, _) = rec.sides();
    let mut conversations: BTreeMap<(u8, ConnId), Vec<Said>> = BTreeMap::new();
    for (side, ev) in rec.events().map_err(anyhow::Error::msg)? {
        let NetEvent::Frame(f) = ev else { continue };
        if !f.kind.is_data() || (!relayed && has_client && side == Side::Server) {
            continue;
        }
        // A relay's legs say which way by leg and direction; a client's own
        // sends and a server's own receipts are the client's words.
        let by_client = if relayed {
            Flow::of(side, f.dir) == Flow::ClientToServer
        } else {
            (side == Side::Client) == (f.dir == Direction::Out)
        };
        let group = if relayed { 0 } else { side as u8 };
        conversations
            .entry((group, f.conn))
            .or_default()
            .push(Said {
                by_client,
                kind: f.kind,
                payload: f.payload,
            });
    }
    let conversations: Vec<Vec<Said>> = conversations.into_values().collect();
    let mock = Mock::learn(&conversations, correlate);
    let (asked, different) = mock.size();
    if asked == 0 {
        return Err(UsageError(format!(
            "{} has no client messages to answer (record a relay or a client with --record)",
            file.display()
        ))
        .into());
    }
    eprintln!(
        "mock: {asked} recorded messages ({different} different) from {}",
        file.display()
    );
    Ok(mock)
}

/// Writes the self-signed certificate where a client of the same user can read
/// it (a private directory; removed when the returned guard drops, that is when
/// the server stops) and says how to trust it.
fn trust_hint(server: &Server, s: &net::tls::SelfSigned) -> anyhow::Result<(String, PrivateFile)> {
    let port = server.local_addr().port();
    let name = format!("self-signed-{port}-{}.pem", std::process::id());
    let file = PrivateFile::create(&name, s.cert_pem.as_bytes())
        .map_err(|e| anyhow::anyhow!("cannot write the self-signed certificate: {e}"))?;
    let url = format!("wss://127.0.0.1:{port}");
    let hint = present::self_signed_note(&s.fingerprint, &url, file.path());
    Ok((hint, file))
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
