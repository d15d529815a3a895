//! A protocol spoken over a connection, as far as a network task must know it:
//! what a client says once the connection opens, what it answers at once (a
//! keep-alive must not wait for a screen), and which messages are requests
//! and which their replies, for request→reply latency. Net knows no protocol:
//! `proto` implements these, `--correlate` too (`relay::JsonPath`).

use std::collections::{HashMap, VecDeque};
use std::sync::Arc;
use std::time::{Duration, Instant};

use super::NetCommand;

/// What one message is in a request→reply exchange.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Pair {
    /// A request (client to server) that a reply with the same key answers;
    /// `label` names it for per-method figures (a method, an event).
    Request { key: String, label: String },
    /// A reply (server to client) to the request with this key.
    Reply { key: String },
}

/// A protocol for the connections of one client, server or relay.
pub trait Speaker: Send + Sync + std::fmt::Debug {
    /// One connection's side of it, once the handshake agreed on `subprotocol`.
    fn open(&self, subprotocol: Option<&str>) -> Box<dyn Conversation>;
}

/// One connection's protocol state.
pub trait Conversation: Send + Sync {
    /// What a client says as soon as the connection is open.
    fn greet(&mut self) -> Vec<NetCommand> {
        Vec::new()
    }
    /// A data message from the server: what the client answers at once.
    fn answer(&mut self, _text: bool, _payload: &[u8]) -> Option<NetCommand> {
        None
    }
    /// The requests and replies a data message carries (a batch carries
    /// several); `from_client` says which way it went. False when no protocol
    /// reads the message: each reply then answers the oldest request.
    fn pairs(&mut self, from_client: bool, text: bool, payload: &[u8], out: &mut Vec<Pair>)
        -> bool;

    /// Whether the connection is known to speak a protocol (not only a message
    /// here and there): its messages are then not echoes to match.
    fn established(&self) -> bool {
        false
    }
}

/// Requests remembered per connection; the oldest are forgotten beyond this, so a
/// server that never answers costs a bounded amount.
pub const MAX_PENDING: usize = 4096;
/// A key longer than this is not matched on (an id is short; a whole object as
/// a key would make every request cost its size twice).
pub const MAX_KEY: usize = 256;
/// Labels kept apart in per-label figures; more are counted together.
pub const MAX_LABELS: usize = 64;
/// A label is cut to this many characters (a method name is short; one a
/// peer made up may be anything).
const LABEL_CHARS: usize = 64;
/// Messages longer than this are not read for pairing: a whole parse of each
/// would cost the forwarding more than a latency figure is worth.
pub const MAX_PAIRED: usize = 1 << 20;

/// A reply's latency and the label of the request it answers.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Answered {
    pub latency: Duration,
    pub label: Option<Arc<str>>,
    /// The request was wsprobe's own (a greeting, an answer), not the user's.
    pub own: bool,
}

/// Requests awaiting their replies, matched by key, bounded.
#[derive(Debug, Default)]
pub struct Pending {
    /// Each waiting key: when it was sent, its label, its number, and whether
    /// wsprobe sent it of its own accord.
    by_key: HashMap<String, (Instant, Arc<str>, u64, bool)>,
    /// Keys with their numbers in the order they came, to forget the oldest;
    /// an answered one stays until it reaches the front (no search per reply).
    keys: VecDeque<(String, u64)>,
    next: u64,
    /// Labels seen, shared by their requests so each costs one allocation.
    labels: HashMap<String, Arc<str>>,
}

impl Pending {
    /// A request left at `at`; `own` when wsprobe said it by itself.
    pub fn request(&mut self, key: String, label: &str, at: Instant, own: bool) {
        if key.len() > MAX_KEY {
            return;
        }
        let label = self.label(label);
        let n = self.next;
        self.next += 1;
        self.by_key.insert(key.clone(), (at, label, n, own));
        self.keys.push_back((key, n));
        // Forget the oldest: waiting ones beyond the bound, answered ones (no
        // longer in the map under their number) as they come up.
        while self.keys.len() > MAX_PENDING
            || self
                .keys
                .front()
                .is_some_and(|(k, n)| self.by_key.get(k).map(|e| e.2) != Some(*n))
        {
            let Some((old, n)) = self.keys.pop_front() else {
                break;
            };
            if self.by_key.get(&old).map(|e| e.2) == Some(n) {
                self.by_key.remove(&old);
            }
        }
    }

    /// A reply arrived at `at`: the request it answers, if one waits.
    pub fn reply(&mut self, key: &str, at: Instant) -> Option<Answered> {
        let (sent, label, _, own) = self.by_key.remove(key)?;
        Some(Answered {
            latency: at.saturating_duration_since(sent),
            label: (!label.is_empty()).then_some(label),
            own,
        })
    }

    /// Requests still waiting.
    pub fn waiting(&self) -> usize {
        self.by_key.len()
    }

    fn label(&mut self, label: &str) -> Arc<str> {
        let label = match label.char_indices().nth(LABEL_CHARS) {
            Some((at, _)) => &label[..at],
            None => label,
        };
        if let Some(l) = self.labels.get(label) {
            return l.clone();
        }
        let l: Arc<str> = if self.labels.len() >= MAX_LABELS {
            Arc::from("(others)")
        } else {
            Arc::from(label)
        };
        if self.labels.len() < MAX_LABELS {
            self.labels.insert(label.to_string(), l.clone());
        }
        l
    }
}

/// One connection's requests timed to their replies, as its conversation
/// pairs them: the one mechanism of the client and the relay. A message no
/// protocol reads is paired in order when `in_order` (the relay: the next
/// server message answers the oldest client message); otherwise it is left to
/// the caller (the client matches echoes by content).
pub struct Tracker {
    speech: Option<Box<dyn Conversation>>,
    pending: Pending,
    in_order: Option<VecDeque<Instant>>,
    scratch: Vec<Pair>,
}

impl Tracker {
    pub fn new(speech: Option<Box<dyn Conversation>>, in_order: bool) -> Tracker {
        Tracker {
            speech,
            pending: Pending::default(),
            in_order: in_order.then(VecDeque::new),
            scratch: Vec::new(),
        }
    }

    /// The protocol's state, to greet and answer by.
    pub fn speech(&mut self) -> Option<&mut (dyn Conversation + 'static)> {
        self.speech.as_deref_mut()
    }

    /// Whether the connection is known to speak a protocol.
    pub fn established(&self) -> bool {
        self.speech.as_ref().is_some_and(|s| s.established())
    }

    /// What a message says, as the conversation reads it; false when nothing
    /// reads it.
    fn read(&mut self, from_client: bool, text: bool, payload: &[u8]) -> bool {
        self.scratch.clear();
        if payload.len() > MAX_PAIRED {
            return self.established();
        }
        self.speech
            .as_mut()
            .is_some_and(|s| s.pairs(from_client, text, payload, &mut self.scratch))
    }

    /// A client message left at `at` (`own`: said by wsprobe itself); whether
    /// a protocol read it.
    pub fn request(&mut self, text: bool, payload: &[u8], at: Instant, own: bool) -> bool {
        if !self.read(true, text, payload) {
            if let Some(q) = self.in_order.as_mut() {
                if q.len() == MAX_PENDING {
                    q.pop_front();
                }
                q.push_back(at);
            }
            return false;
        }
        for pair in self.scratch.drain(..) {
            if let Pair::Request { key, label } = pair {
                self.pending.request(key, &label, at, own);
            }
        }
        true
    }

    /// A server message came at `at`: the request it answers (the first, when
    /// a batch answers several).
    pub fn reply(&mut self, text: bool, payload: &[u8], at: Instant) -> Option<Answered> {
        if !self.read(false, text, payload) {
            let sent = self.in_order.as_mut()?.pop_front()?;
            return Some(Answered {
                latency: at.saturating_duration_since(sent),
                label: None,
                own: false,
            });
        }
        let mut first = None;
        for pair in std::mem::take(&mut self.scratch) {
            if let Pair::Reply { key } = pair {
                let answered = self.pending.reply(&key, at);
                first = first.or(answered);
            }
        }
        first
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn replies_find_their_request_by_key_once() {
        let t0 = Instant::now();
        let mut p = Pending::default();
        p.request("1".into(), "add", t0, false);
        p.request("2".into(), "echo", t0 + Duration::from_millis(3), false);
        let at = t0 + Duration::from_millis(10);
        let two = p.reply("2", at).unwrap();
        assert_eq!(two.latency, Duration::from_millis(7));
        assert_eq!(two.label.as_deref(), Some("echo"));
        assert_eq!(p.reply("2", at), None, "answered once");
        assert_eq!(p.reply("1", at).unwrap().latency, Duration::from_millis(10));
        assert_eq!(p.waiting(), 0);
    }

    #[test]
    fn a_server_that_never_answers_costs_a_bounded_amount() {
        let t0 = Instant::now();
        let mut p = Pending::default();
        for i in 0..(MAX_PENDING + 10) {
            p.request(i.to_string(), "m", t0, false);
        }
        assert_eq!(p.waiting(), MAX_PENDING);
        assert!(p.reply("0", t0).is_none(), "the oldest is forgotten");
        for i in 0..(3 * MAX_PENDING) {
            let k = format!("a{i}");
            p.request(k.clone(), &format!("label{i}"), t0, false);
            assert!(p.reply(&k, t0).is_some());
        }
        assert!(p.keys.len() <= MAX_PENDING);
        assert!(p.labels.len() <= MAX_LABELS, "labels are bounded too");
        p.request("x".repeat(MAX_KEY + 1), "m", t0, false);
        assert!(p.reply(&"x".repeat(MAX_KEY + 1), t0).is_none());
    }
}
