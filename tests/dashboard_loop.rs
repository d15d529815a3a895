//! The dashboard's real loop without a terminal: keys go in through a channel,
//! `update` decides, the loop carries out the effects on real loopback
//! connections, and every screen it draws on a `TestBackend` comes back out.
//! Each wait is for a screen showing something, bounded; nothing sleeps.

mod support;

use std::future::Future;
use std::time::Duration;

use crossterm::event::{Event, KeyCode, KeyEvent, KeyModifiers};
use futures_util::{Stream, StreamExt};
use ratatui::backend::TestBackend;
use ratatui::Terminal;
use support::{within, WAIT};
use tokio::sync::{mpsc, oneshot};
use tokio_tungstenite::tungstenite::protocol::frame::coding::CloseCode;
use tokio_tungstenite::tungstenite::Message;
use wsprobe::app::state::{ClientPane, LogView, ServerPane};
use wsprobe::app::Mode;
use wsprobe::net::client::{parse_ws_url, ClientOptions, SessionOptions};
use wsprobe::net::server::faults::Faults;
use wsprobe::net::server::{Server, ServerConfig};
use wsprobe::net::{Direction, FrameKind};
use wsprobe::tui::theme::Theme;
use wsprobe::tui::{ClientSetup, Dashboard, Farewell, Setup};

const PLAIN: Theme = Theme { no_color: true };
const WIDTH: u16 = 120;
const HEIGHT: u16 = 30;

/// A keyboard: what is sent on the sender comes out of the stream the loop reads.
/// The stream ends (and with it the loop) only when the sender is dropped.
fn keyboard() -> (
    mpsc::UnboundedSender<std::io::Result<Event>>,
    impl Stream<Item = std::io::Result<Event>> + Unpin,
) {
    let (tx, mut rx) = mpsc::unbounded_channel();
    (
        tx,
        futures_util::stream::poll_fn(move |cx| rx.poll_recv(cx)),
    )
}

fn key(code: KeyCode) -> std::io::Result<Event> {
    Ok(Event::Key(KeyEvent::new(code, KeyModifiers::NONE)))
}

fn ctrl(c: char) -> std::io::Result<Event> {
    Ok(Event::Key(KeyEvent::new(
        KeyCode::Char(c),
        KeyModifiers::CONTROL,
    )))
}

fn press(keys: &mpsc::UnboundedSender<std::io::Result<Event>>, ev: std::io::Result<Event>) {
    keys.send(ev).expect("the dashboard reads its keys");
}

fn type_text(keys: &mpsc::UnboundedSender<std::io::Result<Event>>, text: &str) {
    for c in text.chars() {
        press(keys, key(KeyCode::Char(c)));
    }
}

/// One screen as drawn: its rows of text.
#[derive(Clone, Default)]
struct Screen {
    rows: Vec<String>,
}

impl Screen {
    fn of(t: &Terminal<TestBackend>) -> Screen {
        let buf = t.backend().buffer();
        let area = buf.area;
        let rows = (area.top()..area.bottom())
            .map(|y| {
                (area.left()..area.right())
                    .map(|x| buf[(x, y)].symbol())
                    .collect()
            })
            .collect();
        Screen { rows }
    }

    fn shows(&self, text: &str) -> bool {
        self.rows.iter().any(|r| r.contains(text))
    }

    /// The demo's right half: the client's pane (the server's is on the left).
    fn client_half(&self) -> Screen {
        let rows = self
            .rows
            .iter()
            .map(|r| r.chars().skip(usize::from(WIDTH / 2)).collect())
            .collect();
        Screen { rows }
    }

    fn server_half(&self) -> Screen {
        let rows = self
            .rows
            .iter()
            .map(|r| r.chars().take(usize::from(WIDTH / 2)).collect())
            .collect();
        Screen { rows }
    }
}

impl std::fmt::Display for Screen {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        for r in &self.rows {
            writeln!(f, "|{r}|")?;
        }
        Ok(())
    }
}

/// The screens the loop draws, in order.
struct Screens {
    rx: mpsc::UnboundedReceiver<Screen>,
    last: Screen,
}

impl Screens {
    /// The screens and the `drawn` callback for `drive` that hands them over.
    fn new() -> (Screens, impl FnMut(&Terminal<TestBackend>)) {
        let (tx, rx) = mpsc::unbounded_channel();
        let drawn = move |t: &Terminal<TestBackend>| {
            let _ = tx.send(Screen::of(t));
        };
        let screens = Screens {
            rx,
            last: Screen::default(),
        };
        (screens, drawn)
    }

    /// Waits (bounded) for a drawn screen that `ok` accepts, and returns it.
    async fn until(&mut self, what: &str, ok: impl Fn(&Screen) -> bool) -> Screen {
        let (rx, last) = (&mut self.rx, &mut self.last);
        let found = tokio::time::timeout(WAIT, async {
            while let Some(screen) = rx.recv().await {
                let hit = ok(&screen);
                *last = screen;
                if hit {
                    return true;
                }
            }
            false
        })
        .await;
        match found {
            Ok(true) => self.last.clone(),
            Ok(false) => panic!(
                "the dashboard stopped drawing before a screen showed {what}; the last screen:\n{}",
                self.last
            ),
            Err(_) => panic!(
                "timed out waiting for a screen showing {what}; the last screen:\n{}",
                self.last
            ),
        }
    }
}

/// Drives the dashboard on a 120x30 `TestBackend` while `script` plays (keys
/// in, screens out; each of its waits bounded), then waits (bounded) for the
/// dashboard to end. Returns how it ended and what the script returned.
async fn drive_while<T>(
    dashboard: Dashboard,
    input: impl Stream<Item = std::io::Result<Event>> + Unpin,
    shutdown: impl Future<Output = ()>,
    drawn: impl FnMut(&Terminal<TestBackend>),
    script: impl Future<Output = T>,
) -> (Farewell, T) {
    let mut terminal = Terminal::new(TestBackend::new(WIDTH, HEIGHT)).expect("test terminal");
    let driving = dashboard.drive(&mut terminal, input, shutdown, &PLAIN, drawn);
    tokio::pin!(driving);
    let out = tokio::select! {
        out = script => out,
        ended = &mut driving => panic!(
            "the dashboard ended before the test was done with it: {:?}",
            ended.err()
        ),
    };
    let ended = within("the dashboard to end", driving)
        .await
        .expect("the dashboard ends without an error");
    (ended, out)
}

async fn server(config: ServerConfig) -> Server {
    Server::bind("127.0.0.1:0", config).await.expect("bind")
}

fn server_only(server: Server) -> Setup {
    Setup {
        relay: None,
        mode: Mode::Server,
        client: None,
        server: Some(server),
        keep: 1000,
        // Nothing typed here reaches the user's history file.
        history: false,
        hint: None,
        replay: None,
        speech: Default::default(),
        metrics: None,
    }
}

fn texts(pane_log: &LogView, dir: Direction) -> Vec<String> {
    pane_log
        .log
        .iter()
        .filter(|e| e.dir == dir && e.kind == FrameKind::Text)
        .map(|e| String::from_utf8_lossy(&e.payload).into_owned())
        .collect()
}

fn count(log: &LogView, dir: Direction) -> u64 {
    log.log.iter().filter(|e| e.dir == dir).count() as u64
}

/// Demo mode: a server on loopback and a client connected to it, side by side.
/// `hello` typed and sent with Enter comes back (echo and round trip on the
/// screen); Ctrl-C ends the loop, closing the client's connection.
#[tokio::test]
async fn demo_sends_what_is_typed_shows_the_echo_and_quits_on_ctrl_c() {
    let server = server(ServerConfig::default()).await;
    let url = server.url();
    let uri = parse_ws_url(&url).expect("the server's URL");
    let dashboard = Dashboard::start(Setup {
        relay: None,
        mode: Mode::Demo,
        client: Some(ClientSetup {
            connect: ClientOptions::new(uri),
            session: SessionOptions::default(),
            script: None,
            har: None,
        }),
        server: Some(server),
        keep: 1000,
        // Nothing typed here reaches the user's history file.
        history: false,
        hint: None,
        replay: None,
        speech: Default::default(),
        metrics: None,
    })
    .expect("start the demo");
    let (keys, input) = keyboard();
    let (mut screens, drawn) = Screens::new();
    let client_open = format!("{url}/ │ open");

    let script = async {
        screens
            .until("both ends of the connection open", |s| {
                s.server_half().shows("1 open / 1 total") && s.client_half().shows(&client_open)
            })
            .await;
        type_text(&keys, "hello");
        press(&keys, key(KeyCode::Enter));
        let s = screens
            .until("the echo's round trip", |s| {
                s.client_half().shows("echo n=1")
            })
            .await;
        // One frame each way, counted on both sides, logged on both sides.
        let (client, server) = (s.client_half(), s.server_half());
        assert!(client.shows("↑1 5 B") && client.shows("↓1 5 B"), "{s}");
        assert!(client.shows("Messages 2 "), "{s}");
        assert!(server.shows("↓1 5 B") && server.shows("↑1 5 B"), "{s}");
        assert!(server.shows("1/1"), "the connection's row: {s}");
        press(&keys, ctrl('c'));
    };
    let (ended, ()) = drive_while(dashboard, input, std::future::pending(), drawn, script).await;

    let state = &ended.state;
    assert!(state.should_quit);
    let client: &ClientPane = state.client.as_ref().expect("the client pane");
    assert_eq!(texts(&client.log, Direction::Out), ["hello"]);
    assert_eq!(texts(&client.log, Direction::In), ["hello"]);
    let echo = client
        .log
        .log
        .iter()
        .find(|e| e.dir == Direction::In && e.kind == FrameKind::Text)
        .unwrap();
    assert!(echo.rtt.is_some(), "the echo has its round trip");
    assert_eq!(client.totals.rtt.echo.summary().count, 1);
    assert_eq!((client.totals.sent, client.totals.received), (1, 1));
    // The text each way, and quitting's close handshake (logged like any frame).
    // One connection: its counts are the session's.
    let counts = client.counts;
    let closes = |dir| {
        client
            .log
            .log
            .iter()
            .filter(|e| e.dir == dir && e.kind == FrameKind::Close)
            .count() as u64
    };
    assert_eq!(closes(Direction::Out), 1, "quitting closes the client");
    assert_eq!(counts.frames_out, 1 + closes(Direction::Out), "{counts:?}");
    assert_eq!(counts.frames_in, 1 + closes(Direction::In), "{counts:?}");
    assert_eq!(counts.frames_out, count(&client.log, Direction::Out));
    assert_eq!(counts.frames_in, count(&client.log, Direction::In));

    let server: &ServerPane = state.server.as_ref().expect("the server pane");
    assert_eq!(server.total_conns, 1);
    assert_eq!(texts(&server.log, Direction::In), ["hello"]);
    assert_eq!(texts(&server.log, Direction::Out), ["hello"]);
    drop(keys);
}

/// The `shutdown` future (SIGINT/SIGTERM in the real program) ends the loop
/// with no key pressed: the server's clients are told 1001 Going Away.
#[tokio::test]
async fn shutdown_ends_the_loop_and_closes_the_servers_clients() {
    let server = server(ServerConfig::default()).await;
    let url = server.url();
    let dashboard = Dashboard::start(server_only(server)).expect("start the server dashboard");
    let (keys, input) = keyboard();
    let (mut screens, drawn) = Screens::new();
    let (stop, stopped) = oneshot::channel::<()>();
    let shutdown = async {
        let _ = stopped.await;
    };

    // A plain client that shares no code with wsprobe (the server already
    // accepts: `start` set it going); it reads until the close.
    let (mut ws, _) = within("connect", tokio_tungstenite::connect_async(url.as_str()))
        .await
        .expect("connect");
    let peer = tokio::spawn(async move {
        while let Some(msg) = ws.next().await {
            if let Message::Close(frame) = msg.expect("read") {
                return frame;
            }
        }
        None
    });

    let script = async {
        screens
            .until("the connection", |s| {
                s.shows(&url) && s.shows("1 open / 1 total")
            })
            .await;
        stop.send(()).expect("the dashboard waits for shutdown");
    };
    let (ended, ()) = drive_while(dashboard, input, shutdown, drawn, script).await;
    // No key was pressed and the keyboard is still there (a keyboard that ends
    // stops the loop too, but without quitting): the shutdown quit.
    assert!(ended.state.should_quit);

    let close = within("the client's close", peer)
        .await
        .expect("the client task")
        .expect("a close frame");
    assert_eq!(close.code, CloseCode::Away);
    assert_eq!(close.reason.as_str(), "server shutting down");
    drop(keys);
}

/// A server with faults: `L` and `D` switch drop and delay off and on while it
/// runs, on the screen and in the server's live switches; `q` quits.
#[tokio::test]
async fn fault_keys_flip_the_servers_live_switches() {
    let server = server(ServerConfig {
        faults: Faults {
            drop_percent: 10.0,
            delay: Duration::from_millis(50),
            ..Faults::default()
        },
        ..ServerConfig::default()
    })
    .await;
    let (_, switches) = server.faults();
    let dashboard = Dashboard::start(server_only(server)).expect("start the server dashboard");
    let (keys, input) = keyboard();
    let (mut screens, drawn) = Screens::new();

    let script = async {
        screens
            .until("the faults, both on", |s| {
                s.shows("faults: delay 50ms, drop 10%")
            })
            .await;
        assert!(switches.delaying() && switches.dropping());

        press(&keys, key(KeyCode::Char('L')));
        screens
            .until("drop switched off", |s| {
                s.shows("faults: delay 50ms, drop 10% (off)")
            })
            .await;
        assert!(!switches.dropping(), "L switches the drop off");
        assert!(switches.delaying(), "and leaves the delay on");

        press(&keys, key(KeyCode::Char('D')));
        screens
            .until("delay switched off too", |s| {
                s.shows("faults: delay 50ms (off), drop 10% (off)")
            })
            .await;
        assert!(!switches.delaying(), "D switches the delay off");
        assert!(!switches.dropping());

        press(&keys, key(KeyCode::Char('L')));
        screens
            .until("drop back on", |s| {
                s.shows("faults: delay 50ms (off), drop 10%") && !s.shows("drop 10% (off)")
            })
            .await;
        assert!(switches.dropping(), "L again switches the drop back on");
        assert!(!switches.delaying());

        press(&keys, key(KeyCode::Char('q')));
    };
    let (ended, ()) = drive_while(dashboard, input, std::future::pending(), drawn, script).await;

    assert!(ended.state.should_quit);
    let faults = ended
        .state
        .server
        .as_ref()
        .and_then(|s| s.faults.as_ref())
        .expect("the server pane's faults");
    assert!(!faults.delay_on && faults.drop_on);
    assert!(!switches.delaying() && switches.dropping());
    drop(keys);
}

/// `/run FILE` in the client's input box: a script with a mistake is refused
/// with its line and column, nothing sent; a good one runs on the dashboard's
/// own connection, each step in the timeline, its verdict over the input box,
/// each expectation timed in the RTT figures as a reply.
#[tokio::test]
async fn run_in_the_input_box_runs_a_script_on_the_connection() {
    let (url, _server_events) = support::start_server(ServerConfig::default()).await;
    let dir = std::env::temp_dir().join(format!("wsprobe-dash-run-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let bad = dir.join("bad.wsp");
    std::fs::write(&bad, "hello\n/expekt hello\n").unwrap();
    let good = dir.join("good.wsp");
    std::fs::write(
        &good,
        "hello\n/expect ^hello$\n/json {\"n\": 1}\n/expect json $.n == 1\n",
    )
    .unwrap();
    let dashboard = Dashboard::start(Setup {
        relay: None,
        mode: Mode::Client,
        client: Some(ClientSetup {
            connect: ClientOptions::new(parse_ws_url(&url).unwrap()),
            session: SessionOptions::default(),
            script: None,
            har: None,
        }),
        server: None,
        keep: 1000,
        history: false,
        hint: None,
        replay: None,
        speech: Default::default(),
        metrics: None,
    })
    .expect("start the client dashboard");
    let (keys, input) = keyboard();
    let (mut screens, drawn) = Screens::new();

    let script = async {
        screens
            .until("the connection open", |s| s.shows("│ open"))
            .await;
        type_text(&keys, &format!("/run {}", bad.display()));
        press(&keys, key(KeyCode::Enter));
        screens
            .until("the script refused", |s| {
                s.shows("1 problem; nothing was sent")
            })
            .await;
        type_text(&keys, &format!("/run {}", good.display()));
        press(&keys, key(KeyCode::Enter));
        screens
            .until("the script's verdict", |s| {
                s.shows("script PASS") && s.shows("4 passed, 0 failed")
            })
            .await;
        press(&keys, ctrl('c'));
    };
    let (ended, ()) = drive_while(dashboard, input, std::future::pending(), drawn, script).await;
    let client = ended.state.client.as_ref().expect("the client pane");
    assert_eq!(texts(&client.log, Direction::Out), ["hello", "{\"n\":1}"]);
    let notes: Vec<&str> = client.timeline.iter().map(|t| t.text.as_str()).collect();
    assert!(
        notes
            .iter()
            .any(|n| n.contains("bad.wsp:2:1: unknown command /expekt")),
        "{notes:#?}"
    );
    for step in ["1  hello", "2  /expect ^hello$", "4  /expect json $.n == 1"] {
        assert!(
            notes
                .iter()
                .any(|n| n.starts_with("script ") && n.contains(step)),
            "{step} not in {notes:#?}"
        );
    }
    assert_eq!(
        client.totals.rtt.reply.summary().count,
        2,
        "each expectation timed"
    );
    assert!(!client.script_running);
    drop(keys);
}
