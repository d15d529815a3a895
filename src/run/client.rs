//! `wsprobe client URL`: a client with its dashboard, or piped lines in and out.

use crate::cli::{ClientArgs, ConnectArgs};
use crate::config::Options;
use crate::error::UsageError;
use crate::headless::output::Printer;
use crate::net::client::{ClientOptions, SessionOptions};
use crate::net::{self, Side};
use crate::record::har::HarFile;
use crate::record::sendfile;
use crate::record::Recording;
use crate::signal::shutdown_signal;
use crate::{app, headless, tui};

use super::with_recording;

pub async fn run(args: ClientArgs, out: &Options, rec: Option<&Recording>) -> anyhow::Result<u8> {
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
        echo_prefix: args.connect.echo_prefix.clone(),
        init,
        reconnect: args.reconnect.then_some(args.reconnect_max_delay),
        tap: rec.map(|r| r.tap(Side::Client)),
    };
    if out.use_tui() && !args.echo {
        return tui::run(tui::Setup {
            relay: None,
            mode: app::Mode::Client,
            client: Some(tui::ClientSetup {
                connect: ClientOptions {
                    frames: true,
                    ..client_options(&args.connect)?
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
        })
        .await;
    }
    let pipe = headless::pipe::PipeOptions {
        binary: args.binary,
        lossy: args.lossy,
        wait: args.wait,
        script,
        har: args.har.clone().map(HarFile::new),
    };
    headless::pipe::run(
        ClientOptions {
            frames: out.frames,
            ..client_options(&args.connect)?
        },
        session,
        pipe,
        Printer::new(out.format(), out.quiet),
        out.format(),
        shutdown_signal(),
    )
    .await
}

pub(super) fn client_options(args: &ConnectArgs) -> Result<ClientOptions, UsageError> {
    let proxy = match &args.proxy {
        Some(p) => Some(p.clone()),
        None => net::proxy::from_env(&args.url, |k| std::env::var(k).ok()).map_err(UsageError)?,
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
        deflate: args.deflate,
        frames: false,
    })
}
