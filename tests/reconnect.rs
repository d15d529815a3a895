//! `--reconnect`, `--init`/`--init-file` and `--ping-timeout` against servers the
//! test scripts on 127.0.0.1: drops, lost echoes, retries and setup re-run.

mod support;

use std::io::Write;
use std::process::Stdio;
use std::time::Duration;

use futures_util::{SinkExt, StreamExt};
use support::bin::wsprobe;
use support::json;
use support::lines::Lines;
use tokio::net::TcpListener;
use tokio::sync::mpsc;
use tokio_tungstenite::tungstenite::Message;
use wsprobe::net::client::backoff;

/// A server whose first connection echoes its first message, swallows the
/// second and then drops the TCP connection without a close frame; later
/// connections echo everything. Every text message received is reported with
/// the connection's number.
async fn flaky_server() -> (String, mpsc::UnboundedReceiver<(u32, String)>) {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("ws://{}", listener.local_addr().unwrap());
    let (tx, rx) = mpsc::unbounded_channel();
    tokio::spawn(async move {
        let mut n = 0;
        while let Ok((stream, _)) = listener.accept().await {
            n += 1;
            let tx = tx.clone();
            tokio::spawn(async move {
                let Ok(mut ws) = tokio_tungstenite::accept_async(stream).await else {
                    return;
                };
                let mut count = 0;
                while let Some(Ok(msg)) = ws.next().await {
                    let Message::Text(t) = &msg else { continue };
                    count += 1;
                    let _ = tx.send((n, t.to_string()));
                    if n == 1 && count == 2 {
                        return; // dropped: no close frame, no echo
                    }
                    if ws.send(msg).await.is_err() {
                        return;
                    }
                }
            });
        }
    });
    (url, rx)
}

async fn next(rx: &mut mpsc::UnboundedReceiver<(u32, String)>) -> (u32, String) {
    support::within("the server to receive", rx.recv())
        .await
        .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reconnects_re_runs_init_and_counts_lost_echoes() {
    let (url, mut seen) = flaky_server().await;
    let init_file = std::env::temp_dir().join(format!("wsprobe-init-{}", std::process::id()));
    std::fs::write(&init_file, "from-file\n").unwrap();
    let mut child = wsprobe()
        .args([
            "client",
            &url,
            "--json",
            "--reconnect",
            "--reconnect-max-delay",
            "200ms",
        ])
        .args([
            "--init",
            "hello",
            "--init-file",
            init_file.to_str().unwrap(),
        ])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut stdin = child.stdin.take().unwrap();

    // First connection: the init message is echoed, the init file's line is
    // swallowed and the connection dropped.
    assert_eq!(next(&mut seen).await, (1, "hello".into()));
    assert_eq!(next(&mut seen).await, (1, "from-file".into()));
    // Second connection: setup again, then what we type.
    assert_eq!(next(&mut seen).await, (2, "hello".into()));
    assert_eq!(next(&mut seen).await, (2, "from-file".into()));
    stdin.write_all(b"typed\n").unwrap();
    assert_eq!(next(&mut seen).await, (2, "typed".into()));
    drop(stdin);

    let out = support::within(
        "the client to exit",
        tokio::task::spawn_blocking(move || child.wait_with_output()),
    )
    .await
    .unwrap()
    .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let records = json::stdout(&out);
    let events: Vec<&str> = records.iter().filter_map(|r| r["event"].as_str()).collect();
    assert_eq!(
        events,
        ["open", "close", "reconnect", "open", "close", "summary"],
        "{records:#?}"
    );
    let drop = json::event(&records, "close").unwrap();
    assert_eq!(drop["cause"], "error", "{drop}");
    let retry = json::event(&records, "reconnect").unwrap();
    assert_eq!(retry["attempt"], 1);
    assert_eq!(retry["conn"], 2);
    assert_eq!(
        retry["lost"], 1,
        "the swallowed message is lost, not pending"
    );
    assert!(retry["delay_ms"].as_u64().unwrap() <= 200);
    let summary = records.last().unwrap();
    assert_eq!(summary["lost"], 1, "{summary}");
    let last_close = records.iter().rfind(|r| r["event"] == "close").unwrap();
    assert_eq!(last_close["cause"], "local");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn retries_until_the_server_is_back() {
    // Nothing listens yet: the client keeps trying with growing delays.
    let addr = format!("127.0.0.1:{}", support::free_port());
    let mut child = wsprobe()
        .args(["client", &format!("ws://{addr}"), "--json", "--reconnect"])
        .args(["--reconnect-max-delay", "300ms", "--init", "again"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let out = Lines::read(child.stdout.take().unwrap());
    let mut failures = 0;
    while failures < 2 {
        let r = out.next_record("a failed attempt");
        if r["event"] == "error" {
            assert!(r["message"].as_str().unwrap().contains("refused"), "{r}");
            failures += 1;
        }
    }
    // Typed while there is no connection: it waits for the next one.
    let mut stdin = child.stdin.take().unwrap();
    stdin.write_all(b"early\n").unwrap();
    // Now a server appears on that port.
    let listener = TcpListener::bind(&addr).await.unwrap();
    let (stream, _) = support::within("the retry", listener.accept())
        .await
        .unwrap();
    let mut ws = tokio_tungstenite::accept_async(stream).await.unwrap();
    let first = support::within("init", ws.next()).await.unwrap().unwrap();
    assert_eq!(first, Message::text("again"));
    let second = support::within("the early line", ws.next())
        .await
        .unwrap()
        .unwrap();
    assert_eq!(
        second,
        Message::text("early"),
        "init first, then what waited"
    );
    ws.send(first).await.unwrap();
    ws.send(second).await.unwrap();
    while out.next_record("the open")["event"] != "open" {}
    drop(stdin);
    let status = tokio::task::spawn_blocking(move || child.wait());
    let status = support::within("the client to exit", status).await;
    assert!(status.unwrap().unwrap().success());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_unanswered_ping_drops_the_connection() {
    // A server that completes the handshake and then never reads: no pong comes.
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("ws://{}", listener.local_addr().unwrap());
    tokio::spawn(async move {
        let (stream, _) = listener.accept().await.unwrap();
        let _ws = tokio_tungstenite::accept_async(stream).await.unwrap();
        tokio::time::sleep(Duration::from_secs(30)).await;
    });
    let run = tokio::task::spawn_blocking(move || {
        let mut child = wsprobe()
            .args(["client", &url, "--ping-timeout", "300ms"])
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        let _keep_stdin_open = child.stdin.take();
        child.wait_with_output().unwrap()
    });
    let out = support::within("the client to give up", run).await.unwrap();
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("ping timeout: no pong within 300ms"), "{err}");
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(stdout.contains("ping"), "{stdout}");
}

#[test]
fn backoff_doubles_is_capped_and_jittered() {
    let max = Duration::from_secs(30);
    assert_eq!(backoff(1, max, 1.0), Duration::from_millis(500));
    assert_eq!(backoff(1, max, 0.0), Duration::from_millis(250));
    assert_eq!(backoff(3, max, 1.0), Duration::from_secs(2));
    assert_eq!(backoff(10, max, 1.0), max);
    assert_eq!(backoff(1000, max, 1.0), max, "no overflow");
    assert_eq!(backoff(10, max, 0.0), max / 2);
    assert_eq!(
        backoff(2, Duration::from_millis(300), 1.0),
        Duration::from_millis(300)
    );
}

#[test]
fn init_file_that_cannot_be_read_is_a_usage_error() {
    let out = wsprobe()
        .args([
            "client",
            "ws://127.0.0.1:9",
            "--init-file",
            "/nonexistent/init.txt",
        ])
        .stdin(Stdio::null())
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("cannot read --init-file"));
}
