//! The real binary as a child process: a clean `WSPROBE_*` environment, a
//! server on a free port, and stdin fed without tripping over a child that
//! already left.

use std::io::{BufRead, BufReader, Write};
use std::process::{Child, ChildStdin, Command, Stdio};

use assert_cmd::cargo::CommandCargoExt;

/// `wsprobe` with none of the caller's `WSPROBE_*` settings, so what a test
/// passes is all it gets.
pub fn wsprobe() -> Command {
    let mut c = Command::cargo_bin("wsprobe").unwrap();
    for (k, _) in std::env::vars_os() {
        if k.to_string_lossy().starts_with("WSPROBE_") {
            c.env_remove(k);
        }
    }
    c
}

/// Writes `bytes` to a child's stdin and closes it. A child that has already
/// exited (its stdin closed) is not the test's failure: the test looks at the
/// exit code and the output instead.
pub fn feed(stdin: Option<ChildStdin>, bytes: &[u8]) {
    let Some(mut stdin) = stdin else { return };
    match stdin.write_all(bytes).and_then(|()| stdin.flush()) {
        Ok(()) => {}
        Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => {}
        Err(e) => panic!("cannot write to the child's stdin: {e}"),
    }
}

/// `wsprobe server 127.0.0.1:0 ARGS` headless, killed when dropped.
pub struct ServerProcess {
    pub child: Child,
    pub url: String,
    /// The rest of its stdout, line by line, read by a thread of its own so
    /// that waiting for a line can time out.
    pub lines: std::sync::mpsc::Receiver<String>,
}

impl ServerProcess {
    pub fn start(args: &[&str]) -> Self {
        let mut child = wsprobe()
            .args(["server", "127.0.0.1:0", "--no-tui"])
            .args(args)
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        let (tx, lines) = std::sync::mpsc::channel();
        let stdout = BufReader::new(child.stdout.take().unwrap());
        std::thread::spawn(move || {
            for line in stdout.lines().map_while(Result::ok) {
                if tx.send(line).is_err() {
                    break;
                }
            }
        });
        // Made before anything can fail, so a failing start still kills it.
        let mut server = ServerProcess {
            child,
            url: String::new(),
            lines,
        };
        let first = server
            .lines
            .recv_timeout(super::WAIT)
            .expect("the server printed no listening line");
        // `listening on URL`, or with --json a record with a `url` field.
        server.url = match first.trim().strip_prefix("listening on ") {
            Some(url) => url.to_string(),
            None => serde_json::from_str::<serde_json::Value>(&first)
                .ok()
                .and_then(|v| v["url"].as_str().map(str::to_string))
                .unwrap_or_else(|| panic!("unexpected first line: {first:?}")),
        };
        server
    }

    /// Reads its output until a line satisfies `pred` (fails at its end).
    pub fn wait_for_line(&mut self, what: &str, pred: impl Fn(&str) -> bool) -> String {
        let deadline = std::time::Instant::now() + super::WAIT;
        loop {
            let left = deadline.saturating_duration_since(std::time::Instant::now());
            match self.lines.recv_timeout(left) {
                Ok(line) if pred(&line) => return line,
                Ok(_) => {}
                Err(_) => panic!("timed out waiting for {what} in the server's output"),
            }
        }
    }
}

impl Drop for ServerProcess {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
