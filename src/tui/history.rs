//! Input history on disk: one JSON string per line in the user's data directory
//! (`WSPROBE_HISTORY` names another file; empty turns it off).

use std::io::Write;
use std::path::PathBuf;

use crate::app::input::HISTORY_LIMIT;

pub fn path() -> Option<PathBuf> {
    match std::env::var_os("WSPROBE_HISTORY") {
        Some(p) if p.is_empty() => None,
        Some(p) => Some(PathBuf::from(p)),
        None => dirs::data_dir().map(|d| d.join("wsprobe").join("history.jsonl")),
    }
}

pub fn load() -> Vec<String> {
    let Some(path) = path() else {
        return Vec::new();
    };
    let Ok(text) = std::fs::read_to_string(&path) else {
        return Vec::new();
    };
    let mut lines: Vec<String> = text
        .lines()
        .filter(|l| !l.is_empty())
        .map(|l| serde_json::from_str::<String>(l).unwrap_or_else(|_| l.to_string()))
        .collect();
    if lines.len() > HISTORY_LIMIT {
        lines.drain(..lines.len() - HISTORY_LIMIT);
    }
    lines
}

/// Appends one entry; a history that cannot be written is not worth an error.
pub fn append(line: &str) {
    let Some(path) = path() else { return };
    if let Some(dir) = path.parent() {
        let _ = std::fs::create_dir_all(dir);
    }
    let Ok(mut f) = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(&path)
    else {
        tracing::warn!("cannot write history to {}", path.display());
        return;
    };
    let _ = writeln!(f, "{}", serde_json::to_string(line).unwrap_or_default());
}
