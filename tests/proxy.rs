//! `--proxy`: ws:// and wss:// through an HTTP CONNECT proxy the test runs on
//! 127.0.0.1, with and without credentials, and a proxy that refuses.

mod support;

use std::io::{Read, Write};
use std::net::{Shutdown, TcpListener, TcpStream};
use std::process::{Output, Stdio};
use std::sync::{Arc, Mutex};

use support::bin::{run_with_input, wsprobe};
use support::json;
use wsprobe::net::server::ServerConfig;

#[derive(Clone, Copy)]
enum Behaviour {
    Tunnel,
    /// Tunnels only with `Proxy-Authorization: Basic` for alice:s3cret.
    RequireAuth,
    Refuse,
}

/// A CONNECT proxy on 127.0.0.1:0. Returns its address and the request heads it saw.
fn proxy(behaviour: Behaviour) -> (String, Arc<Mutex<Vec<String>>>) {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap().to_string();
    let seen = Arc::new(Mutex::new(Vec::new()));
    let log = seen.clone();
    std::thread::spawn(move || {
        for conn in listener.incoming() {
            let Ok(conn) = conn else { return };
            let log = log.clone();
            std::thread::spawn(move || serve(conn, behaviour, log));
        }
    });
    (addr, seen)
}

fn serve(mut conn: TcpStream, behaviour: Behaviour, log: Arc<Mutex<Vec<String>>>) {
    let mut head = Vec::new();
    let mut byte = [0u8; 1];
    while !head.ends_with(b"\r\n\r\n") {
        if conn.read(&mut byte).unwrap_or(0) == 0 {
            return;
        }
        head.push(byte[0]);
    }
    let head = String::from_utf8_lossy(&head).into_owned();
    log.lock().unwrap().push(head.clone());
    let target = head
        .strip_prefix("CONNECT ")
        .and_then(|r| r.split(' ').next())
        .unwrap_or_default()
        .to_string();
    // "alice:s3cret" in base64.
    let authorized = head.contains("Proxy-Authorization: Basic YWxpY2U6czNjcmV0\r\n");
    let answer = match behaviour {
        Behaviour::Refuse => Some("HTTP/1.1 403 Forbidden\r\nContent-Length: 0\r\n\r\n"),
        Behaviour::RequireAuth if !authorized => Some(
            "HTTP/1.1 407 Proxy Authentication Required\r\nProxy-Authenticate: Basic realm=\"t\"\r\nContent-Length: 0\r\n\r\n",
        ),
        _ => None,
    };
    if let Some(a) = answer {
        let _ = conn.write_all(a.as_bytes());
        return;
    }
    let Ok(upstream) = TcpStream::connect(&target) else {
        let _ = conn.write_all(b"HTTP/1.1 502 Bad Gateway\r\n\r\n");
        return;
    };
    conn.write_all(b"HTTP/1.1 200 Connection established\r\n\r\n")
        .unwrap();
    let (mut a_read, mut b_write) = (conn.try_clone().unwrap(), upstream.try_clone().unwrap());
    let (mut b_read, mut a_write) = (upstream, conn);
    let up = std::thread::spawn(move || {
        let _ = std::io::copy(&mut a_read, &mut b_write);
        let _ = b_write.shutdown(Shutdown::Write);
    });
    let _ = std::io::copy(&mut b_read, &mut a_write);
    let _ = a_write.shutdown(Shutdown::Write);
    let _ = up.join();
}

/// `wsprobe client URL --json ARGS` with `hello` on stdin.
fn client(url: &str, args: &[&str]) -> Output {
    run_with_input(
        wsprobe()
            .args(["client", url, "--json", "--connect-timeout", "5s"])
            .args(args)
            .env_remove("https_proxy")
            .env_remove("HTTPS_PROXY")
            .env_remove("http_proxy")
            .env_remove("ALL_PROXY")
            .env_remove("all_proxy"),
        "hello\n",
    )
}

fn echoed_hello(out: &Output) -> bool {
    json::stdout(out)
        .iter()
        .any(|r| r["dir"] == "in" && r["text"] == "hello")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ws_goes_through_the_proxy() {
    let (url, _events) = support::start_server(ServerConfig::default()).await;
    let (proxy_addr, seen) = proxy(Behaviour::Tunnel);
    let proxy_url = format!("http://{proxy_addr}");
    let out = tokio::task::spawn_blocking({
        let url = url.clone();
        move || client(&url, &["--proxy", &proxy_url])
    })
    .await
    .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        echoed_hello(&out),
        "{}",
        String::from_utf8_lossy(&out.stdout)
    );
    let records = json::stdout(&out);
    let open = json::event(&records, "open").unwrap();
    assert_eq!(open["proxy"], format!("http://{proxy_addr}"));
    let target = url.trim_start_matches("ws://");
    let heads = seen.lock().unwrap();
    assert_eq!(heads.len(), 1);
    assert!(
        heads[0].starts_with(&format!("CONNECT {target} HTTP/1.1\r\nHost: {target}\r\n")),
        "{}",
        heads[0]
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn wss_goes_through_the_proxy_with_credentials() {
    let tls = wsprobe::net::tls::self_signed().unwrap();
    let config = ServerConfig {
        tls: Some(tls.config.clone()),
        ..ServerConfig::default()
    };
    let (url, _events) = support::start_server(config).await;
    let (proxy_addr, seen) = proxy(Behaviour::RequireAuth);

    let without = format!("http://{proxy_addr}");
    let with = format!("http://alice:s3cret@{proxy_addr}");
    let (refused, ok) = tokio::task::spawn_blocking({
        let url = url.clone();
        move || {
            (
                client(&url, &["--proxy", &without, "--insecure"]),
                client(&url, &["--proxy", &with, "--insecure"]),
            )
        }
    })
    .await
    .unwrap();

    assert_eq!(refused.status.code(), Some(1));
    let err = String::from_utf8_lossy(&refused.stderr);
    assert!(
        err.contains("407 Proxy Authentication Required") && err.contains("user:pass"),
        "{err}"
    );
    assert!(
        ok.status.success(),
        "{}",
        String::from_utf8_lossy(&ok.stderr)
    );
    assert!(echoed_hello(&ok));
    let records = json::stdout(&ok);
    let open = json::event(&records, "open").unwrap();
    assert!(open["tls"].as_str().unwrap().starts_with("TLS"), "{open}");
    // The password is never shown.
    assert_eq!(open["proxy"], format!("http://alice:***@{proxy_addr}"));
    assert!(!String::from_utf8_lossy(&ok.stdout).contains("s3cret"));
    assert_eq!(seen.lock().unwrap().len(), 2);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_refusing_proxy_gives_its_status_line() {
    let (url, _events) = support::start_server(ServerConfig::default()).await;
    let (proxy_addr, _) = proxy(Behaviour::Refuse);
    let proxy_url = format!("http://{proxy_addr}");
    let out = tokio::task::spawn_blocking(move || client(&url, &["--proxy", &proxy_url]))
        .await
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("`HTTP/1.1 403 Forbidden`"), "{err}");
    assert_eq!(err.lines().count(), 1, "{err}");
}

#[test]
fn an_unreachable_proxy_and_a_bad_proxy_url_are_clear() {
    let addr = format!("127.0.0.1:{}", support::free_port());
    let out = client("ws://127.0.0.1:9", &["--proxy", &format!("http://{addr}")]);
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains(&format!("proxy http://{addr}: cannot connect")),
        "{err}"
    );

    let out = client("ws://127.0.0.1:9", &["--proxy", "socks5://127.0.0.1:1080"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("only http:// proxies"));
}

#[test]
fn a_bad_proxy_variable_is_a_usage_error() {
    let out = wsprobe()
        .args(["client", "wss://example.invalid/", "--json"])
        .env("https_proxy", "socks5://127.0.0.1:1")
        .stdin(Stdio::null())
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("https_proxy:") && err.contains("only http://"),
        "{err}"
    );
}
