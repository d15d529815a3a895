//! wsprobe against clients nobody on this project wrote: what a browser page,
//! a Node service or a Python script meets when it talks to `wsprobe server`.

mod support;

use std::process::Stdio;

use support::bin::{run_with_input, wsprobe, ServerProcess};
use support::json::{self, event};
use support::peers::{run_client, Client, PyServer};

/// The clients that fail a connection whose subprotocol offer gets no answer
/// (as browsers do); Python `websockets` tolerates it, so it is not here.
const STRICT: [Client; 3] = [Client::NodeWs, Client::NodeBuiltin, Client::PyWebsocketLib];

#[test]
fn a_default_server_accepts_the_first_subprotocol_offered() {
    let server = ServerProcess::start(&["--json"]);
    for client in STRICT.into_iter().chain([Client::PyWebsockets]) {
        let events = run_client(
            client,
            &server.url,
            &["graphql-ws", "graphql-transport-ws"],
            &["hello"],
        );
        let open = event(&events, "open").unwrap_or_else(|| panic!("{client:?}: {events:?}"));
        assert_eq!(open["protocol"], "graphql-ws", "{client:?}: {events:?}");
        let echo = event(&events, "message").unwrap_or_else(|| panic!("{client:?}: {events:?}"));
        assert_eq!(echo["data"], "hello", "{client:?}");
        assert_eq!(event(&events, "close").unwrap()["code"], 1000, "{client:?}");
        let line = server.wait_for_line("the open event", |l| l.contains("\"event\":\"open\""));
        assert!(line.contains("\"subprotocol\":\"graphql-ws\""), "{line}");
    }
}

#[test]
fn a_subprotocol_list_restricts_what_is_accepted() {
    let server = ServerProcess::start(&["--subprotocol", "chat,v2"]);
    for client in STRICT {
        let events = run_client(client, &server.url, &["graphql-ws", "v2", "chat"], &["x"]);
        let open = event(&events, "open").unwrap_or_else(|| panic!("{client:?}: {events:?}"));
        assert_eq!(open["protocol"], "v2", "{client:?}: {events:?}");
    }
}

#[test]
fn no_subprotocol_refuses_every_offer_and_strict_clients_give_up() {
    let server = ServerProcess::start(&["--no-subprotocol"]);
    for client in STRICT {
        let events = run_client(client, &server.url, &["graphql-ws"], &["x"]);
        assert!(event(&events, "open").is_none(), "{client:?}: {events:?}");
        assert!(event(&events, "error").is_some(), "{client:?}: {events:?}");
    }
    // Without an offer there is nothing to refuse.
    let events = run_client(Client::NodeWs, &server.url, &[], &["plain"]);
    assert_eq!(
        event(&events, "message").unwrap()["data"],
        "plain",
        "{events:?}"
    );
}

#[test]
fn the_client_against_python_websockets_offers_sees_and_closes_cleanly() {
    let server = PyServer::start(&["graphql-ws"]);
    let out = run_with_input(
        wsprobe().args([
            "client",
            &server.url,
            "--json",
            "--subprotocol",
            "chat,graphql-ws",
        ]),
        "hello\nwörld\n",
    );
    assert_eq!(out.status.code(), Some(0), "{out:?}");
    let records = json::stdout(&out);
    let open = event(&records, "open").unwrap();
    assert_eq!(open["subprotocol"], "graphql-ws", "{open}");
    assert_eq!(
        open["request_headers"]["sec-websocket-protocol"],
        "chat, graphql-ws"
    );
    let echoes: Vec<&serde_json::Value> = json::frames(&records, "in", "text")
        .map(|r| &r["text"])
        .collect();
    assert_eq!(echoes, ["hello", "wörld"]);
    // What the server saw: our close, 1000.
    let closed = server.next("the close");
    assert_eq!(
        (closed["event"].as_str(), closed["code"].as_u64()),
        (Some("closed"), Some(1000))
    );
}

/// `python3 -m http.server` (HTTP/1.0) on a free port, killed on drop.
struct HttpServer(std::process::Child, u16);

impl HttpServer {
    fn start() -> HttpServer {
        use std::io::BufRead;
        let dir = std::env::temp_dir().join(format!("wsprobe-http-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        std::fs::write(dir.join("index.html"), "<h1>just a web page</h1>").unwrap();
        let mut child = std::process::Command::new("python3")
            .args([
                "-u",
                "-m",
                "http.server",
                "0",
                "--bind",
                "127.0.0.1",
                "--directory",
            ])
            .arg(&dir)
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        let mut line = String::new();
        std::io::BufReader::new(child.stdout.take().unwrap())
            .read_line(&mut line)
            .unwrap();
        // "Serving HTTP on 127.0.0.1 port 41234 (http://127.0.0.1:41234/) ..."
        let port = line
            .split(" port ")
            .nth(1)
            .and_then(|r| r.split(' ').next())
            .and_then(|p| p.parse().ok())
            .unwrap_or_else(|| panic!("unexpected first line: {line:?}"));
        HttpServer(child, port)
    }
}

impl Drop for HttpServer {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn client_stderr(url: &str) -> (Option<i32>, String) {
    let out = wsprobe()
        .args(["client", url, "--connect-timeout", "5s"])
        .stdin(Stdio::null())
        .output()
        .unwrap();
    (
        out.status.code(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

#[test]
fn an_http_1_0_server_is_shown_with_its_status_line_and_body() {
    let web = HttpServer::start();
    let (code, stderr) = client_stderr(&format!("ws://127.0.0.1:{}/", web.1));
    assert_eq!(code, Some(1), "{stderr}");
    // (The body shows when it arrived with the headers; http.server sends it apart.)
    assert!(
        stderr
            .contains("the server answered `HTTP/1.0 200 OK` instead of `101 Switching Protocols`"),
        "{stderr}"
    );
    // The same server asked for TLS answers in plain text.
    let (code, stderr) = client_stderr(&format!("wss://127.0.0.1:{}/x", web.1));
    assert_eq!(code, Some(1), "{stderr}");
    assert!(
        stderr.contains(&format!("not TLS: use ws://127.0.0.1:{}/x", web.1)),
        "{stderr}"
    );
}

#[test]
fn plain_ws_to_a_tls_server_is_told_to_use_wss_on_both_sides() {
    let server = ServerProcess::start(&["--tls-self-signed", "--json"]);
    let plain = server.url.replacen("wss://", "ws://", 1);
    let (code, stderr) = client_stderr(&format!("{plain}/chat"));
    assert_eq!(code, Some(1), "{stderr}");
    let wss = format!("{}/chat", server.url);
    assert!(
        stderr.contains(&format!("the server speaks TLS: use {wss}")),
        "{stderr}"
    );
    let line = server.wait_for_line("the server's error", |l| l.contains("\"event\":\"error\""));
    assert!(line.contains("sent plain HTTP to this TLS port"), "{line}");
}
