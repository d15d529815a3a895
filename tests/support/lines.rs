//! A child's output read line by line on a thread of its own, so that every
//! wait for a line can time out instead of hanging the test.

use std::io::{BufRead, BufReader, Read};
use std::sync::mpsc::{channel, Receiver, RecvTimeoutError};
use std::time::Instant;

use serde_json::Value;

pub struct Lines(Receiver<String>);

impl Lines {
    /// Reads `from` (a child's stdout or stderr) to its end.
    pub fn read(from: impl Read + Send + 'static) -> Lines {
        let (tx, rx) = channel();
        std::thread::spawn(move || {
            for line in BufReader::new(from).lines().map_while(Result::ok) {
                if tx.send(line).is_err() {
                    break;
                }
            }
        });
        Lines(rx)
    }

    /// The next line, or `None` once the output has ended; fails after [`super::WAIT`].
    pub fn next(&self, what: &str) -> Option<String> {
        self.next_within(what, super::WAIT)
    }

    /// The next line, or `None` once the output has ended; fails after `wait`.
    pub fn next_within(&self, what: &str, wait: std::time::Duration) -> Option<String> {
        match self.0.recv_timeout(wait) {
            Ok(line) => Some(line),
            Err(RecvTimeoutError::Disconnected) => None,
            Err(RecvTimeoutError::Timeout) => panic!("timed out waiting for {what}"),
        }
    }

    /// The next line as a JSON record; fails at the end of the output.
    pub fn next_record(&self, what: &str) -> Value {
        let line = self
            .next(what)
            .unwrap_or_else(|| panic!("the output ended before {what}"));
        super::json::parse_line(&line)
    }

    /// Reads until a line satisfies `pred`, all within [`super::WAIT`]; fails
    /// at the end of the output.
    pub fn wait_for(&self, what: &str, pred: impl Fn(&str) -> bool) -> String {
        let deadline = Instant::now() + super::WAIT;
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            match self.0.recv_timeout(left) {
                Ok(line) if pred(&line) => return line,
                Ok(_) => {}
                Err(RecvTimeoutError::Disconnected) => {
                    panic!("the output ended before {what}")
                }
                Err(RecvTimeoutError::Timeout) => panic!("timed out waiting for {what}"),
            }
        }
    }

    /// Every line up to the end of the output, within [`super::WAIT`].
    pub fn rest(&self, what: &str) -> Vec<String> {
        let deadline = Instant::now() + super::WAIT;
        let mut lines = Vec::new();
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            match self.0.recv_timeout(left) {
                Ok(line) => lines.push(line),
                Err(RecvTimeoutError::Disconnected) => return lines,
                Err(RecvTimeoutError::Timeout) => panic!("timed out waiting for {what}"),
            }
        }
    }
}
