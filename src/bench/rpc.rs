//! `bench --protocol jsonrpc --call METHOD PARAMS`: each message a JSON-RPC call
//! whose id is its sequence number, each reply paired back by that id (replies
//! may come in any order; an error reply is counted, and timed like a result).

use serde_json::Value;

use crate::proto::jsonrpc;

/// The call every message makes.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Call {
    method: String,
    /// The call as JSON text before its id and after it.
    before_id: String,
    after_id: String,
}

/// What one message from the server is.
#[derive(Debug, PartialEq, Eq)]
pub enum Reply {
    Result(u64),
    Error(u64),
    /// A call with this id: an echo server returned one of ours, or the
    /// server calls us (the caller tells them apart by the bytes).
    Call(u64),
    /// A notification or anything else: not an answer to a call.
    Other,
}

impl Call {
    /// `METHOD [PARAMS]` as the input box's `/call` takes it.
    pub fn parse(typed: &str) -> Result<Call, String> {
        let text = jsonrpc::request(typed, Some(0))?;
        let (before, after) = text
            .split_once(r#""id":0"#)
            .ok_or_else(|| "the call has no id".to_string())?;
        Ok(Call {
            method: crate::proto::first_word(typed).0.to_string(),
            before_id: format!(r#"{before}"id":"#),
            after_id: after.to_string(),
        })
    }

    pub fn method(&self) -> &str {
        &self.method
    }

    pub fn make(&self, seq: u64) -> String {
        let mut s = String::with_capacity(self.before_id.len() + self.after_id.len() + 20);
        s.push_str(&self.before_id);
        s.push_str(&seq.to_string());
        s.push_str(&self.after_id);
        s
    }
}

pub fn reply(payload: &[u8]) -> Reply {
    let Ok(v) = serde_json::from_slice::<Value>(payload) else {
        return Reply::Other;
    };
    let Some(id) = v.get("id").and_then(Value::as_u64) else {
        return Reply::Other;
    };
    match (v.get("error").filter(|e| !e.is_null()), v.get("result")) {
        (Some(_), _) => Reply::Error(id),
        (None, Some(_)) => Reply::Result(id),
        (None, None) if v.get("method").is_some() => Reply::Call(id),
        _ => Reply::Other,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn calls_carry_their_number_and_replies_are_read_back() {
        let c = Call::parse("add 1 2").unwrap();
        assert_eq!(
            c.make(7),
            r#"{"jsonrpc":"2.0","id":7,"method":"add","params":[1,2]}"#
        );
        assert_eq!(
            reply(br#"{"jsonrpc":"2.0","result":3,"id":7}"#),
            Reply::Result(7)
        );
        assert_eq!(
            reply(br#"{"jsonrpc":"2.0","error":{"code":1,"message":"x"},"id":8}"#),
            Reply::Error(8)
        );
        assert_eq!(reply(br#"{"jsonrpc":"2.0","method":"tick"}"#), Reply::Other);
        assert_eq!(reply(c.make(9).as_bytes()), Reply::Call(9), "echoed");
        assert_eq!(reply(b"garbage"), Reply::Other);
        assert!(Call::parse("").is_err());
    }
}
