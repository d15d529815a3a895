//! Payloads are untrusted: before any of them reaches a terminal, control
//! characters, escape sequences and bidi overrides are shown as escapes, and
//! invalid UTF-8 as `\xNN`.

use std::fmt::Write;

/// Characters that reorder text on screen and could disguise what a payload says.
fn is_bidi_control(c: char) -> bool {
    matches!(c, '\u{200e}' | '\u{200f}' | '\u{061c}' | '\u{202a}'..='\u{202e}' | '\u{2066}'..='\u{2069}')
}

fn push_char(out: &mut String, c: char) {
    match c {
        '\n' => out.push_str("\\n"),
        '\r' => out.push_str("\\r"),
        '\t' => out.push_str("\\t"),
        '\\' => out.push_str("\\\\"),
        c if (c as u32) < 0x20 || c == '\u{7f}' => {
            let _ = write!(out, "\\x{:02x}", c as u32);
        }
        c if c.is_control() || is_bidi_control(c) || c == '\u{feff}' => {
            let _ = write!(out, "\\u{{{:x}}}", c as u32);
        }
        c => out.push(c),
    }
}

/// Escapes text for one line of a terminal, keeping at most `max_chars` of the
/// result (an ellipsis marks a cut).
pub fn escape_text(s: &str, max_chars: usize) -> String {
    escape_bytes(s.as_bytes(), max_chars)
}

/// Like [`escape_text`], for bytes that may not be UTF-8.
pub fn escape_bytes(bytes: &[u8], max_chars: usize) -> String {
    let mut out = String::with_capacity(bytes.len().min(max_chars).min(4096) + 8);
    let mut shown = 0usize;
    for chunk in bytes.utf8_chunks() {
        for c in chunk.valid().chars() {
            let before = out.len();
            push_char(&mut out, c);
            shown += if out.len() - before == c.len_utf8() {
                1
            } else {
                out[before..].chars().count()
            };
            if shown >= max_chars {
                out.push('…');
                return out;
            }
        }
        for b in chunk.invalid() {
            let _ = write!(out, "\\x{b:02x}");
            shown += 4;
            if shown >= max_chars {
                out.push('…');
                return out;
            }
        }
    }
    out
}

/// `01 ff 20 …`: a one-line hex preview of binary data.
pub fn hex_preview(bytes: &[u8], max_bytes: usize) -> String {
    let mut out = String::with_capacity(bytes.len().min(max_bytes) * 3 + 2);
    for (i, b) in bytes.iter().take(max_bytes).enumerate() {
        if i > 0 {
            out.push(' ');
        }
        let _ = write!(out, "{b:02x}");
    }
    if bytes.len() > max_bytes {
        out.push_str(" …");
    }
    out
}

/// Whether a string can be written to a terminal as it is.
pub fn is_terminal_safe(s: &str) -> bool {
    !s.chars()
        .any(|c| c.is_control() || is_bidi_control(c) || c == '\u{feff}')
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn control_characters_are_escaped() {
        assert_eq!(escape_text("a\nb\tc\r", 100), "a\\nb\\tc\\r");
        assert_eq!(escape_text("\x1b[2J", 100), "\\x1b[2J");
        assert_eq!(escape_text("\0", 100), "\\x00");
        assert_eq!(escape_text("\u{7f}", 100), "\\x7f");
        assert_eq!(escape_text("\u{9b}", 100), "\\u{9b}");
        assert_eq!(escape_text("back\\slash", 100), "back\\\\slash");
        assert!(is_terminal_safe(&escape_text("\x1b]0;title\x07", 100)));
    }

    #[test]
    fn bidi_overrides_are_escaped() {
        assert_eq!(escape_text("a\u{202e}b", 100), "a\\u{202e}b");
        assert!(is_terminal_safe(&escape_text("\u{2066}x\u{2069}", 100)));
    }

    #[test]
    fn multibyte_text_is_kept() {
        assert_eq!(escape_text("héllo 🌍 日本", 100), "héllo 🌍 日本");
    }

    #[test]
    fn invalid_utf8_as_hex() {
        assert_eq!(escape_bytes(b"ok\xff\xfeok", 100), "ok\\xff\\xfeok");
    }

    #[test]
    fn long_text_is_cut() {
        let s = "x".repeat(1000);
        let e = escape_text(&s, 10);
        assert_eq!(e, format!("{}…", "x".repeat(10)));
    }

    #[test]
    fn hex() {
        assert_eq!(hex_preview(&[1, 0xff, 0x20], 10), "01 ff 20");
        assert_eq!(hex_preview(&[1, 2, 3], 2), "01 02 …");
    }
}
