//! `wss://` against a TLS echo server the test builds with rustls and a
//! self-signed certificate (rcgen): verification, `--ca`, `--insecure`.

mod support;

use std::path::Path;
use std::process::{Command, Stdio};
use std::sync::Arc;

use futures_util::{SinkExt, StreamExt};
use rustls::pki_types::PrivateKeyDer;
use support::bin::{run_with_input, wsprobe, ServerProcess};
use support::scratch;
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
    run_with_input(wsprobe().arg("client").args(args), "over tls\n")
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

/// A self-signed certificate that carries the CA flag, as `openssl req -x509`
/// makes by default, written with its key to `dir`; returns (cert, key) paths.
fn ca_flagged_cert(
    dir: &std::path::Path,
    name: &str,
    sans: &[&str],
    expired: bool,
) -> (std::path::PathBuf, std::path::PathBuf) {
    use rcgen::{BasicConstraints, CertificateParams, IsCa, KeyPair};
    let mut params =
        CertificateParams::new(sans.iter().map(|s| s.to_string()).collect::<Vec<_>>()).unwrap();
    params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    if expired {
        params.not_before = rcgen::date_time_ymd(2000, 1, 1);
        params.not_after = rcgen::date_time_ymd(2001, 1, 1);
    }
    let key = KeyPair::generate().unwrap();
    let cert = params.self_signed(&key).unwrap();
    let (c, k) = (
        dir.join(format!("{name}.pem")),
        dir.join(format!("{name}.key")),
    );
    std::fs::write(&c, cert.pem()).unwrap();
    std::fs::write(&k, key.serialize_pem()).unwrap();
    (c, k)
}

/// `wsprobe server 127.0.0.1:0 --json --tls-cert CERT --tls-key KEY`.
fn wsprobe_server(cert: &Path, key: &Path) -> ServerProcess {
    ServerProcess::start(&[
        "--json",
        "--tls-cert",
        cert.to_str().unwrap(),
        "--tls-key",
        key.to_str().unwrap(),
    ])
}

#[test]
fn a_ca_flagged_certificate_in_ca_is_trusted_as_the_servers_own() {
    let dir = scratch("own");
    let (cert, key) = ca_flagged_cert(&dir, "server", &["localhost", "127.0.0.1"], false);
    let server = wsprobe_server(&cert, &key);
    let ca = cert.to_str().unwrap();
    let out = client(&[&server.url, "--ca", ca]);
    assert!(out.status.success(), "{out:?}");
    assert!(echoed(&out), "{out:?}");
    let by_name = server.url.replace("127.0.0.1", "localhost");
    let out = client(&[&by_name, "--ca", ca]);
    assert!(out.status.success(), "by its DNS name too: {out:?}");
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn the_name_and_the_dates_of_a_ca_flagged_certificate_still_count() {
    let dir = scratch("checks");
    // Made for localhost only: 127.0.0.1 is not its name.
    let (cert, key) = ca_flagged_cert(&dir, "named", &["localhost"], false);
    let server = wsprobe_server(&cert, &key);
    let out = client(&[&server.url, "--ca", cert.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(1), "{out:?}");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("not valid for name"), "{stderr}");
    drop(server);

    let (cert, key) = ca_flagged_cert(&dir, "old", &["localhost", "127.0.0.1"], true);
    let server = wsprobe_server(&cert, &key);
    let out = client(&[&server.url, "--ca", cert.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(1), "{out:?}");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("expired"), "{stderr}");
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn a_different_ca_flagged_certificate_in_ca_fails_with_a_hint() {
    let dir = scratch("other");
    let (cert, key) = ca_flagged_cert(&dir, "server", &["localhost", "127.0.0.1"], false);
    let (other, _) = ca_flagged_cert(&dir, "other", &["localhost", "127.0.0.1"], false);
    let server = wsprobe_server(&cert, &key);
    let out = client(&[&server.url, "--ca", other.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(1), "{out:?}");
    assert!(!echoed(&out));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("CA certificate used as the server's own")
            && stderr.contains(other.to_str().unwrap()),
        "{stderr}"
    );
    let out = client(&[&server.url]);
    assert_eq!(out.status.code(), Some(1), "{out:?}");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("CA certificate as its own") && stderr.contains("--ca FILE"),
        "without --ca the hint says how to trust it: {stderr}"
    );
    std::fs::remove_dir_all(&dir).unwrap();
}

/// The same with the real openssl command line, where it is installed.
#[test]
fn an_openssl_req_x509_certificate_in_ca_is_trusted() {
    let Ok(which) = Command::new("which").arg("openssl").output() else {
        return;
    };
    if !which.status.success() {
        eprintln!("openssl is not installed: skipped");
        return;
    }
    let dir = scratch("openssl");
    let (cert, key) = (dir.join("cert.pem"), dir.join("key.pem"));
    let made = Command::new("openssl")
        .args([
            "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2",
        ])
        .args(["-subj", "/CN=localhost"])
        .args(["-addext", "subjectAltName=DNS:localhost,IP:127.0.0.1"])
        .arg("-keyout")
        .arg(&key)
        .arg("-out")
        .arg(&cert)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .unwrap();
    assert!(made.success());
    let server = wsprobe_server(&cert, &key);
    let out = client(&[&server.url, "--ca", cert.to_str().unwrap()]);
    assert!(out.status.success(), "{out:?}");
    assert!(echoed(&out));
    std::fs::remove_dir_all(&dir).unwrap();
}
