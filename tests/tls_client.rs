//! `wss://` against a TLS echo server the test builds with rustls and a
//! self-signed certificate (rcgen): verification, `--ca`, `--insecure`.

mod support;

use std::process::{Command, Stdio};
use std::sync::Arc;

use assert_cmd::cargo::CommandCargoExt;
use futures_util::{SinkExt, StreamExt};
use rustls::pki_types::PrivateKeyDer;
use tokio::net::TcpListener;

/// A TLS echo server on 127.0.0.1:0; returns its wss:// URL and the CA PEM.
fn tls_echo_server() -> (String, String) {
    let ck =
        rcgen::generate_simple_self_signed(vec!["127.0.0.1".to_string(), "localhost".to_string()])
            .unwrap();
    let cert = ck.cert.der().clone();
    let key = PrivateKeyDer::try_from(ck.signing_key.serialize_der()).unwrap();
    let config = rustls::ServerConfig::builder_with_provider(Arc::new(
        rustls::crypto::ring::default_provider(),
    ))
    .with_safe_default_protocol_versions()
    .unwrap()
    .with_no_client_auth()
    .with_single_cert(vec![cert], key)
    .unwrap();
    let acceptor = tokio_rustls::TlsAcceptor::from(Arc::new(config));
    let rt = Box::leak(Box::new(tokio::runtime::Runtime::new().unwrap()));
    let listener = rt.block_on(TcpListener::bind("127.0.0.1:0")).unwrap();
    let port = listener.local_addr().unwrap().port();
    rt.spawn(async move {
        while let Ok((tcp, _)) = listener.accept().await {
            let acceptor = acceptor.clone();
            tokio::spawn(async move {
                let Ok(tls) = acceptor.accept(tcp).await else {
                    return;
                };
                let Ok(mut ws) = tokio_tungstenite::accept_async(tls).await else {
                    return;
                };
                while let Some(Ok(m)) = ws.next().await {
                    if (m.is_text() || m.is_binary()) && ws.send(m).await.is_err() {
                        break;
                    }
                }
            });
        }
    });
    (format!("wss://127.0.0.1:{port}"), ck.cert.pem())
}

fn client(args: &[&str]) -> std::process::Output {
    let mut child = Command::cargo_bin("wsprobe")
        .unwrap()
        .arg("client")
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    support::bin::feed(child.stdin.take(), b"over tls\n");
    child.wait_with_output().unwrap()
}

fn echoed(out: &std::process::Output) -> bool {
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .any(|l| l.contains('←') && l.ends_with("over tls"))
}

#[test]
fn an_unknown_certificate_is_refused_with_a_tls_error() {
    let (url, _) = tls_echo_server();
    let out = client(&[&url]);
    assert_eq!(out.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("TLS") && stderr.contains("certificate"),
        "{stderr}"
    );
}

#[test]
fn ca_file_makes_the_certificate_trusted() {
    let (url, pem) = tls_echo_server();
    let path = std::env::temp_dir().join(format!("wsprobe-test-ca-{}.pem", std::process::id()));
    std::fs::write(&path, pem).unwrap();
    let out = client(&[&url, "--ca", path.to_str().unwrap()]);
    let _ = std::fs::remove_file(&path);
    assert!(out.status.success(), "{out:?}");
    assert!(echoed(&out), "{out:?}");
}

#[test]
fn insecure_skips_verification() {
    let (url, _) = tls_echo_server();
    let out = client(&[&url, "--insecure"]);
    assert!(out.status.success(), "{out:?}");
    assert!(echoed(&out));
}

#[test]
fn a_bad_ca_file_is_a_usage_error() {
    let (url, _) = tls_echo_server();
    let out = client(&[&url, "--ca", "/nonexistent/ca.pem"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("--ca"));
}
