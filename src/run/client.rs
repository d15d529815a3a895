//! `wsprobe client URL`: a client with its dashboard, or piped lines in and out.

use crate::cli::{ClientArgs, ConnectFlags, ProtocolArgs};
use crate::config::Options;
use crate::error::UsageError;
use crate::headless::output::Printer;
use crate::net::client::{ClientOptions, SessionOptions};
use crate::net::speak::Speaker;
use crate::net::{self, Side};
use crate::proto::speech::Speech;
use crate::proto::{socketio, Choice, Context};
use crate::record::har::HarFile;
use crate::record::sendfile;
use crate::record::Recording;
use crate::signal::shutdown_signal;
use crate::{app, headless, tui};
use std::sync::Arc;
use tokio_tungstenite::tungstenite::http::Uri;

use super::with_recording;

pub async fn run(args: ClientArgs, out: &Options, rec: Option<&Recording>) -> anyhow::Result<u8> {
    if let Some(file) = args.script.clone() {
        return super::script::run_client(args, file, out).await;
    }
    super::script::refuse_without_script(&args.script_args)?;
    let mut init = args.init.clone();
    if let Some(path) = &args.init_file {
        let text = std::fs::read_to_string(path)
            .map_err(|e| UsageError(format!("cannot read --init-file {}: {e}", path.display())))?;
        init.extend(text.lines().map(str::to_string));
    }
    let script = match &args.send_file {
        Some(path) => Some(sendfile::Script::load(path, args.speed).map_err(UsageError)?),
        None => None,
    };
    let session = SessionOptions {
        echo: args.echo,
        // A ping timeout needs pings: every timeout's length unless told otherwise.
        ping_interval: args.ping_interval.or(args.ping_timeout),
        ping_timeout: args.ping_timeout,
        echo_prefix: args.connect.flags.echo_prefix.clone(),
        init,
        reconnect: args.reconnect.then_some(args.reconnect_max_delay),
        tap: rec.map(|r| r.tap(Side::Client)),
        speaker: speaker(&args.protocol),
    };
    let speech = speech(&args.protocol);
    if out.use_tui() && !args.echo {
        return tui::run(tui::Setup {
            relay: None,
            mode: app::Mode::Client,
            client: Some(tui::ClientSetup {
                connect: ClientOptions {
                    frames: true,
                    ..client_options(&args.connect.url, &args.connect.flags, &args.protocol)?
                },
                session,
                script,
                har: args.har.clone().map(HarFile::new),
            }),
            server: None,
            keep: out.keep,
            history: true,
            hint: with_recording(None, rec),
            replay: None,
            speech: speech.clone(),
            metrics: None,
        })
        .await;
    }
    let pipe = headless::pipe::PipeOptions {
        binary: args.binary,
        lossy: args.lossy,
        wait: args.wait,
        script,
        har: args.har.clone().map(HarFile::new),
        speech,
    };
    headless::pipe::run(
        ClientOptions {
            frames: out.frames,
            ..client_options(&args.connect.url, &args.connect.flags, &args.protocol)?
        },
        session,
        pipe,
        Printer::new(out.format(), out.quiet).speaking(args.protocol.protocol),
        out.format(),
        shutdown_signal(),
    )
    .await
}

pub(super) fn client_options(
    url: &Uri,
    args: &ConnectFlags,
    protocol: &ProtocolArgs,
) -> Result<ClientOptions, UsageError> {
    let url = protocol_url(url, protocol)?;
    let proxy = match &args.proxy {
        Some(p) => Some(p.clone()),
        None => net::proxy::from_env(&url, |k| std::env::var(k).ok()).map_err(UsageError)?,
    };
    let mut subprotocols = args.subprotocols.clone();
    if subprotocols.is_empty() {
        subprotocols = protocol
            .protocol
            .offers()
            .iter()
            .map(|s| s.to_string())
            .collect();
    }
    Ok(ClientOptions {
        url,
        headers: args.headers.clone(),
        subprotocols,
        origin: args.origin.clone(),
        connect_timeout: args.connect_timeout,
        insecure: args.insecure,
        ca_file: args.ca.clone(),
        max_message_size: args.max_message_size,
        read_buffer_size: net::CLIENT_READ_BUFFER_SIZE,
        proxy,
        deflate: args.deflate,
        frames: false,
        source: None,
    })
}

/// The URL to connect to: Socket.IO's engine.io endpoint for `--protocol
/// socketio`; anything else must be a WebSocket URL already.
fn protocol_url(url: &Uri, p: &ProtocolArgs) -> Result<Uri, UsageError> {
    if p.protocol == Choice::Socketio {
        return socketio::endpoint(url, &p.socketio_path).map_err(UsageError);
    }
    match url.scheme_str() {
        Some("http" | "https") => Err(UsageError(format!(
            "`{url}` is an HTTP URL; WebSocket URLs start with ws:// or wss:// \
             (for a Socket.IO server, add --protocol socketio)"
        ))),
        _ => Ok(url.clone()),
    }
}

/// `--protocol` and what its commands and greeting need.
pub(super) fn speech(p: &ProtocolArgs) -> Speech {
    Speech {
        choice: p.protocol,
        correlate: p.correlate.clone(),
        ctx: Context {
            next_id: 1,
            namespace: p.namespace.clone(),
            connect_payload: p.connect_payload.clone(),
            client_id: format!("wsprobe-{}", std::process::id()),
        },
    }
}

/// What the network task speaks: `--correlate`'s pairing, or the protocol's.
pub(super) fn speaker(p: &ProtocolArgs) -> Option<Arc<dyn Speaker>> {
    match (&p.correlate, p.protocol) {
        (None, Choice::Raw) => None,
        _ => Some(Arc::new(speech(p))),
    }
}
