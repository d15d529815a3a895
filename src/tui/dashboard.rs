//! The dashboard's event loop. One `select!` over terminal events, a render
//! tick, a clock tick and the network's events; `update` decides what changes,
//! this loop carries out the effects and owns everything live: the tasks, the
//! channels, the terminal.

use std::future::Future;
use std::time::{Duration, Instant};

use chrono::{Local, Offset, Utc};
use crossterm::event::Event;
use futures_util::{Stream, StreamExt};
use ratatui::backend::Backend;
use ratatui::Terminal;
use tokio::sync::mpsc;
use tokio::task::JoinHandle;

use super::links::Links;
use super::replay::RecordedClock;
use super::theme::Theme;
use super::{history, keymap, ui, ClientSetup, Setup};
use crate::app::msg::ScriptNote;
use crate::app::state::{LinkState, Opening};
use crate::app::{update, Action, AppState, Drawn, Effect, Mode, Msg, Target};
use crate::script::{self, report, Checks, Runner, Settings};

use crate::net::client;
use crate::net::server::{shutdown_close, Registry};
use crate::net::{CloseCause, CloseInfo, NetCommand, NetEvent, Side};
use crate::record::har::HarFile;
use crate::record::reader::RecordingFile;
use keymap::KeyContext;

/// At most this often the screen is redrawn (only when something changed): 30 a
/// second reads as live and leaves the CPU to the echo.
const FRAME_INTERVAL: Duration = Duration::from_millis(33);
/// Rates, ages and the clock move on this often even when nothing happens.
const TICK_INTERVAL: Duration = Duration::from_secs(1);
/// The server's frames reach the dashboard through a channel this deep; what does
/// not fit is counted as not shown (the echo never waits for the screen).
const SERVER_EVENTS: usize = 2048;
/// A relay's frames: each costs a relay more than an echo costs a server (two
/// legs, three processes sharing the cores), so under a flood it shows fewer:
/// at most this many per frame interval, about 15 000 a second.
const RELAY_EVENTS: usize = 512;
/// The client's events: it waits for room, so this only sets the batch size.
const CLIENT_EVENTS: usize = 1024;
/// A drain this large means a flood: the next waits for the next frame interval,
/// so the dashboard takes at most ~60 batches a second and leaves the CPU to the echo.
const FLOOD_BATCH: usize = 256;
/// How long quitting waits for the client's close handshake.
const QUIT_CLOSE_WAIT: Duration = Duration::from_secs(1);

/// A dashboard whose connections are under way, ready to be driven.
pub struct Dashboard {
    state: AppState,
    links: Links,
    client_rx: Option<mpsc::Receiver<NetEvent>>,
    server_rx: Option<mpsc::Receiver<NetEvent>>,
    relay_rx: Option<mpsc::Receiver<(Side, NetEvent)>>,
    client_task: Option<JoinHandle<()>>,
    server_task: Option<JoinHandle<()>>,
    /// A relay's connections run on a thread of their own: drawing (a write to
    /// the terminal that may block) never holds up the traffic it shows. One
    /// thread: with the screen's beside it, a second made the relay's tasks
    /// switch threads more than they worked (0.74× the headless relay's
    /// messages a second on two cores, against 1.0× with one).
    net_runtime: Option<tokio::runtime::Runtime>,
    registry: Option<Registry>,
    /// The relay's steering, when the dashboard is a relay's.
    steering: Option<std::sync::Arc<crate::net::relay::Steering>>,
    har: Option<HarFile>,
    repeats: Vec<JoinHandle<()>>,
    /// A replay's clock is the recording's: it stops at the last record.
    replaying: bool,
    /// Lines sent go into the input history.
    save_history: bool,
    /// A script typed as `/run FILE`, running on the client's connection.
    script: Option<Runner>,
}

/// How the dashboard ended: its last state, and what is left to say.
pub struct Farewell {
    pub state: AppState,
    har: Option<HarFile>,
}

impl Dashboard {
    /// Starts the connections (or reads the recording) of `setup`.
    pub fn start(setup: Setup) -> anyhow::Result<Dashboard> {
        let replaying = setup.replay.is_some();
        let history = if setup.history {
            history::load()
        } else {
            Vec::new()
        };
        let (client_url, server_url) = match &setup.replay {
            // A relay's recording: one pane, named by where its clients connected.
            Some(file) if file.relayed() => (None, Some(file.url(Side::Client).to_string())),
            Some(file) => {
                let (client, server) = file.sides();
                (
                    client.then(|| file.url(Side::Client).to_string()),
                    server.then(|| file.url(Side::Server).to_string()),
                )
            }
            None => (
                setup.client.as_ref().map(|c| c.connect.url.to_string()),
                setup
                    .server
                    .as_ref()
                    .map(|s| s.url())
                    .or_else(|| setup.relay.as_ref().map(|r| r.url())),
            ),
        };
        let upstream = match &setup.replay {
            // A relay's recording: its pairs' upstream is its server side.
            Some(file) if file.relayed() => Some(file.url(Side::Server).to_string()),
            _ => setup.relay.as_ref().map(|r| r.upstream()),
        };
        let hint = match &setup.replay {
            Some(file) => Some(format!(" replay {} · read-only", file.path().display())),
            None => setup.hint,
        };
        let faults = setup.server.as_ref().map(|s| s.faults());
        let state = AppState::open(Opening {
            mode: setup.mode,
            now: Instant::now(),
            wall: Utc::now(),
            offset: Local::now().offset().fix(),
            keep: setup.keep,
            history,
            client: client_url,
            server: server_url,
            faults: faults.as_ref().map(|(f, _)| f.clone()),
            upstream,
            rules: setup
                .relay
                .as_ref()
                .map(|r| r.steering().rules())
                .unwrap_or_default(),
            hint,
            replay: replaying,
            speech: setup.speech.clone(),
        });
        let links = Links::new(
            setup
                .server
                .as_ref()
                .map(|s| s.not_shown())
                .or_else(|| setup.relay.as_ref().map(|r| r.not_shown())),
            faults.map(|(_, switches)| switches),
        );
        let mut dashboard = Dashboard {
            state,
            links,
            client_rx: None,
            server_rx: None,
            relay_rx: None,
            client_task: None,
            server_task: None,
            net_runtime: None,
            registry: None,
            steering: None,
            har: None,
            repeats: Vec::new(),
            replaying,
            save_history: setup.history,
            script: None,
        };
        if let Some(server) = setup.server {
            let (tx, rx) = mpsc::channel(SERVER_EVENTS);
            let tx = match &setup.metrics {
                Some(m) => m.wrap(tx),
                None => tx,
            };
            dashboard.registry = Some(server.registry());
            dashboard.server_task = Some(tokio::spawn(server.run(tx)));
            dashboard.server_rx = Some(rx);
        }
        if let Some(relay) = setup.relay {
            let (tx, rx) = mpsc::channel(RELAY_EVENTS);
            dashboard.registry = Some(relay.registry());
            dashboard.steering = Some(relay.steering());
            let runtime = tokio::runtime::Builder::new_multi_thread()
                .worker_threads(1)
                .thread_name("wsprobe-relay")
                .enable_all()
                .build()?;
            dashboard.server_task = Some(runtime.spawn(relay.run(tx)));
            dashboard.net_runtime = Some(runtime);
            dashboard.relay_rx = Some(rx);
        }
        if let Some(mut c) = setup.client {
            let (tx, rx) = mpsc::channel(CLIENT_EVENTS);
            dashboard.har = c.har.take();
            dashboard.client_task = Some(tokio::spawn(connect_and_run(c, tx)));
            dashboard.client_rx = Some(rx);
        }
        if let Some(file) = setup.replay {
            dashboard.play(&file).map_err(anyhow::Error::msg)?;
        }
        Ok(dashboard)
    }

    /// What the dashboard shows now.
    pub fn state(&self) -> &AppState {
        &self.state
    }

    /// Feeds a recording through `update` as if it were happening: the
    /// dashboard's clock follows the recorded times, event by event, so uptimes,
    /// ages and rates are the recording's; it stops at the last record.
    fn play(&mut self, file: &RecordingFile) -> Result<(), String> {
        // The dashboard's clock now stands for the time of the first record.
        let mut clock = RecordedClock::new(self.state.now);
        for (side, ev) in file.events()? {
            let wall = ev.ts();
            self.apply(Msg::Tick {
                now: clock.at(wall),
                wall,
            });
            let frame_of = match &ev {
                NetEvent::Frame(f) => Some(f.conn),
                _ => None,
            };
            self.net(side, ev);
            if let Some(counts) = frame_of.and_then(|conn| self.links.sample_one(side, conn)) {
                self.apply(counts);
            }
        }
        Ok(())
    }

    /// Runs until the user quits (or `shutdown` resolves), reading `input` for
    /// keys and drawing on `terminal`; `drawn` sees every screen drawn.
    pub async fn drive<B: Backend>(
        mut self,
        terminal: &mut Terminal<B>,
        mut input: impl Stream<Item = std::io::Result<Event>> + Unpin,
        shutdown: impl Future<Output = ()>,
        theme: &Theme,
        mut drawn: impl FnMut(&Terminal<B>),
    ) -> anyhow::Result<Farewell> {
        let mut render = tokio::time::interval(FRAME_INTERVAL);
        render.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        let mut tick = tokio::time::interval(TICK_INTERVAL);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Skip);
        tokio::pin!(shutdown);
        let (mut client_batch, mut server_batch) = (
            Vec::with_capacity(CLIENT_EVENTS),
            Vec::with_capacity(SERVER_EVENTS),
        );
        let test_panic = std::env::var_os("WSPROBE_TEST_PANIC").is_some();
        let mut flood_pause: Option<tokio::time::Instant> = None;
        let mut client_rx = self.client_rx.take();
        let mut server_rx = self.server_rx.take();
        let mut relay_rx = self.relay_rx.take();
        let mut relay_batch = Vec::with_capacity(RELAY_EVENTS);

        while !self.state.should_quit {
            let script_due = self.script.as_ref().and_then(Runner::deadline);
            tokio::select! {
                biased;
                _ = &mut shutdown => self.apply(Msg::Action(Action::Quit)),
                ev = input.next() => match ev {
                    Some(Ok(ev)) => {
                        if let Some(msg) = terminal_msg(ev, &self.state) {
                            self.apply(msg);
                        }
                    }
                    Some(Err(e)) => return Err(e.into()),
                    None => break,
                },
                _ = render.tick(), if self.state.dirty => {
                    self.sample();
                    let mut positions = Drawn::default();
                    terminal
                        .draw(|f| positions = ui::draw(f, &self.state, theme))
                        .map_err(|e| anyhow::anyhow!("cannot draw the dashboard: {e}"))?;
                    self.apply(Msg::Drawn(positions));
                    drawn(terminal);
                    if test_panic {
                        panic!("WSPROBE_TEST_PANIC: a deliberate panic to check the terminal is restored");
                    }
                }
                _ = tick.tick() => {
                    if !self.replaying {
                        self.sample();
                        self.apply(tick_now());
                    }
                    self.repeats.retain(|t| !t.is_finished());
                }
                n = recv_some(&mut client_rx, &mut client_batch, CLIENT_EVENTS), if client_rx.is_some() => {
                    if n == 0 {
                        client_rx = None;
                    }
                    self.apply(tick_now());
                    for ev in client_batch.drain(..) {
                        if let Some(h) = self.har.as_mut() {
                            h.event(&ev);
                        }
                        self.script_event(&ev);
                        self.net(Side::Client, ev);
                    }
                }
                _ = async { tokio::time::sleep_until(script_due.expect("guarded").into()).await }, if script_due.is_some() => {
                    if let Some(actions) = self.script.as_mut().map(|r| r.tick(Instant::now())) {
                        self.script_actions(actions);
                    }
                }
                n = recv_some(&mut server_rx, &mut server_batch, SERVER_EVENTS), if server_rx.is_some() && flood_pause.is_none() => {
                    if n == 0 {
                        server_rx = None;
                    }
                    self.apply(tick_now());
                    for ev in server_batch.drain(..) {
                        self.net(Side::Server, ev);
                    }
                    if n >= FLOOD_BATCH {
                        flood_pause = Some(tokio::time::Instant::now() + FRAME_INTERVAL);
                    }
                }
                n = recv_legs(&mut relay_rx, &mut relay_batch, RELAY_EVENTS), if relay_rx.is_some() && flood_pause.is_none() => {
                    if n == 0 {
                        relay_rx = None;
                    }
                    self.apply(tick_now());
                    for (side, ev) in relay_batch.drain(..) {
                        self.net(side, ev);
                    }
                    // A relay's events are taken once a frame interval: what comes
                    // between waits in the queue (or, being frames, is counted as
                    // not shown), so the relay is not woken to hand over each one.
                    if n > 0 {
                        flood_pause = Some(tokio::time::Instant::now() + FRAME_INTERVAL);
                    }
                }
                _ = async { tokio::time::sleep_until(flood_pause.expect("guarded")).await }, if flood_pause.is_some() => {
                    flood_pause = None;
                }
            }
        }

        for t in self.repeats.drain(..) {
            t.abort();
        }
        if let Some(rx) = client_rx.as_mut() {
            self.close_client(rx).await;
        }
        if let Some(registry) = self.registry.take() {
            if let Some(t) = &self.server_task {
                t.abort();
            }
            // Clients get 1001 Going Away, not a reset; their closes are drained unseen.
            let close = if relay_rx.is_some() {
                crate::net::relay::shutdown_close()
            } else {
                shutdown_close()
            };
            let closing = registry.close_all(close, QUIT_CLOSE_WAIT);
            tokio::pin!(closing);
            loop {
                tokio::select! {
                    _ = &mut closing => break,
                    ev = recv_one(&mut server_rx), if server_rx.is_some() => if ev.is_none() { break },
                    ev = recv_legs(&mut relay_rx, &mut relay_batch, RELAY_EVENTS), if relay_rx.is_some() => {
                        relay_batch.clear();
                        if ev == 0 { break }
                    },
                }
            }
        }
        if let Some(t) = self.server_task.take() {
            t.abort();
        }
        if let Some(t) = self.client_task.take() {
            t.abort();
        }
        if let Some(rt) = self.net_runtime.take() {
            // Its pairs have been told to close above; what is left is dropped.
            rt.shutdown_background();
        }
        if !self.replaying {
            // The summary's counts and time are as the session ended.
            self.sample();
            self.apply(tick_now());
        }
        Ok(Farewell {
            state: self.state,
            har: self.har,
        })
    }

    /// Tells the state the counters that moved.
    fn sample(&mut self) {
        if let Some(counts) = self.links.sample() {
            self.apply(counts);
        }
    }

    /// Hands one message to `update` and carries out what it asks.
    fn apply(&mut self, msg: Msg) {
        let effects = update(&mut self.state, msg);
        self.carry_out(effects);
    }

    /// A network event: the links learn of it first (a closing connection's
    /// last counts go in before its close), then `update`.
    fn net(&mut self, side: Side, ev: NetEvent) {
        if let Some(counts) = self.links.observe(side, &ev) {
            self.apply(counts);
        }
        self.apply(Msg::Net(side, ev));
    }

    fn carry_out(&mut self, effects: Vec<Effect>) {
        for fx in effects {
            match fx {
                Effect::Send { to, cmd } => {
                    let Some(queue) = self.links.queue(to) else {
                        // `update` only sends to connections it saw open.
                        debug_assert!(false, "no queue for {to:?}");
                        continue;
                    };
                    // A full queue (a /repeat in flight, a slow peer) must not stall
                    // the screen, nor lose what the user typed: wait for room aside.
                    if let Err(mpsc::error::TrySendError::Full(cmd)) = queue.try_send(cmd) {
                        tokio::spawn(async move {
                            let _ = queue.send(cmd).await;
                        });
                    }
                }
                Effect::Repeat {
                    to,
                    count,
                    interval,
                    text,
                } => {
                    let Some(queue) = self.links.queue(to) else {
                        debug_assert!(false, "no queue for {to:?}");
                        continue;
                    };
                    self.repeats.push(tokio::spawn(async move {
                        let mut timer =
                            tokio::time::interval(interval.max(Duration::from_micros(1)));
                        timer.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
                        for _ in 0..count {
                            timer.tick().await;
                            if queue.send(NetCommand::Text(text.clone())).await.is_err() {
                                break;
                            }
                        }
                    }));
                }
                Effect::SaveHistory(line) => {
                    if self.save_history {
                        history::append(&line);
                    }
                }
                Effect::SetFaults { delay_on, drop_on } => self.links.set_faults(delay_on, drop_on),
                Effect::RunScript(file) => self.run_script(&file),
                Effect::Steer(cmd) => {
                    let said = match &self.steering {
                        Some(s) => s.apply(cmd),
                        None => Err("only a relay steers its messages".into()),
                    };
                    self.apply(Msg::Steered(said));
                }
            }
        }
    }

    /// `/run FILE`: the script checked, then run on the client's connection
    /// by the same runner as `wsprobe run`; its steps come back as notes.
    fn run_script(&mut self, file: &str) {
        let choice = self.state.speech.choice;
        let checks = Checks {
            choice,
            vars: &[],
            env: &script::process_env,
            has_url: true,
        };
        let loaded = script::load(std::path::Path::new(file), &checks);
        let script = match loaded {
            Ok(s) => s,
            Err(refused) => {
                let problems = refused.lines();
                let n = problems.len() as u64;
                for line in problems {
                    self.apply(Msg::Script(ScriptNote::Step { line, failed: true }));
                }
                let summary = format!(
                    "script {file}: {}; nothing was sent",
                    crate::present::count(n, "problem", "problems")
                );
                self.apply(Msg::Script(ScriptNote::Ended {
                    summary,
                    failed: true,
                }));
                return;
            }
        };
        let settings = Settings {
            timeout: script::default_timeout(),
            choice,
            ctx: self.state.speech.ctx.clone(),
            vars: Vec::new(),
            env: script::process_env,
        };
        let (spoken, open) = match &self.state.client {
            Some(c) => (c.spoken, c.state == LinkState::Open),
            None => (Default::default(), false),
        };
        let now = Instant::now();
        let mut runner = Runner::attached(script, settings, spoken, open, now);
        let actions = runner.start(now);
        self.script = Some(runner);
        self.script_actions(actions);
    }

    /// The client's event, as the running script sees it.
    fn script_event(&mut self, ev: &NetEvent) {
        if let Some(actions) = self.script.as_mut().map(|r| r.event(ev, Instant::now())) {
            self.script_actions(actions);
        }
    }

    fn script_actions(&mut self, actions: Vec<script::Action>) {
        for action in actions {
            match action {
                script::Action::Send(cmd) => {
                    if let Some(queue) = self.links.queue(Target::Client) {
                        if let Err(mpsc::error::TrySendError::Full(cmd)) = queue.try_send(cmd) {
                            tokio::spawn(async move {
                                let _ = queue.send(cmd).await;
                            });
                        }
                    }
                }
                script::Action::Record(rtt) => self.apply(Msg::Script(ScriptNote::Latency(rtt))),
                script::Action::Report(o) => {
                    let file = self.script.as_ref().map(|r| r.file().to_string());
                    let line = report::human(file.as_deref().unwrap_or(""), &o).join(" · ");
                    let failed = o.status == script::Status::Fail;
                    self.apply(Msg::Script(ScriptNote::Step { line, failed }));
                }
                // A run on the dashboard's connection never opens its own.
                script::Action::Connect(_) => {}
            }
        }
        if let Some(r) = self.script.take_if(|r| r.done()) {
            let elapsed = r.elapsed(Instant::now());
            let summary = format!(
                "script {}",
                report::human_summary(r.file(), r.outcomes(), elapsed, r.interrupted())
            );
            let failed = r.failed();
            self.apply(Msg::Script(ScriptNote::Ended { summary, failed }));
        }
    }

    /// Quitting closes the client's connection properly, briefly; what comes
    /// back meanwhile is counted as usual.
    async fn close_client(&mut self, events: &mut mpsc::Receiver<NetEvent>) {
        let open = self
            .state
            .client
            .as_ref()
            .is_some_and(|c| c.state == LinkState::Open);
        let Some(queue) = self.links.queue(Target::Client).filter(|_| open) else {
            return;
        };
        if queue
            .try_send(NetCommand::Close(Some(CloseInfo::new(1000, ""))))
            .is_err()
        {
            return;
        }
        let _ = tokio::time::timeout(QUIT_CLOSE_WAIT, async {
            while let Some(ev) = events.recv().await {
                let closed = matches!(ev, NetEvent::Closed { .. });
                if let Some(h) = self.har.as_mut() {
                    h.event(&ev);
                }
                self.net(Side::Client, ev);
                if closed {
                    break;
                }
            }
        })
        .await;
    }
}

impl Farewell {
    /// What is said on the normal screen once the dashboard is gone: the
    /// client's summary, its error, the HAR file written. Returns the exit code.
    pub fn say(self) -> anyhow::Result<u8> {
        let code = summary(&self.state);
        if let Some(h) = self.har {
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
}

/// Waits for a batch of events; 0 when the channel has closed.
async fn recv_some(
    rx: &mut Option<mpsc::Receiver<NetEvent>>,
    batch: &mut Vec<NetEvent>,
    limit: usize,
) -> usize {
    match rx {
        Some(rx) => rx.recv_many(batch, limit).await,
        None => 0,
    }
}

/// A relay's batch of events, each with its leg; 0 when the channel has closed.
async fn recv_legs(
    rx: &mut Option<mpsc::Receiver<(Side, NetEvent)>>,
    batch: &mut Vec<(Side, NetEvent)>,
    limit: usize,
) -> usize {
    match rx {
        Some(rx) => rx.recv_many(batch, limit).await,
        None => 0,
    }
}

async fn recv_one(rx: &mut Option<mpsc::Receiver<NetEvent>>) -> Option<NetEvent> {
    match rx {
        Some(rx) => rx.recv().await,
        None => None,
    }
}

fn tick_now() -> Msg {
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

/// The summary on the normal screen after the dashboard is gone; the exit code.
fn summary(state: &AppState) -> u8 {
    let Some(c) = state.client.as_ref().filter(|_| !state.read_only) else {
        return 0;
    };
    if state.mode == Mode::Client {
        // The same summary a piped client prints, after the URL.
        let elapsed = state.now.saturating_duration_since(c.started);
        for (i, line) in c.totals.human(elapsed).iter().enumerate() {
            if i == 0 {
                eprintln!("{}: {line}", c.url);
            } else {
                eprintln!("{line}");
            }
        }
    }
    match &c.state {
        LinkState::Failed(e) => {
            eprintln!("error: {e}");
            1
        }
        LinkState::Closed {
            cause: CloseCause::Error(e),
            ..
        } if state.mode == Mode::Client => {
            eprintln!("error: {e}");
            1
        }
        _ => 0,
    }
}
