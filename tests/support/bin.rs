//! The real binary as a child process: a clean `WSPROBE_*` environment, a
//! server on a free port, and stdin fed without tripping over a child that
//! already left.

use std::ffi::OsString;
use std::io::Write;
use std::path::PathBuf;
use std::process::{Child, ChildStdin, Command, ExitStatus, Output, Stdio};
use std::time::{Duration, Instant};

use super::lines::Lines;

/// Where cargo built the binary for these tests.
pub fn path() -> PathBuf {
    assert_cmd::cargo::cargo_bin("wsprobe")
}

/// The `WSPROBE_*` variables of the tests' own environment: no child of
/// theirs inherits them (the pseudo-terminal's included, see `pty`).
pub fn inherited_settings() -> Vec<OsString> {
    std::env::vars_os()
        .map(|(k, _)| k)
        .filter(|k| k.to_string_lossy().starts_with("WSPROBE_"))
        .collect()
}

/// `wsprobe` with none of the caller's `WSPROBE_*` settings, so what a test
/// passes is all it gets.
pub fn wsprobe() -> Command {
    let mut c = Command::new(path());
    for k in inherited_settings() {
        c.env_remove(k);
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

/// Runs `cmd` with `input` on its stdin (then closed) and its stdout and
/// stderr captured.
pub fn run_with_input(cmd: &mut Command, input: impl AsRef<[u8]>) -> Output {
    let mut child = cmd
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    feed(child.stdin.take(), input.as_ref());
    child.wait_with_output().unwrap()
}

/// Sends SIGTERM, as a person's Ctrl-C or a service manager would.
pub fn sigterm(child: &Child) {
    let ok = Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .unwrap()
        .success();
    assert!(ok, "kill -TERM failed");
}

/// Waits for a child that must end by itself; after [`super::WAIT`] kills it
/// and fails with `never_ended`.
/// Runs `cmd` with its input open and empty until it has ended: a client then
/// never closes on its own (as it does at the end of its input), so what a
/// server does first decides how the run ends.
pub fn run_with_open_input(cmd: &mut Command, never_ended: &str) -> Output {
    let mut child = cmd
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let input = child.stdin.take();
    let out = output_within(child, never_ended);
    drop(input);
    out
}

pub fn output_within(mut child: Child, never_ended: &str) -> Output {
    let deadline = Instant::now() + super::WAIT;
    while child.try_wait().unwrap().is_none() {
        if Instant::now() > deadline {
            let _ = child.kill();
            panic!("{never_ended}");
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    child.wait_with_output().unwrap()
}

/// A `wsprobe server` headless, stopped when dropped: SIGTERM first (a
/// self-signed server then removes its certificate file), SIGKILL if it has
/// not gone after 5 s.
pub struct ServerProcess {
    pub child: Child,
    pub url: String,
    /// Its first line: `listening on URL`, or with --json the listening record.
    pub listening: String,
    /// The rest of its stdout.
    pub stdout: Lines,
    /// Its stderr (where --tls-self-signed tells how to trust it).
    pub stderr: Lines,
}

impl ServerProcess {
    /// `wsprobe server 127.0.0.1:0 --no-tui ARGS`.
    pub fn start(args: &[&str]) -> Self {
        Self::spawn(
            wsprobe()
                .args(["server", "127.0.0.1:0", "--no-tui"])
                .args(args),
        )
    }

    /// A server command the caller made (an address or an environment of its
    /// own): started, and its listening line read.
    pub fn spawn(cmd: &mut Command) -> Self {
        let mut child = cmd
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        let stdout = Lines::read(child.stdout.take().unwrap());
        let stderr = Lines::read(child.stderr.take().unwrap());
        // Made before anything can fail, so a failing start still stops it.
        let mut server = ServerProcess {
            child,
            url: String::new(),
            listening: String::new(),
            stdout,
            stderr,
        };
        let first = server
            .stdout
            .next("the listening line")
            .expect("the server printed no listening line");
        // `listening on URL`, or with --json a record with a `url` field.
        server.url = match first.trim().strip_prefix("listening on ") {
            Some(url) => url.to_string(),
            None => serde_json::from_str::<serde_json::Value>(&first)
                .ok()
                .and_then(|v| v["url"].as_str().map(str::to_string))
                .unwrap_or_else(|| panic!("unexpected first line: {first:?}")),
        };
        server.listening = first;
        server
    }

    /// Reads its output until a line satisfies `pred` (fails at its end).
    pub fn wait_for_line(&self, what: &str, pred: impl Fn(&str) -> bool) -> String {
        self.stdout
            .wait_for(&format!("{what} in the server's output"), pred)
    }

    /// The first `n` lines of its stderr, each with its newline.
    pub fn stderr_lines(&self, n: usize) -> String {
        (0..n)
            .map(|_| {
                let line = self
                    .stderr
                    .next("the server's stderr")
                    .expect("the server's stderr ended");
                line + "\n"
            })
            .collect()
    }

    /// Stops it with SIGTERM and waits for it to exit.
    pub fn sigterm(&mut self) -> ExitStatus {
        sigterm(&self.child);
        self.child.wait().unwrap()
    }
}

impl Drop for ServerProcess {
    fn drop(&mut self) {
        if !matches!(self.child.try_wait(), Ok(None)) {
            return; // already waited for: its pid may be someone else's by now
        }
        let _ = Command::new("kill")
            .args(["-TERM", &self.child.id().to_string()])
            .stderr(Stdio::null())
            .status();
        let deadline = Instant::now() + Duration::from_secs(5);
        while matches!(self.child.try_wait(), Ok(None)) && Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(20));
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
