//! No arguments: an echo server on loopback and a client connected to it, side
//! by side; without a terminal, lines typed go to the embedded server.

use std::io::IsTerminal;

use crate::config::Options;
use crate::error::UsageError;
use crate::headless::output::Printer;
use crate::net::client::{ClientOptions, SessionOptions};
use crate::net::server::{Server, ServerConfig};
use crate::net::{self, Side};
use crate::record::Recording;
use crate::signal::shutdown_signal;
use crate::{app, headless, tui};

use super::with_recording;

/// No arguments: an echo server on loopback and a client connected to it.
pub async fn run(out: &Options, rec: Option<&Recording>) -> anyhow::Result<u8> {
    let session = SessionOptions {
        tap: rec.map(|r| r.tap(Side::Client)),
        ..SessionOptions::default()
    };
    let server_tap = rec.map(|r| r.tap(Side::Server));
    if out.use_tui() {
        let config = ServerConfig {
            tap: server_tap,
            frames: true,
            ..ServerConfig::default()
        };
        let server = Server::bind("127.0.0.1:0", config).await?;
        let uri = net::client::parse_ws_url(&server.url()).map_err(UsageError)?;
        return tui::run(tui::Setup {
            relay: None,
            mode: app::Mode::Demo,
            client: Some(tui::ClientSetup {
                connect: ClientOptions {
                    frames: true,
                    ..ClientOptions::new(uri)
                },
                session,
                script: None,
                har: None,
            }),
            server: Some(server),
            keep: out.keep,
            history: true,
            hint: with_recording(
                Some(
                    " demo · in two terminals: wsprobe server  +  wsprobe client ws://127.0.0.1:8765"
                        .to_string(),
                ),
                rec,
            ),
            replay: None,
            speech: Default::default(),
            metrics: None,
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
    // Signals are listened for before "listening" is said.
    let shutdown = shutdown_signal();
    let mut printer = Printer::new(out.format(), out.quiet);
    printer.listening(&url);
    printer.flush().await;
    if std::io::stdin().is_terminal() {
        eprintln!("type a line and press Enter to send it; Ctrl-D ends");
    }
    // Nobody watches the embedded server. Its receiver goes at once, so its
    // reports go nowhere and never wait: connection events wait for room, and a
    // receiver kept but unread would hold up every connection after the first.
    let (tx, unread) = tokio::sync::mpsc::channel(1);
    drop(unread);
    let accept = tokio::spawn(server.run(tx));
    let url = net::client::parse_ws_url(&url).map_err(UsageError)?;
    let code = headless::pipe::run(
        ClientOptions::new(url),
        session,
        headless::pipe::PipeOptions {
            binary: false,
            lossy: false,
            wait: std::time::Duration::from_secs(5),
            script: None,
            har: None,
            speech: Default::default(),
        },
        printer,
        out.format(),
        shutdown,
    )
    .await;
    accept.abort();
    code
}
