//! `wsprobe server` over TLS: a self-signed certificate made at start, or PEM
//! files; the TLS version and cipher in the open events on both sides.

mod support;

use std::process::Stdio;

use serde_json::Value;
use support::bin::{output_within, run_with_input, wsprobe, ServerProcess};
use support::{json, scratch};

/// Starts `wsprobe server 127.0.0.1:0 --json ARGS`; the stderr lines printed
/// before the server starts (the trust hint) come back too.
fn server(args: &[&str], hint_lines: usize) -> (ServerProcess, String) {
    let server = ServerProcess::start(&[&["--json"], args].concat());
    let hint = server.stderr_lines(hint_lines);
    (server, hint)
}

fn client(url: &str, args: &[&str]) -> std::process::Output {
    run_with_input(
        wsprobe().args(["client", url, "--json"]).args(args),
        "secret\n",
    )
}

fn open_event(out: &std::process::Output) -> Value {
    json::parse_line(
        String::from_utf8_lossy(&out.stdout)
            .lines()
            .next()
            .unwrap_or("{}"),
    )
}

#[test]
fn self_signed_server_tells_how_to_trust_it() {
    let (s, hint) = server(&["--tls-self-signed"], 3);
    assert!(s.url.starts_with("wss://127.0.0.1:"), "{}", s.url);
    assert!(hint.contains("SHA-256"), "{hint}");
    let ca = ca_path(&hint);
    let out = client(&s.url, &["--ca", ca.to_str().unwrap()]);
    assert!(out.status.success(), "{out:?}");
    let open = open_event(&out);
    assert!(
        open["tls"].as_str().unwrap().starts_with("TLSv1."),
        "{open}"
    );
    let out = client(&s.url, &[]);
    assert_eq!(out.status.code(), Some(1));
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("--ca FILE"),
        "the error says how to fix it"
    );
}

#[test]
fn pem_files_serve_wss_and_the_server_sees_tls() {
    let ck = rcgen::generate_simple_self_signed(vec!["localhost".to_string()]).unwrap();
    let dir = std::env::temp_dir();
    let (cert, key) = (
        dir.join(format!("wsprobe-test-cert-{}.pem", std::process::id())),
        dir.join(format!("wsprobe-test-key-{}.pem", std::process::id())),
    );
    std::fs::write(&cert, ck.cert.pem()).unwrap();
    std::fs::write(&key, ck.signing_key.serialize_pem()).unwrap();
    let (s, _) = server(
        &[
            "--tls-cert",
            cert.to_str().unwrap(),
            "--tls-key",
            key.to_str().unwrap(),
        ],
        0,
    );
    let out = client(&s.url, &["--insecure"]);
    assert!(out.status.success(), "{out:?}");
    // The server's next line after its listening line.
    let open = s.stdout.next_record("the server's open event");
    assert_eq!(open["event"], "open");
    assert!(open["tls"].as_str().unwrap().contains("TLS"), "{open}");
    let _ = std::fs::remove_file(cert);
    let _ = std::fs::remove_file(key);
}

#[test]
fn bad_certificate_files_are_one_line_and_exit_2() {
    let out = wsprobe()
        .args([
            "server",
            "127.0.0.1:0",
            "--tls-cert",
            "/nonexistent.pem",
            "--tls-key",
            "/nonexistent.key",
        ])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(stderr.trim().lines().count(), 1, "{stderr}");
    assert!(stderr.contains("--tls-cert"), "{stderr}");
}

#[test]
fn no_pong_works_over_tls_too() {
    let (s, _) = server(&["--tls-self-signed", "--no-pong"], 3);
    // --echo keeps the client running until something ends the connection; were
    // the pongs let through, nothing would: give up after a while instead of hanging.
    let child = wsprobe()
        .args([
            "client",
            &s.url,
            "--json",
            "--insecure",
            "--echo",
            "--ping-timeout",
            "300ms",
        ])
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let out = output_within(child, "the client never gave up: pongs got through");
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("ping timeout"), "{err}");
    assert_eq!(
        open_event(&out)["tls"]
            .as_str()
            .map(|t| t.starts_with("TLS")),
        Some(true)
    );
}

#[test]
fn big_binary_messages_echoed_as_they_arrive_cross_tls_whole() {
    // -q: nobody looks at payloads, so big binary messages pass through the
    // frame layer, past tungstenite; the TLS stream's last records of each
    // echo must still leave without waiting for another write.
    let (s, _) = server(&["--tls-self-signed", "-q"], 3);
    let child = wsprobe()
        .args(["bench", &s.url, "--insecure", "--json", "--binary"])
        .args([
            "-c",
            "1",
            "-w",
            "1",
            "-s",
            "1MiB",
            "-n",
            "12",
            "--timeout",
            "5s",
        ])
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let out = output_within(child, "the bench never ended");
    assert!(out.status.success(), "{out:?}");
    let report = json::parse_line(String::from_utf8_lossy(&out.stdout).trim());
    assert_eq!(report["received"], 12, "{report}");
    for bad in ["mismatched", "lost", "reordered", "duplicated"] {
        assert_eq!(report[bad], 0, "{bad}: {report}");
    }
}

/// The FILE the trust hint gives to `--ca`.
fn ca_path(hint: &str) -> std::path::PathBuf {
    hint.split_whitespace()
        .skip_while(|w| *w != "--ca")
        .nth(1)
        .expect("a --ca FILE hint")
        .into()
}

#[test]
fn the_self_signed_certificate_is_private_and_goes_with_the_server() {
    use std::os::unix::fs::MetadataExt;
    let runtime = scratch("runtime");
    let mut s = ServerProcess::spawn(wsprobe().env("XDG_RUNTIME_DIR", &runtime).args([
        "server",
        "127.0.0.1:0",
        "--json",
        "--tls-self-signed",
    ]));
    let hint = s.stderr_lines(3);
    let ca = ca_path(&hint);
    let dir = runtime.join("wsprobe");
    assert_eq!(ca.parent(), Some(dir.as_path()), "{hint}");
    let (file, folder) = (
        std::fs::symlink_metadata(&ca).unwrap(),
        std::fs::symlink_metadata(&dir).unwrap(),
    );
    assert!(file.is_file() && folder.is_dir());
    assert_eq!(file.mode() & 0o777, 0o600, "the file is ours only");
    assert_eq!(folder.mode() & 0o777, 0o700, "so is its directory");
    let me = std::fs::metadata(&runtime).unwrap().uid();
    assert_eq!((file.uid(), folder.uid()), (me, me));
    let out = client(&s.url, &["--ca", ca.to_str().unwrap()]);
    assert!(out.status.success(), "the file trusts the server: {out:?}");

    let status = s.sigterm();
    assert!(status.success(), "{status:?}");
    assert!(!ca.exists(), "the certificate file is removed on SIGTERM");
    std::fs::remove_dir_all(&runtime).unwrap();
}

#[test]
fn planted_links_are_not_followed() {
    use std::os::unix::fs::{symlink, MetadataExt};
    let tmp = scratch("tmp");
    let me = std::fs::metadata(&tmp).unwrap().uid();
    let port = support::free_port();
    let cmd = |port: u16| {
        let mut cmd = wsprobe();
        cmd.env_remove("XDG_RUNTIME_DIR")
            .env("TMPDIR", &tmp)
            .args(["server", &format!("127.0.0.1:{port}"), "--json"])
            .arg("--tls-self-signed");
        cmd
    };
    // Where the certificate used to go, a link to a file someone wants written.
    let victim = tmp.join("victim");
    symlink(&victim, tmp.join(format!("wsprobe-self-signed-{port}.pem"))).unwrap();
    let mut s = ServerProcess::spawn(&mut cmd(port));
    let hint = s.stderr_lines(3);
    let ca = ca_path(&hint);
    assert!(ca.starts_with(tmp.join(format!("wsprobe-{me}"))), "{hint}");
    assert!(!victim.exists(), "nothing was written through the link");
    assert!(s.sigterm().success());
    assert!(!ca.exists());

    // A link where the private directory goes: refused, not followed.
    std::fs::remove_dir_all(tmp.join(format!("wsprobe-{me}"))).unwrap();
    let elsewhere = tmp.join("elsewhere");
    std::fs::create_dir(&elsewhere).unwrap();
    symlink(&elsewhere, tmp.join(format!("wsprobe-{me}"))).unwrap();
    let child = cmd(0)
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let out = output_within(child, "the server started in a directory that is a link");
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("symbolic link"), "{err}");
    assert_eq!(std::fs::read_dir(&elsewhere).unwrap().count(), 0);
    std::fs::remove_dir_all(&tmp).unwrap();
}
