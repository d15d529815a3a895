//! JSON-RPC 2.0: calls, notifications, results and errors, one by one or in
//! batches; a call and its response are paired by id.

use serde_json::Value;

use super::{clip, first_word, json_values, Codec, Context, Decoded, SUMMARY_VALUE};
use crate::net::speak::Pair;
use crate::net::NetCommand;

pub struct JsonRpc;

/// At most this many members of a batch are listed in its detail.
const BATCH_SHOWN: usize = 20;

/// Whether a message says it is JSON-RPC 2.0, cheaply enough to ask of every
/// message with `--protocol auto`: an object or array naming `"jsonrpc"`.
pub fn looks_like(payload: &[u8]) -> bool {
    let start = payload.iter().find(|b| !b.is_ascii_whitespace());
    if !matches!(start, Some(b'{' | b'[')) {
        return false;
    }
    let Some(at) = memchr::memmem::find(payload, b"\"jsonrpc\"") else {
        return false;
    };
    // The value right after it must be "2.0".
    let rest = &payload[at + 9..];
    let rest = rest.trim_ascii_start();
    rest.strip_prefix(b":")
        .map(|r| r.trim_ascii_start().starts_with(b"\"2.0\""))
        .unwrap_or(false)
}

/// Whether a message is a JSON-RPC 2.0 response (or a batch of them).
pub fn is_response(payload: &[u8]) -> bool {
    if !looks_like(payload) {
        return false;
    }
    let Ok(v) = serde_json::from_slice::<Value>(payload) else {
        return false;
    };
    let first = match &v {
        Value::Array(a) => a.first(),
        one => Some(one),
    };
    first
        .and_then(item)
        .is_some_and(|i| matches!(i, Item::Result { .. } | Item::Error { .. }))
}

/// What one JSON-RPC object is.
enum Item<'a> {
    Call {
        method: &'a str,
        id: &'a Value,
        params: Option<&'a Value>,
    },
    Notify {
        method: &'a str,
        params: Option<&'a Value>,
    },
    Result {
        id: &'a Value,
        result: &'a Value,
    },
    Error {
        id: &'a Value,
        error: &'a Value,
    },
}

fn item(v: &Value) -> Option<Item<'_>> {
    let o = v.as_object()?;
    if let Some(method) = o.get("method").and_then(Value::as_str) {
        let params = o.get("params");
        return Some(match o.get("id") {
            Some(id) if !id.is_null() => Item::Call { method, id, params },
            _ => Item::Notify { method, params },
        });
    }
    let id = o.get("id")?;
    if let Some(error) = o.get("error").filter(|e| !e.is_null()) {
        return Some(Item::Error { id, error });
    }
    o.get("result").map(|result| Item::Result { id, result })
}

fn short(v: &Value) -> String {
    clip(&v.to_string(), SUMMARY_VALUE)
}

impl Item<'_> {
    fn summary(&self) -> String {
        let params = |p: Option<&Value>| p.map(|p| format!(" {}", short(p))).unwrap_or_default();
        match self {
            Item::Call {
                method,
                id,
                params: p,
            } => format!("call {method} #{id}{}", params(*p)),
            Item::Notify { method, params: p } => format!("notify {method}{}", params(*p)),
            Item::Result { id, result } => format!("result #{id} {}", short(result)),
            Item::Error { id, error } => {
                let code = error.get("code").map(|c| c.to_string()).unwrap_or_default();
                let message = error.get("message").and_then(Value::as_str).unwrap_or("");
                format!("error #{id} {code} {}", clip(message, SUMMARY_VALUE))
            }
        }
    }

    fn fields(&self, d: Decoded) -> Decoded {
        match self {
            Item::Call { method, id, params } => {
                let d = d.field("type", "call").field("method", *method);
                let d = d.field("id", id.to_string());
                match params {
                    Some(p) => d.field("params", p.to_string()),
                    None => d,
                }
            }
            Item::Notify { method, params } => {
                let d = d.field("type", "notification").field("method", *method);
                match params {
                    Some(p) => d.field("params", p.to_string()),
                    None => d,
                }
            }
            Item::Result { id, result } => d
                .field("type", "result")
                .field("id", id.to_string())
                .field("result", result.to_string()),
            Item::Error { id, error } => {
                let mut d = d.field("type", "error").field("id", id.to_string());
                if let Some(code) = error.get("code") {
                    d = d.field("code", code.to_string());
                }
                if let Some(m) = error.get("message").and_then(Value::as_str) {
                    d = d.field("message", m);
                }
                match error.get("data") {
                    Some(data) => d.field("data", data.to_string()),
                    None => d,
                }
            }
        }
    }

    fn pair(&self, from_client: bool) -> Option<Pair> {
        match self {
            Item::Call { method, id, .. } if from_client => Some(Pair::Request {
                key: id.to_string(),
                label: method.to_string(),
            }),
            Item::Result { id, .. } | Item::Error { id, .. } if !from_client && !id.is_null() => {
                Some(Pair::Reply {
                    key: id.to_string(),
                })
            }
            _ => None,
        }
    }
}

impl Codec for JsonRpc {
    fn decode(&self, text: bool, payload: &[u8]) -> Option<Decoded> {
        if !text {
            return None;
        }
        let v: Value = serde_json::from_slice(payload).ok()?;
        match &v {
            Value::Array(items) => {
                let all: Vec<Item> = items.iter().filter_map(item).collect();
                if all.is_empty() || all.len() != items.len() {
                    return None;
                }
                let parts: Vec<String> = all.iter().map(Item::summary).collect();
                let mut d = Decoded::new(clip(
                    &format!("batch of {}: {}", all.len(), parts.join(", ")),
                    3 * SUMMARY_VALUE,
                ))
                .field("type", "batch")
                .field("size", all.len().to_string());
                for p in parts.into_iter().take(BATCH_SHOWN) {
                    d = d.field("item", p);
                }
                Some(d)
            }
            _ => {
                let it = item(&v)?;
                Some(it.fields(Decoded::new(it.summary())))
            }
        }
    }

    fn pairs(&self, from_client: bool, text: bool, payload: &[u8], out: &mut Vec<Pair>) {
        if !text {
            return;
        }
        let Ok(v) = serde_json::from_slice::<Value>(payload) else {
            return;
        };
        match &v {
            Value::Array(items) => out.extend(
                items
                    .iter()
                    .filter_map(item)
                    .filter_map(|i| i.pair(from_client)),
            ),
            _ => out.extend(item(&v).and_then(|i| i.pair(from_client))),
        }
    }

    fn commands(&self) -> &'static [(&'static str, &'static str)] {
        &[
            (
                "/call METHOD [PARAMS]",
                "send a JSON-RPC call, e.g. /call add 1 2 or /call get {\"key\":\"a\"}",
            ),
            (
                "/notify METHOD [PARAMS]",
                "send a JSON-RPC notification (no id, no reply)",
            ),
        ]
    }

    fn encode(
        &self,
        command: &str,
        args: &str,
        ctx: &mut Context,
    ) -> Option<Result<NetCommand, String>> {
        let call = match command {
            "call" => true,
            "notify" => false,
            _ => return None,
        };
        Some(request(args, call.then(|| ctx.take_id())).map(NetCommand::Text))
    }
}

/// A call (with an id) or a notification, as typed: `METHOD [PARAMS]`, where
/// one array or object is the params and other values are params by position.
pub fn request(args: &str, id: Option<u64>) -> Result<String, String> {
    let (method, rest) = first_word(args);
    if method.is_empty() {
        return Err("which method? e.g. /call add 1 2".into());
    }
    let values = json_values(rest)?;
    let params = match values.as_slice() {
        [] => None,
        [one @ (Value::Array(_) | Value::Object(_))] => Some(one.clone()),
        _ => Some(Value::Array(values)),
    };
    // Written in the order people read it (a map would sort the keys).
    let id = id.map(|id| format!(",\"id\":{id}")).unwrap_or_default();
    let method = Value::from(method);
    let params = params
        .map(|p| format!(",\"params\":{p}"))
        .unwrap_or_default();
    Ok(format!(
        "{{\"jsonrpc\":\"2.0\"{id},\"method\":{method}{params}}}"
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn decode(s: &str) -> Decoded {
        JsonRpc.decode(true, s.as_bytes()).expect(s)
    }

    fn pairs(from_client: bool, s: &str) -> Vec<Pair> {
        let mut out = Vec::new();
        JsonRpc.pairs(from_client, true, s.as_bytes(), &mut out);
        out
    }

    #[test]
    fn calls_results_errors_and_notifications() {
        let d = decode(r#"{"jsonrpc":"2.0","id":1,"method":"add","params":[1,2]}"#);
        assert_eq!(d.summary, "call add #1 [1,2]");
        assert!(d.fields.contains(&("method", "add".into())));
        assert_eq!(
            decode(r#"{"jsonrpc":"2.0","id":1,"result":3}"#).summary,
            "result #1 3"
        );
        let d = decode(
            r#"{"jsonrpc":"2.0","id":"a","error":{"code":-32601,"message":"Method not found"}}"#,
        );
        assert_eq!(d.summary, r#"error #"a" -32601 Method not found"#);
        assert!(d.fields.contains(&("code", "-32601".into())));
        let d = decode(r#"{"jsonrpc":"2.0","method":"tick","params":{"n":1}}"#);
        assert_eq!(d.summary, r#"notify tick {"n":1}"#);
        assert!(JsonRpc.decode(true, b"[]").is_none());
        assert!(JsonRpc.decode(true, b"{\"a\":1}").is_none());
        assert!(JsonRpc.decode(false, b"{\"id\":1,\"result\":1}").is_none());
    }

    #[test]
    fn batches_list_their_members_and_pair_each() {
        let req = r#"[{"jsonrpc":"2.0","id":1,"method":"a"},{"jsonrpc":"2.0","method":"n"},{"jsonrpc":"2.0","id":2,"method":"b"}]"#;
        let d = decode(req);
        assert!(
            d.summary.starts_with("batch of 3: call a #1, notify n"),
            "{}",
            d.summary
        );
        assert_eq!(
            pairs(true, req),
            vec![
                Pair::Request {
                    key: "1".into(),
                    label: "a".into()
                },
                Pair::Request {
                    key: "2".into(),
                    label: "b".into()
                },
            ]
        );
        let rep = r#"[{"jsonrpc":"2.0","id":2,"result":0},{"jsonrpc":"2.0","id":1,"error":{"code":1,"message":"x"}}]"#;
        assert_eq!(
            pairs(false, rep),
            vec![
                Pair::Reply { key: "2".into() },
                Pair::Reply { key: "1".into() }
            ]
        );
        assert!(
            pairs(false, req).is_empty(),
            "a call from the server is not a reply"
        );
        assert!(pairs(true, rep).is_empty());
    }

    #[test]
    fn typed_calls() {
        let mut ctx = Context::default();
        let call = |a: &str, ctx: &mut Context| match JsonRpc.encode("call", a, ctx) {
            Some(Ok(NetCommand::Text(t))) => t,
            other => panic!("{other:?}"),
        };
        assert_eq!(
            call("add 1 2", &mut ctx),
            r#"{"jsonrpc":"2.0","id":1,"method":"add","params":[1,2]}"#
        );
        assert_eq!(
            call(r#"get {"k":"a"}"#, &mut ctx),
            r#"{"jsonrpc":"2.0","id":2,"method":"get","params":{"k":"a"}}"#
        );
        assert_eq!(
            call("ping", &mut ctx),
            r#"{"jsonrpc":"2.0","id":3,"method":"ping"}"#
        );
        match JsonRpc.encode("notify", "log \"x\"", &mut ctx) {
            Some(Ok(NetCommand::Text(t))) => {
                assert_eq!(t, r#"{"jsonrpc":"2.0","method":"log","params":["x"]}"#)
            }
            other => panic!("{other:?}"),
        }
        assert!(matches!(JsonRpc.encode("call", "", &mut ctx), Some(Err(_))));
        assert!(JsonRpc.encode("emit", "x", &mut ctx).is_none());
    }

    #[test]
    fn auto_asks_cheaply() {
        assert!(looks_like(br#" {"jsonrpc": "2.0","id":1}"#));
        assert!(looks_like(br#"[{"jsonrpc":"2.0"}]"#));
        assert!(!looks_like(br#"{"jsonrpc":"1.0"}"#));
        assert!(!looks_like(b"jsonrpc"));
        assert!(!looks_like(br#"{"x":"\"jsonrpc\""}"#));
    }
}
