//! Logs go to a file, never to the terminal the dashboard owns.

use std::path::Path;

use tracing_appender::non_blocking::WorkerGuard;
use tracing_subscriber::EnvFilter;

/// Starts logging to `path` when one is given; `RUST_LOG` or `WSPROBE_LOG` set the
/// level (default `info`). Keep the guard alive until exit so the file is flushed.
pub fn init(path: Option<&Path>) -> anyhow::Result<Option<WorkerGuard>> {
    let Some(path) = path else { return Ok(None) };
    let file = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(path)
        .map_err(|e| {
            crate::error::UsageError(format!("cannot open log file {}: {e}", path.display()))
        })?;
    let (writer, guard) = tracing_appender::non_blocking(file);
    let filter = EnvFilter::try_from_env("WSPROBE_LOG")
        .or_else(|_| EnvFilter::try_from_default_env())
        .unwrap_or_else(|_| EnvFilter::new("info"));
    tracing_subscriber::fmt()
        .with_writer(writer)
        .with_ansi(false)
        .with_env_filter(filter)
        .init();
    Ok(Some(guard))
}
