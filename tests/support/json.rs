//! JSON Lines as wsprobe writes them (`--json`, `--record` files) and as the
//! peer scripts report: parsed whole, and searched for events and frames.

use std::path::Path;
use std::process::Output;

use serde_json::Value;

/// One line as JSON; fails naming the line.
pub fn parse_line(line: &str) -> Value {
    serde_json::from_str(line).unwrap_or_else(|e| panic!("not a JSON line ({e}): {line:?}"))
}

/// Every line of `text`, each of which must be JSON.
pub fn parse(text: &str) -> Vec<Value> {
    text.lines().map(parse_line).collect()
}

/// A finished child's stdout, one record a line.
pub fn stdout(out: &Output) -> Vec<Value> {
    parse(&String::from_utf8_lossy(&out.stdout))
}

/// The first record with this `event`.
pub fn event<'a>(records: &'a [Value], name: &str) -> Option<&'a Value> {
    records.iter().find(|r| r["event"] == name)
}

/// The frame records going `dir` (`in` or `out`) of this `kind` (`text`,
/// `binary`, `close`…), in order.
pub fn frames<'a>(
    records: &'a [Value],
    dir: &'a str,
    kind: &'a str,
) -> impl Iterator<Item = &'a Value> + 'a {
    records
        .iter()
        .filter(move |r| r["dir"] == dir && r["kind"] == kind)
}

/// The first such frame record.
pub fn frame<'a>(records: &'a [Value], dir: &'a str, kind: &'a str) -> Option<&'a Value> {
    frames(records, dir, kind).next()
}

/// A whole file as one JSON document (a HAR export); fails naming the file.
pub fn file(path: &Path) -> Value {
    let text = std::fs::read_to_string(path)
        .unwrap_or_else(|e| panic!("cannot read {}: {e}", path.display()));
    serde_json::from_str(&text).unwrap_or_else(|e| panic!("{} is not JSON ({e})", path.display()))
}
