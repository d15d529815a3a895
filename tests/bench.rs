//! `wsprobe bench` against the in-process echo server (counts exact) and against
//! test servers that corrupt, drop, reorder or duplicate echoes (all caught).

mod support;

use std::time::Duration;

use futures_util::{SinkExt, StreamExt};
use support::*;
use tokio::net::TcpListener;
use tokio_tungstenite::tungstenite::Message;
use wsprobe::bench::{self, BenchConfig};
use wsprobe::net::client::{parse_ws_url, ClientOptions};
use wsprobe::net::server::ServerConfig;

fn config(url: &str) -> BenchConfig {
    BenchConfig {
        connect: ClientOptions::new(parse_ws_url(url).unwrap()),
        connections: 4,
        messages: Some(2_000),
        duration: None,
        size: 64,
        binary: false,
        window: 8,
        rate: None,
        warmup: Duration::ZERO,
        echo_prefix: None,
        drain: Duration::from_millis(500),
        call: None,
        sources: Vec::new(),
        ramp: None,
        shard: bench::Shard::WHOLE,
        start_at: None,
    }
}

async fn quiet_server(prefix: Option<&str>) -> String {
    start_server(ServerConfig {
        report_frames: false,
        prefix: prefix.map(str::to_string),
        ..ServerConfig::default()
    })
    .await
    .0
}

#[tokio::test]
async fn counts_are_exact_against_the_echo_server() {
    let url = quiet_server(None).await;
    for (binary, window, size) in [(false, 8, 64), (true, 1, 17), (true, 32, 4096)] {
        let mut c = config(&url);
        c.binary = binary;
        c.window = window;
        c.size = size;
        c.messages = Some(2_003);
        let r = within("bench", bench::run(&c)).await;
        assert_eq!(
            (r.checks.sent, r.checks.received, r.checks.measured),
            (2_003, 2_003, 2_003),
            "{}",
            r.text()
        );
        assert!(!r.failed(), "{}", r.text());
        assert_eq!(r.rtt.len(), 2_003);
        assert_eq!(r.tcp.len(), 4);
        assert!(r.messages_per_sec() > 0.0);
        let j = serde_json::to_value(r.to_json()).unwrap();
        for key in [
            "messages_per_sec",
            "mb_per_sec",
            "sent",
            "received",
            "mismatched",
            "lost",
            "reordered",
            "duplicated",
            "errors",
        ] {
            assert!(j.get(key).is_some(), "json lacks {key}");
        }
        for key in ["min", "p50", "p90", "p99", "p999", "max", "mean", "stdev"] {
            assert!(j["rtt_us"].get(key).is_some(), "rtt_us lacks {key}");
        }
        assert!(j["connect_us"]["p50"].is_u64() && j["connect_us"]["p99"].is_u64());
    }
}

#[tokio::test]
async fn echo_prefix_is_understood() {
    let url = quiet_server(Some("Echo: ")).await;
    let mut c = config(&url);
    c.drain = Duration::from_millis(300);
    let r = within("bench", bench::run(&c)).await;
    assert_eq!(
        r.checks.mismatched, 32,
        "without --echo-prefix every echo differs (a window per connection)"
    );
    assert_eq!(
        r.errors.get("timeout"),
        Some(&4),
        "then the run gives up: {}",
        r.text()
    );
    c.echo_prefix = Some("Echo: ".into());
    let r = within("bench", bench::run(&c)).await;
    assert!(!r.failed(), "{}", r.text());
    assert_eq!(r.checks.measured, 2_000);
}

#[tokio::test]
async fn duration_mode_and_open_loop_stop_by_themselves() {
    let url = quiet_server(None).await;
    let mut c = config(&url);
    c.messages = None;
    c.duration = Some(Duration::from_millis(300));
    let r = within("duration bench", bench::run(&c)).await;
    assert!(
        r.checks.sent > 0 && r.checks.sent == r.checks.received && !r.failed(),
        "{}",
        r.text()
    );
    c.rate = Some(1_000.0);
    c.duration = Some(Duration::from_millis(500));
    let r = within("open loop bench", bench::run(&c)).await;
    // 1000/s for half a second: about 500, give or take scheduling.
    assert!(
        (400..=600).contains(&r.checks.sent),
        "open loop sent {}",
        r.checks.sent
    );
    assert!(!r.failed(), "{}", r.text());
}

#[tokio::test]
async fn warmup_echoes_are_checked_but_not_measured() {
    let url = quiet_server(None).await;
    let mut c = config(&url);
    c.messages = None;
    c.connections = 1;
    c.window = 1;
    c.rate = Some(200.0);
    c.warmup = Duration::from_millis(250);
    c.duration = Some(Duration::from_millis(250));
    let r = within("bench", bench::run(&c)).await;
    assert!(
        r.checks.measured < r.checks.received,
        "{} measured of {}",
        r.checks.measured,
        r.checks.received
    );
    assert!(r.checks.measured > 0);
}

/// A server whose echo of message i is `mangle(i, msg)` (None: no echo).
async fn misbehaving_server(mangle: fn(u64, Message) -> Vec<Message>) -> String {
    serve(TcpListener::bind("127.0.0.1:0").await.unwrap(), mangle)
}

/// Answers each data message on `listener` with what `mangle` makes of it,
/// reading the next only once those are sent (as most simple servers do).
fn serve(listener: TcpListener, mangle: fn(u64, Message) -> Vec<Message>) -> String {
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        while let Ok((stream, _)) = listener.accept().await {
            tokio::spawn(async move {
                let Ok(mut ws) = tokio_tungstenite::accept_async(stream).await else {
                    return;
                };
                let mut i = 0u64;
                while let Some(Ok(msg)) = ws.next().await {
                    if !(msg.is_text() || msg.is_binary()) {
                        continue;
                    }
                    for out in mangle(i, msg) {
                        if ws.send(out).await.is_err() {
                            return;
                        }
                    }
                    i += 1;
                }
            });
        }
    });
    format!("ws://{addr}")
}

/// An echo that reads no more while it writes, with small socket buffers:
/// what the bench sends ahead fills them at once.
fn narrow_echo() -> String {
    let socket = tokio::net::TcpSocket::new_v4().unwrap();
    socket.set_recv_buffer_size(64 * 1024).unwrap();
    socket.set_send_buffer_size(64 * 1024).unwrap();
    socket.bind("127.0.0.1:0".parse().unwrap()).unwrap();
    serve(socket.listen(16).unwrap(), |_, m| vec![m])
}

#[tokio::test]
async fn a_window_of_big_messages_does_not_stall_an_echo_that_reads_no_more_while_it_writes() {
    // 16 MiB sent ahead: were the bench to read nothing until all of it was
    // out, the server's echo would wait on the bench and the bench on the
    // server, for ever.
    let url = narrow_echo();
    let mut c = one_connection(&url);
    c.binary = true;
    c.size = 4 << 20;
    c.window = 4;
    c.messages = Some(8);
    c.drain = Duration::from_secs(5);
    let r = within("bench", bench::run(&c)).await;
    assert_eq!(
        (r.checks.received, r.checks.lost, r.checks.mismatched),
        (8, 0, 0),
        "{}",
        r.text()
    );
}

#[test]
fn sigterm_stops_a_headless_run_and_its_report_still_comes() {
    use std::process::Stdio;
    use support::bin::{output_within, sigterm, wsprobe, ServerProcess};
    let server = ServerProcess::start(&["--json"]);
    let child = wsprobe()
        .args(["bench", &server.url, "-c", "2", "-d", "60s", "--json"])
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    // Running once the server has seen both connections.
    for _ in 0..2 {
        server.stdout.wait_for("the bench's connections", |l| {
            l.contains(r#""event":"open""#)
        });
    }
    sigterm(&child);
    let out = output_within(child, "SIGTERM did not stop the bench");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!stderr.contains("panicked"), "{stderr}");
    let report = json::parse_line(String::from_utf8_lossy(&out.stdout).trim());
    assert_eq!(report["stopped_early"], true, "{report}");
    assert_eq!(report["connected"], 2, "{report}");
}

fn one_connection(url: &str) -> BenchConfig {
    let mut c = config(url);
    c.connections = 1;
    c.window = 4;
    c.messages = Some(100);
    c
}

#[tokio::test]
async fn corrupted_echoes_are_mismatched() {
    let url = misbehaving_server(|i, m| {
        if i == 10 {
            let mut b = m.into_data().to_vec();
            b[40] ^= 1;
            vec![Message::binary(b)]
        } else {
            vec![m]
        }
    })
    .await;
    let mut c = one_connection(&url);
    c.binary = true;
    let r = within("bench", bench::run(&c)).await;
    assert_eq!(r.checks.mismatched, 1, "{}", r.text());
    assert_eq!(r.checks.lost, 1, "the corrupted one never came back intact");
    assert!(r.failed());
}

#[tokio::test]
async fn dropped_echoes_are_lost_after_the_timeout() {
    let url = misbehaving_server(|i, m| if i % 10 == 3 { vec![] } else { vec![m] }).await;
    let mut c = one_connection(&url);
    c.window = 100;
    let r = within("bench", bench::run(&c)).await;
    assert_eq!(r.checks.lost, 10, "{}", r.text());
    assert_eq!(r.errors.get("timeout"), Some(&1));
    assert!(r.failed());
}

#[tokio::test]
async fn reordered_and_duplicated_echoes_are_counted() {
    // Swap each pair: 1 0 3 2 …
    let url = misbehaving_server(|i, m| {
        thread_local!(static HELD: std::cell::RefCell<Option<Message>> = const { std::cell::RefCell::new(None) });
        HELD.with(|h| {
            if i % 2 == 0 {
                *h.borrow_mut() = Some(m);
                vec![]
            } else {
                vec![m, h.borrow_mut().take().unwrap()]
            }
        })
    })
    .await;
    let mut c = one_connection(&url);
    c.window = 10;
    let r = within("bench", bench::run(&c)).await;
    assert_eq!(r.checks.reordered, 50, "{}", r.text());
    assert_eq!(
        r.checks.lost + r.checks.mismatched + r.checks.duplicated,
        0,
        "{}",
        r.text()
    );

    let url = misbehaving_server(|i, m| if i == 5 { vec![m.clone(), m] } else { vec![m] }).await;
    let r = within("bench", bench::run(&one_connection(&url))).await;
    assert_eq!(r.checks.duplicated, 1, "{}", r.text());
    assert!(r.failed());
}

#[tokio::test]
async fn a_server_that_closes_early_is_an_error() {
    let url = misbehaving_server(|i, m| {
        if i == 20 {
            vec![Message::Close(None)]
        } else {
            vec![m]
        }
    })
    .await;
    let r = within("bench", bench::run(&one_connection(&url))).await;
    assert_eq!(r.errors.get("closed early"), Some(&1), "{}", r.text());
    assert!(r.checks.lost > 0);
}

#[tokio::test]
async fn refused_connections_are_errors_with_a_message() {
    let port = free_port();
    let c = config(&format!("ws://127.0.0.1:{port}"));
    let r = within("bench", bench::run(&c)).await;
    assert_eq!(r.errors.get("connect failed"), Some(&4));
    assert!(r.first_error.as_deref().unwrap().contains("refused"));
}

#[tokio::test]
async fn no_connection_reports_why_and_no_zeros() {
    let c = config(&format!("ws://127.0.0.1:{}", free_port()));
    let r = within("bench", bench::run(&c)).await;
    assert!(r.no_connection() && r.failed(), "{}", r.text());
    let text = r.text();
    assert!(text.contains("No connection succeeded"), "{text}");
    assert!(text.contains("refused"), "the first error is said: {text}");
    for zero in ["Throughput", "messages/s", "Round trip", "p50", "Connect "] {
        assert!(!text.contains(zero), "no table of zeros ({zero}): {text}");
    }
    let j = serde_json::to_value(r.to_json()).unwrap();
    for key in ["messages_per_sec", "mb_per_sec", "duration_secs"] {
        assert!(j[key].is_null(), "{key} is null: {j}");
    }
    for key in ["min", "p50", "p90", "p99", "p999", "max", "mean", "stdev"] {
        assert!(j["rtt_us"][key].is_null(), "rtt_us.{key} is null: {j}");
    }
    assert!(j["connect_us"]["p50"].is_null(), "{j}");
    assert_eq!(j["connected"], 0);
    assert_eq!(j["errors"]["connect failed"], 4);
    assert!(
        j["first_error"].as_str().unwrap().contains("refused"),
        "{j}"
    );
}

#[test]
fn the_binary_exits_1_and_says_no_connection_succeeded() {
    let url = format!("ws://127.0.0.1:{}", free_port());
    let run = |json: bool| {
        let mut cmd = support::bin::wsprobe();
        cmd.args(["bench", &url, "-n", "10", "-c", "2"]);
        if json {
            cmd.arg("--json");
        }
        cmd.output().unwrap()
    };
    let out = run(false);
    assert_eq!(out.status.code(), Some(1), "{out:?}");
    let (stdout, stderr) = (
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr),
    );
    assert!(stdout.contains("No connection succeeded"), "{stdout}");
    assert!(!stdout.contains("messages/s"), "{stdout}");
    assert!(
        stderr.contains("no connection succeeded") && stderr.contains("refused"),
        "{stderr}"
    );
    let out = run(true);
    assert_eq!(out.status.code(), Some(1), "{out:?}");
    let j: serde_json::Value = serde_json::from_slice(&out.stdout).expect("one JSON object");
    assert!(
        j["messages_per_sec"].is_null() && j["rtt_us"]["p99"].is_null(),
        "{j}"
    );
    assert_eq!(j["errors"]["connect failed"], 2, "{j}");
}

#[test]
fn bad_settings_are_usage_errors() {
    let mut c = config("ws://127.0.0.1:1");
    c.size = 8;
    assert!(c.validate().unwrap_err().contains("at least 17"));
    let mut c = config("ws://127.0.0.1:1");
    c.window = 0;
    assert!(c.validate().is_err());
    let mut c = config("ws://127.0.0.1:1");
    c.rate = Some(-1.0);
    assert!(c.validate().is_err());
}
