//! Request→reply latency of a relayed conversation: each client message waits
//! for its reply, which is the next server message (in order), or with
//! `--correlate` the server message carrying the same value at a JSON path.

use std::collections::{HashMap, VecDeque};
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// Requests remembered per connection; the oldest are forgotten beyond this, so a
/// server that never answers costs a bounded amount.
const MAX_PENDING: usize = 4096;
/// A correlation value longer than this is not matched on (an id is short; a
/// whole object at the path would make every request cost its size twice).
const MAX_KEY: usize = 256;

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

/// One connection's requests awaiting their replies.
#[derive(Debug)]
pub(super) struct Pending {
    correlate: Option<JsonPath>,
    inner: Mutex<Waiting>,
}

#[derive(Debug, Default)]
struct Waiting {
    in_order: VecDeque<Instant>,
    /// Each waiting key, when it was sent and its number.
    by_key: HashMap<String, (Instant, u64)>,
    /// Keys with their numbers in the order they came, to forget the oldest;
    /// an answered one stays until it reaches the front (no search per reply).
    keys: VecDeque<(String, u64)>,
    next: u64,
}

impl Pending {
    pub(super) fn new(correlate: Option<JsonPath>) -> Pending {
        Pending {
            correlate,
            inner: Mutex::new(Waiting::default()),
        }
    }

    /// A client message left for the server at `at`.
    pub(super) fn request(&self, payload: &[u8], at: Instant) {
        let mut w = self.inner.lock().unwrap_or_else(|e| e.into_inner());
        match &self.correlate {
            None => {
                if w.in_order.len() == MAX_PENDING {
                    w.in_order.pop_front();
                }
                w.in_order.push_back(at);
            }
            Some(path) => {
                let Some(key) = path.key_of(payload).filter(|k| k.len() <= MAX_KEY) else {
                    return;
                };
                let n = w.next;
                w.next += 1;
                w.by_key.insert(key.clone(), (at, n));
                w.keys.push_back((key, n));
                // Forget the oldest: waiting ones beyond the bound, answered
                // ones (no longer in the map under their number) as they come up.
                while w.keys.len() > MAX_PENDING
                    || w.keys
                        .front()
                        .is_some_and(|(k, n)| w.by_key.get(k).map(|e| e.1) != Some(*n))
                {
                    let Some((old, n)) = w.keys.pop_front() else {
                        break;
                    };
                    if w.by_key.get(&old).map(|e| e.1) == Some(n) {
                        w.by_key.remove(&old);
                    }
                }
            }
        }
    }

    /// A server message arrived at `at`: the latency of the request it answers.
    pub(super) fn reply(&self, payload: &[u8], at: Instant) -> Option<Duration> {
        let mut w = self.inner.lock().unwrap_or_else(|e| e.into_inner());
        let sent = match &self.correlate {
            None => w.in_order.pop_front()?,
            Some(path) => {
                let key = path.key_of(payload).filter(|k| k.len() <= MAX_KEY)?;
                w.by_key.remove(&key)?.0
            }
        };
        Some(at.saturating_duration_since(sent))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

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

    #[test]
    fn by_default_each_reply_answers_the_oldest_request() {
        let t0 = Instant::now();
        let p = Pending::new(None);
        p.request(b"a", t0);
        p.request(b"b", t0 + Duration::from_millis(5));
        let at = t0 + Duration::from_millis(10);
        assert_eq!(p.reply(b"x", at), Some(Duration::from_millis(10)));
        assert_eq!(p.reply(b"y", at), Some(Duration::from_millis(5)));
        assert_eq!(p.reply(b"z", at), None, "a push with no request waiting");
    }

    #[test]
    fn correlated_replies_find_their_request_by_value() {
        let t0 = Instant::now();
        let p = Pending::new(Some(JsonPath::parse("$.id").unwrap()));
        p.request(br#"{"id":1}"#, t0);
        p.request(br#"{"id":2}"#, t0 + Duration::from_millis(3));
        p.request(b"no id", t0);
        let at = t0 + Duration::from_millis(10);
        assert_eq!(
            p.reply(br#"{"id":2,"result":0}"#, at),
            Some(Duration::from_millis(7))
        );
        assert_eq!(p.reply(br#"{"id":2}"#, at), None, "answered once");
        assert_eq!(
            p.reply(br#"{"id":"1"}"#, at),
            None,
            "a string is not a number"
        );
        assert_eq!(p.reply(br#"{"id":1}"#, at), Some(Duration::from_millis(10)));
    }

    #[test]
    fn a_server_that_never_answers_costs_a_bounded_amount() {
        let t0 = Instant::now();
        let p = Pending::new(Some(JsonPath::parse("$.id").unwrap()));
        for i in 0..(MAX_PENDING + 10) {
            p.request(format!(r#"{{"id":{i}}}"#).as_bytes(), t0);
        }
        let w = p.inner.lock().unwrap();
        assert_eq!(w.by_key.len(), MAX_PENDING);
        assert_eq!(w.keys.len(), MAX_PENDING);
        assert!(!w.by_key.contains_key("0"), "the oldest is forgotten");
        drop(w);
        // Answered ones do not pile up either.
        for i in 0..(3 * MAX_PENDING) {
            let req = format!(r#"{{"id":"a{i}"}}"#);
            p.request(req.as_bytes(), t0);
            assert!(p.reply(req.as_bytes(), t0).is_some());
        }
        assert!(p.inner.lock().unwrap().keys.len() <= MAX_PENDING);
        // A huge value at the path is not matched on.
        let huge = format!(r#"{{"id":"{}"}}"#, "x".repeat(1000));
        p.request(huge.as_bytes(), t0);
        assert_eq!(p.reply(huge.as_bytes(), t0), None);
    }
}
