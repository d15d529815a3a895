//! wsprobe: a WebSocket echo server, client and inspector with a live terminal
//! dashboard, each usable headless.
//!
//! `main` parses the command line and calls [`run`], which hands it to the
//! capability asked for (`run/`). The layers and where things go are in
//! `docs/ARCHITECTURE.md`.

pub mod app;
pub mod bench;
pub mod cli;
pub mod config;
pub mod error;
pub mod escape;
pub mod frames;
pub mod headless;
pub mod logging;
pub mod metrics;
pub mod net;
pub mod present;
pub mod proto;
pub mod record;
pub mod run;
pub mod script;
pub mod signal;
pub mod tui;
pub mod units;

use cli::{Cli, Command};
use record::Recording;

pub use error::exit_code;

/// Runs what the command line asks for and returns the exit code.
pub async fn run(cli: Cli) -> anyhow::Result<u8> {
    let out = config::resolve(&cli)?;
    let mut recording = match &out.record {
        Some(path) => Some(Recording::start(path).map_err(error::UsageError)?),
        None => None,
    };
    let rec = recording.as_ref();
    let code = match cli.command {
        Some(Command::Server(args)) => run::server::run(args, &out, rec).await,
        Some(Command::Client(args)) => run::client::run(*args, &out, rec).await,
        Some(Command::Relay(args)) => run::relay::run(args, &out, rec).await,
        Some(Command::Bench(args)) => run::bench::run(args, &out).await,
        Some(Command::Run(args)) => run::script::run(args, &out).await,
        Some(Command::Replay(args)) => run::replay::run(args, &out).await,
        Some(Command::Completions(args)) => run::manual::completions(args.shell),
        Some(Command::Man(args)) => run::manual::man(args.out.as_deref()),
        None => run::demo::run(&out, rec).await,
    };
    // Everything recorded so far is on disk before the program ends, however it ends.
    if let Some(e) = recording.as_mut().and_then(|r| r.finish()) {
        eprintln!("error: {e}");
        return Ok(1);
    }
    code
}
