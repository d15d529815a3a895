//! The real binary in a pseudo-terminal: keys typed, the screen read back.

mod support;

use futures_util::SinkExt;
use support::pty::Pty;
use tokio_tungstenite::tungstenite::Message;

fn has_echo_with_rtt(screen: &str, text: &str) -> bool {
    screen
        .lines()
        .any(|l| l.contains('←') && l.contains(text) && (l.contains("µs") || l.contains("ms")))
}

#[test]
fn demo_echoes_typed_text_with_an_rtt_and_quits_cleanly() {
    let mut pty = Pty::spawn(&[], &[], 120, 40);
    pty.wait_for("the client to connect", |s| {
        s.contains("open") && s.contains("Message")
    });
    pty.send("hello\r");
    pty.wait_for("the echo with its RTT", |s| has_echo_with_rtt(s, "hello"));
    // The server pane saw it too.
    pty.wait_for("the server's log", |s| {
        s.lines()
            .any(|l| l.contains("#1") && l.contains("← text") && l.contains("hello"))
    });
    pty.escape();
    pty.send("q");
    assert_eq!(pty.wait_exit(), 0);
    pty.with_screen(|s| {
        assert!(!s.alternate_screen(), "left the alternate screen");
        assert!(!s.hide_cursor(), "cursor visible again");
    });
}

#[test]
fn ctrl_c_quits_from_the_input_box() {
    let mut pty = Pty::spawn(&[], &[], 80, 24);
    pty.wait_for("the dashboard", |s| s.contains("Message"));
    pty.send("typing\x03");
    assert_eq!(pty.wait_exit(), 0);
    pty.with_screen(|s| assert!(!s.alternate_screen()));
}

#[test]
fn a_panic_leaves_the_terminal_restored() {
    let mut pty = Pty::spawn(
        &[],
        &[("WSPROBE_TEST_PANIC", "1"), ("RUST_BACKTRACE", "0")],
        80,
        24,
    );
    let code = pty.wait_exit();
    assert_ne!(code, 0);
    pty.with_screen(|s| {
        assert!(!s.alternate_screen(), "left the alternate screen");
        assert!(!s.hide_cursor(), "cursor visible again");
    });
    assert!(
        pty.contents().contains("WSPROBE_TEST_PANIC"),
        "the panic message is readable:\n{}",
        pty.contents()
    );
}

#[test]
fn server_and_client_in_two_terminals() {
    let mut server = Pty::spawn(&["server", "127.0.0.1:0"], &[], 120, 30);
    let screen = server.wait_for("the server to listen", |s| {
        s.contains("echo server ws://127.0.0.1:")
    });
    let url = screen
        .split_whitespace()
        .find(|w| w.starts_with("ws://127.0.0.1:"))
        .unwrap()
        .to_string();
    let mut client = Pty::spawn(&["client", &url], &[], 120, 30);
    client.wait_for("the client to connect", |s| s.contains("open"));
    client.send("two panes\r");
    client.wait_for("the echo", |s| has_echo_with_rtt(s, "two panes"));
    server.wait_for("the connection in the table", |s| {
        s.lines()
            .any(|l| l.contains("#1") && l.contains("127.0.0.1:") && l.contains("open"))
    });
    server.wait_for("the frame in the server log", |s| s.contains("two panes"));
    client.escape();
    client.send("q");
    assert_eq!(client.wait_exit(), 0);
    server.wait_for("the closed connection", |s| s.contains("closed 1000"));
    server.send("q");
    assert_eq!(server.wait_exit(), 0);
}

#[test]
fn escape_sequences_from_the_server_are_shown_escaped() {
    let rt = tokio::runtime::Runtime::new().unwrap();
    let url = rt.block_on(support::raw_server(|mut ws| async move {
        let _ = ws
            .send(Message::text("\u{1b}[2JCLEARED\u{1b}]0;t\u{7}\u{202e}"))
            .await;
        // Stay connected while the test looks.
        tokio::time::sleep(std::time::Duration::from_secs(20)).await;
    }));
    let mut pty = Pty::spawn(&["client", &url], &[], 120, 30);
    let screen = pty.wait_for("the pushed message", |s| s.contains("CLEARED"));
    assert!(
        screen.contains("\\x1b[2JCLEARED\\x1b]0;t\\x07\\u{202e}"),
        "{screen}"
    );
    assert!(
        screen.contains(&url) && screen.contains("open"),
        "the status bar survived:\n{screen}"
    );
    pty.send("\x03");
    assert_eq!(pty.wait_exit(), 0, "{}", pty.contents());
}

#[test]
fn resizing_reflows_the_demo() {
    let mut pty = Pty::spawn(&[], &[], 80, 24);
    pty.wait_for("the stacked demo", |s| s.contains("Connections"));
    let side_by_side = |s: &str| {
        s.lines()
            .any(|l| l.contains("Connections") && l.contains("Messages"))
    };
    assert!(!side_by_side(&pty.contents()));
    pty.resize(140, 40);
    pty.wait_for("the side-by-side demo", side_by_side);
    pty.send("\x03");
    assert_eq!(pty.wait_exit(), 0);
}

#[test]
fn refused_connection_is_shown_and_exits_1() {
    let port = support::free_port();
    let mut pty = Pty::spawn(&["client", &format!("ws://127.0.0.1:{port}")], &[], 100, 24);
    pty.wait_for("the failure in the status bar", |s| {
        s.contains("failed") && s.contains("refused")
    });
    pty.escape();
    pty.send("q");
    assert_eq!(pty.wait_exit(), 1);
    assert!(pty.contents().contains(&format!("127.0.0.1:{port}")));
}

#[test]
fn a_broken_server_is_shown_and_quitting_exits_1_restored() {
    let rt = tokio::runtime::Runtime::new().unwrap();
    let url = rt.block_on(support::raw_server(|mut ws| async move {
        use tokio::io::AsyncWriteExt;
        // A text frame that is not UTF-8.
        let _ = ws.get_mut().write_all(&[0x81, 0x02, 0xff, 0xfe]).await;
        tokio::time::sleep(std::time::Duration::from_secs(20)).await;
    }));
    let mut pty = Pty::spawn(&["client", &url], &[], 120, 30);
    pty.wait_for("the drop in the status bar", |s| {
        s.contains("dropped") && s.contains("UTF-8")
    });
    pty.escape();
    pty.send("q");
    assert_eq!(pty.wait_exit(), 1);
    pty.with_screen(|s| {
        assert!(!s.alternate_screen());
        assert!(!s.hide_cursor());
    });
    assert!(
        pty.contents().contains("UTF-8"),
        "the reason is printed after the dashboard:\n{}",
        pty.contents()
    );
}

#[test]
fn a_recorded_demo_replays_read_only() {
    let file = std::env::temp_dir().join(format!("wsprobe-pty-demo-{}.jsonl", std::process::id()));
    let f = file.to_str().unwrap();
    let mut pty = Pty::spawn(&["--record", f], &[], 120, 40);
    pty.wait_for("the client to connect", |s| {
        s.contains("open") && s.contains("Message")
    });
    pty.send("recorded hello\r");
    pty.wait_for("the echo", |s| has_echo_with_rtt(s, "recorded hello"));
    pty.escape();
    pty.send("q");
    assert_eq!(pty.wait_exit(), 0);

    let mut replay = Pty::spawn(&["replay", f], &[], 120, 40);
    let screen = replay.wait_for("both panes with the recorded frames", |s| {
        has_echo_with_rtt(s, "recorded hello")
            && s.lines()
                .any(|l| l.contains("#1") && l.contains("← text") && l.contains("recorded hello"))
    });
    assert!(screen.contains("read-only"), "{screen}");
    // Typing goes nowhere.
    replay.send("i");
    replay.send("more\r");
    replay.wait_for("the read-only note", |s| s.contains("nothing is sent"));
    replay.escape();
    replay.send("q");
    assert_eq!(replay.wait_exit(), 0);
    let _ = std::fs::remove_file(&file);
}

#[test]
fn the_dashboard_reconnects_and_shows_the_timeline() {
    let rt = tokio::runtime::Runtime::new().unwrap();
    let config = wsprobe::net::server::ServerConfig {
        faults: wsprobe::net::server::faults::Faults {
            close_after: Some(1),
            close_code: 1001,
            ..Default::default()
        },
        ..Default::default()
    };
    let (url, _events) = rt.block_on(support::start_server(config));
    let mut pty = Pty::spawn(
        &[
            "client",
            &url,
            "--reconnect",
            "--reconnect-max-delay",
            "300ms",
            "--init",
            "setup",
        ],
        &[],
        120,
        40,
    );
    // The init message is the one message the server echoes before it closes.
    // The status bar names the connection as the timeline does, and counts connects.
    pty.wait_for("a second connection", |s| s.contains("#2 · 2 connects"));
    pty.escape();
    pty.send("t");
    let screen = pty.wait_for("the timeline", |s| s.contains("Connection timeline"));
    for want in [
        "#1 connected to",
        "#1 closed by server 1001 Going Away",
        "#2 retry 1 in",
        "#2 connected to",
    ] {
        assert!(screen.contains(want), "{want} missing:\n{screen}");
    }
    pty.escape();
    pty.send("q");
    assert_eq!(pty.wait_exit(), 0);
    // The farewell line counts the whole session, not the last connection.
    // (The server keeps closing, so more may have come by the time q lands.)
    let after = pty.contents();
    let over: u64 = after
        .split(" over ")
        .nth(1)
        .and_then(|rest| rest.split(' ').next())
        .and_then(|n| n.parse().ok())
        .unwrap_or_else(|| panic!("no session count:\n{after}"));
    assert!(
        over >= 2 && after.contains(&format!("over {over} connections")),
        "{after}"
    );
}

#[test]
fn the_client_dashboard_writes_har_on_quit() {
    let rt = tokio::runtime::Runtime::new().unwrap();
    let (url, _events) = rt.block_on(support::start_server(Default::default()));
    let har = std::env::temp_dir().join(format!("wsprobe-pty-{}.har", std::process::id()));
    let mut pty = Pty::spawn(
        &["client", &url, "--har", har.to_str().unwrap()],
        &[],
        100,
        30,
    );
    pty.wait_for("the connection", |s| s.contains("open"));
    pty.send("for the har\r");
    pty.wait_for("the echo", |s| has_echo_with_rtt(s, "for the har"));
    pty.escape();
    pty.send("q");
    assert_eq!(pty.wait_exit(), 0);
    let v = support::json::file(&har);
    let msgs = v["log"]["entries"][0]["_webSocketMessages"]
        .as_array()
        .unwrap()
        .clone();
    let seen: Vec<_> = msgs
        .iter()
        .map(|m| (m["type"].as_str().unwrap(), m["data"].as_str().unwrap()))
        .collect();
    assert_eq!(seen, [("send", "for the har"), ("receive", "for the har")]);
    let _ = std::fs::remove_file(&har);
}

#[test]
fn the_client_dashboard_plays_a_send_file() {
    let rt = tokio::runtime::Runtime::new().unwrap();
    let (url, _events) = rt.block_on(support::start_server(Default::default()));
    let lines = std::env::temp_dir().join(format!("wsprobe-pty-lines-{}.txt", std::process::id()));
    std::fs::write(&lines, "first played\nsecond played\n").unwrap();
    let mut pty = Pty::spawn(
        &["client", &url, "--send-file", lines.to_str().unwrap()],
        &[],
        100,
        30,
    );
    pty.wait_for("both lines echoed", |s| {
        has_echo_with_rtt(s, "first played") && has_echo_with_rtt(s, "second played")
    });
    pty.escape();
    pty.send("q");
    assert_eq!(pty.wait_exit(), 0);
    let _ = std::fs::remove_file(&lines);
}

#[test]
fn a_relay_dashboard_shows_both_directions_and_injects() {
    let upstream = support::bin::ServerProcess::start(&["-q"]);
    let mut relay = Pty::spawn(&["relay", "127.0.0.1:0", &upstream.url], &[], 130, 32);
    let screen = relay.wait_for("the relay to listen", |s| {
        s.contains("relay ws://127.0.0.1:")
    });
    let url = screen
        .split_whitespace()
        .find(|w| w.starts_with("ws://127.0.0.1:"))
        .unwrap()
        .to_string();
    let mut client = Pty::spawn(&["client", &url], &[], 120, 30);
    client.wait_for("the client to connect", |s| s.contains("open"));
    client.send("both ways\r");
    client.wait_for("the echo", |s| has_echo_with_rtt(s, "both ways"));
    relay.wait_for("the message each way, with its latency", |s| {
        let lines: Vec<&str> = s.lines().filter(|l| l.contains("both ways")).collect();
        lines.iter().any(|l| l.contains("C→S"))
            && lines
                .iter()
                .any(|l| l.contains("S→C") && (l.contains("µs") || l.contains("ms")))
    });
    relay.wait_for("the pair in the table", |s| {
        s.lines().any(|l| l.contains("#1") && l.contains("open"))
    });
    // To the input box, then a message of the relay's own to the client.
    relay.send("\t\t/inject client from the relay\r");
    client.wait_for("the injected message", |s| s.contains("from the relay"));
    relay.escape();
    relay.send("q");
    assert_eq!(relay.wait_exit(), 0);
    client.wait_for("the relay's goodbye", |s| s.contains("1001"));
    client.escape();
    client.send("q");
    client.wait_exit();
}

#[test]
fn a_relay_recording_replays_in_the_relay_dashboard() {
    let dir = support::scratch("relay-replay");
    let file = dir.join("relay.jsonl");
    let upstream = support::bin::ServerProcess::start(&["-q"]);
    let mut relay = support::bin::ServerProcess::spawn(support::bin::wsprobe().args([
        "relay",
        "127.0.0.1:0",
        &upstream.url,
        "--no-tui",
        "--record",
        file.to_str().unwrap(),
    ]));
    let out = support::bin::run_with_input(
        support::bin::wsprobe().args(["client", &relay.url, "--no-tui"]),
        "recorded both ways\n",
    );
    assert!(out.status.success(), "{out:?}");
    relay.wait_for_line("the pair's end", |l| l.contains("server leg closed"));
    assert!(relay.sigterm().success());
    let mut replay = Pty::spawn(&["replay", file.to_str().unwrap()], &[], 130, 32);
    replay.wait_for("the pair and both directions", |s| {
        s.contains("Pairs")
            && s.lines()
                .any(|l| l.contains("C→S") && l.contains("recorded both ways"))
            && s.lines()
                .any(|l| l.contains("S→C") && l.contains("recorded both ways"))
    });
    replay.send("q");
    assert_eq!(replay.wait_exit(), 0);
}
