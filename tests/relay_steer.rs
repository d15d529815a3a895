//! Steering a relayed conversation: a breakpoint holds, lines on stdin forward,
//! edit and drop; faults on each direction, from flags and at run time.

mod support;

use std::io::Write;
use std::process::{ChildStdin, Stdio};

use futures_util::{SinkExt, StreamExt};
use serde_json::Value;
use support::bin::{wsprobe, ServerProcess};
use support::{text, within};
use tokio_tungstenite::tungstenite::Message;

type Ws =
    tokio_tungstenite::WebSocketStream<tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>>;

/// An echo server, and a relay in front of it whose stdin the test writes.
fn relay(extra: &[&str]) -> (ServerProcess, ServerProcess, ChildStdin) {
    let upstream = ServerProcess::start(&["-q"]);
    let mut relay = ServerProcess::spawn(
        wsprobe()
            .args(["relay", "127.0.0.1:0", &upstream.url, "--json"])
            .args(extra)
            .stdin(Stdio::piped()),
    );
    let stdin = relay.child.stdin.take().unwrap();
    (upstream, relay, stdin)
}

/// A line for the relay; a relay that has gone shows in the next wait.
fn say(stdin: &mut ChildStdin, line: &str) {
    let _ = writeln!(stdin, "{line}").and_then(|()| stdin.flush());
}

fn record(relay: &ServerProcess, what: &str, pred: impl Fn(&Value) -> bool) -> Value {
    let line = relay.wait_for_line(what, |l| {
        serde_json::from_str::<Value>(l).is_ok_and(|v| pred(&v))
    });
    serde_json::from_str(&line).unwrap()
}

async fn connect(url: &str) -> Ws {
    within("the connection", tokio_tungstenite::connect_async(url))
        .await
        .unwrap()
        .0
}

async fn next_text(ws: &mut Ws) -> String {
    loop {
        let msg = within("a message", ws.next()).await.unwrap().unwrap();
        if let Message::Text(_) = msg {
            return text(&msg).to_string();
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_breakpoint_holds_and_stdin_forwards_edits_and_drops() {
    let (_upstream, relay, mut stdin) = relay(&["--break", "^secret"]);
    let mut ws = connect(&relay.url).await;
    ws.send(Message::text("secret one")).await.unwrap();
    ws.send(Message::text("plain")).await.unwrap();
    assert_eq!(
        next_text(&mut ws).await,
        "plain",
        "only what matches is held"
    );
    let held = record(&relay, "the held message", |r| r["event"] == "held");
    assert_eq!(held["text"], "secret one");
    assert_eq!(held["direction"], "client_to_server");
    let id = held["held"].as_u64().unwrap();

    say(&mut stdin, &format!("/edit {id} changed"));
    assert_eq!(next_text(&mut ws).await, "changed", "the edit went on");
    let fwd = record(&relay, "the forward", |r| r["event"] == "forwarded");
    assert_eq!(
        (fwd["held"].as_u64(), fwd["edited"].as_bool()),
        (Some(id), Some(true))
    );

    ws.send(Message::text("secret two")).await.unwrap();
    let held = record(&relay, "the second hold", |r| r["event"] == "held");
    say(&mut stdin, &format!("/drop {}", held["held"]));
    record(&relay, "the drop", |r| r["event"] == "dropped");
    ws.send(Message::text("after")).await.unwrap();
    assert_eq!(
        next_text(&mut ws).await,
        "after",
        "the dropped message never came back"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_pause_holds_everything_until_resumed_in_order() {
    let (_upstream, relay, mut stdin) = relay(&["--pause", "client"]);
    let mut ws = connect(&relay.url).await;
    for m in ["1", "2", "3"] {
        ws.send(Message::text(m)).await.unwrap();
    }
    for _ in 0..3 {
        record(&relay, "a held message", |r| r["event"] == "held");
    }
    say(&mut stdin, "/resume client");
    for m in ["1", "2", "3"] {
        assert_eq!(next_text(&mut ws).await, m);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_drop_fault_is_marked_and_can_be_lifted_at_run_time() {
    let (_upstream, relay, mut stdin) = relay(&["--faults-from", "client", "--drop", "100%"]);
    let mut ws = connect(&relay.url).await;
    ws.send(Message::text("lost")).await.unwrap();
    let dropped = record(&relay, "the dropped message", |r| r["event"] == "dropped");
    assert_eq!(dropped["text"], "lost");
    assert!(
        dropped["message"].as_str().unwrap().contains("drop 100%"),
        "{dropped}"
    );
    say(&mut stdin, "/fault off");
    // The relay says on stderr when the change is made.
    relay
        .stderr
        .wait_for("the change", |l| l.contains("no faults"));
    ws.send(Message::text("kept")).await.unwrap();
    assert_eq!(next_text(&mut ws).await, "kept");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn delay_and_fragment_faults_are_marked_and_the_message_arrives_whole() {
    let (_upstream, relay, _stdin) = relay(&[
        "--faults-from",
        "server",
        "--delay",
        "150ms",
        "--fragment",
        "3",
    ]);
    let mut ws = connect(&relay.url).await;
    ws.send(Message::text("slow and in pieces")).await.unwrap();
    assert_eq!(next_text(&mut ws).await, "slow and in pieces");
    let delayed = record(&relay, "the delay", |r| r["event"] == "delayed");
    assert!(delayed["delay_ms"].as_u64().unwrap() >= 150, "{delayed}");
    assert_eq!(delayed["direction"], "server_to_client");
    let frag = record(&relay, "the fragments", |r| r["event"] == "fragmented");
    assert_eq!(frag["fragments"], 3);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_close_after_fault_closes_the_pair_with_its_code() {
    let (_upstream, relay, _stdin) = relay(&[
        "--faults-from",
        "client",
        "--close-after",
        "2",
        "--close-code",
        "4002",
    ]);
    let mut ws = connect(&relay.url).await;
    ws.send(Message::text("a")).await.unwrap();
    ws.send(Message::text("b")).await.unwrap();
    let code = within("the close", async {
        while let Some(Ok(msg)) = ws.next().await {
            if let Message::Close(Some(c)) = msg {
                return u16::from(c.code);
            }
        }
        0
    })
    .await;
    assert_eq!(code, 4002);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn stdin_injects_into_either_leg_of_the_newest_pair() {
    let (_upstream, relay, mut stdin) = relay(&[]);
    let mut ws = connect(&relay.url).await;
    record(&relay, "the server leg", |r| {
        r["event"] == "open" && r["side"] == "server"
    });
    say(&mut stdin, "/inject client to you");
    assert_eq!(next_text(&mut ws).await, "to you");
    // To the server: its echo comes back to the client.
    say(&mut stdin, "/inject server /json {\"id\": 1}");
    assert_eq!(next_text(&mut ws).await, "{\"id\":1}");
    say(&mut stdin, "/close client 4005 done");
    let code = within("the close", async {
        while let Some(Ok(msg)) = ws.next().await {
            if let Message::Close(Some(c)) = msg {
                return u16::from(c.code);
            }
        }
        0
    })
    .await;
    assert_eq!(code, 4005);
}
