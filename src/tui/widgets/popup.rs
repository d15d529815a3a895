//! Popups over the dashboard: frame detail, handshake, help.

use ratatui::layout::Rect;
use ratatui::text::Line;
use ratatui::widgets::{Block, Borders, Clear, Paragraph};
use ratatui::Frame;
use unicode_width::UnicodeWidthStr;

use crate::app::slash;
use std::collections::VecDeque;

use crate::app::state::{FrameEntry, Popup, TimelineEntry};
use crate::app::AppState;
use crate::escape::escape_text;
use crate::net::Side;
use crate::net::{FrameKind, Handshake, RttKind};
use crate::present::bytes;
use crate::present::format_duration;
use crate::tui::fit::{self, Segment, Shrink, ALWAYS};
use crate::tui::keymap;
use crate::tui::theme::Theme;

/// A popup as wide and tall as its content needs, up to all of `area`, in its middle.
fn centered(area: Rect, width: usize, height: usize) -> Rect {
    let w = u16::try_from(width).unwrap_or(u16::MAX).min(area.width);
    let h = u16::try_from(height).unwrap_or(u16::MAX).min(area.height);
    Rect {
        x: area.x + (area.width - w) / 2,
        y: area.y + (area.height - h) / 2,
        width: w,
        height: h,
    }
}

/// `00000000  48 65 6c 6c 6f 0a … |Hello.|`
pub fn hex_dump(bytes: &[u8]) -> Vec<String> {
    bytes
        .chunks(16)
        .enumerate()
        .map(|(i, chunk)| {
            let mut hex = String::with_capacity(49);
            for (j, b) in chunk.iter().enumerate() {
                if j == 8 {
                    hex.push(' ');
                }
                hex.push_str(&format!("{b:02x} "));
            }
            let ascii: String = chunk
                .iter()
                .map(|&b| {
                    if b.is_ascii_graphic() || b == b' ' {
                        b as char
                    } else {
                        '.'
                    }
                })
                .collect();
            format!("{:08x}  {hex:<49} |{ascii}|", i * 16)
        })
        .collect()
}

/// The body of the detail popup as text lines, safe to print.
pub fn detail_lines(e: &FrameEntry, pane: crate::net::Side, state: &AppState) -> Vec<String> {
    let mut out = vec![format!(
        "{}  #{}  {}  {}  {}",
        e.ts.with_timezone(&state.offset)
            .format("%Y-%m-%d %H:%M:%S%.6f"),
        e.conn,
        match e.dir {
            crate::net::Direction::In => "received",
            crate::net::Direction::Out => "sent",
        },
        e.kind.as_str(),
        bytes(e.len as u64)
    )];
    if let Some(leg) = e.leg {
        // A relay's frame: which way, and whether the relay itself wrote it.
        let way = match crate::net::relay::Flow::of(leg, e.dir) {
            crate::net::relay::Flow::ClientToServer => "client → server",
            crate::net::relay::Flow::ServerToClient => "server → client",
        };
        let by = match e.dir {
            crate::net::Direction::In => format!("as the {} sent it", leg.as_str()),
            crate::net::Direction::Out => format!("written by the relay to the {}", leg.as_str()),
        };
        out.push(format!("{way}, {by}"));
    }
    if let Some(mark) = &e.mark {
        out.push(format!("relay: {mark}"));
    }
    if let Some(r) = &e.rtt {
        let kind = match r.kind {
            RttKind::Ping => "ping round trip",
            RttKind::Echo => "echo round trip",
            RttKind::Reply | RttKind::Setup => "reply latency",
        };
        let to = r
            .label
            .as_deref()
            .map(|l| format!(" (to {})", escape_text(l, 60)));
        out.push(format!(
            "{kind} {}{}",
            format_duration(r.duration),
            to.unwrap_or_default()
        ));
    }
    if let Some(wire) = state.log(pane).map(|l| l.wire.of_message(e)) {
        out.extend(frames_lines(e, &wire));
    }
    if e.truncated() {
        out.push(format!(
            "(showing the first {} of {})",
            bytes(e.payload.len() as u64),
            bytes(e.len as u64)
        ));
    }
    out.push(String::new());
    if let Some((p, d)) = super::frames::decoded(e, usize::MAX) {
        out.push(format!(
            "{}: {}",
            p.name(),
            escape_text(&d.summary, usize::MAX)
        ));
        let width = d.fields.iter().map(|(n, _)| n.len()).max().unwrap_or(0);
        for (name, value) in &d.fields {
            let mut lines = value.split('\n');
            let first = lines.next().unwrap_or_default();
            out.push(format!(
                "  {name:<width$}  {}",
                escape_text(first, usize::MAX)
            ));
            for more in lines {
                out.push(format!(
                    "  {:<width$}  {}",
                    "",
                    escape_text(more, usize::MAX)
                ));
            }
        }
        out.push(String::new());
        out.push("as sent:".into());
    }
    match (e.kind, &e.close) {
        (FrameKind::Close, Some(c)) => {
            out.push(format!("code   {} {}", c.code, c.name()));
            out.push(format!("reason {}", escape_text(&c.reason, 500)));
        }
        (FrameKind::Close, None) => out.push("no close code".into()),
        (FrameKind::Binary, _) => out.extend(hex_dump(&e.payload)),
        _ => {
            let text = String::from_utf8_lossy(&e.payload);
            match serde_json::from_str::<serde_json::Value>(&text) {
                Ok(v) if v.is_object() || v.is_array() => {
                    out.push("JSON:".into());
                    let pretty = serde_json::to_string_pretty(&v).unwrap_or_default();
                    out.extend(pretty.lines().map(|l| escape_text(l, usize::MAX)));
                }
                _ => {
                    if std::str::from_utf8(&e.payload).is_err() || e.kind != FrameKind::Text {
                        out.extend(hex_dump(&e.payload));
                    } else {
                        out.extend(text.split('\n').map(|l| escape_text(l, usize::MAX)));
                    }
                }
            }
        }
    }
    out
}

/// The frames a message crossed the wire in, when the wire log still has all
/// of them (their inflated sizes add up to the message's).
fn frames_lines(e: &FrameEntry, wire: &[&crate::app::state::WireEntry]) -> Vec<String> {
    let total: u64 = wire.iter().map(|w| w.info.len).sum();
    if wire.is_empty() || total != e.len as u64 {
        return Vec::new();
    }
    let on_wire: u64 = wire.iter().map(|w| w.info.wire_len).sum();
    let mut out = vec![if on_wire != total {
        format!(
            "{} on the wire in {} frame{}, {} inflated ({:.0}% of it)",
            bytes(on_wire),
            wire.len(),
            if wire.len() == 1 { "" } else { "s" },
            bytes(total),
            on_wire as f64 * 100.0 / total.max(1) as f64
        )
    } else {
        format!(
            "{} frame{} on the wire:",
            wire.len(),
            if wire.len() == 1 { "" } else { "s" }
        )
    }];
    for w in wire.iter().take(20) {
        out.push(format!("  {}", crate::present::wire_summary(&w.info)));
    }
    if wire.len() > 20 {
        out.push(format!("  … and {} more", wire.len() - 20));
    }
    out
}

pub fn handshake_lines(h: Option<&Handshake>) -> Vec<String> {
    let Some(h) = h else {
        return vec!["no handshake yet".into()];
    };
    let mut out = vec![escape_text(&h.request_line, 500)];
    out.extend(
        h.request_headers
            .iter()
            .map(|(k, v)| format!("{}: {}", escape_text(k, 200), escape_text(v, 500))),
    );
    out.push(String::new());
    out.push(format!("HTTP/1.1 {}", h.status));
    out.extend(
        h.response_headers
            .iter()
            .map(|(k, v)| format!("{}: {}", escape_text(k, 200), escape_text(v, 500))),
    );
    out.push(String::new());
    out.push(format!(
        "subprotocol: {}",
        h.subprotocol
            .as_deref()
            .map(|p| match crate::proto::Protocol::of_subprotocol(p) {
                Some(known) => format!("{} (decoded as {})", escape_text(p, 100), known.name()),
                None => match crate::proto::unknown_subprotocol(p) {
                    Some(what) => format!("{} ({what})", escape_text(p, 100)),
                    None => escape_text(p, 100),
                },
            })
            .unwrap_or_else(|| "none".into())
    ));
    out.push(format!(
        "tls: {}",
        h.tls.as_deref().unwrap_or("none (plain ws://)")
    ));
    if let Some(p) = &h.proxy {
        out.push(format!("proxy: {p} (HTTP CONNECT)"));
    }
    out.push(format!(
        "compression: {}",
        h.deflate
            .map(|p| p.header_value())
            .unwrap_or_else(|| "none".into())
    ));
    out
}

/// Newest first: what just happened is what one opens these for.
fn newest_first(entries: &VecDeque<TimelineEntry>, state: &AppState, empty: &str) -> Vec<String> {
    if entries.is_empty() {
        return vec![empty.to_string()];
    }
    entries
        .iter()
        .rev()
        .map(|e| {
            format!(
                "{}  {}{}",
                e.ts.with_timezone(&state.offset).format("%H:%M:%S%.3f"),
                if e.bad { "✗ " } else { "" },
                e.text
            )
        })
        .collect()
}

fn timeline_lines(state: &AppState) -> Vec<String> {
    match &state.client {
        Some(c) => newest_first(&c.timeline, state, "nothing yet: connecting…"),
        None => Vec::new(),
    }
}

fn events_lines(state: &AppState) -> Vec<String> {
    match &state.server {
        Some(s) => newest_first(&s.events, state, "nothing yet: no client has connected"),
        None => Vec::new(),
    }
}

fn help_lines(relay: bool, state: &AppState) -> Vec<String> {
    let mut out = vec!["Keys".to_string()];
    out.extend(keymap::HELP.iter().map(|(k, v)| format!("  {k:<18} {v}")));
    out.push(String::new());
    out.push("Commands in the input box".into());
    out.extend(slash::HELP.iter().map(|(k, v)| format!("  {k:<24} {v}")));
    // The client's protocol, as far as it is known, or the one asked for.
    let spoken = state.client.as_ref().map(|c| c.spoken);
    let protocol = spoken
        .and_then(|s| s.protocol)
        .or_else(|| crate::proto::Spoken::new(state.speech.choice, None).commands());
    if let Some(p) = protocol {
        out.push(String::new());
        out.push(format!("{} commands (--protocol)", p.name()));
        out.extend(
            p.codec()
                .commands()
                .iter()
                .map(|(k, v)| format!("  {k:<24} {v}")),
        );
    }
    if state.client.is_some() && !relay {
        out.push(String::new());
        out.push("In a script (/run FILE), besides these lines".into());
        out.extend(
            crate::script::HELP
                .iter()
                .map(|(k, v)| format!("  {k:<32} {v}")),
        );
    }
    if relay {
        out.push(String::new());
        out.push("Relay: where a line goes".into());
        out.extend(
            slash::RELAY_HELP
                .iter()
                .chain(slash::STEER_HELP)
                .map(|(k, v)| format!("  {k:<38} {v}")),
        );
    }
    out
}

/// Draws the popup over `area`: its title says what it is (and, when there is
/// room, how to scroll and close it); lines wider than the screen wrap.
pub fn render(f: &mut Frame, area: Rect, popup: &Popup, state: &AppState, theme: &Theme) {
    let (name, hint, lines, scroll) = match popup {
        Popup::Help { scroll } => (
            "Help".to_string(),
            "Esc closes",
            help_lines(state.mode == crate::app::Mode::Relay, state),
            *scroll,
        ),
        Popup::Detail { pane, seq, scroll } => {
            let lines = state
                .log(*pane)
                .and_then(|l| l.log.get(*seq))
                .map(|e| detail_lines(e, *pane, state))
                .unwrap_or_else(|| vec!["this frame has left the log".into()]);
            (
                "Frame".to_string(),
                "↑/↓ scroll, Esc closes",
                lines,
                *scroll,
            )
        }
        Popup::Handshake { pane, conn, scroll } => {
            let row = state
                .server
                .as_ref()
                .and_then(|s| s.rows.iter().find(|r| Some(r.id) == *conn));
            let unpacked = row.map(|r| r.handshake.unpack());
            let h = match pane {
                Side::Client => state.client.as_ref().and_then(|c| c.handshake.as_ref()),
                Side::Server => unpacked.as_ref(),
            };
            let name = match conn {
                Some(c) => format!("Handshake #{c}"),
                None => "Handshake".to_string(),
            };
            let lines = match row.filter(|_| state.mode == crate::app::Mode::Relay) {
                // A relayed pair: what the client asked of us, then what we asked upstream.
                Some(r) => {
                    let mut lines = vec![format!("client leg, from {}", r.peer), String::new()];
                    lines.extend(handshake_lines(Some(&r.handshake.unpack())));
                    lines.push(String::new());
                    match &r.upstream {
                        Some(up) => {
                            lines.push(format!("server leg, to {}", up.peer));
                            lines.push(String::new());
                            lines.extend(handshake_lines(Some(&up.handshake.unpack())));
                        }
                        None => lines.push("server leg: not connected yet".into()),
                    }
                    lines
                }
                None => handshake_lines(h),
            };
            (name, "Esc closes", lines, *scroll)
        }
        Popup::Timeline { scroll } => (
            "Connection timeline, newest first".to_string(),
            "↑/↓ scroll, Esc closes",
            timeline_lines(state),
            *scroll,
        ),
        Popup::Events { scroll } => (
            "Server events, newest first".to_string(),
            "↑/↓ scroll, Esc closes",
            events_lines(state),
            *scroll,
        ),
    };
    let title = [
        Segment::styled(ALWAYS, name, theme.bold()).shrink(Shrink::Words),
        Segment::styled(1, hint, theme.bold()).sep(" — "),
    ];
    let title_w = fit::title(&title, u16::MAX).width();
    let text_w = lines.iter().map(|l| l.width()).max().unwrap_or(0);
    let width = usize::from(area.width).min(text_w.max(title_w) + 2);
    let rows: Vec<String> = lines
        .iter()
        .flat_map(|l| fit::wrap(l, width.saturating_sub(2)))
        .collect();
    let area = centered(area, width, rows.len() + 2);
    let max_scroll = rows
        .len()
        .saturating_sub(area.height.saturating_sub(2) as usize) as u16;
    let text: Vec<Line> = rows.into_iter().map(Line::raw).collect();
    f.render_widget(Clear, area);
    f.render_widget(
        Paragraph::new(text)
            .scroll((scroll.min(max_scroll), 0))
            .block(
                Block::default()
                    .borders(Borders::ALL)
                    .border_style(theme.border(true))
                    .title(fit::title(&title, area.width)),
            ),
        area,
    );
}

#[cfg(test)]
mod tests {
    use super::hex_dump;

    #[test]
    fn hex_dump_lines() {
        let d = hex_dump(b"Hello\nworld, 16+ bytes");
        assert_eq!(d.len(), 2);
        assert!(d[0].starts_with("00000000  48 65 6c 6c 6f 0a"), "{}", d[0]);
        assert!(d[0].ends_with("|Hello.world, 16+|"), "{}", d[0]);
        assert!(d[1].starts_with("00000010  20 62 79 74 65 73"), "{}", d[1]);
    }
}
