//! WebSocket peers that other people wrote (Node `ws`, Node's built-in client,
//! Python `websocket-client`, `websockets` and `aiohttp`, and servers on them),
//! pinned in tests/peers and installed by scripts/setup-peers.sh on first use.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::OnceLock;
use std::time::Duration;

use serde_json::Value;

use super::lines::Lines;

fn root() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

/// Installs the peers once per test process (the script itself is idempotent
/// and serialised with a lock, so test processes may race).
fn ensure_installed() {
    static DONE: OnceLock<Result<(), String>> = OnceLock::new();
    let result = DONE.get_or_init(|| {
        let out = Command::new("bash")
            .arg(root().join("scripts/setup-peers.sh"))
            .output()
            .map_err(|e| format!("cannot run scripts/setup-peers.sh: {e}"))?;
        if out.status.success() {
            Ok(())
        } else {
            Err(format!(
                "scripts/setup-peers.sh failed:\n{}{}",
                String::from_utf8_lossy(&out.stdout),
                String::from_utf8_lossy(&out.stderr)
            ))
        }
    });
    if let Err(e) = result {
        panic!("{e}");
    }
}

#[derive(Clone, Copy, Debug)]
pub enum Client {
    /// Node's `ws` package.
    NodeWs,
    /// Node's built-in `WebSocket` (what browsers' code runs on).
    NodeBuiltin,
    /// Python's `websocket-client` library.
    PyWebsocketLib,
    /// Python's `websockets`.
    PyWebsockets,
}

fn python() -> PathBuf {
    root().join("target/peers/venv/bin/python")
}

/// The peers' Python (tests/peers/requirements.txt installed), for a test
/// that needs one of its libraries.
pub fn peers_python() -> PathBuf {
    ensure_installed();
    python()
}

/// Runs a peer client against `url`: it offers `protocols`, sends each of
/// `sends`, waits for as many replies, closes, and reports as JSON lines.
pub fn run_client(client: Client, url: &str, protocols: &[&str], sends: &[&str]) -> Vec<Value> {
    ensure_installed();
    let mut cmd = match client {
        Client::NodeWs => {
            let mut c = Command::new("node");
            c.arg(root().join("tests/peers/node_client.js"));
            c
        }
        Client::NodeBuiltin => {
            let mut c = Command::new("node");
            c.arg(root().join("tests/peers/node_client.js"))
                .arg("--builtin");
            c
        }
        Client::PyWebsocketLib => {
            let mut c = Command::new(python());
            c.arg(root().join("tests/peers/py_client.py"));
            c
        }
        Client::PyWebsockets => {
            let mut c = Command::new(python());
            c.arg(root().join("tests/peers/py_websockets_client.py"));
            c
        }
    };
    cmd.arg(url);
    for p in protocols {
        cmd.args(["--protocol", p]);
    }
    for s in sends {
        cmd.args(["--send", s]);
    }
    // The peers bound their own run (10 s) and always end with a close line.
    let out = cmd.output().expect("run the peer client");
    assert!(out.status.success(), "{client:?} failed to run: {out:?}");
    super::json::stdout(&out)
}

/// Runs a Python peer of tests/peers to its end (it bounds its own run) and
/// returns its JSON lines.
pub fn run_py(name: &str, args: &[&str]) -> Vec<Value> {
    ensure_installed();
    let out = Command::new(python())
        .arg(root().join("tests/peers").join(name))
        .args(args)
        .output()
        .expect("run the Python peer");
    assert!(out.status.success(), "{name} failed to run: {out:?}");
    super::json::stdout(&out)
}

/// Runs a Node peer of tests/peers to its end (it bounds its own run) and
/// returns its JSON lines.
pub fn run_node(name: &str, args: &[&str]) -> Vec<Value> {
    ensure_installed();
    let out = Command::new("node")
        .arg(root().join("tests/peers").join(name))
        .args(args)
        .output()
        .expect("run the Node peer");
    assert!(out.status.success(), "{name} failed to run: {out:?}");
    super::json::stdout(&out)
}

/// Python `websockets`' echo server on a free loopback port; it reports each
/// connection's close as a JSON line. Stopped (stdin closed, then killed) on drop.
pub struct PyServer {
    child: std::process::Child,
    pub url: String,
    lines: Lines,
}

impl PyServer {
    pub fn start(protocols: &[&str]) -> PyServer {
        let args: Vec<String> = protocols
            .iter()
            .flat_map(|p| ["--protocol".to_string(), p.to_string()])
            .collect();
        PyServer::script("py_websockets_server.py", &args)
    }

    /// Another Python server of tests/peers, with its arguments; it must print a
    /// listening line with its `url` first and stop when its stdin ends.
    pub fn script(name: &str, args: &[String]) -> PyServer {
        PyServer::script_within(name, args, super::WAIT)
    }

    /// A server that takes longer than the tests' bound to start (a broker on
    /// a virtual machine of its own), given `start` to print its first line.
    pub fn script_within(name: &str, args: &[String], start: Duration) -> PyServer {
        let mut cmd = Command::new(python());
        cmd.arg(root().join("tests/peers").join(name)).args(args);
        PyServer::spawn(cmd, start)
    }

    /// A Node server of tests/peers, with the same contract as [`PyServer::script`].
    pub fn node(name: &str, args: &[String]) -> PyServer {
        let mut cmd = Command::new("node");
        cmd.arg(root().join("tests/peers").join(name)).args(args);
        PyServer::spawn(cmd, super::WAIT)
    }

    fn spawn(mut cmd: Command, start: Duration) -> PyServer {
        ensure_installed();
        let mut child = cmd
            .stdin(std::process::Stdio::piped())
            .stdout(std::process::Stdio::piped())
            .spawn()
            .expect("start the peer server");
        let lines = Lines::read(child.stdout.take().unwrap());
        let mut server = PyServer {
            child,
            url: String::new(),
            lines,
        };
        let first = server
            .lines
            .next_within("the peer server's listening line", start)
            .unwrap_or_else(|| panic!("the peer server ended before its listening line"));
        let first = super::json::parse_line(&first);
        assert!(
            first["url"].is_string(),
            "the peer server did not start: {first}"
        );
        server.url = first["url"].as_str().expect("a url").to_string();
        server
    }

    /// Its next report (a JSON line), within the tests' bound.
    pub fn next(&self, what: &str) -> Value {
        let line = self
            .lines
            .wait_for(&format!("the Python server to report {what}"), |l| {
                serde_json::from_str::<Value>(l).is_ok()
            });
        super::json::parse_line(&line)
    }
}

impl Drop for PyServer {
    fn drop(&mut self) {
        drop(self.child.stdin.take());
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
