//! The dashboard's event loop: the only place that touches the terminal. One
//! `select!` over terminal events, a render tick, a clock tick and the network's
//! events; `update` decides, this loop carries out the effects.

pub mod bench;
pub mod fit;
#[cfg(feature = "fixture")]
pub mod fixture;
mod history;
pub mod keymap;
pub mod replay;
pub mod terminal;
pub mod theme;
pub mod ui;
pub mod widgets;

use std::time::{Duration, Instant};

use chrono::{Local, Offset, Utc};
use crossterm::event::{Event, EventStream};
use futures_util::StreamExt;
use tokio::sync::mpsc;
use tokio::task::JoinHandle;

use crate::app::state::{ClientPane, LinkState, ServerPane};
use crate::app::{update, AppState, Effect, Mode, Msg};
use crate::net::client::{self, ClientOptions, SessionOptions};
use crate::net::rtt::format_duration;
use crate::net::server::Server;
use crate::net::Side;
use crate::net::{CloseInfo, NetCommand, NetEvent};
use crate::record::har::HarFile;
use crate::record::reader::RecordingFile;
use crate::record::sendfile::Script;
use crate::signal::shutdown_signal;
use keymap::KeyContext;
use theme::Theme;

/// At most this often the screen is redrawn (only when something changed): 30 a
/// second reads as live and leaves the CPU to the echo.
const FRAME_INTERVAL: Duration = Duration::from_millis(33);
/// Rates, ages and the clock move on this often even when nothing happens.
const TICK_INTERVAL: Duration = Duration::from_secs(1);
/// The server's frames reach the dashboard through a channel this deep; what does
/// not fit is counted as not shown (the echo never waits for the screen).
const SERVER_EVENTS: usize = 2048;
/// A drain this large means a flood: the next waits for the next frame interval,
/// so the dashboard takes at most ~60 batches a second and leaves the CPU to the echo.
const FLOOD_BATCH: usize = 256;
/// How long quitting waits for the client's close handshake.
const QUIT_CLOSE_WAIT: Duration = Duration::from_secs(1);

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
    pub keep: usize,
    pub hint: Option<String>,
    /// `wsprobe replay`: a recording shown read-only instead of live connections.
    pub replay: Option<RecordingFile>,
}

impl Setup {
    /// A recording shown read-only.
    pub fn replay(file: RecordingFile, keep: usize) -> Setup {
        Setup {
            mode: replay::mode_of(&file),
            client: None,
            server: None,
            keep,
            hint: None,
            replay: Some(file),
        }
    }
}

/// Runs the dashboard until the user quits; returns the exit code.
pub async fn run(setup: Setup) -> anyhow::Result<u8> {
    let offset = Local::now().offset().fix();
    let mut state = AppState::new(setup.mode, Instant::now(), Utc::now(), offset);
    state.hint = setup.hint;
    let history = history::load();

    let (srv_tx, mut srv_rx) = mpsc::channel::<NetEvent>(SERVER_EVENTS);
    let mut server_task = None;
    let mut registry = None;
    if let Some(server) = setup.server {
        registry = Some(server.registry());
        let mut pane = ServerPane::new(
            server.url(),
            setup.keep,
            history.clone(),
            server.not_shown(),
        );
        pane.faults = Some(server.faults()).filter(|(f, _)| f.is_active());
        state.server = Some(pane);
        server_task = Some(tokio::spawn(server.run(srv_tx)));
    } else {
        drop(srv_tx);
    }

    let (cli_tx, mut cli_rx) = mpsc::channel::<NetEvent>(1024);
    let mut client_task = None;
    let mut har = None;
    if let Some(mut c) = setup.client {
        state.client = Some(ClientPane::new(
            c.connect.url.to_string(),
            setup.keep,
            history,
            Instant::now(),
        ));
        har = c.har.take();
        client_task = Some(tokio::spawn(connect_and_run(c, cli_tx)));
    } else {
        drop(cli_tx);
    }
    // A replay's clock is the recording's: it stops at the last record.
    let replaying = setup.replay.is_some();
    if let Some(file) = setup.replay {
        replay::load(file, &mut state, setup.keep).map_err(anyhow::Error::msg)?;
    }

    let theme = Theme::from_env();
    let (mut terminal, guard) = terminal::init()?;
    let mut term_events = EventStream::new();
    let mut render = tokio::time::interval(FRAME_INTERVAL);
    render.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let mut tick = tokio::time::interval(TICK_INTERVAL);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Skip);
    let shutdown = shutdown_signal();
    tokio::pin!(shutdown);
    let mut repeats: Vec<JoinHandle<()>> = Vec::new();
    let (mut cli_buf, mut srv_buf) = (Vec::with_capacity(1024), Vec::with_capacity(1024));
    let (mut client_open, mut server_open) = (state.client.is_some(), state.server.is_some());
    let test_panic = std::env::var_os("WSPROBE_TEST_PANIC").is_some();
    let mut flood_pause: Option<tokio::time::Instant> = None;

    while !state.should_quit {
        tokio::select! {
            biased;
            _ = &mut shutdown => state.should_quit = true,
            ev = term_events.next() => match ev {
                Some(Ok(ev)) => {
                    if let Some(msg) = terminal_msg(ev, &state) {
                        let fx = update(&mut state, msg);
                        carry_out(fx, &mut repeats);
                    }
                }
                Some(Err(e)) => return Err(e.into()),
                None => break,
            },
            _ = render.tick(), if state.dirty => {
                terminal.draw(|f| ui::draw(f, &state, &theme))?;
                state.dirty = false;
                if test_panic {
                    panic!("WSPROBE_TEST_PANIC: a deliberate panic to check the terminal is restored");
                }
            }
            _ = tick.tick() => {
                if !replaying {
                    update(&mut state, clock());
                }
                repeats.retain(|t| !t.is_finished());
            }
            n = cli_rx.recv_many(&mut cli_buf, 1024), if client_open => {
                client_open = n > 0;
                update(&mut state, clock());
                for ev in cli_buf.drain(..) {
                    if let Some(h) = har.as_mut() {
                        h.event(&ev);
                    }
                    update(&mut state, Msg::Net(Side::Client, ev));
                }
            }
            n = srv_rx.recv_many(&mut srv_buf, SERVER_EVENTS), if server_open && flood_pause.is_none() => {
                server_open = n > 0;
                update(&mut state, clock());
                for ev in srv_buf.drain(..) {
                    update(&mut state, Msg::Net(Side::Server, ev));
                }
                if n >= FLOOD_BATCH {
                    flood_pause = Some(tokio::time::Instant::now() + FRAME_INTERVAL);
                }
            }
            _ = async { tokio::time::sleep_until(flood_pause.expect("guarded")).await }, if flood_pause.is_some() => {
                flood_pause = None;
            }
        }
    }

    for t in repeats {
        t.abort();
    }
    close_client(&state, &mut cli_rx).await;
    if let Some(registry) = registry {
        if let Some(t) = &server_task {
            t.abort();
        }
        // Clients get 1001 Going Away, not a reset; their closes are drained unseen.
        let closing =
            registry.close_all(crate::headless::server::shutdown_close(), QUIT_CLOSE_WAIT);
        tokio::pin!(closing);
        loop {
            tokio::select! {
                _ = &mut closing => break,
                ev = srv_rx.recv() => if ev.is_none() { break },
            }
        }
    }
    drop(guard);
    drop(terminal);
    if let Some(t) = server_task {
        t.abort();
    }
    if let Some(t) = client_task {
        t.abort();
    }
    let code = farewell(&state);
    if let Some(h) = har {
        match h.write() {
            Ok(wrote) => eprintln!("{wrote}"),
            Err(e) => {
                eprintln!("error: {e}");
                return Ok(1);
            }
        }
    }
    Ok(code)
}

fn clock() -> Msg {
    Msg::Tick {
        now: Instant::now(),
        wall: Utc::now(),
    }
}

fn terminal_msg(ev: Event, state: &AppState) -> Option<Msg> {
    let ctx = KeyContext {
        typing: state.typing(),
        popup: state.popup.is_some(),
    };
    match ev {
        Event::Key(k) => keymap::map_key(k, ctx).map(Msg::Action),
        Event::Mouse(m) => keymap::map_mouse(m).map(Msg::Action),
        Event::Paste(s) => Some(Msg::Paste(s)),
        Event::Resize(..) => Some(Msg::Redraw),
        _ => None,
    }
}

async fn connect_and_run(c: ClientSetup, events: mpsc::Sender<NetEvent>) {
    let (commands, task) = client::supervise(Some(c.connect), None, 1, c.session, events);
    if let Some(script) = c.script {
        // Messages wait in the queue while connecting; the dashboard shows them go.
        let mut plays = script.play(false);
        while let Some(cmd) = plays.recv().await {
            if commands.send(cmd).await.is_err() {
                break;
            }
        }
    }
    drop(commands);
    let _ = task.await;
}

fn carry_out(effects: Vec<Effect>, repeats: &mut Vec<JoinHandle<()>>) {
    for fx in effects {
        match fx {
            Effect::Send { to, cmd } => {
                // A full queue (a /repeat in flight, a slow peer) must not stall
                // the screen, nor lose what the user typed: wait for room aside.
                if let Err(mpsc::error::TrySendError::Full(cmd)) = to.try_send(cmd) {
                    tokio::spawn(async move {
                        let _ = to.send(cmd).await;
                    });
                }
            }
            Effect::Repeat {
                to,
                count,
                interval,
                text,
            } => {
                repeats.push(tokio::spawn(async move {
                    let mut timer = tokio::time::interval(interval.max(Duration::from_micros(1)));
                    timer.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
                    for _ in 0..count {
                        timer.tick().await;
                        if to.send(NetCommand::Text(text.clone())).await.is_err() {
                            break;
                        }
                    }
                }));
            }
            Effect::SaveHistory(line) => history::append(&line),
            Effect::ToggleDelay(s) => s.toggle_delay(),
            Effect::ToggleDrop(s) => s.toggle_drop(),
        }
    }
}

/// Quitting closes the client's connection properly, briefly.
async fn close_client(state: &AppState, events: &mut mpsc::Receiver<NetEvent>) {
    let Some(c) = &state.client else { return };
    let Some(to) = c.commands.as_ref().filter(|_| c.state == LinkState::Open) else {
        return;
    };
    if to
        .try_send(NetCommand::Close(Some(CloseInfo::new(1000, ""))))
        .is_err()
    {
        return;
    }
    let _ = tokio::time::timeout(QUIT_CLOSE_WAIT, async {
        while let Some(ev) = events.recv().await {
            if matches!(ev, NetEvent::Closed { .. }) {
                break;
            }
        }
    })
    .await;
}

/// One line on the normal screen after the dashboard is gone; the exit code.
fn farewell(state: &AppState) -> u8 {
    let Some(c) = state.client.as_ref().filter(|_| !state.read_only) else {
        return 0;
    };
    let counts = c.session_counts();
    let echo = c.rtt.echo.summary();
    let rtt = if echo.count > 0 {
        format!(
            ", echo rtt p50 {} p99 {}",
            format_duration(echo.p50),
            format_duration(echo.p99)
        )
    } else {
        String::new()
    };
    if state.mode == Mode::Client {
        let reconnects = match c.connects {
            0 | 1 => String::new(),
            n => format!(" over {n} connections"),
        };
        let lost = if c.lost > 0 {
            format!(", {} lost with dropped connections", c.lost)
        } else {
            String::new()
        };
        eprintln!(
            "{}: sent {}, received {}{reconnects}{lost}{rtt}",
            c.url, counts.frames_out, counts.frames_in
        );
    }
    match &c.state {
        LinkState::Failed(e) => {
            eprintln!("error: {e}");
            1
        }
        LinkState::Closed {
            cause: crate::net::CloseCause::Error(e),
            ..
        } if state.mode == Mode::Client => {
            eprintln!("error: {e}");
            1
        }
        _ => 0,
    }
}
