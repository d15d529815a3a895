//! What an `/expect` wants of the next message: a regex it matches, or a
//! value at a JSON path (the path syntax is `--correlate`'s).

use serde_json::Value;

use crate::net::relay::JsonPath;
use crate::net::FrameKind;

/// Regexes compiled from a script stay this small, as the relay's `--break`.
const REGEX_SIZE_LIMIT: usize = 1 << 20;

#[derive(Clone, Debug)]
pub enum Expect {
    /// Matches anywhere in a text message (`^…$` anchors it); a binary
    /// message is matched as its hex digits.
    Regex(regex::Regex),
    Json {
        path: JsonPath,
        test: Test,
    },
}

#[derive(Clone, Debug, PartialEq)]
pub enum Test {
    /// `json PATH`: there is a value there.
    Exists,
    Eq(Value),
    Ne(Value),
}

/// Where in the pattern a problem is (byte offset from its start) and why.
pub type Bad = (usize, String);

impl Expect {
    /// `PATTERN`, or `json PATH [== VALUE | != VALUE]`.
    pub fn parse(pattern: &str) -> Result<Expect, Bad> {
        if let Some(rest) = pattern.strip_prefix("json ") {
            return parse_json(rest).map_err(|(at, why)| (at + 5, why));
        }
        regex::RegexBuilder::new(pattern)
            .size_limit(REGEX_SIZE_LIMIT)
            .build()
            .map(Expect::Regex)
            .map_err(|e| (0, regex_error(&e)))
    }

    /// Whether a message meets it; when not, why (the received side is
    /// shown by the caller).
    pub fn check(&self, kind: FrameKind, payload: &[u8]) -> Result<(), String> {
        match self {
            Expect::Regex(re) => {
                let hay = match kind {
                    FrameKind::Text => String::from_utf8_lossy(payload).into_owned(),
                    _ => hex(payload),
                };
                match re.is_match(&hay) {
                    true => Ok(()),
                    false => Err("it does not match".into()),
                }
            }
            Expect::Json { path, test } => {
                let value: Value =
                    serde_json::from_slice(payload).map_err(|_| "it is not JSON".to_string())?;
                let found = path.lookup(&value);
                match (test, found) {
                    (_, None) => Err(format!("it has nothing at {}", path.as_str())),
                    (Test::Exists, Some(_)) => Ok(()),
                    (Test::Eq(want), Some(got)) if same(want, got) => Ok(()),
                    (Test::Eq(_), Some(got)) => {
                        Err(format!("{} is {}", path.as_str(), clip(&got.to_string())))
                    }
                    (Test::Ne(want), Some(got)) if !same(want, got) => Ok(()),
                    (Test::Ne(_), Some(got)) => {
                        Err(format!("{} is {}", path.as_str(), clip(&got.to_string())))
                    }
                }
            }
        }
    }

    /// What it wants, in words for a report.
    pub fn describe(&self) -> String {
        match self {
            Expect::Regex(re) => format!("a message matching /{}/", re.as_str()),
            Expect::Json { path, test } => match test {
                Test::Exists => format!("JSON with a value at {}", path.as_str()),
                Test::Eq(v) => format!("JSON with {} == {v}", path.as_str()),
                Test::Ne(v) => format!("JSON with {} != {v}", path.as_str()),
            },
        }
    }
}

/// `PATH`, `PATH == VALUE`, `PATH != VALUE`; VALUE is JSON, or else a string.
fn parse_json(rest: &str) -> Result<Expect, Bad> {
    let (path_text, test) = match rest.find(" == ").or_else(|| rest.find(" != ")) {
        Some(at) => {
            let value_text = rest[at + 4..].trim();
            let value = serde_json::from_str(value_text)
                .unwrap_or_else(|_| Value::String(value_text.to_string()));
            let test = match &rest[at + 1..at + 3] {
                "==" => Test::Eq(value),
                _ => Test::Ne(value),
            };
            (&rest[..at], test)
        }
        None => (rest, Test::Exists),
    };
    let path = JsonPath::parse(path_text.trim()).map_err(|e| (0, e))?;
    Ok(Expect::Json { path, test })
}

/// A number is the same number however it was written (`1` and `1.0`).
fn same(want: &Value, got: &Value) -> bool {
    match (want.as_f64(), got.as_f64()) {
        (Some(a), Some(b)) => a == b,
        _ => want == got,
    }
}

fn hex(b: &[u8]) -> String {
    b.iter().map(|b| format!("{b:02x}")).collect()
}

fn clip(s: &str) -> String {
    crate::escape::escape_text(s, 80)
}

/// The regex crate's message without its own copy of the pattern.
pub fn regex_error(e: &regex::Error) -> String {
    let text = e.to_string();
    let last = text.lines().rev().find(|l| !l.trim().is_empty());
    format!(
        "bad regex: {}",
        last.unwrap_or("").trim_start_matches("error: ")
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ok(e: &Expect, text: &str) -> bool {
        e.check(FrameKind::Text, text.as_bytes()).is_ok()
    }

    #[test]
    fn a_regex_matches_anywhere_unless_anchored() {
        let e = Expect::parse("Echo: h.llo").unwrap();
        assert!(ok(&e, "Echo: hello world"));
        assert!(!ok(&Expect::parse("^hello$").unwrap(), "hello world"));
        let bin = Expect::parse("^01ff").unwrap();
        assert!(bin.check(FrameKind::Binary, &[1, 0xff, 2]).is_ok());
        let (_, why) = Expect::parse("a(b").unwrap_err();
        assert!(why.starts_with("bad regex:"), "{why}");
    }

    #[test]
    fn json_paths_compare_values() {
        let e = Expect::parse("json $.result == 3").unwrap();
        assert!(ok(&e, r#"{"jsonrpc":"2.0","result":3,"id":1}"#));
        assert!(ok(&e, r#"{"result":3.0}"#));
        let why = e.check(FrameKind::Text, br#"{"result":4}"#).unwrap_err();
        assert_eq!(why, "$.result is 4");
        assert_eq!(
            e.check(FrameKind::Text, b"nope").unwrap_err(),
            "it is not JSON"
        );
        assert!(ok(
            &Expect::parse("json $.a[1].b == hi").unwrap(),
            r#"{"a":[0,{"b":"hi"}]}"#
        ));
        assert!(ok(
            &Expect::parse(r#"json $.m == "hi there""#).unwrap(),
            r#"{"m":"hi there"}"#
        ));
        assert!(ok(
            &Expect::parse("json $.error").unwrap(),
            r#"{"error":{}}"#
        ));
        assert!(!ok(
            &Expect::parse("json $.error").unwrap(),
            r#"{"result":1}"#
        ));
        assert!(ok(
            &Expect::parse("json $.n != null").unwrap(),
            r#"{"n":1}"#
        ));
        let (at, why) = Expect::parse("json $.a[x] == 1").unwrap_err();
        assert_eq!(at, 5);
        assert!(why.contains("invalid JSON path"), "{why}");
    }
}
