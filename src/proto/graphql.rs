//! GraphQL over WebSocket: `graphql-transport-ws` and the legacy `graphql-ws`
//! (subscriptions-transport-ws). Messages are grouped by operation id; an
//! operation (subscribe, start) is a request, its first result or error the reply.

use serde_json::{json, Value};

use super::{clip, first_word, Codec, Context, Decoded, SUMMARY_VALUE};
use crate::net::speak::Pair;
use crate::net::NetCommand;

/// `legacy`: the older `graphql-ws` protocol (start/data/stop, `ka`).
pub struct GraphQl {
    pub legacy: bool,
}

/// `subscription count` for `subscription { count(to: 3) }`, or the operation's name.
fn operation_label(payload: &Value) -> String {
    if let Some(name) = payload.get("operationName").and_then(Value::as_str) {
        return name.to_string();
    }
    let query = payload.get("query").and_then(Value::as_str).unwrap_or("");
    let q = query.trim_start();
    let keyword = ["query", "mutation", "subscription"]
        .into_iter()
        .find(|k| q.starts_with(k))
        .unwrap_or("query");
    let field = q
        .find('{')
        .map(|at| {
            q[at + 1..]
                .trim_start()
                .chars()
                .take_while(|c| c.is_alphanumeric() || *c == '_')
                .collect::<String>()
        })
        .unwrap_or_default();
    match field.as_str() {
        "" => keyword.to_string(),
        f => format!("{keyword} {f}"),
    }
}

/// A query on one line, spaces squeezed.
fn one_line(query: &str) -> String {
    query.split_whitespace().collect::<Vec<_>>().join(" ")
}

fn errors_text(errors: &Value) -> String {
    let messages: Vec<String> = match errors {
        Value::Array(a) => a
            .iter()
            .map(|e| {
                e.get("message")
                    .and_then(Value::as_str)
                    .map(str::to_string)
                    .unwrap_or_else(|| e.to_string())
            })
            .collect(),
        Value::Object(o) => vec![o
            .get("message")
            .and_then(Value::as_str)
            .map(str::to_string)
            .unwrap_or_else(|| errors.to_string())],
        other => vec![other.to_string()],
    };
    messages.join("; ")
}

impl Codec for GraphQl {
    fn decode(&self, text: bool, payload: &[u8]) -> Option<Decoded> {
        if !text {
            return None;
        }
        let v: Value = serde_json::from_slice(payload).ok()?;
        let kind = v.get("type")?.as_str()?;
        let id = v.get("id").map(|i| match i {
            Value::String(s) => s.clone(),
            other => other.to_string(),
        });
        let p = v.get("payload");
        let hash = id.as_deref().map(|i| format!(" #{i}")).unwrap_or_default();
        let mut d = Decoded::new("").field("type", kind);
        if let Some(id) = &id {
            d = d.field("id", id.clone());
        }
        d.summary = match kind {
            "subscribe" | "start" => {
                let p = p?;
                let query = p.get("query").and_then(Value::as_str).unwrap_or("");
                d = d
                    .field("operation", operation_label(p))
                    .field("query", query);
                if let Some(vars) = p.get("variables").filter(|v| !v.is_null()) {
                    d = d.field("variables", vars.to_string());
                }
                format!(
                    "{kind}{hash} {}: {}",
                    operation_label(p),
                    clip(&one_line(query), SUMMARY_VALUE)
                )
            }
            "next" | "data" => {
                let p = p?;
                let data = p.get("data").map(Value::to_string).unwrap_or_default();
                d = d.field("data", data.clone());
                let errors = p.get("errors").filter(|e| !e.is_null()).map(errors_text);
                match errors {
                    Some(e) => {
                        d = d.field("errors", e.clone());
                        format!(
                            "{kind}{hash} {} errors: {}",
                            clip(&data, SUMMARY_VALUE),
                            clip(&e, SUMMARY_VALUE)
                        )
                    }
                    None => format!("{kind}{hash} {}", clip(&data, SUMMARY_VALUE)),
                }
            }
            "error" | "connection_error" => {
                let e = p.map(errors_text).unwrap_or_default();
                d = d.field("errors", e.clone());
                format!("{kind}{hash} {}", clip(&e, SUMMARY_VALUE))
            }
            "connection_init" | "connection_ack" | "ping" | "pong" => {
                match p.filter(|p| !p.is_null()) {
                    Some(p) => {
                        d = d.field("payload", p.to_string());
                        format!("{kind} {}", clip(&p.to_string(), SUMMARY_VALUE))
                    }
                    None => kind.to_string(),
                }
            }
            "ka" => "keep-alive".to_string(),
            "complete" | "stop" | "connection_terminate" => format!("{kind}{hash}"),
            _ => return None,
        };
        Some(d)
    }

    fn pairs(&self, from_client: bool, text: bool, payload: &[u8], out: &mut Vec<Pair>) {
        if !text {
            return;
        }
        let Ok(v) = serde_json::from_slice::<Value>(payload) else {
            return;
        };
        let (Some(kind), Some(id)) = (v.get("type").and_then(Value::as_str), v.get("id")) else {
            return;
        };
        let key = id.to_string();
        match (kind, from_client) {
            ("subscribe" | "start", true) => out.push(Pair::Request {
                key,
                label: v.get("payload").map(operation_label).unwrap_or_default(),
            }),
            // The first result or error answers it; later ones find nothing waiting.
            ("next" | "data" | "error", false) => out.push(Pair::Reply { key }),
            _ => {}
        }
    }

    fn commands(&self) -> &'static [(&'static str, &'static str)] {
        &[
            (
                "/subscribe QUERY [VARIABLES]",
                "start a subscription, e.g. /subscribe subscription { count(to: 3) }",
            ),
            (
                "/query QUERY [VARIABLES]",
                "run a query or mutation, e.g. /query { hello(name: \"you\") }",
            ),
            ("/complete ID", "stop an operation by its id"),
        ]
    }

    fn encode(
        &self,
        command: &str,
        args: &str,
        ctx: &mut Context,
    ) -> Option<Result<NetCommand, String>> {
        match command {
            "subscribe" | "query" => Some(self.operation(args, ctx)),
            "complete" => {
                let (id, _) = first_word(args);
                if id.is_empty() {
                    return Some(Err("which operation? e.g. /complete 1".into()));
                }
                let kind = if self.legacy { "stop" } else { "complete" };
                Some(Ok(NetCommand::Text(
                    json!({"id": id, "type": kind}).to_string(),
                )))
            }
            _ => None,
        }
    }

    fn greet(&self, ctx: &mut Context) -> Vec<NetCommand> {
        let init = match &ctx.connect_payload {
            Some(p) => json!({"type": "connection_init", "payload": p}),
            None => json!({"type": "connection_init"}),
        };
        vec![NetCommand::Text(init.to_string())]
    }

    fn answer(&self, text: bool, payload: &[u8], _ctx: &Context) -> Option<NetCommand> {
        // graphql-transport-ws: a server's ping wants a pong.
        if self.legacy || !text || memchr::memmem::find(payload, b"\"ping\"").is_none() {
            return None;
        }
        let v: Value = serde_json::from_slice(payload).ok()?;
        (v.get("type")? == "ping").then(|| NetCommand::Text(json!({"type": "pong"}).to_string()))
    }
}

impl GraphQl {
    fn operation(&self, args: &str, ctx: &mut Context) -> Result<NetCommand, String> {
        let (query, variables) = split_variables(args.trim());
        if query.is_empty() {
            return Err("which query? e.g. /subscribe subscription { count }".into());
        }
        let mut payload = json!({ "query": query });
        if let Some(v) = variables {
            payload["variables"] = v;
        }
        let kind = if self.legacy { "start" } else { "subscribe" };
        let id = ctx.take_id().to_string();
        Ok(NetCommand::Text(
            json!({"id": id, "type": kind, "payload": payload}).to_string(),
        ))
    }
}

/// `QUERY {"var":1}`: the query, and the variables when the text ends in a JSON object.
fn split_variables(args: &str) -> (&str, Option<Value>) {
    for (at, _) in args
        .match_indices('{')
        .collect::<Vec<_>>()
        .into_iter()
        .rev()
        .take(64)
    {
        let (query, tail) = args.split_at(at);
        if !query.contains('{') {
            break;
        }
        if let Ok(v @ Value::Object(_)) = serde_json::from_str::<Value>(tail) {
            return (query.trim_end(), Some(v));
        }
    }
    (args, None)
}

#[cfg(test)]
mod tests {
    use super::*;

    const NEW: GraphQl = GraphQl { legacy: false };
    const OLD: GraphQl = GraphQl { legacy: true };

    fn summary(codec: &GraphQl, s: &str) -> String {
        codec.decode(true, s.as_bytes()).expect(s).summary
    }

    #[test]
    fn operations_and_their_results() {
        assert_eq!(
            summary(
                &NEW,
                r#"{"id":"1","type":"subscribe","payload":{"query":"subscription {\n  count(to: 3)\n}"}}"#
            ),
            "subscribe #1 subscription count: subscription { count(to: 3) }"
        );
        assert_eq!(
            summary(
                &NEW,
                r#"{"id":"1","type":"next","payload":{"data":{"count":1}}}"#
            ),
            r#"next #1 {"count":1}"#
        );
        assert_eq!(
            summary(
                &NEW,
                r#"{"id":"2","type":"error","payload":[{"message":"boom"}]}"#
            ),
            "error #2 boom"
        );
        assert_eq!(
            summary(&NEW, r#"{"id":"1","type":"complete"}"#),
            "complete #1"
        );
        assert_eq!(
            summary(&NEW, r#"{"type":"connection_ack"}"#),
            "connection_ack"
        );
        assert_eq!(summary(&OLD, r#"{"type":"ka"}"#), "keep-alive");
        assert_eq!(
            summary(
                &OLD,
                r#"{"id":"3","type":"data","payload":{"data":null,"errors":[{"message":"no"}]}}"#
            ),
            "data #3 null errors: no"
        );
        assert!(NEW.decode(true, br#"{"type":"nonsense"}"#).is_none());
        assert!(NEW.decode(true, b"[1]").is_none());
    }

    #[test]
    fn the_first_result_answers_an_operation() {
        let mut out = Vec::new();
        NEW.pairs(
            true,
            true,
            br#"{"id":"1","type":"subscribe","payload":{"query":"{ hello }"}}"#,
            &mut out,
        );
        NEW.pairs(
            false,
            true,
            br#"{"id":"1","type":"next","payload":{"data":{}}}"#,
            &mut out,
        );
        NEW.pairs(false, true, br#"{"id":"1","type":"complete"}"#, &mut out);
        assert_eq!(
            out,
            vec![
                Pair::Request {
                    key: "\"1\"".into(),
                    label: "query hello".into()
                },
                Pair::Reply {
                    key: "\"1\"".into()
                },
            ]
        );
    }

    #[test]
    fn typed_operations() {
        let mut ctx = Context::default();
        let text = |r: Option<Result<NetCommand, String>>| match r {
            Some(Ok(NetCommand::Text(t))) => serde_json::from_str::<Value>(&t).unwrap(),
            other => panic!("{other:?}"),
        };
        let m = text(NEW.encode(
            "subscribe",
            r#"subscription ($n: Int) { count(to: $n) } {"n": 2}"#,
            &mut ctx,
        ));
        assert_eq!(
            m,
            json!({"id":"1","type":"subscribe","payload":{"query":"subscription ($n: Int) { count(to: $n) }","variables":{"n":2}}})
        );
        let m = text(OLD.encode("query", "{ hello }", &mut ctx));
        assert_eq!(
            m,
            json!({"id":"2","type":"start","payload":{"query":"{ hello }"}})
        );
        assert_eq!(
            text(OLD.encode("complete", "2", &mut ctx)),
            json!({"id":"2","type":"stop"})
        );
        assert!(matches!(NEW.encode("query", " ", &mut ctx), Some(Err(_))));
        let ctx = Context {
            connect_payload: Some(json!({"token": "t"})),
            ..Default::default()
        };
        assert!(matches!(
            NEW.greet(&mut ctx.clone()).as_slice(),
            [NetCommand::Text(t)] if t == r#"{"payload":{"token":"t"},"type":"connection_init"}"#
        ));
        assert!(
            matches!(NEW.answer(true, br#"{"type":"ping"}"#, &ctx), Some(NetCommand::Text(t)) if t == r#"{"type":"pong"}"#)
        );
        assert!(OLD.answer(true, br#"{"type":"ping"}"#, &ctx).is_none());
    }
}
