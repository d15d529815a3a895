//! The dashboard: the only place that touches the terminal. `run` takes over
//! the terminal and gives it back; `dashboard` is the loop (any ratatui
//! backend: tests drive it on a `TestBackend`), where `update` decides and the
//! loop carries out the effects.

pub mod bench;
mod dashboard;
pub mod fit;
#[cfg(feature = "fixture")]
pub mod fixture;
mod history;
pub mod keymap;
mod links;
mod replay;
pub mod terminal;
pub mod theme;
pub mod ui;
pub mod widgets;

use crossterm::event::EventStream;

use crate::app::Mode;
use crate::net::client::{ClientOptions, SessionOptions};
use crate::net::relay::Relay;
use crate::net::server::Server;
use crate::record::har::HarFile;
use crate::record::reader::RecordingFile;
use crate::record::sendfile::Script;
use crate::signal::shutdown_signal;
pub use dashboard::{Dashboard, Farewell};
use theme::Theme;

pub struct ClientSetup {
    pub connect: ClientOptions,
    pub session: SessionOptions,
    /// `--send-file`: sent into the connection as it plays.
    pub script: Option<Script>,
    /// `--har FILE`: the client's session written when the dashboard ends.
    pub har: Option<HarFile>,
}

pub struct Setup {
    pub mode: Mode,
    pub client: Option<ClientSetup>,
    pub server: Option<Server>,
    /// `wsprobe relay`: its pairs in the one pane (mode `Relay`).
    pub relay: Option<Relay>,
    pub keep: usize,
    pub hint: Option<String>,
    /// Input history: read at the start, each line sent added (off in tests).
    pub history: bool,
    /// `wsprobe replay`: a recording shown read-only instead of live connections.
    pub replay: Option<RecordingFile>,
    /// `--protocol`: what the logs decode and the input box's commands speak.
    pub speech: crate::proto::speech::Speech,
    /// `server --metrics`: counts what the server reports on its way to the screen.
    pub metrics: Option<crate::metrics::server::ServerMetrics>,
}

impl Setup {
    /// A recording shown read-only.
    pub fn replay(file: RecordingFile, keep: usize) -> Setup {
        Setup {
            mode: replay::mode_of(&file),
            client: None,
            server: None,
            relay: None,
            keep,
            hint: None,
            history: false,
            replay: Some(file),
            speech: Default::default(),
            metrics: None,
        }
    }
}

/// Runs the dashboard on the terminal until the user quits; returns the exit code.
pub async fn run(setup: Setup) -> anyhow::Result<u8> {
    let shutdown = shutdown_signal();
    let dashboard = Dashboard::start(setup)?;
    let (mut terminal, guard) = terminal::init()?;
    let ended = dashboard
        .drive(
            &mut terminal,
            EventStream::new(),
            shutdown,
            &Theme::from_env(),
            |_| {},
        )
        .await;
    // Gone before anything is said on the normal screen.
    drop(guard);
    drop(terminal);
    ended?.say()
}
