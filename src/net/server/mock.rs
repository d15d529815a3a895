//! `wsprobe server --mock FILE`: each client message is answered with what
//! followed the same message in a recorded conversation, so a front end can be
//! developed against a recorded back end. Matched exactly, or with a JSON path
//! (`--correlate $.id`) by the message without its id, the answer then carrying
//! the new message's id.

use std::collections::HashMap;
use std::sync::atomic::{AtomicUsize, Ordering};

use bytes::Bytes;
use serde_json::Value;
use tokio_tungstenite::tungstenite::Message;

use crate::net::relay::JsonPath;
use crate::net::FrameKind;

/// One message of a recorded conversation: who said it, what kind, what.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Said {
    pub by_client: bool,
    pub kind: FrameKind,
    pub payload: Bytes,
}

#[derive(Clone, Debug, PartialEq, Eq, Hash)]
struct Key {
    text: bool,
    body: Bytes,
}

#[derive(Debug, Default)]
struct Answers {
    /// The replies each time the message was recorded, in order.
    times: Vec<Vec<Said>>,
    /// Which of them the next ask gets (the last one again once all are used).
    next: AtomicUsize,
}

#[derive(Debug, Default)]
pub struct Mock {
    correlate: Option<JsonPath>,
    answers: HashMap<Key, Answers>,
    /// Requests that were recorded (for the start-up line).
    requests: usize,
}

impl Mock {
    /// Learns the answers of every conversation (one per recorded connection).
    pub fn learn(conversations: &[Vec<Said>], correlate: Option<JsonPath>) -> Mock {
        let mut mock = Mock {
            correlate,
            ..Mock::default()
        };
        for conv in conversations {
            for (i, said) in conv.iter().enumerate() {
                if !said.by_client || !said.kind.is_data() {
                    continue;
                }
                let replies = mock.replies_to(said, &conv[i + 1..]);
                mock.requests += 1;
                mock.answers
                    .entry(mock.key(said.kind, &said.payload))
                    .or_default()
                    .times
                    .push(replies);
            }
        }
        mock
    }

    /// The server's data messages that answer `req`: those up to the client's
    /// next message; with a path, the first whose value there is the request's.
    fn replies_to(&self, req: &Said, after: &[Said]) -> Vec<Said> {
        let server_data = |s: &&Said| !s.by_client && s.kind.is_data();
        let id = self.correlate.as_ref().and_then(|p| p.key_of(&req.payload));
        match (&self.correlate, id) {
            (Some(path), Some(id)) => after
                .iter()
                .filter(server_data)
                .find(|s| path.key_of(&s.payload).as_ref() == Some(&id))
                .cloned()
                .into_iter()
                .collect(),
            _ => after
                .iter()
                .take_while(|s| !(s.by_client && s.kind.is_data()))
                .filter(server_data)
                .cloned()
                .collect(),
        }
    }

    /// What a message is matched by: itself, or with a path, itself without
    /// the value there.
    fn key(&self, kind: FrameKind, payload: &[u8]) -> Key {
        let text = kind == FrameKind::Text;
        let without_id = self.correlate.as_ref().and_then(|path| {
            let mut v: Value = serde_json::from_slice(payload).ok()?;
            *path.lookup_mut(&mut v)? = Value::Null;
            Some(Bytes::from(v.to_string()))
        });
        Key {
            text,
            body: without_id.unwrap_or_else(|| Bytes::copy_from_slice(payload)),
        }
    }

    /// How many client messages were learnt, and how many different ones.
    pub fn size(&self) -> (usize, usize) {
        (self.requests, self.answers.len())
    }

    /// The replies to a client's message; None when it was never recorded.
    pub fn answer(&self, msg: &Message) -> Option<Vec<Message>> {
        let (kind, payload): (FrameKind, &[u8]) = match msg {
            Message::Text(t) => (FrameKind::Text, t.as_bytes()),
            Message::Binary(b) => (FrameKind::Binary, b),
            _ => return None,
        };
        let answers = self.answers.get(&self.key(kind, payload))?;
        let n = answers.next.fetch_add(1, Ordering::Relaxed);
        let replies = &answers.times[n.min(answers.times.len() - 1)];
        // The request's own id, for the answers to carry instead of the recorded one.
        let id = self.correlate.as_ref().and_then(|path| {
            let v: Value = serde_json::from_slice(payload).ok()?;
            path.lookup(&v).cloned()
        });
        Some(replies.iter().map(|r| self.reply(r, id.as_ref())).collect())
    }

    fn reply(&self, r: &Said, id: Option<&Value>) -> Message {
        let payload = match (self.correlate.as_ref(), id) {
            (Some(path), Some(id)) => serde_json::from_slice::<Value>(&r.payload)
                .ok()
                .and_then(|mut v| {
                    *path.lookup_mut(&mut v)? = id.clone();
                    Some(Bytes::from(v.to_string()))
                })
                .unwrap_or_else(|| r.payload.clone()),
            _ => r.payload.clone(),
        };
        match (r.kind, std::str::from_utf8(&payload)) {
            (FrameKind::Text, Ok(t)) => Message::text(t.to_string()),
            _ => Message::Binary(payload),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn said(by_client: bool, text: &str) -> Said {
        Said {
            by_client,
            kind: FrameKind::Text,
            payload: Bytes::from(text.to_string()),
        }
    }

    fn texts(m: Option<Vec<Message>>) -> Vec<String> {
        m.unwrap_or_default()
            .into_iter()
            .map(|m| m.into_text().unwrap().to_string())
            .collect()
    }

    #[test]
    fn each_message_gets_what_followed_it_and_repeats_keep_their_order() {
        let conv = vec![
            said(false, "welcome"),
            said(true, "hi"),
            said(false, "hello"),
            said(false, "how are you"),
            said(true, "hi"),
            said(false, "hello again"),
            said(true, "bye"),
        ];
        let mock = Mock::learn(&[conv], None);
        assert_eq!(mock.size(), (3, 2));
        assert_eq!(
            texts(mock.answer(&Message::text("hi"))),
            ["hello", "how are you"]
        );
        assert_eq!(texts(mock.answer(&Message::text("hi"))), ["hello again"]);
        // Once each recorded answer is used, the last one stays.
        assert_eq!(texts(mock.answer(&Message::text("hi"))), ["hello again"]);
        assert_eq!(
            texts(mock.answer(&Message::text("bye"))),
            Vec::<String>::new()
        );
        assert!(mock.answer(&Message::text("never said")).is_none());
    }

    #[test]
    fn with_a_path_the_answer_is_found_by_id_and_carries_the_new_one() {
        let conv = vec![
            said(true, r#"{"id":1,"method":"a"}"#),
            said(true, r#"{"id":2,"method":"b"}"#),
            said(false, r#"{"id":2,"result":"B"}"#),
            said(false, r#"{"id":1,"result":"A"}"#),
        ];
        let mock = Mock::learn(&[conv], Some(JsonPath::parse("$.id").unwrap()));
        assert_eq!(
            texts(mock.answer(&Message::text(r#"{"method":"a","id":77}"#))),
            [r#"{"id":77,"result":"A"}"#]
        );
        assert_eq!(
            texts(mock.answer(&Message::text(r#"{"id":"x","method":"b"}"#))),
            [r#"{"id":"x","result":"B"}"#]
        );
    }
}
