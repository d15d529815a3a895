//! Wording shared by the screen and the line output: arrows, previews, frame
//! summaries, clock times and counts, so that both say the same thing the same way.

use chrono::{DateTime, Local, Utc};

use crate::escape::{escape_bytes, hex_preview};
use crate::net::{CloseInfo, Direction, FrameKind};

/// How much of a payload a line shows.
pub const PREVIEW_CHARS: usize = 200;
const PREVIEW_HEX_BYTES: usize = 64;

pub fn clock(ts: DateTime<Utc>) -> String {
    ts.with_timezone(&Local).format("%H:%M:%S%.3f").to_string()
}

/// `text 5B`, `close 1000 Normal Closure "bye"`.
pub fn frame_summary(kind: FrameKind, len: usize, close: Option<&CloseInfo>) -> String {
    match (kind, close) {
        (FrameKind::Close, Some(c)) => format!(
            "close {} {}{}",
            c.code,
            c.name(),
            if c.reason.is_empty() {
                String::new()
            } else {
                format!(" \"{}\"", escape_bytes(c.reason.as_bytes(), PREVIEW_CHARS))
            }
        ),
        (FrameKind::Close, None) => "close (no code)".to_string(),
        (kind, _) => format!("{} {len}B", kind.as_str()),
    }
}

/// The payload as one safe line: text escaped, binary as hex.
pub fn payload_preview(kind: FrameKind, payload: &[u8], max_chars: usize) -> String {
    match kind {
        FrameKind::Close => String::new(),
        FrameKind::Binary => hex_preview(payload, PREVIEW_HEX_BYTES.min(max_chars / 3 + 1)),
        _ => escape_bytes(payload, max_chars),
    }
}

pub fn arrow(dir: Direction) -> &'static str {
    match dir {
        Direction::Out => "→",
        Direction::In => "←",
    }
}

/// `1 connection`, `2 connections`: a count with its noun in agreement.
pub fn count(n: u64, one: &str, many: &str) -> String {
    if n == 1 {
        format!("1 {one}")
    } else {
        format!("{n} {many}")
    }
}

/// What a server with a self-signed certificate says about it, on stderr and
/// above its dashboard: the fingerprint and how a client trusts it.
pub fn self_signed_note(fingerprint: &str, url: &str, ca_file: &std::path::Path) -> String {
    format!(
        "self-signed certificate, SHA-256 {fingerprint}\ntrust it: wsprobe client {url} --ca {} (removed when the server stops)\nor skip checks: wsprobe client {url} --insecure",
        ca_file.display()
    )
}

#[cfg(test)]
mod tests {
    #[test]
    fn counts_agree_with_their_noun() {
        assert_eq!(super::count(1, "connection", "connections"), "1 connection");
        assert_eq!(
            super::count(0, "connection", "connections"),
            "0 connections"
        );
        assert_eq!(super::count(2, "error", "errors"), "2 errors");
    }
}
