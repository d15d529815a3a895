//! `--protocol` against real servers nobody on this project wrote:
//! python-socketio, strawberry (GraphQL over WebSocket, both protocols),
//! jsonrpcserver and Debian's mosquitto, all on loopback.

mod support;

use std::io::Write;
use std::process::{Child, ChildStdin, ExitStatus, Stdio};

use serde_json::Value;
use support::bin::{run_with_input, wsprobe, ServerProcess};
use support::json;
use support::lines::Lines;
use support::peers::{run_py, PyServer};

/// A `wsprobe client --json` whose input stays open until `finish`, so a test
/// types into it, reads what came back, and types again.
struct Client {
    child: Child,
    stdin: Option<ChildStdin>,
    out: Lines,
    /// Every record read so far.
    seen: Vec<Value>,
    /// Records read while waiting for another, not yet waited for: what a
    /// peer sends in either order is found either way.
    backlog: Vec<Value>,
}

impl Client {
    fn start(url: &str, args: &[&str]) -> Client {
        let mut child = wsprobe()
            .args(["client", url, "--json"])
            .args(args)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        Client {
            stdin: child.stdin.take(),
            out: Lines::read(child.stdout.take().unwrap()),
            child,
            seen: Vec::new(),
            backlog: Vec::new(),
        }
    }

    /// Types a line; a client that already left is found out by `wait`.
    fn send(&mut self, line: &str) {
        if let Some(stdin) = self.stdin.as_mut() {
            match writeln!(stdin, "{line}").and_then(|()| stdin.flush()) {
                Ok(()) => {}
                Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => {}
                Err(e) => panic!("cannot write to the client: {e}"),
            }
        }
    }

    /// The first record not yet waited for that satisfies `pred`.
    fn wait(&mut self, what: &str, pred: impl Fn(&Value) -> bool) -> Value {
        if let Some(at) = self.backlog.iter().position(&pred) {
            return self.backlog.remove(at);
        }
        loop {
            let r = self.out.next_record(what);
            self.seen.push(r.clone());
            if pred(&r) {
                return r;
            }
            self.backlog.push(r);
        }
    }

    /// Ends the input and reads the rest: the records and how it exited.
    fn finish(mut self) -> (Vec<Value>, ExitStatus) {
        drop(self.stdin.take());
        for line in self.out.rest("the client's last records") {
            self.seen.push(json::parse_line(&line));
        }
        let status = self.child.wait().unwrap();
        (self.seen, status)
    }
}

fn summary(r: &Value) -> &str {
    r["decoded"]["summary"].as_str().unwrap_or("")
}

fn decoded_as<'a>(records: &'a [Value], dir: &str, needle: &str) -> Vec<&'a Value> {
    records
        .iter()
        .filter(|r| r["dir"] == dir && summary(r).contains(needle))
        .collect()
}

#[test]
fn socketio_events_acks_and_attachments_and_pings_answered() {
    let server = PyServer::script("py_socketio_server.py", &["--fast-ping".into()]);
    let mut c = Client::start(
        &server.url,
        &["--protocol", "socketio", "--namespace", "/chat"],
    );
    c.wait("the namespace joined", |r| {
        r["dir"] == "in" && summary(r).starts_with("/chat connected sid")
    });
    c.send("/emit add 2 3");
    let ack = c.wait("the ack", |r| r["reply_to"] == "add");
    assert_eq!(summary(&ack), "/chat ack #1(5)");
    assert!(ack["latency_us"].as_u64().is_some(), "{ack}");
    assert_eq!(ack["decoded"]["protocol"], "socket.io");
    assert_eq!(ack["decoded"]["fields"]["ack_id"], "1");
    c.send("/emit-noack bin");
    c.wait("the attachment", |r| {
        r["kind"] == "binary" && summary(r) == "binary attachment (3 B)"
    });
    // The server pings each second and drops a client silent for two more:
    // three pongs later the connection is still there.
    for n in 1..=3 {
        c.wait(&format!("pong {n}"), |r| {
            r["dir"] == "out" && summary(r) == "engine.io pong"
        });
    }
    c.send("/emit echo \"still here\"");
    c.wait("the echo after the pings", |r| {
        r["dir"] == "in" && summary(r) == "/chat event echo(\"still here\")"
    });
    let (records, status) = c.finish();
    assert!(status.success(), "{records:?}");
    let close = json::event(&records, "close").expect("a close record");
    assert_eq!(close["cause"], "local", "the client closed, not the server");
    let got = server.next("the event");
    assert_eq!(got["name"], "add");
    assert_eq!(got["namespace"], "/chat");
    let summary_record = json::event(&records, "summary").expect("a summary");
    assert!(
        summary_record["reply_by_request_us"]["add"]["count"].as_u64() == Some(1),
        "{summary_record}"
    );
}

#[test]
fn socketio_is_found_out_from_the_open_packet_and_an_http_url_needs_the_protocol() {
    let server = PyServer::script("py_socketio_server.py", &["--fast-ping".into()]);
    let endpoint = format!(
        "{}socket.io/?EIO=4&transport=websocket",
        server.url.replacen("http://", "ws://", 1)
    );
    // No --protocol: auto reads the open packet, joins "/" and answers pings.
    let mut c = Client::start(&endpoint, &[]);
    let welcome = c.wait("the welcome event", |r| {
        summary(r).starts_with("event welcome(")
    });
    assert_eq!(welcome["decoded"]["protocol"], "socket.io");
    c.wait("a pong", |r| {
        r["dir"] == "out" && summary(r) == "engine.io pong"
    });
    let (_, status) = c.finish();
    assert!(status.success());

    let out = run_with_input(wsprobe().args(["client", &server.url, "--no-tui"]), "");
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("--protocol socketio"), "{err}");
}

fn graphql(args: &[&str]) -> (PyServer, Client) {
    let server = PyServer::script("py_graphql_server.py", &[]);
    let mut all = vec!["--protocol", "graphql-ws"];
    all.extend_from_slice(args);
    let c = Client::start(&server.url, &all);
    (server, c)
}

#[test]
fn graphql_transport_ws_subscriptions_queries_and_errors() {
    let (_server, mut c) = graphql(&[]);
    let opened = c.wait("the handshake", |r| r["event"] == "open");
    assert_eq!(opened["subprotocol"], "graphql-transport-ws");
    c.wait("the ack", |r| summary(r) == "connection_ack");
    c.send("/subscribe subscription { count(to: 3) }");
    let first = c.wait("the first result", |r| {
        r["dir"] == "in" && summary(r).starts_with("next #1")
    });
    assert_eq!(first["reply_to"], "subscription count", "{first}");
    assert_eq!(
        first["decoded"]["fields"]["data"],
        serde_json::json!({"count": 1})
    );
    c.wait("the end of the subscription", |r| {
        summary(r) == "complete #1"
    });
    c.send("/query { boom }");
    let boom = c.wait("the error", |r| {
        r["dir"] == "in" && summary(r).starts_with("next #2")
    });
    assert_eq!(boom["decoded"]["fields"]["errors"], "boom requested");
    c.send(r#"/query query ($n: String) { hello(name: $n) } {"n": "vars"}"#);
    let hello = c.wait("the query's result", |r| {
        r["dir"] == "in" && summary(r).starts_with("next #3")
    });
    assert!(summary(&hello).contains("Hello, vars!"), "{hello}");
    let (records, status) = c.finish();
    assert!(status.success());
    let nexts = decoded_as(&records, "in", "next #1");
    assert_eq!(nexts.len(), 3, "one result per count");
    let timed: Vec<_> = nexts.iter().filter(|r| r["latency_us"].is_u64()).collect();
    assert_eq!(timed.len(), 1, "latency is to the first result only");
}

#[test]
fn legacy_graphql_ws_is_spoken_when_the_server_picks_it() {
    let (_server, mut c) = graphql(&["--subprotocol", "graphql-ws"]);
    let opened = c.wait("the handshake", |r| r["event"] == "open");
    assert_eq!(opened["subprotocol"], "graphql-ws");
    c.wait("the ack", |r| summary(r) == "connection_ack");
    c.send("/subscribe subscription { count(to: 2) }");
    let data = c.wait("data", |r| {
        r["dir"] == "in" && summary(r).starts_with("data #1")
    });
    assert_eq!(data["decoded"]["protocol"], "graphql-ws");
    assert_eq!(data["reply_to"], "subscription count");
    c.wait("complete", |r| summary(r) == "complete #1");
    let (records, _) = c.finish();
    let start = decoded_as(&records, "out", "start #1");
    assert_eq!(start.len(), 1, "the legacy protocol starts an operation");
}

#[test]
fn json_rpc_calls_pair_with_replies_that_come_out_of_order() {
    let server = PyServer::script("py_jsonrpc_server.py", &[]);
    // `auto` reads JSON-RPC wherever it is said.
    let input = concat!(
        "/call sleep 300\n",
        "/call add 1 2\n",
        "/call nope\n",
        r#"[{"jsonrpc":"2.0","id":"b1","method":"echo","params":["x"]},{"jsonrpc":"2.0","id":"b2","method":"fail"}]"#,
        "\n"
    );
    // The client waits for a reply to each line before it closes.
    let out = run_with_input(wsprobe().args(["client", &server.url, "--json"]), input);
    assert!(out.status.success());
    let records = json::stdout(&out);
    let reply = |method: &str| {
        records
            .iter()
            .find(|r| r["reply_to"] == method)
            .unwrap_or_else(|| panic!("no reply to {method}: {records:?}"))
    };
    assert_eq!(summary(reply("add")), "result #2 3");
    assert_eq!(reply("nope")["decoded"]["fields"]["code"], "-32601");
    assert!(summary(reply("echo")).starts_with("batch of 2"));
    let sleep = reply("sleep");
    assert_eq!(summary(sleep), "result #1 300");
    assert!(
        sleep["latency_us"].as_u64() >= Some(300_000),
        "the slow call is timed to its own reply: {sleep}"
    );
    let s = json::event(&records, "summary").expect("a summary");
    for method in ["sleep", "add", "nope", "echo"] {
        assert_eq!(
            s["reply_by_request_us"][method]["count"], 1,
            "{method}: {s}"
        );
    }
    assert!(s["reply_us"]["count"].as_u64() >= Some(4));
}

#[test]
fn json_rpc_pushes_are_decoded_but_pair_with_nothing() {
    let server = PyServer::script("py_jsonrpc_server.py", &["--push".into()]);
    let mut c = Client::start(&server.url, &["--protocol", "jsonrpc"]);
    let tick = c.wait("a pushed notification", |r| r["dir"] == "in");
    assert_eq!(summary(&tick), r#"notify tick {"n":1}"#);
    assert!(tick.get("latency_us").is_none());
    let (_, status) = c.finish();
    assert!(status.success());
}

#[test]
fn bench_load_tests_a_json_rpc_endpoint() {
    let server = PyServer::script("py_jsonrpc_server.py", &[]);
    let run = |call: &[&str]| {
        let out = wsprobe()
            .args([
                "bench",
                &server.url,
                "--protocol",
                "jsonrpc",
                "-c",
                "2",
                "-n",
                "40",
                "--json",
            ])
            .arg("--call")
            .args(call)
            .stdin(Stdio::null())
            .output()
            .unwrap();
        let report: Value = serde_json::from_slice(&out.stdout).expect("a JSON report");
        (out.status.code(), report)
    };
    let (code, report) = run(&["add", "[1,2]"]);
    assert_eq!(code, Some(0), "{report}");
    assert_eq!(report["received"], 40);
    assert_eq!(report["measured"], 40);
    assert_eq!(report["mismatched"], 0);
    let (code, report) = run(&["fail"]);
    assert_eq!(code, Some(1), "error replies fail the run: {report}");
    assert_eq!(report["errors"]["error replies"], 40);
    let out = wsprobe()
        .args(["bench", &server.url, "--protocol", "jsonrpc", "-n", "1"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2), "--call is needed");
}

#[test]
fn the_server_and_the_relay_decode_what_crosses_them() {
    // The server reads what a Python client sends it.
    let server = ServerProcess::start(&["--json", "--protocol", "jsonrpc"]);
    let call = r#"{"jsonrpc":"2.0","id":7,"method":"sum","params":[1,2]}"#;
    run_py("py_client.py", &[&server.url, "--send", call]);
    let line = server.wait_for_line("the call", |l| l.contains(r#""dir":"in""#));
    let r = json::parse_line(&line);
    assert_eq!(summary(&r), "call sum #7 [1,2]");

    // The relay times each call to its reply by id, and names it.
    let upstream = PyServer::script("py_jsonrpc_server.py", &[]);
    let relay =
        ServerProcess::spawn(wsprobe().args(["relay", "127.0.0.1:0", &upstream.url, "--json"]));
    let input = "/call sleep 200\n/call add 2 2\n";
    let out = run_with_input(wsprobe().args(["client", &relay.url, "--no-tui"]), input);
    assert!(out.status.success());
    let mut replies = std::collections::BTreeMap::new();
    while replies.len() < 2 {
        let line = relay.wait_for_line("a reply", |l| l.contains("reply_to"));
        let r = json::parse_line(&line);
        replies.insert(r["reply_to"].as_str().unwrap_or("").to_string(), r);
    }
    assert_eq!(summary(&replies["add"]), "result #2 4");
    assert_eq!(summary(&replies["sleep"]), "result #1 200");
    assert!(replies["sleep"]["latency_us"].as_u64() >= Some(200_000));
}

fn mqtt(version: &str) {
    let broker = PyServer::script("py_mosquitto.py", &[]);
    let mut c = Client::start(&broker.url, &["--protocol", version]);
    let opened = c.wait("the handshake", |r| r["event"] == "open");
    assert_eq!(opened["subprotocol"], "mqtt", "offered for the protocol");
    let connack = c.wait("CONNACK", |r| summary(r).starts_with("CONNACK"));
    assert_eq!(summary(&connack), "CONNACK accepted", "{connack}");
    assert_eq!(connack["reply_to"], "CONNECT");
    c.send("/subscribe t/# 1");
    let suback = c.wait("SUBACK", |r| summary(r).starts_with("SUBACK"));
    assert_eq!(suback["reply_to"], "SUBSCRIBE", "{suback}");
    c.send("/publish t/a --qos 1 hello");
    let puback = c.wait("PUBACK", |r| {
        r["dir"] == "in" && summary(r).starts_with("PUBACK")
    });
    assert_eq!(puback["reply_to"], "PUBLISH t/a", "{puback}");
    let delivered = c.wait("the message back", |r| {
        r["dir"] == "in" && summary(r).starts_with("PUBLISH t/a")
    });
    assert_eq!(delivered["decoded"]["fields"]["payload"], "hello");
    assert_eq!(delivered["decoded"]["fields"]["qos"], "1");
    let id = delivered["decoded"]["fields"]["packet_id"]
        .as_str()
        .unwrap()
        .to_string();
    c.wait("our PUBACK for it", |r| {
        r["dir"] == "out" && summary(r) == format!("PUBACK #{id}")
    });
    c.send("/pingreq");
    let pong = c.wait("PINGRESP", |r| summary(r) == "PINGRESP");
    assert_eq!(pong["reply_to"], "PINGREQ");
    let (records, _) = c.finish();
    let connect = decoded_as(&records, "out", "CONNECT client");
    let level = if version == "mqtt5" { "v5" } else { "v3.1.1" };
    assert!(summary(connect[0]).contains(level), "{}", connect[0]);
}

#[test]
fn mqtt_3_1_1_with_mosquitto() {
    mqtt("mqtt");
}

#[test]
fn mqtt_5_with_mosquitto() {
    mqtt("mqtt5");
}

#[test]
fn stomp_with_rabbitmq_web_stomp() {
    // An Erlang VM takes its time to start, the more so on a loaded machine.
    let start = std::time::Duration::from_secs(90);
    let broker = PyServer::script_within("py_rabbitmq.py", &[], start);
    let login = r#"{"login":"guest","passcode":"guest"}"#;
    let mut c = Client::start(
        &broker.url,
        &["--protocol", "stomp", "--connect-payload", login],
    );
    let opened = c.wait("the handshake", |r| r["event"] == "open");
    assert_eq!(
        opened["subprotocol"], "v12.stomp",
        "offered for the protocol"
    );
    let connected = c.wait("CONNECTED", |r| r["dir"] == "in");
    assert!(
        summary(&connected).starts_with("CONNECTED version 1.2"),
        "{connected}"
    );
    assert_eq!(connected["reply_to"], "CONNECT");
    c.send("/subscribe /queue/wsprobe-test");
    let receipt = c.wait("the subscription's receipt", |r| {
        r["dir"] == "in" && summary(r).starts_with("RECEIPT")
    });
    assert_eq!(receipt["reply_to"], "SUBSCRIBE /queue/wsprobe-test");
    c.send("/send /queue/wsprobe-test hello stomp");
    let message = c.wait("the message", |r| {
        r["dir"] == "in" && summary(r).starts_with("MESSAGE")
    });
    assert!(summary(&message).ends_with("hello stomp"), "{message}");
    let receipt = c.wait("the send's receipt", |r| {
        r["dir"] == "in" && summary(r).starts_with("RECEIPT")
    });
    assert_eq!(receipt["reply_to"], "SEND /queue/wsprobe-test");
    let (records, status) = c.finish();
    assert!(status.success(), "{records:?}");
}

#[test]
fn a_piped_emit_waits_for_its_ack_not_for_the_namespace_joined() {
    let server = PyServer::script("py_socketio_server.py", &[]);
    let out = run_with_input(
        wsprobe().args(["client", &server.url, "--protocol", "socketio", "--json"]),
        "/emit add 20 22\n",
    );
    assert!(out.status.success());
    let records = json::stdout(&out);
    let ack = records
        .iter()
        .find(|r| r["reply_to"] == "add")
        .unwrap_or_else(|| panic!("the run ended before the ack: {records:?}"));
    assert_eq!(summary(ack), "ack #1(42)");
    let s = json::event(&records, "summary").expect("a summary");
    assert_eq!(s["reply_by_request_us"]["connect"]["count"], 1, "{s}");
}
