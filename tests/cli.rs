//! The real binary, headless: help, pipe mode through `wsprobe server` and
//! `wsprobe client`, and the errors a person meets first.

mod support;

use std::process::{Command, Stdio};
use std::time::Duration;

use serde_json::Value;
use support::bin::{run_with_input, wsprobe, ServerProcess};
use support::json;
use support::lines::Lines;

#[test]
fn help_lists_the_commands() {
    let out = wsprobe().arg("--help").output().unwrap();
    assert!(out.status.success());
    let s = String::from_utf8_lossy(&out.stdout);
    for word in ["server", "client", "Examples", "--json", "--no-tui"] {
        assert!(s.contains(word), "--help lacks {word}:\n{s}");
    }
    let out = wsprobe().args(["client", "--help"]).output().unwrap();
    let s = String::from_utf8_lossy(&out.stdout);
    for word in ["--header", "--echo-prefix", "--ping-interval", "Exit codes"] {
        assert!(s.contains(word), "client --help lacks {word}");
    }
}

#[test]
fn subcommand_help_shows_only_the_output_flags_that_apply() {
    let options = |sub: &str| -> Vec<String> {
        let out = wsprobe().args([sub, "--help"]).output().unwrap();
        assert!(out.status.success());
        // The option lines: `  -q, --quiet  …` or `      --keep <N>  …`.
        String::from_utf8_lossy(&out.stdout)
            .lines()
            .filter_map(|l| {
                let l = l.trim_start();
                let l = l.strip_prefix("-q, ").unwrap_or(l);
                l.starts_with("--")
                    .then(|| l.split([' ', '=']).next().unwrap_or("").to_string())
            })
            .collect()
    };
    let server = options("server");
    for flag in [
        "--no-tui",
        "--json",
        "--quiet",
        "--keep",
        "--record",
        "--log-file",
    ] {
        assert!(server.iter().any(|f| f == flag), "server lacks {flag}");
    }
    let bench = options("bench");
    for flag in ["--keep", "--record", "--quiet"] {
        assert!(!bench.iter().any(|f| f == flag), "bench shows {flag}");
    }
    let replay = options("replay");
    assert!(
        !replay.iter().any(|f| f == "--record"),
        "replay shows --record"
    );
    let man = options("man");
    assert!(
        !man.iter().any(|f| f == "--json" || f == "--keep"),
        "{man:?}"
    );
}

#[test]
fn pipe_round_trip_through_both_binaries() {
    let server = ServerProcess::start(&[]);
    let out = run_with_input(wsprobe().args(["client", &server.url]), "hello\nwörld\n");
    assert!(out.status.success(), "{out:?}");
    let stdout = String::from_utf8_lossy(&out.stdout);
    let echoes: Vec<&str> = stdout.lines().filter(|l| l.contains(" ← text")).collect();
    assert_eq!(echoes.len(), 2, "{stdout}");
    assert!(
        echoes[0].ends_with("hello") && echoes[0].contains("rtt "),
        "{stdout}"
    );
    assert!(echoes[1].ends_with("wörld"), "{stdout}");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("echo rtt: count 2"), "{stderr}");
}

#[test]
fn json_lines_follow_the_schema() {
    let server = ServerProcess::start(&["--prefix", "Echo: "]);
    let out = run_with_input(
        wsprobe().args(["client", &server.url, "--json", "--echo-prefix", "Echo: "]),
        "a\n",
    );
    assert!(out.status.success());
    let lines = json::stdout(&out);
    let open = &lines[0];
    assert_eq!(open["event"], "open");
    assert_eq!(open["status"], "101 Switching Protocols");
    assert!(open["request_headers"]["sec-websocket-key"].is_string());
    let echo = json::frame(&lines, "in", "text").expect("an echo");
    assert_eq!(echo["text"], "Echo: a");
    assert_eq!(echo["len"], 7);
    assert!(echo["rtt_us"].as_u64().is_some());
    assert_eq!(echo["conn"], 1);
    let ts = echo["ts"].as_str().unwrap();
    assert!(
        chrono::DateTime::parse_from_rfc3339(ts).is_ok() && ts.len() == 27,
        "{ts}"
    );
    let close = json::event(&lines, "close").unwrap();
    assert_eq!(close["code"], 1000);
    assert_eq!(lines.last().unwrap()["event"], "summary");
}

#[test]
fn binary_lines_are_sent_as_binary() {
    let server = ServerProcess::start(&[]);
    let out = run_with_input(
        wsprobe().args(["client", &server.url, "--json", "--binary"]),
        "AB\n",
    );
    let records = json::stdout(&out);
    let echo = json::frame(&records, "in", "binary").expect("binary echo");
    assert_eq!(echo["base64"], "QUI=");
}

#[test]
fn server_prints_json_lines_too() {
    let server = ServerProcess::start(&["--json"]);
    let v = json::parse_line(&server.listening);
    assert_eq!(v["event"], "listening");
    let out = run_with_input(wsprobe().args(["client", &server.url, "-q"]), "x\n");
    assert!(out.status.success());
    let mut kinds = Vec::new();
    for _ in 0..4 {
        let v = server.stdout.next_record("the server's next line");
        kinds.push(format!(
            "{}{}",
            v["event"].as_str().unwrap_or(""),
            v["dir"].as_str().unwrap_or("")
        ));
    }
    assert_eq!(kinds, ["open", "in", "out", "in"]);
}

#[test]
fn quiet_client_prints_no_frames() {
    let server = ServerProcess::start(&[]);
    let out = run_with_input(wsprobe().args(["client", &server.url, "-q"]), "x\n");
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(stdout.contains(" open "), "{stdout}");
    assert!(!stdout.contains(" text "), "{stdout}");
}

#[test]
fn stdin_closed_early_still_gets_its_replies() {
    let rt = tokio::runtime::Runtime::new().unwrap();
    let url = rt.block_on(support::slow_echo_server(Duration::from_millis(300)));
    let out = run_with_input(wsprobe().args(["client", &url]), "one\ntwo\n");
    assert!(out.status.success(), "{out:?}");
    let stdout = String::from_utf8_lossy(&out.stdout);
    let echoes = stdout.lines().filter(|l| l.contains(" ← text")).count();
    assert_eq!(echoes, 2, "{stdout}");
}

#[test]
fn bad_url_is_a_usage_error() {
    let out = wsprobe()
        .args(["client", "localhost:8765"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("ws://"));
    let out = wsprobe()
        .args(["client", "ws://x", "-H", "nocolon"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("Name: value"));
}

#[test]
fn refused_names_the_address() {
    let port = support::free_port();
    let out = wsprobe()
        .args(["client", &format!("ws://127.0.0.1:{port}")])
        .stdin(Stdio::null())
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("refused") && stderr.contains(&format!("127.0.0.1:{port}")),
        "{stderr}"
    );
}

#[test]
fn port_in_use_is_a_clear_error() {
    let taken = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = taken.local_addr().unwrap().to_string();
    let out = wsprobe().args(["server", &addr]).output().unwrap();
    assert_eq!(out.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("already in use") && stderr.contains(&addr),
        "{stderr}"
    );
}

#[test]
fn server_closing_with_an_error_code_exits_1() {
    let rt = tokio::runtime::Runtime::new().unwrap();
    let url = rt.block_on(support::raw_server(|mut ws| async move {
        use tokio_tungstenite::tungstenite::protocol::{frame::coding::CloseCode, CloseFrame};
        let _ = ws
            .close(Some(CloseFrame {
                code: CloseCode::from(1011),
                reason: "boom".into(),
            }))
            .await;
        use futures_util::StreamExt;
        while ws.next().await.is_some() {}
    }));
    // Input stays open (and empty) until the client is gone: with input at its
    // end at once, the client's own close could cross the server's 1011 and
    // the run would end as closed by us.
    let out = support::bin::run_with_open_input(
        wsprobe().args(["client", &url]),
        "the client did not end when the server closed",
    );
    assert_eq!(out.status.code(), Some(1), "{out:?}");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("1011") && stderr.contains("boom"),
        "{stderr}"
    );
}

#[test]
fn demo_headless_echoes_stdin() {
    let out = run_with_input(wsprobe().arg("--no-tui"), "demo line\n");
    assert!(out.status.success(), "{out:?}");
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        stdout.starts_with("listening on ws://127.0.0.1:"),
        "{stdout}"
    );
    assert!(
        stdout
            .lines()
            .any(|l| l.contains("←") && l.ends_with("demo line")),
        "{stdout}"
    );
}

/// Nobody reads the headless demo's server events: they must never hold up a
/// connection (a channel kept alive but unread once blocked the second one).
#[test]
fn demo_headless_server_answers_every_client() {
    let mut child = wsprobe()
        .arg("--no-tui")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let stdout = Lines::read(child.stdout.take().unwrap());
    let listening = stdout.wait_for("the demo's address", |l| l.starts_with("listening on "));
    let url = listening.trim_start_matches("listening on ").to_string();
    // The demo's own client is connected; two more come and go, then a third echoes.
    let rt = tokio::runtime::Runtime::new().unwrap();
    rt.block_on(async {
        use futures_util::{SinkExt, StreamExt};
        for i in 0..3 {
            let (mut ws, _) =
                support::within("a connection", tokio_tungstenite::connect_async(&url))
                    .await
                    .unwrap();
            let text = format!("extra {i}");
            ws.send(tokio_tungstenite::tungstenite::Message::text(text.clone()))
                .await
                .unwrap();
            let back = support::within("the echo", ws.next())
                .await
                .unwrap()
                .unwrap();
            assert_eq!(support::text(&back), text);
            ws.close(None).await.unwrap();
            while let Some(Ok(_)) = support::within("the close", ws.next()).await {}
        }
    });
    drop(child.stdin.take());
    let out = support::bin::output_within(child, "the demo did not end with its input");
    assert!(out.status.success(), "{out:?}");
}

#[test]
fn bench_json_against_the_server_binary() {
    let server = ServerProcess::start(&["-q"]);
    let out = wsprobe()
        .args([
            "bench",
            &server.url,
            "-c",
            "3",
            "-w",
            "4",
            "-n",
            "3000",
            "--json",
        ])
        .output()
        .unwrap();
    assert!(out.status.success(), "{out:?}");
    let v: Value = serde_json::from_slice(&out.stdout).expect("one JSON object");
    assert_eq!(v["sent"], 3000);
    assert_eq!(v["received"], 3000);
    assert_eq!(v["lost"], 0);
    assert!(v["messages_per_sec"].as_f64().unwrap() > 0.0);
    assert!(v["rtt_us"]["p999"].as_u64().unwrap() >= v["rtt_us"]["p50"].as_u64().unwrap());
}

#[test]
fn bench_text_summary_and_failure_exit_code() {
    let server = ServerProcess::start(&["-q"]);
    let out = wsprobe()
        .args(["bench", &server.url, "-n", "200", "-c", "2"])
        .output()
        .unwrap();
    assert!(out.status.success());
    let s = String::from_utf8_lossy(&out.stdout);
    for word in ["messages/s", "p99.9", "Checks", "Errors    none"] {
        assert!(s.contains(word), "summary lacks {word}:\n{s}");
    }
    let port = support::free_port();
    let out = wsprobe()
        .args(["bench", &format!("ws://127.0.0.1:{port}"), "-n", "10"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).contains("refused"));
    let out = wsprobe()
        .args(["bench", "ws://127.0.0.1:1", "-s", "4"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
}

#[test]
fn a_close_frame_without_a_code_is_a_clean_end() {
    let rt = tokio::runtime::Runtime::new().unwrap();
    let url = rt.block_on(support::raw_server(|mut ws| async move {
        let _ = ws.close(None).await;
        use futures_util::StreamExt;
        while ws.next().await.is_some() {}
    }));
    let out = wsprobe()
        .args(["client", &url])
        .stdin(Stdio::null())
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(0), "{out:?}");
}

#[test]
fn sigterm_closes_every_connection_with_1001() {
    let mut server = ServerProcess::start(&[]);
    let rt = tokio::runtime::Runtime::new().unwrap();
    let mut ws = rt.block_on(async {
        tokio_tungstenite::connect_async(&server.url)
            .await
            .unwrap()
            .0
    });
    support::bin::sigterm(&server.child);
    let msg = rt.block_on(async {
        use futures_util::StreamExt;
        tokio::time::timeout(Duration::from_secs(10), ws.next()).await
    });
    match msg {
        Ok(Some(Ok(tokio_tungstenite::tungstenite::Message::Close(Some(f))))) => {
            assert_eq!(u16::from(f.code), 1001);
        }
        other => panic!("expected close 1001, got {other:?}"),
    }
    let code = server.child.wait().unwrap();
    assert!(code.success(), "{code:?}");
}

fn sent(records: &[Value]) -> Vec<Value> {
    records
        .iter()
        .filter(|r| r["dir"] == "out" && r["kind"] != "close")
        .cloned()
        .collect()
}

#[test]
fn binary_pipe_lines_go_byte_for_byte_whatever_they_hold() {
    let server = ServerProcess::start(&[]);
    let out = run_with_input(
        wsprobe().args(["client", &server.url, "--json", "--binary"]),
        b"one\n\xff\xfe two\r\nthree\n",
    );
    assert_eq!(out.status.code(), Some(0), "{out:?}");
    let frames: Vec<String> = sent(&json::stdout(&out))
        .iter()
        .map(|r| r["base64"].as_str().unwrap().to_string())
        .collect();
    // "one", "\xff\xfe two\r" (the \r kept), "three".
    assert_eq!(frames, ["b25l", "//4gdHdvDQ==", "dGhyZWU="]);
}

#[test]
fn a_text_line_that_is_not_utf8_stops_the_input_with_an_error_naming_it() {
    let server = ServerProcess::start(&[]);
    let out = run_with_input(
        wsprobe().args(["client", &server.url, "--json"]),
        b"one\n\xff\xfe two\nthree\n",
    );
    assert_eq!(out.status.code(), Some(1), "{out:?}");
    let texts: Vec<Value> = sent(&json::stdout(&out))
        .iter()
        .map(|r| r["text"].clone())
        .collect();
    assert_eq!(texts, ["one"]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("line 2") && stderr.contains("not valid UTF-8"),
        "{stderr}"
    );

    let out = run_with_input(
        wsprobe().args(["client", &server.url, "--json", "--lossy"]),
        b"one\n\xff two\nthree\n",
    );
    assert_eq!(out.status.code(), Some(0), "{out:?}");
    let texts: Vec<Value> = sent(&json::stdout(&out))
        .iter()
        .map(|r| r["text"].clone())
        .collect();
    assert_eq!(texts, ["one", "\u{fffd} two", "three"]);
}

#[test]
fn lines_after_the_servers_close_frame_are_reported_as_not_sent() {
    let rt = tokio::runtime::Runtime::new().unwrap();
    // A server that says goodbye at once and waits for the client to leave.
    let url = rt.block_on(support::raw_server(|mut ws| async move {
        use futures_util::{SinkExt, StreamExt};
        let _ = ws
            .send(tokio_tungstenite::tungstenite::Message::Close(None))
            .await;
        while ws.next().await.is_some() {}
    }));
    let mut child = wsprobe()
        .args(["client", &url, "--json"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let stdin = child.stdin.take();
    let stdout = Lines::read(child.stdout.take().unwrap());
    // Type only once the close frame has come in.
    let mut records = Vec::new();
    loop {
        let line = stdout
            .next("the close frame")
            .unwrap_or_else(|| panic!("no close frame: {records:?}"));
        let r = json::parse_line(&line);
        records.push(r.clone());
        if r["dir"] == "in" && r["kind"] == "close" {
            break;
        }
    }
    support::bin::feed(stdin, b"late one\nlate two\n");
    records.extend(
        stdout
            .rest("the client to end")
            .iter()
            .map(|l| json::parse_line(l)),
    );
    let out = child.wait_with_output().unwrap();
    assert!(
        sent(&records).is_empty(),
        "nothing may be logged as sent: {records:?}"
    );
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    // Each line either reached the client while the connection was closing
    // (a not_sent event) or after it had ended (the input was cut): never silence.
    let not_sent = records.iter().filter(|r| r["event"] == "not_sent").count();
    assert!(
        not_sent > 0 || stderr.contains("the rest was not sent"),
        "{records:?}\n{stderr}"
    );
    if not_sent > 0 {
        assert!(stderr.contains("not sent"), "{stderr}");
        let summary = json::event(&records, "summary").unwrap();
        assert_eq!(summary["sent"], 0, "{summary}");
        assert_eq!(summary["not_sent"], not_sent, "{summary}");
    }
}

#[test]
fn completions_for_every_shell() {
    let script = |shell: &str| {
        let out = wsprobe().args(["completions", shell]).output().unwrap();
        assert!(out.status.success(), "{shell}: {out:?}");
        String::from_utf8(out.stdout).unwrap()
    };
    let bash = script("bash");
    for word in [
        "_wsprobe",
        "server",
        "client",
        "bench",
        "replay",
        "--subprotocol",
    ] {
        assert!(bash.contains(word), "bash completion lacks {word}");
    }
    for shell in ["zsh", "fish", "elvish", "powershell"] {
        let s = script(shell);
        assert!(
            s.contains("wsprobe") && s.contains("subprotocol"),
            "{shell}: {s}"
        );
    }
    let out = wsprobe().args(["completions", "tcsh"]).output().unwrap();
    assert_eq!(out.status.code(), Some(2));

    // The bash script really completes: subcommands, then a subcommand's flags.
    let complete = |words: &str, cword: usize| {
        let program = format!(
            "source /dev/stdin; COMP_WORDS=({words}); COMP_CWORD={cword}; \
             _wsprobe wsprobe \"${{COMP_WORDS[$COMP_CWORD]}}\" \"${{COMP_WORDS[$COMP_CWORD-1]}}\"; \
             printf '%s\\n' \"${{COMPREPLY[@]}}\""
        );
        let out = run_with_input(Command::new("bash").args(["-c", &program]), &bash);
        assert!(out.status.success(), "{out:?}");
        String::from_utf8(out.stdout).unwrap()
    };
    assert_eq!(complete("wsprobe se", 1).trim(), "server");
    assert_eq!(complete("wsprobe client --subp", 2).trim(), "--subprotocol");
}

#[test]
fn man_page_to_stdout_and_to_a_directory() {
    let out = wsprobe().arg("man").output().unwrap();
    assert!(out.status.success(), "{out:?}");
    let page = String::from_utf8(out.stdout).unwrap();
    assert!(
        page.lines().any(|l| l.starts_with(".TH wsprobe 1")),
        "{page}"
    );
    assert!(page.contains("wsprobe\\-server(1)"), "{page}");
    assert!(page.contains("wsprobe\\-client(1)"), "{page}");

    let dir = std::env::temp_dir().join(format!("wsprobe-man-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    let out = wsprobe().args(["man", "--out"]).arg(&dir).output().unwrap();
    assert!(out.status.success(), "{out:?}");
    for name in [
        "wsprobe",
        "wsprobe-server",
        "wsprobe-client",
        "wsprobe-bench",
    ] {
        let path = dir.join(format!("{name}.1"));
        let text =
            std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
        assert!(text.contains(".TH"), "{name}");
        assert!(
            String::from_utf8_lossy(&out.stderr).contains(path.to_str().unwrap()),
            "the written paths are said"
        );
    }
    let server = std::fs::read_to_string(dir.join("wsprobe-server.1")).unwrap();
    assert!(server.contains("tls\\-self\\-signed"), "{server}");
    std::fs::remove_dir_all(&dir).unwrap();
}
