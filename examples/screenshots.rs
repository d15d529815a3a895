//! Renders the dashboards from the test fixtures to SVG for the README:
//! `cargo run --example screenshots` writes assets/{client,server,demo}.svg.

use std::fmt::Write;

use ratatui::buffer::Buffer;
use ratatui::style::{Color, Modifier};
use wsprobe::app::Mode;
use wsprobe::tui::fixture::{fixture, render};
use wsprobe::tui::theme::Theme;

const CELL_W: f32 = 8.4;
const CELL_H: f32 = 17.0;
const BACKGROUND: &str = "#1d1f21";
const FOREGROUND: &str = "#d8dee9";

fn color(c: Color) -> Option<&'static str> {
    Some(match c {
        Color::Reset => return None,
        Color::Black => "#282a2e",
        Color::Red => "#e06c75",
        Color::Green => "#98c379",
        Color::Yellow => "#e5c07b",
        Color::Blue => "#61afef",
        Color::Magenta => "#c678dd",
        Color::Cyan => "#56b6c2",
        Color::Gray => "#abb2bf",
        Color::DarkGray => "#5c6370",
        Color::White => "#ffffff",
        _ => FOREGROUND,
    })
}

fn escape(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
}

fn svg(buf: &Buffer) -> String {
    let (w, h) = (buf.area.width, buf.area.height);
    let mut out = String::new();
    let _ = write!(
        out,
        r#"<svg xmlns="http://www.w3.org/2000/svg" width="{}" height="{}" font-family="DejaVu Sans Mono, Menlo, Consolas, monospace" font-size="14"><rect width="100%" height="100%" fill="{BACKGROUND}" rx="6"/>"#,
        w as f32 * CELL_W + 16.0,
        h as f32 * CELL_H + 16.0
    );
    for y in 0..h {
        for x in 0..w {
            let cell = &buf[(x, y)];
            let sym = cell.symbol();
            if sym.is_empty()
                || sym == " "
                    && cell.bg == Color::Reset
                    && !cell.modifier.contains(Modifier::REVERSED)
            {
                continue;
            }
            let (mut fg, mut bg) = (color(cell.fg).unwrap_or(FOREGROUND), color(cell.bg));
            if cell.modifier.contains(Modifier::REVERSED) {
                bg = Some(fg);
                fg = BACKGROUND;
            }
            let (px, py) = (8.0 + x as f32 * CELL_W, 8.0 + y as f32 * CELL_H);
            if let Some(bg) = bg {
                let _ = write!(
                    out,
                    r#"<rect x="{px}" y="{py}" width="{CELL_W}" height="{CELL_H}" fill="{bg}"/>"#
                );
            }
            let weight = if cell.modifier.contains(Modifier::BOLD) {
                r#" font-weight="bold""#
            } else {
                ""
            };
            let opacity = if cell.modifier.contains(Modifier::DIM) {
                r#" opacity="0.6""#
            } else {
                ""
            };
            let _ = write!(
                out,
                r#"<text x="{px}" y="{}" fill="{fg}"{weight}{opacity} xml:space="preserve">{}</text>"#,
                py + CELL_H - 4.0,
                escape(sym)
            );
        }
    }
    out.push_str("</svg>\n");
    out
}

fn main() -> std::io::Result<()> {
    let theme = Theme { no_color: false };
    std::fs::create_dir_all("assets")?;
    for (name, mode, w, h) in [
        ("client", Mode::Client, 120, 32),
        ("server", Mode::Server, 120, 32),
        ("demo", Mode::Demo, 140, 36),
    ] {
        let fx = fixture(mode);
        let terminal = render(&fx.state, w, h, &theme);
        let path = format!("assets/{name}.svg");
        std::fs::write(&path, svg(terminal.backend().buffer()))?;
        println!("wrote {path}");
    }
    Ok(())
}
