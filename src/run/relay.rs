//! `wsprobe relay`: between a client and its server, on the dashboard or as lines.

use crate::cli::{self, RelayArgs};
use crate::config::Options;
use crate::error::UsageError;
use crate::headless::output::Printer;
use crate::net::client::{parse_ws_url, ClientOptions};
use crate::net::relay::steer::leg_index;
use crate::net::relay::{DirFaults, Relay, RelayConfig, Rules, Steering};
use crate::net::{self, Side};
use crate::proto::speech::Speech;
use crate::proto::Choice;
use crate::record::Recording;
use crate::{app, headless, tui};
use std::sync::Arc;

use super::with_recording;

/// Where the relay listens when only the upstream is given.
pub const DEFAULT_LISTEN: &str = "127.0.0.1:8765";

pub async fn run(args: RelayArgs, out: &Options, rec: Option<&Recording>) -> anyhow::Result<u8> {
    let tui = out.use_tui();
    let (listen, config) = relay_config(&args, tui || !out.quiet, out.watch_frames(), rec)?;
    let relay = Relay::bind(&listen, config).await?;
    if !relay.local_addr().ip().is_loopback() {
        eprintln!(
            "warning: listening on {}, which other machines may be able to reach",
            relay.local_addr()
        );
    }
    if tui {
        return tui::run(tui::Setup {
            mode: app::Mode::Relay,
            client: None,
            server: None,
            relay: Some(relay),
            keep: out.keep,
            history: true,
            hint: with_recording(None, rec),
            replay: None,
            speech: Speech {
                choice: args.protocol,
                ctx: crate::proto::Context::injected(),
                ..Default::default()
            },
            metrics: None,
        })
        .await;
    }
    let printer = Printer::new(out.format(), out.quiet).speaking(args.protocol);
    headless::relay::run(relay, printer).await
}

/// `[LISTEN] UPSTREAM_URL` and the flags, as the relay's configuration.
pub(super) fn relay_config(
    args: &RelayArgs,
    report_frames: bool,
    out_frames: bool,
    rec: Option<&Recording>,
) -> Result<(String, RelayConfig), UsageError> {
    let (listen, url) = match args.endpoints.as_slice() {
        [url] => (DEFAULT_LISTEN.to_string(), url),
        [listen, url] => (
            cli::parse_listen_addr(listen).map_err(|e| UsageError(format!("LISTEN: {e}")))?,
            url,
        ),
        _ => return Err(UsageError("expected [LISTEN] UPSTREAM_URL".into())),
    };
    let url = parse_ws_url(url).map_err(|e| {
        UsageError(if args.endpoints.len() == 1 && !url.contains("://") {
            format!("`{url}` is not a ws:// or wss:// URL: give the upstream server's URL (e.g. ws://127.0.0.1:9000), after the address to listen on if any")
        } else {
            format!("UPSTREAM_URL: {e}")
        })
    })?;
    let proxy = match &args.proxy {
        Some(p) => Some(p.clone()),
        None => net::proxy::from_env(&url, |k| std::env::var(k).ok()).map_err(UsageError)?,
    };
    let upstream = ClientOptions {
        connect_timeout: args.connect_timeout,
        insecure: args.insecure,
        ca_file: args.ca.clone(),
        max_message_size: args.max_message_size,
        read_buffer_size: net::READ_BUFFER_SIZE,
        proxy,
        frames: out_frames,
        ..ClientOptions::new(url)
    };
    let side = |word: &str| match word {
        "client" => vec![Side::Client],
        "server" => vec![Side::Server],
        _ => vec![Side::Client, Side::Server],
    };
    let faults = DirFaults {
        delay: args.delay.unwrap_or_default(),
        jitter: args.jitter.unwrap_or_default(),
        drop_percent: args.drop_percent.unwrap_or(0.0),
        fragment: args.fragment.unwrap_or(0),
        close_after: args.close_after,
        close_code: args.close_code,
    };
    let mut rules = Rules {
        breakpoint: args.breakpoint.clone(),
        ..Rules::default()
    };
    for s in args.pause.as_deref().map(side).unwrap_or_default() {
        rules.paused[leg_index(s)] = true;
    }
    // Kept by where the messages go.
    for s in side(&args.faults_from) {
        let to = match s {
            Side::Client => Side::Server,
            Side::Server => Side::Client,
        };
        rules.faults[leg_index(to)] = faults.clone();
    }
    Ok((
        listen,
        RelayConfig {
            steering: Steering::new(rules),
            add_headers: args.headers.clone(),
            drop_headers: args.drop_headers.clone(),
            speaker: match (&args.correlate, args.protocol) {
                (None, Choice::Raw) => None,
                (correlate, choice) => Some(Arc::new(Speech {
                    choice,
                    correlate: correlate.clone(),
                    ..Default::default()
                })),
            },
            handshake_timeout: args.handshake_timeout,
            report_frames,
            deflate: !args.no_deflate,
            tap: rec.map(Recording::relay_tap),
            ..RelayConfig::new(upstream)
        },
    ))
}
