//! `wsprobe server` over TLS: a self-signed certificate made at start, or PEM
//! files; the TLS version and cipher in the open events on both sides.

mod support;

use std::io::{BufRead, BufReader, Read};
use std::process::{Child, Command, Stdio};

use assert_cmd::cargo::CommandCargoExt;
use serde_json::Value;

struct Running {
    child: Child,
    url: String,
    stderr: String,
}

impl Drop for Running {
    /// SIGTERM first, so the server removes its certificate file; SIGKILL if it
    /// has not gone after a while.
    fn drop(&mut self) {
        if !matches!(self.child.try_wait(), Ok(None)) {
            return; // already waited for: its pid may be someone else's by now
        }
        let _ = Command::new("kill")
            .args(["-TERM", &self.child.id().to_string()])
            .stderr(Stdio::null())
            .status();
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(5);
        while matches!(self.child.try_wait(), Ok(None)) && std::time::Instant::now() < deadline {
            std::thread::sleep(std::time::Duration::from_millis(20));
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Starts `wsprobe server 127.0.0.1:0 ARGS --json`; the stderr lines printed
/// before the server starts (the trust hint) come back too.
fn server(args: &[&str], hint_lines: usize) -> Running {
    let mut cmd = Command::cargo_bin("wsprobe").unwrap();
    cmd.args(["server", "127.0.0.1:0", "--json"]).args(args);
    start(cmd, hint_lines)
}

fn start(mut cmd: Command, hint_lines: usize) -> Running {
    let mut child = cmd
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut stderr = String::new();
    let mut err = BufReader::new(child.stderr.take().unwrap());
    for _ in 0..hint_lines {
        err.read_line(&mut stderr).unwrap();
    }
    let mut first = String::new();
    BufReader::new(child.stdout.as_mut().unwrap())
        .read_line(&mut first)
        .unwrap();
    let v: Value = serde_json::from_str(&first).unwrap();
    Running {
        child,
        url: v["url"].as_str().unwrap().to_string(),
        stderr,
    }
}

fn client(url: &str, args: &[&str]) -> std::process::Output {
    let mut child = Command::cargo_bin("wsprobe")
        .unwrap()
        .args(["client", url, "--json"])
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    support::bin::feed(child.stdin.take(), b"secret\n");
    child.wait_with_output().unwrap()
}

fn open_event(out: &std::process::Output) -> Value {
    let line = String::from_utf8_lossy(&out.stdout)
        .lines()
        .next()
        .unwrap_or("{}")
        .to_string();
    serde_json::from_str(&line).unwrap()
}

#[test]
fn self_signed_server_tells_how_to_trust_it() {
    let s = server(&["--tls-self-signed"], 3);
    assert!(s.url.starts_with("wss://127.0.0.1:"), "{}", s.url);
    assert!(s.stderr.contains("SHA-256"), "{}", s.stderr);
    let ca = s
        .stderr
        .split_whitespace()
        .skip_while(|w| *w != "--ca")
        .nth(1)
        .expect("a --ca FILE hint")
        .to_string();
    let out = client(&s.url, &["--ca", &ca]);
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
    let mut s = server(
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
    let _ = s.child.kill();
    let mut rest = String::new();
    s.child
        .stdout
        .as_mut()
        .unwrap()
        .read_to_string(&mut rest)
        .unwrap();
    let open: Value = serde_json::from_str(rest.lines().next().unwrap()).unwrap();
    assert_eq!(open["event"], "open");
    assert!(open["tls"].as_str().unwrap().contains("TLS"), "{open}");
    let _ = std::fs::remove_file(cert);
    let _ = std::fs::remove_file(key);
}

#[test]
fn bad_certificate_files_are_one_line_and_exit_2() {
    let out = Command::cargo_bin("wsprobe")
        .unwrap()
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
    let s = server(&["--tls-self-signed", "--no-pong"], 3);
    // --echo keeps the client running until something ends the connection; were
    // the pongs let through, nothing would: give up after a while instead of hanging.
    let mut child = Command::cargo_bin("wsprobe")
        .unwrap()
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
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    while child.try_wait().unwrap().is_none() {
        if std::time::Instant::now() > deadline {
            let _ = child.kill();
            panic!("the client never gave up: pongs got through");
        }
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
    let out = child.wait_with_output().unwrap();
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

/// The FILE the trust hint gives to `--ca`.
fn ca_path(hint: &str) -> std::path::PathBuf {
    hint.split_whitespace()
        .skip_while(|w| *w != "--ca")
        .nth(1)
        .expect("a --ca FILE hint")
        .into()
}

/// An empty directory of this test's own, mode 0700.
fn scratch(name: &str) -> std::path::PathBuf {
    use std::os::unix::fs::PermissionsExt;
    let d = std::env::temp_dir().join(format!("wsprobe-tls-{}-{name}", std::process::id()));
    let _ = std::fs::remove_dir_all(&d);
    std::fs::create_dir(&d).unwrap();
    std::fs::set_permissions(&d, std::fs::Permissions::from_mode(0o700)).unwrap();
    d
}

fn sigterm_and_wait(child: &mut Child) -> std::process::ExitStatus {
    let ok = Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .unwrap()
        .success();
    assert!(ok, "kill -TERM failed");
    child.wait().unwrap()
}

#[test]
fn the_self_signed_certificate_is_private_and_goes_with_the_server() {
    use std::os::unix::fs::MetadataExt;
    let runtime = scratch("runtime");
    let mut cmd = Command::cargo_bin("wsprobe").unwrap();
    cmd.env("XDG_RUNTIME_DIR", &runtime).args([
        "server",
        "127.0.0.1:0",
        "--json",
        "--tls-self-signed",
    ]);
    let mut s = start(cmd, 3);
    let ca = ca_path(&s.stderr);
    let dir = runtime.join("wsprobe");
    assert_eq!(ca.parent(), Some(dir.as_path()), "{}", s.stderr);
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

    let status = sigterm_and_wait(&mut s.child);
    assert!(status.success(), "{status:?}");
    assert!(!ca.exists(), "the certificate file is removed on SIGTERM");
    std::fs::remove_dir_all(&runtime).unwrap();
}

#[test]
fn planted_links_are_not_followed() {
    use std::os::unix::fs::{symlink, MetadataExt};
    let tmp = scratch("tmp");
    let me = std::fs::metadata(&tmp).unwrap().uid();
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let cmd = |port: u16| {
        let mut cmd = Command::cargo_bin("wsprobe").unwrap();
        cmd.env_remove("XDG_RUNTIME_DIR")
            .env("TMPDIR", &tmp)
            .args(["server", &format!("127.0.0.1:{port}"), "--json"])
            .arg("--tls-self-signed");
        cmd
    };
    // Where the certificate used to go, a link to a file someone wants written.
    let victim = tmp.join("victim");
    symlink(&victim, tmp.join(format!("wsprobe-self-signed-{port}.pem"))).unwrap();
    let mut s = start(cmd(port), 3);
    let ca = ca_path(&s.stderr);
    assert!(
        ca.starts_with(tmp.join(format!("wsprobe-{me}"))),
        "{}",
        s.stderr
    );
    assert!(!victim.exists(), "nothing was written through the link");
    assert!(sigterm_and_wait(&mut s.child).success());
    assert!(!ca.exists());

    // A link where the private directory goes: refused, not followed.
    std::fs::remove_dir_all(tmp.join(format!("wsprobe-{me}"))).unwrap();
    let elsewhere = tmp.join("elsewhere");
    std::fs::create_dir(&elsewhere).unwrap();
    symlink(&elsewhere, tmp.join(format!("wsprobe-{me}"))).unwrap();
    let mut child = cmd(0)
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    while child.try_wait().unwrap().is_none() {
        if std::time::Instant::now() > deadline {
            let _ = child.kill();
            panic!("the server started in a directory that is a link");
        }
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
    let out = child.wait_with_output().unwrap();
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("symbolic link"), "{err}");
    assert_eq!(std::fs::read_dir(&elsewhere).unwrap().count(), 0);
    std::fs::remove_dir_all(&tmp).unwrap();
}
