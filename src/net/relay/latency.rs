//! Request→reply latency of a relayed conversation: each client message waits
//! for its reply, which is the next server message (in order), or with
//! `--correlate` the server message carrying the same value at a JSON path.

use std::sync::Mutex;
use std::time::Instant;

use crate::net::speak::{Answered, Conversation, Pair, Speaker, Tracker};

/// A path into a JSON value as people write it: `$.id`, `$.payload.id`,
/// `$.params[0]`, `id`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct JsonPath {
    text: String,
    steps: Vec<Step>,
}

#[derive(Clone, Debug, PartialEq, Eq)]
enum Step {
    Key(String),
    Index(usize),
}

impl JsonPath {
    pub fn parse(text: &str) -> Result<JsonPath, String> {
        let bad =
            |why: &str| format!("invalid JSON path `{text}`: {why} (e.g. $.id or $.params[0])");
        let mut rest = text.trim();
        rest = rest.strip_prefix('$').unwrap_or(rest);
        let mut steps = Vec::new();
        while !rest.is_empty() {
            if let Some(r) = rest.strip_prefix('[') {
                let (inside, after) = r
                    .split_once(']')
                    .ok_or_else(|| bad("a `[` is not closed"))?;
                let inside = inside.trim();
                let quoted = inside
                    .strip_prefix('"')
                    .and_then(|s| s.strip_suffix('"'))
                    .or_else(|| inside.strip_prefix('\'').and_then(|s| s.strip_suffix('\'')));
                steps.push(match quoted {
                    Some(key) => Step::Key(key.to_string()),
                    None => Step::Index(
                        inside
                            .parse()
                            .map_err(|_| bad("an index is not a number"))?,
                    ),
                });
                rest = after;
                continue;
            }
            let r = rest.strip_prefix('.').unwrap_or(rest);
            let end = r.find(['.', '[']).unwrap_or(r.len());
            let key = &r[..end];
            if key.is_empty() {
                return Err(bad("an empty name"));
            }
            steps.push(Step::Key(key.to_string()));
            rest = &r[end..];
        }
        if steps.is_empty() {
            return Err(bad("it names nothing"));
        }
        Ok(JsonPath {
            text: text.to_string(),
            steps,
        })
    }

    pub fn as_str(&self) -> &str {
        &self.text
    }

    /// The value at the path, if there is one.
    pub fn lookup<'a>(&self, value: &'a serde_json::Value) -> Option<&'a serde_json::Value> {
        let mut at = value;
        for step in &self.steps {
            at = match step {
                Step::Key(k) => at.get(k)?,
                Step::Index(i) => at.get(*i)?,
            };
        }
        Some(at)
    }

    /// The value at the path, to change it.
    pub fn lookup_mut<'a>(
        &self,
        value: &'a mut serde_json::Value,
    ) -> Option<&'a mut serde_json::Value> {
        let mut at = value;
        for step in &self.steps {
            at = match step {
                Step::Key(k) => at.get_mut(k)?,
                Step::Index(i) => at.get_mut(*i)?,
            };
        }
        Some(at)
    }

    /// The value at the path in a JSON message, as its JSON text (so `1` and
    /// `"1"` stay apart); None when the message is not JSON or has no such value.
    pub fn key_of(&self, payload: &[u8]) -> Option<String> {
        let value: serde_json::Value = serde_json::from_slice(payload).ok()?;
        let at = self.lookup(&value)?;
        (!at.is_null()).then(|| at.to_string())
    }
}

impl std::str::FromStr for JsonPath {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        JsonPath::parse(s)
    }
}

/// `--correlate`: a request is a client message with a value at the path, its
/// reply the server message with the same value there.
impl Speaker for JsonPath {
    fn open(&self, _subprotocol: Option<&str>) -> Box<dyn Conversation> {
        Box::new(self.clone())
    }
}

impl Conversation for JsonPath {
    fn pairs(
        &mut self,
        from_client: bool,
        _text: bool,
        payload: &[u8],
        out: &mut Vec<Pair>,
    ) -> bool {
        let Some(key) = self.key_of(payload) else {
            return true;
        };
        out.push(match from_client {
            true => Pair::Request {
                key,
                label: String::new(),
            },
            false => Pair::Reply { key },
        });
        true
    }
}

/// One pair's requests awaiting their replies, shared by its two directions.
pub(super) struct Pending {
    inner: Mutex<Tracker>,
}

impl Pending {
    pub(super) fn new(speech: Option<Box<dyn Conversation>>) -> Pending {
        Pending {
            inner: Mutex::new(Tracker::new(speech, true)),
        }
    }

    /// A client message left for the server at `at`.
    pub(super) fn request(&self, text: bool, payload: &[u8], at: Instant) {
        let mut t = self.inner.lock().unwrap_or_else(|e| e.into_inner());
        t.request(text, payload, at, false);
    }

    /// A server message arrived at `at`: the latency of the request it answers.
    pub(super) fn reply(&self, text: bool, payload: &[u8], at: Instant) -> Option<Answered> {
        let mut t = self.inner.lock().unwrap_or_else(|e| e.into_inner());
        t.reply(text, payload, at)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[test]
    fn paths_read_as_people_write_them() {
        let p = JsonPath::parse("$.payload.id").unwrap();
        assert_eq!(p.key_of(br#"{"payload":{"id":7}}"#).as_deref(), Some("7"));
        assert_eq!(p.key_of(br#"{"payload":{}}"#), None);
        assert_eq!(p.key_of(b"not json"), None);
        let p = JsonPath::parse("$.params[1]").unwrap();
        assert_eq!(p.key_of(br#"{"params":[1,"b"]}"#).as_deref(), Some("\"b\""));
        let p = JsonPath::parse("id").unwrap();
        assert_eq!(p.key_of(br#"{"id":"x"}"#).as_deref(), Some("\"x\""));
        let p = JsonPath::parse("$['odd key']").unwrap();
        assert_eq!(p.key_of(br#"{"odd key":1}"#).as_deref(), Some("1"));
        assert!(JsonPath::parse("$").is_err());
        assert!(JsonPath::parse("$.a[").is_err());
        assert!(JsonPath::parse("$.a[x]").is_err());
        assert!(JsonPath::parse("$..a").is_err());
    }

    fn ms(a: Option<Answered>) -> Option<u64> {
        a.map(|a| a.latency.as_millis() as u64)
    }

    #[test]
    fn by_default_each_reply_answers_the_oldest_request() {
        let t0 = Instant::now();
        let p = Pending::new(None);
        p.request(true, b"a", t0);
        p.request(true, b"b", t0 + Duration::from_millis(5));
        let at = t0 + Duration::from_millis(10);
        assert_eq!(ms(p.reply(true, b"x", at)), Some(10));
        assert_eq!(ms(p.reply(true, b"y", at)), Some(5));
        assert_eq!(
            p.reply(true, b"z", at),
            None,
            "a push with no request waiting"
        );
    }

    #[test]
    fn correlated_replies_find_their_request_by_value() {
        let t0 = Instant::now();
        let path = JsonPath::parse("$.id").unwrap();
        let p = Pending::new(Some(path.open(None)));
        p.request(true, br#"{"id":1}"#, t0);
        p.request(true, br#"{"id":2}"#, t0 + Duration::from_millis(3));
        p.request(true, b"no id", t0);
        let at = t0 + Duration::from_millis(10);
        assert_eq!(ms(p.reply(true, br#"{"id":2,"result":0}"#, at)), Some(7));
        assert_eq!(p.reply(true, br#"{"id":2}"#, at), None, "answered once");
        assert_eq!(
            p.reply(true, br#"{"id":"1"}"#, at),
            None,
            "a string is not a number"
        );
        assert_eq!(ms(p.reply(true, br#"{"id":1}"#, at)), Some(10));
    }
}
