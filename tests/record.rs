//! `--record`: nothing lost, whole lines, flushed on SIGTERM mid-flood; the
//! recording read back by `replay`, exported as HAR, re-sent by `--send-file`.

mod support;

use std::collections::HashSet;
use std::path::{Path, PathBuf};
use std::process::{Output, Stdio};
use std::time::Duration;

use futures_util::{SinkExt, StreamExt};
use serde_json::Value;
use support::bin::{run_with_input, ServerProcess};
use support::{json, within};
use tokio_tungstenite::tungstenite::Message;
use wsprobe::net::server::ServerConfig;

fn temp(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("wsprobe-record-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    dir.join(name)
}

fn lines(path: &Path) -> Vec<Value> {
    let text = std::fs::read_to_string(path).unwrap();
    assert!(
        text.is_empty() || text.ends_with('\n'),
        "the recording ends inside a line"
    );
    json::parse(&text)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigterm_mid_flood_leaves_every_echo_in_the_recording() {
    let file = temp("flood.jsonl");
    let mut server =
        ServerProcess::start(&["--json", "--quiet", "--record", file.to_str().unwrap()]);
    let (ws, _) = within("connect", tokio_tungstenite::connect_async(&server.url))
        .await
        .unwrap();
    let (mut tx, mut rx) = ws.split();
    // Flood without waiting for echoes; stop when the server goes.
    let flood = tokio::spawn(async move {
        let mut i = 0u64;
        loop {
            if tx.send(Message::text(format!("m{i}"))).await.is_err() {
                return i;
            }
            i += 1;
        }
    });
    let mut echoed = HashSet::new();
    let mut signalled = false;
    let mut close_code = None;
    within("the flood and the close", async {
        while let Some(msg) = rx.next().await {
            match msg {
                Ok(Message::Text(t)) => {
                    echoed.insert(t.to_string());
                    if echoed.len() == 20_000 && !signalled {
                        support::bin::sigterm(&server.child);
                        signalled = true;
                    }
                }
                Ok(Message::Close(c)) => {
                    close_code = c.map(|c| u16::from(c.code));
                }
                Ok(_) => {}
                Err(_) => break,
            }
        }
    })
    .await;
    flood.abort();
    assert!(signalled, "the flood never reached 20 000 echoes");
    let status = server.child.wait().unwrap();
    assert!(status.success(), "{status:?}");
    assert_eq!(
        close_code,
        Some(1001),
        "clients are told the server is going"
    );

    let records = lines(&file);
    let recorded: HashSet<String> = json::frames(&records, "out", "text")
        .map(|r| r["text"].as_str().unwrap().to_string())
        .collect();
    let missing: Vec<_> = echoed.difference(&recorded).take(5).collect();
    assert!(
        missing.is_empty(),
        "{} of {} echoes missing from the recording, e.g. {missing:?}",
        echoed.difference(&recorded).count(),
        echoed.len()
    );
    assert!(records.iter().all(|r| r["side"] == "server"));
    assert_eq!(records[0]["event"], "open");
    assert!(json::event(&records, "close").is_some());
    let _ = std::fs::remove_file(&file);
}

/// `wsprobe client URL --json ARGS` with `input` on stdin.
fn client(url: &str, args: &[&str], input: &str) -> Output {
    run_with_input(
        support::bin::wsprobe()
            .args(["client", url, "--json"])
            .args(args),
        input,
    )
}

/// `wsprobe ARGS` with nothing on stdin.
fn wsprobe(args: &[&str]) -> Output {
    support::bin::wsprobe()
        .args(args)
        .stdin(Stdio::null())
        .output()
        .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_client_recording_replays_exports_and_resends() {
    let (url, mut events) = support::start_server(ServerConfig::default()).await;
    let file = temp("client.jsonl");
    let f = file.to_str().unwrap().to_string();
    let out = {
        let (url, f) = (url.clone(), f.clone());
        tokio::task::spawn_blocking(move || client(&url, &["--record", &f], "alpha\nbeta\n"))
            .await
            .unwrap()
    };
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let records = lines(&file);
    let kinds: Vec<String> = records
        .iter()
        .map(|r| {
            format!(
                "{}{}{}",
                r["event"].as_str().unwrap_or_default(),
                r["dir"].as_str().unwrap_or_default(),
                r["text"].as_str().unwrap_or_default()
            )
        })
        .collect();
    assert_eq!(kinds[0], "open");
    let at = |k: &str| {
        kinds
            .iter()
            .position(|x| x == k)
            .unwrap_or_else(|| panic!("no {k} in {kinds:?}"))
    };
    assert!(at("outalpha") < at("inalpha") && at("outbeta") < at("inbeta"));
    assert!(at("outalpha") < at("outbeta"));
    assert_eq!(kinds.last().unwrap(), "close");
    assert!(records.iter().all(|r| r["side"] == "client"));
    let echo = at("inalpha");
    assert!(
        records[echo]["rtt_us"].as_u64().is_some(),
        "echoes keep their RTT"
    );

    // replay without a terminal: the same events as lines.
    let replayed = wsprobe(&["replay", &f, "--json"]);
    assert!(replayed.status.success());
    let replayed = json::stdout(&replayed);
    assert_eq!(replayed.len(), records.len());
    assert_eq!(replayed[1]["text"], "alpha");
    assert_eq!(replayed[echo]["rtt_us"], records[echo]["rtt_us"]);

    // HAR export.
    let har_path = temp("client.har");
    let har = wsprobe(&[
        "replay",
        &f,
        "--har",
        har_path.to_str().unwrap(),
        "--no-tui",
    ]);
    assert!(
        har.status.success(),
        "{}",
        String::from_utf8_lossy(&har.stderr)
    );
    let har = json::file(&har_path);
    let entry = &har["log"]["entries"][0];
    assert_eq!(entry["request"]["url"], format!("{url}/"));
    let msgs = entry["_webSocketMessages"].as_array().unwrap();
    let seen: Vec<(&str, &str)> = msgs
        .iter()
        .map(|m| (m["type"].as_str().unwrap(), m["data"].as_str().unwrap()))
        .collect();
    let sends: Vec<_> = seen
        .iter()
        .filter(|(t, _)| *t == "send")
        .map(|(_, d)| *d)
        .collect();
    let receives: Vec<_> = seen
        .iter()
        .filter(|(t, _)| *t == "receive")
        .map(|(_, d)| *d)
        .collect();
    assert_eq!(
        (sends, receives),
        (vec!["alpha", "beta"], vec!["alpha", "beta"])
    );

    // --send-file: the recording's sends go out again (stdin is not read).
    while events.try_recv().is_ok() {}
    let out = {
        let (url, f) = (url.clone(), f.clone());
        tokio::task::spawn_blocking(move || {
            client(&url, &["--send-file", &f, "--speed", "0"], "ignored\n")
        })
        .await
        .unwrap()
    };
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let mut got = Vec::new();
    while let Ok(ev) = events.try_recv() {
        if let wsprobe::net::NetEvent::Frame(f) = ev {
            if f.dir == wsprobe::net::Direction::In && f.kind.is_data() {
                got.push(String::from_utf8_lossy(&f.payload).into_owned());
            }
        }
    }
    assert_eq!(got, ["alpha", "beta"]);
}

#[test]
fn the_client_writes_har_when_asked() {
    let rt = tokio::runtime::Runtime::new().unwrap();
    let (url, _events) = rt.block_on(support::start_server(ServerConfig::default()));
    let har_path = temp("direct.har");
    let out = client(&url, &["--har", har_path.to_str().unwrap()], "x\n");
    assert!(out.status.success());
    let har = json::file(&har_path);
    let msgs = &har["log"]["entries"][0]["_webSocketMessages"];
    assert_eq!(msgs.as_array().unwrap().len(), 2, "{har}");
    assert_eq!(har["log"]["entries"][0]["response"]["status"], 101);
}

#[test]
fn the_demo_records_both_sides() {
    let file = temp("demo.jsonl");
    let out = run_with_input(
        support::bin::wsprobe().args(["--no-tui", "--record", file.to_str().unwrap()]),
        "hi\n",
    );
    assert!(out.status.success());
    let records = lines(&file);
    let has = |side: &str, dir: &str| {
        records
            .iter()
            .any(|r| r["side"] == side && r["dir"] == dir && r["text"] == "hi")
    };
    assert!(has("client", "out") && has("server", "in"));
    assert!(has("server", "out") && has("client", "in"));
}

#[test]
fn bad_recording_paths_and_files_are_clear() {
    let out = wsprobe(&[
        "server",
        "127.0.0.1:0",
        "--record",
        "/nonexistent/dir/x.jsonl",
    ]);
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("cannot create the recording"));

    let not_rec = temp("plain.txt");
    std::fs::write(&not_rec, "just text\n").unwrap();
    let out = wsprobe(&["replay", not_rec.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("is not a recording"));

    // The bench records nothing: it has no --record, and one before it is refused.
    let out = wsprobe(&["bench", "ws://127.0.0.1:9", "--record", "x.jsonl"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("unexpected argument '--record'"));
    let out = wsprobe(&["--record", "x.jsonl", "bench", "ws://127.0.0.1:9"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("--record works with"));
}

#[test]
fn send_file_keeps_the_spacing_scaled_by_speed() {
    let rt = tokio::runtime::Runtime::new().unwrap();
    let (url, _events) = rt.block_on(support::start_server(ServerConfig::default()));
    let file = temp("spaced.jsonl");
    // Two sends 400 ms apart in the recording; at --speed 2 they leave ~200 ms apart.
    std::fs::write(
        &file,
        concat!(
            r#"{"ts":"2026-01-01T00:00:00.000000Z","conn":1,"side":"client","dir":"out","kind":"text","text":"a"}"#,
            "\n",
            r#"{"ts":"2026-01-01T00:00:00.400000Z","conn":1,"side":"client","dir":"out","kind":"text","text":"b"}"#,
            "\n"
        ),
    )
    .unwrap();
    let out = client(
        &url,
        &["--send-file", file.to_str().unwrap(), "--speed", "2"],
        "",
    );
    assert!(out.status.success());
    let records = json::stdout(&out);
    let sent: Vec<&Value> = json::frames(&records, "out", "text").collect();
    assert_eq!(sent.len(), 2);
    let ts = |r: &Value| chrono::DateTime::parse_from_rfc3339(r["ts"].as_str().unwrap()).unwrap();
    let gap = (ts(sent[1]) - ts(sent[0])).to_std().unwrap();
    assert!(
        gap >= Duration::from_millis(190),
        "the spacing was not kept: {gap:?}"
    );
}

#[test]
fn a_full_disk_is_reported_and_exits_1() {
    if !Path::new("/dev/full").exists() {
        return;
    }
    let rt = tokio::runtime::Runtime::new().unwrap();
    let (url, _events) = rt.block_on(support::start_server(ServerConfig::default()));
    let out = client(&url, &["--record", "/dev/full"], "x\n");
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("error: writing the recording /dev/full: No space left"),
        "{err}"
    );
}

/// A demo recording of 1.8 s with known times: the client's connection from 0 to
/// 1.8 s with ten echoes in its first second; on the server that connection, and
/// a second one opened at 0.5 s and still open when the recording ends.
fn timed_recording() -> PathBuf {
    let at = |ms: u64| format!("2026-01-01T00:00:{:02}.{:03}Z", ms / 1000, ms % 1000);
    let mut lines = Vec::new();
    let open = |ms: u64, side: &str, conn: u64| {
        format!(
            r#"{{"ts":"{}","conn":{conn},"side":"{side}","event":"open","peer":"127.0.0.1:4000","path":"/","request":"GET / HTTP/1.1","status":"101 Switching Protocols"}}"#,
            at(ms)
        )
    };
    let frame = |ms: u64, side: &str, conn: u64, dir: &str, rtt: &str| {
        format!(
            r#"{{"ts":"{}","conn":{conn},"side":"{side}","dir":"{dir}","kind":"text","len":2,"text":"hi"{rtt}}}"#,
            at(ms)
        )
    };
    lines.push(open(0, "server", 1));
    lines.push(open(0, "client", 1));
    lines.push(open(500, "server", 2));
    for i in 1..=10 {
        let ms = i * 100;
        lines.push(frame(ms, "client", 1, "out", ""));
        lines.push(frame(ms, "server", 1, "in", ""));
        lines.push(frame(ms, "server", 1, "out", ""));
        lines.push(frame(ms, "client", 1, "in", r#","rtt_us":150"#));
    }
    for side in ["client", "server"] {
        lines.push(format!(
            r#"{{"ts":"{}","conn":1,"side":"{side}","event":"close","code":1000,"reason":"","cause":"local"}}"#,
            at(1800)
        ));
    }
    let f = temp("timed.jsonl");
    std::fs::write(&f, lines.join("\n") + "\n").unwrap();
    f
}

#[test]
fn a_replay_shows_the_recorded_durations() {
    use wsprobe::app::Mode;
    use wsprobe::record::reader::RecordingFile;

    let f = timed_recording();
    let file = RecordingFile::open(&f).unwrap();
    assert_eq!(
        file.sides(),
        (true, true),
        "a demo's recording has both sides"
    );
    let setup = wsprobe::tui::Setup::replay(file, 1000);
    assert_eq!(setup.mode, Mode::Demo);
    let dashboard = wsprobe::tui::Dashboard::start(setup).unwrap();
    let state = dashboard.state();

    let c = state.client.as_ref().unwrap();
    assert_eq!(
        c.uptime(state.now),
        Some(Duration::from_millis(1800)),
        "the client's connection was open 1.8 s"
    );
    assert!(
        c.rates.frames_out > 0.0,
        "ten sends in the first second: a rate, not zero"
    );
    let s = state.server.as_ref().unwrap();
    assert_eq!(s.rows.len(), 2, "both connections stay in the table");
    let age = |r: &wsprobe::app::state::ConnRow| {
        r.closed
            .as_ref()
            .map_or(state.now, |c| c.at)
            .saturating_duration_since(r.opened_at)
    };
    assert_eq!(age(&s.rows[0]), Duration::from_millis(1800));
    assert_eq!(
        age(&s.rows[1]),
        Duration::from_millis(1300),
        "open at the end of the recording: aged to its last record"
    );

    // On screen: the ages are whole seconds (`1s`), never `0s`.
    let theme = wsprobe::tui::theme::Theme { no_color: true };
    let screen = wsprobe::tui::fixture::render(state, 160, 40, &theme)
        .backend()
        .to_string();
    assert!(
        screen.contains(" 1s ") && !screen.contains(" 0s "),
        "uptime and ages from the recorded times:\n{screen}"
    );

    // Without a terminal: the summary is timed by the recording too.
    let out = wsprobe(&["replay", f.to_str().unwrap(), "--no-tui"]);
    assert!(out.status.success(), "{out:?}");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("client: sent 10 received 10 (10 matched, 0 unmatched) in 1.80s"),
        "{stderr}"
    );
    assert!(
        stderr.contains("server: 2 connections, received 10 (5.6/s) sent 10 (5.6/s) in 1.80s"),
        "{stderr}"
    );
}
