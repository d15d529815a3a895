//! Deterministic dashboards for snapshot tests and the README's pictures: fixed
//! clocks, fixed addresses, a scripted session fed through `update`.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::Bytes;
use chrono::{DateTime, FixedOffset, TimeZone, Utc};
use ratatui::backend::TestBackend;
use ratatui::Terminal;

use super::theme::Theme;
use super::ui;
use crate::app::state::{ClientPane, Rates, ServerFaults, ServerPane};
use crate::app::{update, AppState, Mode, Msg};
use crate::bench::live::LiveState;
use crate::net::inbox::Inbox;
use crate::net::server::faults::Faults;
use crate::net::Side;
use crate::net::{
    CloseCause, CloseInfo, ConnCounters, CounterSnapshot, Direction, Frame, FrameKind, Handshake,
    NetCommand, NetEvent, Opened, Rtt, RttKind,
};

fn wall(ms: i64) -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 11, 23, 14, 5, 0).unwrap() + chrono::Duration::milliseconds(ms)
}

/// A fixture and the command receivers that keep its connections "open".
pub struct Fixture {
    pub state: AppState,
    pub base: Instant,
    _keep: Vec<Inbox<NetCommand>>,
}

fn handshake(path: &str, subprotocol: Option<&str>) -> Handshake {
    let mut response = vec![
        ("upgrade".to_string(), "websocket".to_string()),
        ("connection".to_string(), "Upgrade".to_string()),
        (
            "sec-websocket-accept".to_string(),
            "s3pPLMBiTxaQ9kYGzzhZRbK+xOo=".to_string(),
        ),
    ];
    if let Some(p) = subprotocol {
        response.push(("sec-websocket-protocol".to_string(), p.to_string()));
    }
    Handshake {
        request_line: format!("GET {path} HTTP/1.1"),
        request_headers: vec![
            ("host".into(), "127.0.0.1:8765".into()),
            ("connection".into(), "Upgrade".into()),
            ("upgrade".into(), "websocket".into()),
            ("sec-websocket-version".into(), "13".into()),
            (
                "sec-websocket-key".into(),
                "dGhlIHNhbXBsZSBub25jZQ==".into(),
            ),
            ("sec-websocket-protocol".into(), "chat".into()),
        ],
        status: "101 Switching Protocols".into(),
        response_headers: response,
        subprotocol: subprotocol.map(str::to_string),
        deflate: None,
        tls: None,
        proxy: None,
    }
}

fn counted(counts: [u64; 4]) -> CounterSnapshot {
    CounterSnapshot {
        frames_in: counts[0],
        frames_out: counts[1],
        bytes_in: counts[2],
        bytes_out: counts[3],
    }
}

/// A connection opens with these counts, as the dashboard's loop would report them.
fn connect(
    state: &mut AppState,
    side: Side,
    (conn, ms, peer, path): (u64, i64, &str, &str),
    counts: [u64; 4],
) -> Inbox<NetCommand> {
    let (ev, rx) = opened(conn, ms, peer, path, counts);
    let _ = update(state, Msg::Net(side, ev));
    let _ = update(
        state,
        Msg::Counts {
            conns: vec![(side, conn, counted(counts))],
            not_shown: 0,
        },
    );
    rx
}

fn opened(
    conn: u64,
    ms: i64,
    peer: &str,
    path: &str,
    counts: [u64; 4],
) -> (NetEvent, Inbox<NetCommand>) {
    let (tx, rx) = crate::net::inbox::channel(8);
    let counters = Arc::new(ConnCounters::default());
    counters.add(&counted(counts));
    let ev = NetEvent::Opened(Box::new(Opened {
        conn,
        ts: wall(ms),
        peer: peer.parse::<SocketAddr>().expect("fixture address"),
        path: path.into(),
        handshake: handshake(path, Some("chat")),
        counters,
        commands: tx,
        faults: None,
    }));
    (ev, rx)
}

fn frame(
    conn: u64,
    ms: i64,
    dir: Direction,
    kind: FrameKind,
    payload: &[u8],
    rtt: Option<(RttKind, u64)>,
) -> NetEvent {
    NetEvent::Frame(Frame {
        conn,
        ts: wall(ms),
        dir,
        kind,
        payload: Bytes::copy_from_slice(payload),
        close: None,
        rtt: rtt.map(|(kind, us)| Rtt {
            kind,
            duration: Duration::from_micros(us),
            label: None,
        }),
        message: 0,
    })
}

const SESSION: &[(&str, u64)] = &[
    ("hello", 182),
    ("{\"type\":\"subscribe\",\"channel\":\"prices\"}", 241),
    ("héllo 🌍 wörld", 167),
    ("\u{1b}[2Jnot a clear screen", 205),
];

fn client_session(state: &mut AppState, base: Instant, keep: &mut Vec<Inbox<NetCommand>>) {
    state.now = base;
    keep.push(connect(
        state,
        Side::Client,
        (1, 0, "127.0.0.1:8765", "/chat?room=1"),
        [9, 8, 260, 231],
    ));
    let mut ms = 1000;
    for (i, (text, rtt)) in SESSION.iter().enumerate() {
        state.now = base + Duration::from_millis(ms as u64);
        let _ = update(
            state,
            Msg::Net(
                Side::Client,
                frame(
                    1,
                    ms,
                    Direction::Out,
                    FrameKind::Text,
                    text.as_bytes(),
                    None,
                ),
            ),
        );
        let _ = update(
            state,
            Msg::Net(
                Side::Client,
                frame(
                    1,
                    ms,
                    Direction::In,
                    FrameKind::Text,
                    text.as_bytes(),
                    Some((RttKind::Echo, *rtt)),
                ),
            ),
        );
        if i == 1 {
            let _ = update(
                state,
                Msg::Net(
                    Side::Client,
                    frame(
                        1,
                        ms + 3,
                        Direction::Out,
                        FrameKind::Ping,
                        b"wsprobe-ping 1",
                        None,
                    ),
                ),
            );
            let _ = update(
                state,
                Msg::Net(
                    Side::Client,
                    frame(
                        1,
                        ms + 3,
                        Direction::In,
                        FrameKind::Pong,
                        b"wsprobe-ping 1",
                        Some((RttKind::Ping, 97)),
                    ),
                ),
            );
        }
        ms += 1700;
    }
    state.now = base + Duration::from_millis(ms as u64);
    let _ = update(
        state,
        Msg::Net(
            Side::Client,
            frame(
                1,
                ms,
                Direction::Out,
                FrameKind::Binary,
                &[0x01, 0xff, 0x00, 0x7e],
                None,
            ),
        ),
    );
    let _ = update(
        state,
        Msg::Net(
            Side::Client,
            frame(
                1,
                ms,
                Direction::In,
                FrameKind::Binary,
                &[0x01, 0xff, 0x00, 0x7e],
                Some((RttKind::Echo, 233)),
            ),
        ),
    );
    let _ = update(
        state,
        Msg::Net(
            Side::Client,
            frame(
                1,
                ms + 500,
                Direction::In,
                FrameKind::Text,
                b"server says hi",
                None,
            ),
        ),
    );
    if let Some(c) = state.client.as_mut() {
        c.rates = Rates {
            frames_in: 1.0,
            frames_out: 1.0,
            bytes_in: 31.0,
            bytes_out: 28.0,
        };
    }
}

fn server_session(state: &mut AppState, base: Instant, keep: &mut Vec<Inbox<NetCommand>>) {
    let conns = [
        (1, "127.0.0.1:51234", "/chat?room=1", [9, 9, 260, 260]),
        (2, "127.0.0.1:51240", "/", [1200, 1200, 76_800, 76_800]),
        (3, "[::1]:51302", "/feed", [3, 3, 90, 90]),
    ];
    for (id, peer, path, counts) in conns {
        state.now = base + Duration::from_millis(id * 400);
        keep.push(connect(
            state,
            Side::Server,
            (id, id as i64 * 400, peer, path),
            counts,
        ));
    }
    let mut ms = 1000;
    for (text, _) in SESSION {
        let _ = update(
            state,
            Msg::Net(
                Side::Server,
                frame(1, ms, Direction::In, FrameKind::Text, text.as_bytes(), None),
            ),
        );
        let _ = update(
            state,
            Msg::Net(
                Side::Server,
                frame(
                    1,
                    ms,
                    Direction::Out,
                    FrameKind::Text,
                    text.as_bytes(),
                    None,
                ),
            ),
        );
        ms += 1700;
    }
    let _ = update(
        state,
        Msg::Net(
            Side::Server,
            frame(
                2,
                ms,
                Direction::In,
                FrameKind::Binary,
                &[0xde, 0xad, 0xbe, 0xef],
                None,
            ),
        ),
    );
    let _ = update(
        state,
        Msg::Net(
            Side::Server,
            frame(
                2,
                ms,
                Direction::Out,
                FrameKind::Binary,
                &[0xde, 0xad, 0xbe, 0xef],
                None,
            ),
        ),
    );
    let bye = CloseInfo::new(1001, "going away");
    let _ = update(
        state,
        Msg::Net(
            Side::Server,
            NetEvent::Frame(Frame {
                conn: 3,
                ts: wall(ms + 200),
                dir: Direction::In,
                kind: FrameKind::Close,
                payload: Bytes::new(),
                close: Some(bye.clone()),
                rtt: None,
                message: 0,
            }),
        ),
    );
    state.now = base + Duration::from_millis(ms as u64 + 200);
    let _ = update(
        state,
        Msg::Net(
            Side::Server,
            NetEvent::Closed {
                conn: 3,
                ts: wall(ms + 200),
                close: Some(bye),
                cause: CloseCause::Peer,
            },
        ),
    );
    if let Some(s) = state.server.as_mut() {
        s.rates = Rates {
            frames_in: 410.0,
            frames_out: 410.0,
            bytes_in: 26_240.0,
            bytes_out: 26_240.0,
        };
        s.rate_history = [120u64, 340, 560, 800, 820, 790, 805, 830, 640, 820]
            .into_iter()
            .collect();
    }
}

/// The dashboard of `mode` after a short scripted session, at a fixed time.
pub fn fixture(mode: Mode) -> Fixture {
    let base = Instant::now();
    let mut state = AppState::new(mode, base, wall(0), FixedOffset::east_opt(0).expect("UTC"));
    let mut keep = Vec::new();
    if mode != Mode::Server {
        state.client = Some(ClientPane::new(
            "ws://127.0.0.1:8765/chat?room=1".into(),
            10_000,
            vec![],
            base,
        ));
        client_session(&mut state, base, &mut keep);
    }
    if mode != Mode::Client {
        state.server = Some(ServerPane::new(
            "ws://127.0.0.1:8765".into(),
            10_000,
            vec![],
        ));
        server_session(&mut state, base, &mut keep);
    }
    if mode == Mode::Demo {
        state.hint = Some(
            " demo · in two terminals: wsprobe server  +  wsprobe client ws://127.0.0.1:8765"
                .into(),
        );
    }
    state.now = base + Duration::from_secs(83);
    Fixture {
        state,
        base,
        _keep: keep,
    }
}

/// A client whose connection dropped and came back after a failed attempt:
/// the timeline (t) has something to tell.
pub fn reconnecting_client() -> Fixture {
    let mut fx = fixture(Mode::Client);
    let s = &mut fx.state;
    s.now = fx.base + Duration::from_secs(9);
    let events = [
        NetEvent::Closed {
            conn: 1,
            ts: wall(9_000),
            close: None,
            cause: CloseCause::Error(
                "the connection was reset by the server (os error 104) while a message was on its way"
                    .into(),
            ),
        },
        NetEvent::Reconnecting {
            conn: 2,
            ts: wall(9_000),
            attempt: 1,
            delay: Duration::from_millis(500),
            lost: 3,
        },
        NetEvent::Error {
            conn: Some(2),
            ts: wall(9_500),
            message: "connection refused (os error 111): nothing listens on 127.0.0.1:8765".into(),
        },
        NetEvent::Reconnecting {
            conn: 3,
            ts: wall(9_500),
            attempt: 2,
            delay: Duration::from_millis(1000),
            lost: 0,
        },
    ];
    for ev in events {
        let _ = update(s, Msg::Net(Side::Client, ev));
    }
    s.now = fx.base + Duration::from_secs(60);
    fx._keep.push(connect(
        s,
        Side::Client,
        (3, 10_500, "127.0.0.1:8765", "/chat?room=1"),
        [2, 2, 40, 40],
    ));
    s.now = fx.base + Duration::from_secs(83);
    fx
}

/// A server in trouble: faults on, frames the screen could not take, errors
/// and a client that left before its handshake, all in its status line and
/// its events view (e).
pub fn troubled_server() -> Fixture {
    let mut fx = fixture(Mode::Server);
    let s = &mut fx.state;
    let events = [
        NetEvent::LeftBeforeHandshake {
            ts: wall(9_000),
            peer: "127.0.0.1:51400".parse().expect("fixture address"),
        },
        NetEvent::Error {
            conn: None,
            ts: wall(9_100),
            message: "handshake with 127.0.0.1:51402 failed: the request has no Sec-WebSocket-Key header, so it cannot be upgraded".into(),
        },
        NetEvent::Error {
            conn: Some(2),
            ts: wall(9_200),
            message: "connection reset by peer (os error 104)".into(),
        },
    ];
    for ev in events {
        let _ = update(s, Msg::Net(Side::Server, ev));
    }
    if let Some(server) = s.server.as_mut() {
        server.faults = Some(ServerFaults::new(Faults {
            delay: Duration::from_millis(20),
            drop_percent: 10.0,
            ..Faults::default()
        }));
        server.not_shown = 10_340_572;
    }
    fx
}

/// The note a server with `--tls-self-signed` shows above its dashboard.
pub fn self_signed_note() -> String {
    let note = crate::present::self_signed_note(
        "3A:91:5C:0E:7B:D2:44:19:AF:60:2B:C8:71:E5:9D:03:6F:B4:18:C2:5A:E7:90:3D:21:8E:F6:4B:07:C9:A3:5D",
        "wss://127.0.0.1:8765",
        std::path::Path::new("/run/user/1000/wsprobe/self-signed-8765-4242.pem"),
    );
    format!(" {}", note.replace('\n', "\n "))
}

/// The bench's live view halfway through a run: a fixed history and spread.
pub fn bench_live() -> LiveState {
    let mut so_far = crate::bench::worker::new_histogram();
    for (us, n) in [
        (180u64, 400u64),
        (240, 2600),
        (310, 1400),
        (520, 300),
        (12_470, 3),
    ] {
        let _ = so_far.record_n(us, n);
    }
    let history = (1..=20)
        .map(|i| {
            let t = f64::from(i) * 0.25;
            (
                t,
                0.24 + f64::from(i % 4) * 0.02,
                0.5 + f64::from(i % 7) * 0.1,
            )
        })
        .collect();
    LiveState {
        title: vec![
            "wsprobe bench ws://127.0.0.1:8765".into(),
            "50 connections".into(),
            "64 B".into(),
            "window 16".into(),
        ],
        elapsed: Duration::from_millis(5_000),
        done: 0.5,
        sent: 4_703,
        received: 4_703,
        errors: 2,
        connected: 50,
        connections: 50,
        rate: 940.6,
        history,
        so_far,
        stopping: false,
        total: None,
        planned: Some(Duration::from_secs(10)),
        last: (std::time::Instant::now(), 4_703),
    }
}

/// Draws the bench's live view into an off-screen terminal of the given size.
pub fn render_bench(
    state: &LiveState,
    width: u16,
    height: u16,
    theme: &Theme,
) -> Terminal<TestBackend> {
    let mut terminal = Terminal::new(TestBackend::new(width, height)).expect("test backend");
    terminal
        .draw(|f| crate::tui::widgets::bench::draw(f, state, theme))
        .expect("draw to a test backend");
    terminal
}

/// Draws the state into an off-screen terminal of the given size.
pub fn render(state: &AppState, width: u16, height: u16, theme: &Theme) -> Terminal<TestBackend> {
    let mut terminal = Terminal::new(TestBackend::new(width, height)).expect("test backend");
    terminal
        .draw(|f| {
            ui::draw(f, state, theme);
        })
        .expect("draw to a test backend");
    terminal
}
