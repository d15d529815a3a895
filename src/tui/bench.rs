//! `wsprobe bench` on a terminal: the live view until the run ends or `q`
//! stops it early; the summary follows either way.

use std::time::{Duration, Instant};

use crossterm::event::{Event, EventStream, KeyCode, KeyEventKind, KeyModifiers};
use futures_util::StreamExt;

use super::theme::Theme;
use super::{terminal, widgets};
use crate::bench::live::LiveState;
use crate::bench::{BenchConfig, Report, Running};
use crate::signal::shutdown_signal;

const REFRESH: Duration = Duration::from_millis(250);

/// Shows a started bench live until it ends; the terminal is restored before returning.
pub async fn run(
    config: &BenchConfig,
    title: Vec<String>,
    running: Running,
    mut handle: tokio::task::JoinHandle<Report>,
) -> anyhow::Result<Report> {
    let theme = Theme::from_env();
    let (mut term, guard) = terminal::init()?;
    let mut events = EventStream::new();
    let mut tick = tokio::time::interval(REFRESH);
    let shutdown = shutdown_signal();
    tokio::pin!(shutdown);
    let mut state = LiveState::new(config, title, Instant::now());
    let report = loop {
        tokio::select! {
            report = &mut handle => break report?,
            _ = &mut shutdown => {
                if state.stopping {
                    handle.abort();
                    anyhow::bail!("{}", crate::signal::SECOND_SIGNAL);
                }
                state.stopping = true;
                running.stop();
                shutdown.set(shutdown_signal());
            }
            ev = events.next() => {
                if let Some(Ok(Event::Key(k))) = ev {
                    let ctrl_c = k.modifiers.contains(KeyModifiers::CONTROL) && k.code == KeyCode::Char('c');
                    if k.kind == KeyEventKind::Press && (ctrl_c || matches!(k.code, KeyCode::Char('q') | KeyCode::Esc)) {
                        state.stopping = true;
                        running.stop();
                    }
                }
            }
            _ = tick.tick() => {
                state.sample(&running, Instant::now());
                term.draw(|f| widgets::bench::draw(f, &state, &theme))?;
            }
        }
    };
    drop(guard);
    drop(term);
    Ok(report)
}
