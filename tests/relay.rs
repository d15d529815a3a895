//! `wsprobe relay` between peers nobody on this project wrote: Python
//! `websockets` as the app and as its server, on loopback.

mod support;

use serde_json::Value;
use support::bin::{wsprobe, ServerProcess};
use support::json::{self, event};
use support::lines::Lines;
use support::peers::{run_py, PyServer};

fn upstream() -> PyServer {
    PyServer::script("py_relay_server.py", &["--protocol".into(), "chat".into()])
}

fn relay(upstream: &str, extra: &[&str]) -> ServerProcess {
    ServerProcess::spawn(
        wsprobe()
            .args(["relay", "127.0.0.1:0", upstream, "--json"])
            .args(extra),
    )
}

/// The app's run through the relay: its JSON lines.
fn app(relay: &ServerProcess, path: &str, scenario: &str, extra: &[&str]) -> Vec<Value> {
    let url = format!("{}{path}", relay.url);
    let mut args = vec![
        url.as_str(),
        scenario,
        "--protocol",
        "x",
        "--protocol",
        "chat",
    ];
    args.extend_from_slice(extra);
    run_py("py_relay_client.py", &args)
}

/// The relay's records up to and including the close of conn's server leg.
fn records_until_closed(lines: &Lines, conn: u64) -> Vec<Value> {
    let mut out = Vec::new();
    loop {
        let r = lines.next_record("the relay's records");
        let done = r["event"] == "close" && r["side"] == "server" && r["conn"] == conn;
        out.push(r);
        if done {
            return out;
        }
    }
}

fn messages(events: &[Value]) -> Vec<&Value> {
    events.iter().filter(|e| e["event"] == "message").collect()
}

#[test]
fn a_python_app_and_its_python_server_converse_through_the_relay() {
    let server = upstream();
    let relay = relay(&server.url, &[]);
    let events = app(
        &relay,
        "/echo?a=1",
        "full",
        &[
            "--header",
            "Cookie: s=1",
            "--header",
            "Authorization: Bearer t",
        ],
    );
    assert_eq!(
        event(&events, "open").unwrap()["protocol"],
        "chat",
        "{events:?}"
    );
    let got = messages(&events);
    assert_eq!(got.len(), 6, "{events:?}");
    // What the upstream saw of the app's handshake.
    let greeting: Value = serde_json::from_str(got[0]["data"].as_str().unwrap()).unwrap();
    assert_eq!(greeting["path"], "/echo?a=1");
    let headers = &greeting["headers"];
    assert_eq!(headers["cookie"], "s=1");
    assert_eq!(headers["authorization"], "Bearer t");
    assert_eq!(headers["sec-websocket-protocol"], "x, chat");
    assert!(headers["user-agent"]
        .as_str()
        .unwrap()
        .contains("websockets"));
    let upstream_host = server.url.trim_start_matches("ws://");
    assert_eq!(headers["host"], upstream_host, "Host is the upstream's");
    assert_eq!(got[1]["data"], "hello relay");
    assert_eq!(got[2]["len"], 9);
    let sent = event(&events, "sent").unwrap();
    assert_eq!(got[3]["len"], 16 * 1024 * 1024);
    assert_eq!(
        got[3]["sha256"], sent["sha256"],
        "16 MiB passed both ways intact"
    );
    assert_eq!(got[4]["data"], "fragmented text");
    assert!(event(&events, "pong").is_some(), "{events:?}");
    assert_eq!(got[5]["data"], "pong-ok", "the server's ping was answered");
    let close = event(&events, "close").unwrap();
    assert_eq!(
        (close["code"].as_u64(), close["reason"].as_str()),
        (Some(4000), Some("client bye"))
    );
    let closed = server.next("the close it got");
    assert_eq!(
        closed["code"], 4000,
        "the app's close code reached the server"
    );
    assert_eq!(closed["reason"], "client bye");

    let records = records_until_closed(&relay.stdout, 1);
    let opens: Vec<&Value> = records.iter().filter(|r| r["event"] == "open").collect();
    assert_eq!(opens.len(), 2, "{records:?}");
    assert_eq!(opens[0]["side"], "client");
    assert_eq!(opens[1]["side"], "server");
    assert_eq!(opens[1]["path"], "/echo?a=1");
    for o in &opens {
        assert_eq!(o["subprotocol"], "chat", "{o}");
    }
    let text = |dir: &str| {
        records
            .iter()
            .find(|r| r["direction"] == dir && r["text"] == "hello relay")
            .unwrap_or_else(|| panic!("no {dir} hello relay in {records:?}"))
    };
    assert_eq!(text("client_to_server")["side"], "client");
    let reply = text("server_to_client");
    assert_eq!(reply["side"], "server");
    assert!(reply["latency_us"].as_u64().is_some(), "{reply}");
    assert!(
        records
            .iter()
            .any(|r| r["kind"] == "ping" && r["side"] == "server" && r["dir"] == "in"),
        "the server's ping is shown"
    );
    let closes: Vec<&Value> = records.iter().filter(|r| r["event"] == "close").collect();
    assert_eq!(closes[0]["cause"], "peer", "the client closed its leg");
    assert_eq!(closes[1]["cause"], "local", "the relay closed the server's");
    assert!(closes.iter().all(|c| c["code"] == 4000), "{closes:?}");
}

#[test]
fn the_servers_close_code_and_reason_reach_the_app() {
    let server = upstream();
    let relay = relay(&server.url, &[]);
    let events = app(&relay, "/close", "one", &[]);
    let close = event(&events, "close").unwrap();
    assert_eq!(close["code"], 4001, "{events:?}");
    assert_eq!(close["reason"], "server says bye");
}

#[test]
fn a_server_that_drops_the_connection_closes_the_app_with_1011() {
    let server = upstream();
    let relay = relay(&server.url, &[]);
    let events = app(&relay, "/drop", "one", &[]);
    let close = event(&events, "close").unwrap();
    assert_eq!(close["code"], 1011, "{events:?}");
    assert!(
        close["reason"].as_str().unwrap().contains("server dropped"),
        "{close}"
    );
    let records = records_until_closed(&relay.stdout, 1);
    let server_leg = records.last().unwrap();
    assert_eq!(server_leg["cause"], "error", "{server_leg}");
}

#[test]
fn an_app_that_drops_the_connection_closes_the_server_with_1001() {
    let server = upstream();
    let relay = relay(&server.url, &[]);
    let events = app(&relay, "/echo", "drop", &[]);
    assert!(event(&events, "open").is_some(), "{events:?}");
    let closed = server.next("the close it got");
    assert_eq!(closed["code"], 1001, "{closed}");
    assert!(closed["reason"]
        .as_str()
        .unwrap()
        .contains("client went away"));
}

#[test]
fn a_refused_upgrade_reaches_the_app_as_it_was_said() {
    let server = upstream();
    let relay = relay(&server.url, &[]);
    let events = app(&relay, "/refuse", "handshake", &[]);
    let refused = event(&events, "refused").unwrap_or_else(|| panic!("{events:?}"));
    assert_eq!(refused["status"], 403);
    assert_eq!(refused["body"], "no entry");
    let error = relay.wait_for_line("the relay's error", |l| l.contains("\"event\":\"error\""));
    assert!(error.contains("refused"), "{error}");
}

#[test]
fn an_unreachable_upstream_is_a_502_with_the_reason() {
    // A port nothing listens on: bound, then let go, on a loopback address the
    // other tests do not listen on (a port let go on 127.0.0.1 can be taken
    // by a server another test starts meanwhile).
    let port = std::net::TcpListener::bind("127.0.0.2:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let relay = relay(&format!("ws://127.0.0.2:{port}"), &[]);
    let events = app(&relay, "/x", "handshake", &[]);
    let refused = event(&events, "refused").unwrap_or_else(|| panic!("{events:?}"));
    assert_eq!(refused["status"], 502);
    assert!(
        refused["body"]
            .as_str()
            .unwrap()
            .contains("connection refused"),
        "{refused}"
    );
}

#[test]
fn correlated_latency_pairs_replies_by_their_id() {
    let server = upstream();
    let relay = relay(&server.url, &["--correlate", "$.id"]);
    let out = support::bin::run_with_input(
        wsprobe().args(["client", &relay.url, "--no-tui", "--subprotocol", "chat"]),
        "no id\n{\"id\":1}\n",
    );
    assert!(out.status.success(), "{out:?}");
    let records = records_until_closed(&relay.stdout, 1);
    let reply = |text: &str| {
        records
            .iter()
            .find(|r| r["direction"] == "server_to_client" && r["text"] == text)
            .unwrap_or_else(|| panic!("no reply {text} in {records:?}"))
    };
    // Without --correlate, the echo of "no id" would answer the oldest request.
    assert!(reply("no id").get("latency_us").is_none(), "{records:?}");
    assert!(
        reply("{\"id\":1}")["latency_us"].as_u64().is_some(),
        "{records:?}"
    );
}

#[test]
fn a_bad_upstream_url_is_a_usage_error() {
    for args in [
        vec!["relay", "127.0.0.1:0"],
        vec!["relay", "http://example.com"],
        vec!["relay", "nope", "ws://127.0.0.1:1"],
    ] {
        let out = wsprobe().args(&args).output().unwrap();
        assert_eq!(out.status.code(), Some(2), "{args:?}: {out:?}");
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(!err.contains("panicked"), "{err}");
    }
}

/// An upstream that never reads holds the app back: the relay stops reading
/// from the app instead of queueing what it sent.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_server_that_never_reads_holds_the_app_back() {
    use futures_util::SinkExt;
    use tokio_tungstenite::tungstenite::client::IntoClientRequest;
    use tokio_tungstenite::tungstenite::Message;

    let server = upstream();
    let relay = relay(&server.url, &["-q"]);
    let mut request = format!("{}/silent", relay.url)
        .into_client_request()
        .unwrap();
    request
        .headers_mut()
        .insert("sec-websocket-protocol", "chat".parse().unwrap());
    let (mut ws, _) = tokio_tungstenite::connect_async(request).await.unwrap();
    let chunk = bytes::Bytes::from(vec![7u8; 64 * 1024]);
    let limit = 256 << 20;
    let mut sent = 0usize;
    // A send that takes this long is held back; nothing here waits on time
    // for the verdict, only for the stall to show.
    while sent < limit {
        let send = ws.send(Message::Binary(chunk.clone()));
        match tokio::time::timeout(std::time::Duration::from_secs(2), send).await {
            Ok(Ok(())) => sent += chunk.len(),
            Ok(Err(e)) => panic!("the relay failed the app after {sent} bytes: {e}"),
            Err(_) => break,
        }
    }
    assert!(
        sent < 64 << 20,
        "the relay took {} MiB from the app for a server that reads nothing",
        sent >> 20
    );
}

#[test]
fn a_relay_recording_replays_with_directions_and_exports_one_har_entry_per_pair() {
    let dir = std::env::temp_dir().join(format!("wsprobe-relay-rec-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let file = dir.join("relay.jsonl");
    let har = dir.join("relay.har");
    let server = upstream();
    let mut relay = relay(&server.url, &["--record", file.to_str().unwrap()]);
    let out = support::bin::run_with_input(
        wsprobe().args(["client", &relay.url, "--no-tui", "--subprotocol", "chat"]),
        "hello\n",
    );
    assert!(out.status.success(), "{out:?}");
    records_until_closed(&relay.stdout, 1);
    assert!(relay.sigterm().success());

    let out = wsprobe()
        .args(["replay", file.to_str().unwrap(), "--no-tui"])
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.contains("C→S text 5B hello"), "{text}");
    // The server's greeting may come before or after the request: whichever
    // server message comes first after it is its reply.
    assert!(
        text.lines()
            .any(|l| l.contains("S→C text") && l.contains("latency")),
        "{text}"
    );
    let summary = String::from_utf8_lossy(&out.stderr);
    assert!(summary.contains("relay: 1 pair"), "{summary}");

    let out = wsprobe()
        .args([
            "replay",
            file.to_str().unwrap(),
            "--har",
            har.to_str().unwrap(),
        ])
        .output()
        .unwrap();
    assert!(out.status.success(), "{out:?}");
    let har = json::file(&har);
    let entries = har["log"]["entries"].as_array().unwrap();
    assert_eq!(entries.len(), 1, "one entry per pair");
    let messages: Vec<(&str, &str)> = entries[0]["_webSocketMessages"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| (m["type"].as_str().unwrap(), m["data"].as_str().unwrap()))
        .filter(|(_, d)| !d.starts_with('{'))
        .collect();
    assert_eq!(messages, [("send", "hello"), ("receive", "hello")]);
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn a_relay_recording_becomes_a_mock_server_that_answers_by_id() {
    let dir = support::scratch("mock");
    let file = dir.join("rpc.jsonl");
    let server = upstream();
    let mut relay = relay(&server.url, &["--record", file.to_str().unwrap()]);
    let url = format!("{}/rpc", relay.url);
    let events = support::peers::run_client(
        support::peers::Client::PyWebsockets,
        &url,
        &["chat"],
        &[r#"{"id":1,"method":"sum"}"#, "x"],
    );
    let replies: Vec<&Value> = messages(&events);
    assert_eq!(replies.len(), 2, "{events:?}");
    assert_eq!(replies[1]["data"], r#"{"id": 1, "result": "SUM"}"#);
    records_until_closed(&relay.stdout, 1);
    assert!(relay.sigterm().success());

    let mock = ServerProcess::start(&[
        "--json",
        "--mock",
        file.to_str().unwrap(),
        "--correlate",
        "$.id",
    ]);
    let events = support::peers::run_client(
        support::peers::Client::PyWebsockets,
        &mock.url,
        &[],
        &[r#"{"method":"sum","id":42}"#],
    );
    let got = messages(&events);
    assert_eq!(got.len(), 1, "{events:?}");
    let answer: Value = serde_json::from_str(got[0]["data"].as_str().unwrap()).unwrap();
    assert_eq!(answer, serde_json::json!({"id": 42, "result": "SUM"}));

    // What was never recorded gets no answer, and the server says so.
    support::peers::run_client(
        support::peers::Client::PyWebsockets,
        &mock.url,
        &[],
        &["never recorded"],
    );
    let line = mock.wait_for_line("the mock's word", |l| l.contains("no recorded reply"));
    assert!(line.contains("never recorded"), "{line}");
}

#[test]
fn a_mock_from_a_file_that_is_no_recording_is_a_usage_error() {
    let dir = support::scratch("mock-bad");
    let file = dir.join("x.txt");
    std::fs::write(&file, "hello\n").unwrap();
    let out = wsprobe()
        .args(["server", "127.0.0.1:0", "--mock", file.to_str().unwrap()])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2), "{out:?}");
    assert!(String::from_utf8_lossy(&out.stderr).contains("not a recording"));
}

/// The FILE a self-signed server's trust hint gives to `--ca`.
fn ca_path(hint: &str) -> String {
    hint.split_whitespace()
        .skip_while(|w| *w != "--ca")
        .nth(1)
        .expect("a --ca FILE hint")
        .to_string()
}

#[test]
fn a_wss_upstream_is_relayed_to_a_plain_app_and_its_tls_failure_worded_as_the_clients() {
    let upstream = ServerProcess::start(&["--tls-self-signed", "-q"]);
    let ca = ca_path(&upstream.stderr_lines(3));
    let trusted = relay(&upstream.url, &["--ca", &ca]);
    let events = support::peers::run_client(
        support::peers::Client::PyWebsockets,
        &trusted.url,
        &[],
        &["over tls"],
    );
    assert_eq!(
        event(&events, "message").map(|m| m["data"].clone()),
        Some("over tls".into()),
        "{events:?}"
    );
    let open = record_where(&trusted.stdout, |r| {
        r["event"] == "open" && r["side"] == "server"
    });
    assert!(
        open["tls"].as_str().unwrap().starts_with("TLSv1."),
        "{open}"
    );

    // Without --ca the app gets 502, worded as the client words a failed TLS handshake.
    let untrusted = relay(&upstream.url, &[]);
    let events = app(&untrusted, "/", "handshake", &[]);
    let refused = event(&events, "refused").unwrap_or_else(|| panic!("{events:?}"));
    assert_eq!(refused["status"], 502);
    let body = refused["body"].as_str().unwrap();
    let direct = wsprobe()
        .args(["client", &upstream.url, "--no-tui"])
        .stdin(std::process::Stdio::null())
        .output()
        .unwrap();
    let said = String::from_utf8_lossy(&direct.stderr);
    assert!(said.contains("--ca FILE"), "{said}");
    assert!(body.contains("--ca FILE"), "{body}");
}

fn record_where(lines: &Lines, pred: impl Fn(&Value) -> bool) -> Value {
    loop {
        let r = lines.next_record("the relay's records");
        if pred(&r) {
            return r;
        }
    }
}

#[test]
fn a_clients_recording_becomes_a_mock_too() {
    let dir = support::scratch("mock-client");
    let file = dir.join("client.jsonl");
    let server = ServerProcess::start(&["-q", "--prefix", "Echo: "]);
    let out = support::bin::run_with_input(
        wsprobe().args([
            "client",
            &server.url,
            "--no-tui",
            "--echo-prefix",
            "Echo: ",
            "--record",
            file.to_str().unwrap(),
        ]),
        "hi\n",
    );
    assert!(out.status.success(), "{out:?}");
    let mock = ServerProcess::start(&["--mock", file.to_str().unwrap()]);
    let events = support::peers::run_client(
        support::peers::Client::PyWebsockets,
        &mock.url,
        &[],
        &["hi"],
    );
    let got = messages(&events);
    assert_eq!(got.len(), 1, "{events:?}");
    assert_eq!(
        got[0]["data"], "Echo: hi",
        "the server's answer, not the client's words"
    );
}

#[test]
fn header_flags_add_replace_and_drop_what_goes_upstream() {
    let server = upstream();
    let relay = relay(
        &server.url,
        &["-H", "X-Added: yes", "--drop-header", "User-Agent"],
    );
    let events = support::peers::run_client(
        support::peers::Client::PyWebsockets,
        &relay.url,
        &["chat"],
        &["x"],
    );
    let greeting = messages(&events)
        .first()
        .copied()
        .unwrap_or_else(|| panic!("{events:?}"))
        .clone();
    let seen: Value = serde_json::from_str(greeting["data"].as_str().unwrap()).unwrap();
    assert_eq!(seen["headers"]["x-added"], "yes", "{seen}");
    assert!(seen["headers"].get("user-agent").is_none(), "{seen}");
}
