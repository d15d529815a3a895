//! permessage-deflate (RFC 7692) against implementations nobody on this project
//! wrote: Python `websockets` and `aiohttp`, and Node `ws`, each as client and
//! as server of wsprobe, and through `wsprobe relay`. `--frames` shows what
//! crossed the wire: RSV1 on the first frame of every compressed message, the
//! compressed size (`wire_len`) against the inflated one (`len`).
//!
//! The peers' suite (tests/peers/deflate_suite.py, and the same in
//! node_deflate.js) checks every echo itself: an empty message, short texts,
//! binary, one message 20 times (context takeover), 1 MiB of text repeating
//! every 1500 bytes (back-references a small window cannot follow, so a side
//! that compresses with a larger window than agreed breaks the other's
//! inflate), and 256 KiB of random bytes (incompressible).

mod support;

use std::io::Write;
use std::process::{Child, Stdio};
use std::time::{Duration, Instant};

use serde_json::{json, Value};
use support::bin::{feed, wsprobe, ServerProcess};
use support::json::{self, event};
use support::lines::Lines;
use support::peers::{run_node, run_py, PyServer};

const MIB: usize = 1 << 20;
/// The message the peers' suite sends 20 times in a row; no other message of
/// theirs is as long, so its frames are found by their length.
const REPEATED: &str = r#"{"op":"subscribe","channel":"ticker.BTC-USD","id":42,"depth":"full"}"#;
const REPEATS: usize = 20;

/// The messages of the peers' suite, by name, in sending order.
fn suite_names() -> Vec<String> {
    let mut names: Vec<String> = ["empty", "text", "unicode", "binary"]
        .map(String::from)
        .to_vec();
    names.extend((0..REPEATS).map(|i| format!("repeat{i}")));
    names.extend(["big-text", "big-binary"].map(String::from));
    names
}

/// What a suite peer reported: every message came back as it was sent, in
/// order, and the connection closed with 1000.
fn assert_suite(events: &[Value], names: &[String], who: &str) {
    assert!(event(events, "error").is_none(), "{who}: {events:?}");
    let echoes: Vec<&Value> = events.iter().filter(|e| e["event"] == "echo").collect();
    let got: Vec<&str> = echoes.iter().filter_map(|e| e["name"].as_str()).collect();
    assert_eq!(got, names, "{who}: {events:?}");
    for e in echoes {
        assert_eq!(
            e["ok"], true,
            "{who}: an echo differs from what was sent: {e}"
        );
    }
    let close = event(events, "close").unwrap_or_else(|| panic!("{who}: {events:?}"));
    assert_eq!(close["code"], 1000, "{who}: {events:?}");
}

// ---------------------------------------------------------------------------
// What wsprobe printed

/// The data frames (text, binary, continuation) that crossed `side`'s
/// connection going `dir`, in message order (`side` only for the relay).
fn wire<'a>(records: &'a [Value], side: Option<&str>, dir: &str) -> Vec<&'a Value> {
    let mut frames: Vec<&Value> = records
        .iter()
        .filter(|r| r["event"] == "wire" && r["dir"] == dir)
        .filter(|r| side.is_none_or(|s| r["side"] == s))
        .map(|r| &r["frame"])
        .filter(|f| {
            matches!(
                f["opcode"].as_str(),
                Some("text" | "binary" | "continuation")
            )
        })
        .collect();
    // Stable: a message's frames keep their order.
    frames.sort_by_key(|f| f["message"].as_u64());
    frames
}

fn rsv1(frame: &Value) -> bool {
    frame["rsv1"] == true
}

/// Every message went compressed: RSV1 on its first frame, never on a
/// continuation (RFC 7692 section 6.1). wsprobe sends a message that deflate
/// would make longer (empty, or random bytes) as it is, which the RFC allows.
fn assert_compressed(frames: &[&Value], what: &str) {
    assert!(!frames.is_empty(), "{what}: no data frames");
    for f in frames {
        if f["opcode"] == "continuation" {
            assert!(!rsv1(f), "{what}: RSV1 on a continuation frame: {f}");
        } else {
            // (Random bytes, or text whose repeats lie beyond a small window.)
            let incompressible = f["len"] == 0 || f["len"].as_u64() >= Some(256);
            assert!(
                rsv1(f) || (incompressible && f["wire_len"] == f["len"]),
                "{what}: a message went uncompressed: {f}"
            );
        }
    }
}

/// Nothing was compressed: no RSV1, and every frame as long on the wire as inflated.
fn assert_plain(frames: &[&Value], what: &str) {
    assert!(!frames.is_empty(), "{what}: no data frames");
    for f in frames {
        assert!(!rsv1(f), "{what}: a compressed frame: {f}");
        assert_eq!(f["wire_len"], f["len"], "{what}: {f}");
    }
}

/// The wire sizes of the repeated message, in order.
fn repeat_sizes(frames: &[&Value]) -> Vec<u64> {
    frames
        .iter()
        .filter(|f| f["len"] == REPEATED.len() && f["fin"] == true)
        .filter_map(|f| f["wire_len"].as_u64())
        .collect()
}

/// With context takeover every repeat after the first is smaller on the wire
/// than the first (it refers back to it); without, each is compressed alone,
/// so all are the same size.
fn assert_takeover(frames: &[&Value], takeover: bool, what: &str) {
    let sizes = repeat_sizes(frames);
    assert_eq!(sizes.len(), REPEATS, "{what}: {sizes:?}");
    let first = sizes[0];
    if takeover {
        assert!(
            sizes[1..].iter().all(|&s| s < first),
            "{what}: with context takeover the repeats should shrink: {sizes:?}"
        );
    } else {
        assert!(
            sizes.iter().all(|&s| s == first),
            "{what}: without context takeover each repeat is compressed alone: {sizes:?}"
        );
    }
}

/// The 1 MiB text went much smaller than it is (how much smaller is up to the
/// compression level each side chose).
fn assert_big_text_shrank(frames: &[&Value], what: &str) {
    let big = frames
        .iter()
        .find(|f| f["len"] == MIB && f["opcode"] == "text")
        .unwrap_or_else(|| panic!("{what}: no 1 MiB text frame"));
    let wire = big["wire_len"].as_u64().unwrap();
    assert!(wire < MIB as u64 / 4, "{what}: {big}");
}

/// The records of connection `n` (of a server's or a relay's output).
fn conn(records: &[Value], n: u64) -> Vec<Value> {
    records.iter().filter(|r| r["conn"] == n).cloned().collect()
}

/// The `open` record (of `side`'s leg, for the relay).
fn open_record<'a>(records: &'a [Value], side: Option<&str>) -> &'a Value {
    records
        .iter()
        .find(|r| r["event"] == "open" && side.is_none_or(|s| r["side"] == s))
        .unwrap_or_else(|| panic!("no open record ({side:?})"))
}

/// The agreed parameters on the `open` record: each expected key with its
/// value, and no context-takeover flag that was not expected.
fn assert_params(open: &Value, expected: &Value, what: &str) {
    let deflate = open["deflate"]
        .as_object()
        .unwrap_or_else(|| panic!("{what}: no deflate on the open record: {open}"));
    for (k, v) in expected.as_object().unwrap() {
        assert_eq!(deflate.get(k), Some(v), "{what}: {k} in {deflate:?}");
    }
    for k in ["server_no_context_takeover", "client_no_context_takeover"] {
        if expected.get(k).is_none() {
            assert!(deflate.get(k).is_none(), "{what}: {k} in {deflate:?}");
        }
    }
}

/// `wsprobe server --json --frames ARGS`.
fn server(args: &[&str]) -> ServerProcess {
    ServerProcess::start(&[&["--json", "--frames"][..], args].concat())
}

/// Stops a server or relay (SIGTERM) and returns every record it printed
/// after its listening line: all it had to say about connections that are over.
fn stop(mut process: ServerProcess) -> Vec<Value> {
    process.sigterm();
    process
        .stdout
        .rest("the rest of its output")
        .iter()
        .map(|l| json::parse_line(l))
        .collect()
}

// ---------------------------------------------------------------------------
// wsprobe as the client

/// A child killed if the test fails before it has ended.
struct Guard(Child);

impl Drop for Guard {
    fn drop(&mut self) {
        if matches!(self.0.try_wait(), Ok(None)) {
            let _ = self.0.kill();
            let _ = self.0.wait();
        }
    }
}

struct ClientRun {
    records: Vec<Value>,
    stderr: String,
    code: Option<i32>,
}

/// `wsprobe client URL --json --frames ARGS` with `input` on its stdin (one
/// message a line), to its end, within the tests' bound.
fn client(url: &str, args: &[&str], input: Vec<u8>) -> ClientRun {
    let child = wsprobe()
        .args(["client", url, "--json", "--frames"])
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut child = Guard(child);
    let stdin = child.0.stdin.take();
    let feeder = std::thread::spawn(move || feed(stdin, &input));
    let stdout = Lines::read(child.0.stdout.take().unwrap());
    let stderr = Lines::read(child.0.stderr.take().unwrap());
    let lines = stdout.rest("the client's output");
    let stderr = stderr.rest("the client's stderr").join("\n");
    let deadline = Instant::now() + Duration::from_secs(10);
    let status = loop {
        if let Some(status) = child.0.try_wait().unwrap() {
            break status;
        }
        assert!(Instant::now() < deadline, "the client never ended");
        std::thread::sleep(Duration::from_millis(10));
    };
    feeder.join().unwrap();
    ClientRun {
        records: lines.iter().map(|l| json::parse_line(l)).collect(),
        stderr,
        code: status.code(),
    }
}

/// A small xorshift: the same "random" bytes on every run.
fn xorshift(mut x: u64) -> impl FnMut() -> u64 {
    move || {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        x
    }
}

/// `len` bytes of text that repeat every 1500 bytes.
fn periodic_text(len: usize) -> String {
    let letters = b"abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789 ";
    let mut next = xorshift(7692);
    let period: Vec<u8> = (0..1500)
        .map(|_| letters[(next() % letters.len() as u64) as usize])
        .collect();
    let text: Vec<u8> = period.iter().copied().cycle().take(len).collect();
    String::from_utf8(text).unwrap()
}

/// The text messages wsprobe sends in its runs: one a line.
fn text_messages() -> Vec<String> {
    let mut msgs = vec![
        String::new(),
        "hello deflate".to_string(),
        "wörld ✓ ünïcödé 🚀".to_string(),
    ];
    msgs.extend((0..REPEATS).map(|_| REPEATED.to_string()));
    msgs.push(periodic_text(MIB));
    msgs
}

/// The binary messages of its `--binary` runs: every byte value but the
/// newline, and 256 KiB of random bytes (without newlines; incompressible,
/// so a little larger deflated).
fn binary_messages() -> Vec<Vec<u8>> {
    let all: Vec<u8> = (0..=255u8).filter(|&b| b != b'\n').collect();
    let mut next = xorshift(1951);
    let random: Vec<u8> = (0..MIB / 4)
        .map(|_| match next() as u8 {
            b'\n' => 0,
            b => b,
        })
        .collect();
    vec![all.repeat(4), random]
}

fn lines<T: AsRef<[u8]>>(msgs: &[T]) -> Vec<u8> {
    let mut input = Vec::new();
    for m in msgs {
        input.write_all(m.as_ref()).unwrap();
        input.push(b'\n');
    }
    input
}

/// The client sent `count` messages of `kind` and every one came back as it
/// went, in order (compared without printing megabytes).
fn assert_echoed(records: &[Value], kind: &str, count: usize, what: &str) {
    let field = if kind == "text" { "text" } else { "base64" };
    let sent: Vec<&Value> = json::frames(records, "out", kind)
        .map(|r| &r[field])
        .collect();
    let got: Vec<&Value> = json::frames(records, "in", kind)
        .map(|r| &r[field])
        .collect();
    assert_eq!(sent.len(), count, "{what}: sent");
    assert_eq!(got.len(), count, "{what}: received");
    for (i, (s, g)) in sent.iter().zip(&got).enumerate() {
        assert!(
            s == g,
            "{what}: message {i} came back different ({} vs {} chars)",
            s.as_str().map_or(0, str::len),
            g.as_str().map_or(0, str::len)
        );
    }
    let summary = event(records, "summary").unwrap_or_else(|| panic!("{what}: no summary"));
    assert_eq!(
        (
            &summary["sent"],
            &summary["received"],
            &summary["unmatched"]
        ),
        (&json!(count), &json!(count), &json!(0)),
        "{what}: {summary}"
    );
}

/// What the text messages looked like on the wire of a compressed run:
/// compressed both ways, the repeats shrinking or not as agreed, the big
/// text shrunk when the window allows.
fn assert_text_run(records: &[Value], takeover: (bool, bool), big_shrinks: bool, who: &str) {
    let sent = text_messages();
    let out_texts: Vec<&str> = json::frames(records, "out", "text")
        .filter_map(|r| r["text"].as_str())
        .collect();
    assert!(
        out_texts.len() == sent.len() && out_texts.iter().zip(&sent).all(|(a, b)| a == b),
        "{who}: the client did not send its input as it was"
    );
    assert_echoed(records, "text", sent.len(), who);
    let (out, inn) = (wire(records, None, "out"), wire(records, None, "in"));
    assert_compressed(&out, &format!("{who}: the client's frames"));
    assert_compressed(&inn, &format!("{who}: the server's frames"));
    assert_takeover(&out, takeover.0, &format!("{who}: the client's repeats"));
    assert_takeover(&inn, takeover.1, &format!("{who}: the server's repeats"));
    if big_shrinks {
        assert_big_text_shrank(&out, &format!("{who}: the client's 1 MiB"));
        assert_big_text_shrank(&inn, &format!("{who}: the server's 1 MiB"));
    }
}

/// The `--binary` run: echoed intact, the server's messages compressed, and
/// wsprobe's small one too (whether it compresses incompressible random bytes
/// is its own choice).
fn assert_binary_run(records: &[Value], who: &str) {
    assert_echoed(records, "binary", 2, who);
    assert_compressed(
        &wire(records, None, "in"),
        &format!("{who}: the server's frames"),
    );
    let out = wire(records, None, "out");
    assert!(rsv1(out[0]), "{who}: {}", out[0]);
}

/// `wsprobe client --deflate` against a compressing echo server: a text run
/// and a `--binary` run. Returns the text run's `open` record.
fn client_runs(url: &str, takeover: (bool, bool), big_shrinks: bool, who: &str) -> Value {
    let run = client(url, &["--deflate"], lines(&text_messages()));
    assert_eq!(run.code, Some(0), "{who}: {}", run.stderr);
    let open = open_record(&run.records, None).clone();
    assert_eq!(
        open["request_headers"]["sec-websocket-extensions"],
        "permessage-deflate; client_max_window_bits",
        "{who}: the offer"
    );
    let answer = open["response_headers"]["sec-websocket-extensions"]
        .as_str()
        .unwrap_or_else(|| panic!("{who}: the server did not agree: {open}"));
    assert!(answer.starts_with("permessage-deflate"), "{who}: {answer}");
    assert!(open["deflate"].is_object(), "{who}: {open}");
    assert_text_run(&run.records, takeover, big_shrinks, who);

    let run = client(url, &["--deflate", "--binary"], lines(&binary_messages()));
    assert_eq!(run.code, Some(0), "{who}: {}", run.stderr);
    assert_binary_run(&run.records, &format!("{who} (binary)"));
    open
}

// ---------------------------------------------------------------------------
// 1. Python `websockets` serving, wsprobe the client

#[test]
fn the_client_compresses_with_a_python_websockets_server() {
    let server = PyServer::start(&[]);
    let open = client_runs(&server.url, (true, true), true, "websockets server");
    // websockets' server answers with smaller windows of its own choosing.
    assert_params(
        &open,
        &json!({"server_max_window_bits": 12, "client_max_window_bits": 12}),
        "websockets server",
    );
    for run in ["text", "binary"] {
        let closed = server.next(&format!("the {run} run's close"));
        assert_eq!(closed["code"], 1000, "{run}: {closed}");
    }
}

// ---------------------------------------------------------------------------
// 2. Python `websockets` as the client, wsprobe the server

#[test]
fn the_server_agrees_to_what_python_websockets_offers() {
    let s = server(&["--deflate"]);
    // (the client's flags, the parameters agreed, context takeover by the client, by the server)
    let offers: [(&[&str], Value, bool, bool); 7] = [
        (&[], json!({}), true, true),
        (
            &["--server-no-context-takeover"],
            json!({"server_no_context_takeover": true}),
            true,
            false,
        ),
        (
            &["--client-no-context-takeover"],
            json!({"client_no_context_takeover": true}),
            false,
            true,
        ),
        (
            &[
                "--server-no-context-takeover",
                "--client-no-context-takeover",
            ],
            json!({"server_no_context_takeover": true, "client_no_context_takeover": true}),
            false,
            false,
        ),
        (
            &["--server-max-window-bits", "9"],
            json!({"server_max_window_bits": 9}),
            true,
            true,
        ),
        (
            &[
                "--server-max-window-bits",
                "10",
                "--client-max-window-bits",
                "10",
            ],
            json!({"server_max_window_bits": 10}),
            true,
            true,
        ),
        // zlib cannot deflate with an 8-bit window: what the server does
        // instead must still be inflatable within 256 bytes.
        (
            &["--server-max-window-bits", "8"],
            json!({"server_max_window_bits": 8}),
            true,
            true,
        ),
    ];
    let mut names = suite_names();
    names.push("fragmented".into());
    for (flags, _, _, _) in &offers {
        let args = [&[s.url.as_str()][..], *flags].concat();
        let events = run_py("py_deflate_client.py", &args);
        let who = format!("websockets client {flags:?}");
        assert_suite(&events, &names, &who);
        let opened = event(&events, "open").unwrap();
        assert!(
            opened["extensions"]
                .as_str()
                .is_some_and(|e| e.starts_with("permessage-deflate")),
            "{who}: {opened}"
        );
    }

    let records = stop(s);
    for (i, (flags, params, client_takeover, server_takeover)) in offers.iter().enumerate() {
        let who = format!("websockets client {flags:?}");
        let records = conn(&records, i as u64 + 1);
        let open = open_record(&records, None);
        assert_params(open, params, &who);
        if flags.is_empty() {
            assert_eq!(open["deflate"], json!({}), "{who}");
        }
        let (inn, out) = (wire(&records, None, "in"), wire(&records, None, "out"));
        assert_compressed(&inn, &format!("{who}: its frames"));
        assert_compressed(&out, &format!("{who}: the echoes"));
        // The fragmented text: compressed as one message over three frames.
        assert!(
            inn.iter().any(|f| f["opcode"] == "continuation"),
            "{who}: no fragments seen"
        );
        assert_takeover(&inn, *client_takeover, &format!("{who}: its repeats"));
        assert_takeover(
            &out,
            *server_takeover,
            &format!("{who}: the echoed repeats"),
        );
        if !flags.contains(&"--client-max-window-bits") {
            // (A 10-bit window cannot reach 1500 bytes back.)
            assert_big_text_shrank(&inn, &format!("{who}: its 1 MiB"));
        }
    }
}

// ---------------------------------------------------------------------------
// 3. Node `ws` (every message compressed: threshold 0), both roles

#[test]
fn node_ws_compresses_both_ways_as_client_and_as_server() {
    // Node as the client.
    let s = server(&["--deflate"]);
    let events = run_node("node_deflate.js", &["client", &s.url]);
    assert_suite(&events, &suite_names(), "ws client");
    assert_eq!(
        event(&events, "open").unwrap()["extensions"],
        "permessage-deflate"
    );
    let records = stop(s);
    assert_eq!(open_record(&records, None)["deflate"], json!({}));
    let (inn, out) = (wire(&records, None, "in"), wire(&records, None, "out"));
    assert_compressed(&inn, "ws client's frames");
    assert_compressed(&out, "the echoes to ws");
    assert_takeover(&inn, true, "ws client's repeats");
    assert_takeover(&out, true, "the echoed repeats");

    // Node as the server, with its defaults.
    let node = PyServer::node("node_deflate.js", &["server".into()]);
    let opened = client_runs(&node.url, (true, true), true, "ws server");
    assert_eq!(opened["deflate"], json!({}), "ws server");
    for run in ["text", "binary"] {
        let closed = node.next(&format!("the {run} run's close"));
        assert_eq!(closed["code"], 1000, "{closed}");
    }

    // Node as a server that imposes everything: no context takeover either
    // way and 9-bit windows both ways (wsprobe must compress within 512 bytes,
    // or Node cannot inflate the 1 MiB text).
    let strict = PyServer::node("node_deflate.js", &["server".into(), "--strict".into()]);
    let run = client(&strict.url, &["--deflate"], lines(&text_messages()));
    assert_eq!(run.code, Some(0), "{}", run.stderr);
    assert_eq!(
        open_record(&run.records, None)["deflate"],
        json!({
            "server_no_context_takeover": true,
            "client_no_context_takeover": true,
            "server_max_window_bits": 9,
            "client_max_window_bits": 9
        })
    );
    assert_text_run(&run.records, (false, false), false, "strict ws server");
    let closed = strict.next("the close");
    assert_eq!(closed["code"], 1000, "{closed}");
}

// ---------------------------------------------------------------------------
// 4. aiohttp, both roles

#[test]
fn aiohttp_compresses_both_ways_as_client_and_as_server() {
    // aiohttp's client, ws_connect(compress=15).
    let s = server(&["--deflate"]);
    let events = run_py("py_aiohttp.py", &["client", &s.url]);
    assert_suite(&events, &suite_names(), "aiohttp client");
    let opened = event(&events, "open").unwrap();
    assert_eq!(opened["extensions"], "permessage-deflate", "{opened}");
    let records = stop(s);
    assert_eq!(open_record(&records, None)["deflate"], json!({}));
    let (inn, out) = (wire(&records, None, "in"), wire(&records, None, "out"));
    assert_compressed(&inn, "aiohttp client's frames");
    assert_compressed(&out, "the echoes to aiohttp");
    assert_takeover(&inn, true, "aiohttp client's repeats");
    assert_takeover(&out, true, "the echoed repeats");
    assert_big_text_shrank(&inn, "aiohttp client's 1 MiB");

    // aiohttp's server, WebSocketResponse(compress=True).
    let aio = PyServer::script("py_aiohttp.py", &["server".into()]);
    let opened = client_runs(&aio.url, (true, true), true, "aiohttp server");
    assert_eq!(opened["deflate"], json!({}), "aiohttp server");
    for run in ["text", "binary"] {
        let closed = aio.next(&format!("the {run} run's close"));
        assert_eq!(closed["code"], 1000, "{closed}");
        assert_eq!(closed["extensions"], "permessage-deflate", "{closed}");
    }
}

// ---------------------------------------------------------------------------
// 5. Without --deflate nothing is offered or agreed

#[test]
fn without_deflate_nothing_is_offered_or_agreed() {
    // The client offers nothing to a server that would agree.
    let py = PyServer::start(&[]);
    let run = client(&py.url, &[], lines(&text_messages()));
    assert_eq!(run.code, Some(0), "{}", run.stderr);
    let opened = open_record(&run.records, None);
    assert!(opened.get("deflate").is_none(), "{opened}");
    assert!(
        opened["request_headers"]
            .get("sec-websocket-extensions")
            .is_none(),
        "{opened}"
    );
    assert!(
        opened["response_headers"]
            .get("sec-websocket-extensions")
            .is_none(),
        "{opened}"
    );
    assert_echoed(&run.records, "text", text_messages().len(), "plain client");
    assert_plain(&wire(&run.records, None, "out"), "plain client's frames");
    assert_plain(&wire(&run.records, None, "in"), "the server's frames");

    // The server agrees to nothing that clients offer.
    let s = server(&[]);
    let mut names = suite_names();
    names.push("fragmented".into());
    let events = run_py("py_deflate_client.py", &[&s.url]);
    assert_suite(&events, &names, "websockets client");
    assert_eq!(event(&events, "open").unwrap()["extensions"], Value::Null);
    let events = run_node("node_deflate.js", &["client", &s.url]);
    assert_suite(&events, &suite_names(), "ws client");
    assert_eq!(event(&events, "open").unwrap()["extensions"], Value::Null);
    let events = run_py("py_aiohttp.py", &["client", &s.url]);
    assert_suite(&events, &suite_names(), "aiohttp client");
    assert_eq!(event(&events, "open").unwrap()["extensions"], Value::Null);
    let records = stop(s);
    for (n, who) in [(1, "websockets"), (2, "ws"), (3, "aiohttp")] {
        let records = conn(&records, n);
        let opened = open_record(&records, None);
        assert!(opened.get("deflate").is_none(), "{who}: {opened}");
        let offer = &opened["request_headers"]["sec-websocket-extensions"];
        assert!(
            offer
                .as_str()
                .is_some_and(|o| o.contains("permessage-deflate")),
            "{who} offered: {opened}"
        );
        assert!(
            opened["response_headers"]
                .get("sec-websocket-extensions")
                .is_none(),
            "{who}: {opened}"
        );
        assert_plain(&wire(&records, None, "in"), &format!("{who}'s frames"));
        assert_plain(
            &wire(&records, None, "out"),
            &format!("the echoes to {who}"),
        );
    }
}

// ---------------------------------------------------------------------------
// 6. Decompression bombs

#[test]
fn a_message_that_inflates_past_the_limit_is_refused() {
    let s = server(&["--deflate", "--max-message-size", "64KiB"]);
    // 1 MiB of zeros, about 1 KiB on the wire.
    let events = run_py("py_deflate_client.py", &[&s.url, "bomb"]);
    assert!(event(&events, "message").is_none(), "{events:?}");
    let close = event(&events, "close").unwrap();
    assert_eq!(close["code"], 1009, "{events:?}");
    // The same 1 MiB as 64 fragments of 16 KiB: each inflates to little, the
    // message as a whole too much. (The client may still be sending when the
    // server closes, so what it sees of the close is not checked here.)
    let events = run_py("py_deflate_client.py", &[&s.url, "bomb-fragments"]);
    assert!(event(&events, "message").is_none(), "{events:?}");
    assert!(event(&events, "close").is_some(), "{events:?}");
    let records = stop(s);
    for n in [1, 2] {
        let records = conn(&records, n);
        let closed = event(&records, "close").unwrap_or_else(|| panic!("{records:?}"));
        assert_eq!(closed["code"], 1009, "{closed}");
        let sent = records
            .iter()
            .find(|r| r["event"] == "wire" && r["dir"] == "out" && r["frame"]["opcode"] == "close")
            .unwrap_or_else(|| panic!("conn {n}: no close frame sent"));
        assert_eq!(sent["frame"]["close_code"], 1009, "{sent}");
        assert!(
            json::frame(&records, "in", "binary").is_none(),
            "conn {n}: the message was taken in"
        );
        let frames = wire(&records, None, "in");
        assert!(frames.len() < 64, "conn {n}: read it all: {}", frames.len());
        if n == 2 {
            // What was read of the fragments before the limit: compressed.
            assert_compressed(&frames, "the fragments");
        }
    }

    // The client: its own 1 MiB of 'a' (a few KiB compressed) comes back
    // from a compressing echo server and inflates past its limit.
    let py = PyServer::start(&[]);
    let run = client(
        &py.url,
        &["--deflate", "--max-message-size", "64KiB"],
        lines(&["a".repeat(MIB)]),
    );
    assert_eq!(run.code, Some(1), "{}", run.stderr);
    assert!(
        run.stderr.contains("larger than allowed") && run.stderr.contains("--max-message-size"),
        "{}",
        run.stderr
    );
    assert!(json::frame(&run.records, "in", "text").is_none());
    let out = wire(&run.records, None, "out");
    assert!(
        rsv1(out[0]) && out[0]["len"] == MIB && out[0]["wire_len"].as_u64() < Some(64 * 1024),
        "{}",
        out[0]
    );
}

// ---------------------------------------------------------------------------
// 7. The relay

/// A Python `websockets` client's run through `wsprobe relay ARGS` (the
/// client with `offer`, its flags): what the client reported, and the
/// relay's records.
fn through_relay(upstream: &str, args: &[&str], offer: &[&str]) -> (Vec<Value>, Vec<Value>) {
    let relay = ServerProcess::spawn(
        wsprobe()
            .args(["relay", "127.0.0.1:0", upstream, "--json", "--frames"])
            .args(args),
    );
    let events = run_py(
        "py_deflate_client.py",
        &[&[relay.url.as_str()][..], offer].concat(),
    );
    (events, stop(relay))
}

#[test]
fn the_relay_negotiates_each_leg_on_its_own() {
    let mut names = suite_names();
    names.push("fragmented".into());
    let deflating = server(&["--deflate"]);
    let plain = server(&[]);

    // By default: the client's offer agreed, and one offered upstream.
    let (events, relay) = through_relay(&deflating.url, &[], &[]);
    assert_suite(&events, &names, "through the relay");
    assert_eq!(
        event(&events, "open").unwrap()["extensions"],
        "permessage-deflate"
    );
    assert_eq!(open_record(&relay, Some("client"))["deflate"], json!({}));
    assert_eq!(open_record(&relay, Some("server"))["deflate"], json!({}));
    for side in ["client", "server"] {
        for dir in ["in", "out"] {
            let frames = wire(&relay, Some(side), dir);
            assert_compressed(&frames, &format!("relay {side} {dir}"));
        }
    }

    // --no-deflate: neither leg.
    let (events, relay) = through_relay(&deflating.url, &["--no-deflate"], &[]);
    assert_suite(&events, &names, "through the relay, --no-deflate");
    assert_eq!(event(&events, "open").unwrap()["extensions"], Value::Null);
    for side in ["client", "server"] {
        assert!(open_record(&relay, Some(side)).get("deflate").is_none());
        for dir in ["in", "out"] {
            let frames = wire(&relay, Some(side), dir);
            assert_plain(&frames, &format!("relay --no-deflate {side} {dir}"));
        }
    }

    // An upstream that does not compress: only the client's leg does.
    let (events, relay) = through_relay(&plain.url, &[], &[]);
    assert_suite(&events, &names, "through the relay to a plain server");
    assert_eq!(
        event(&events, "open").unwrap()["extensions"],
        "permessage-deflate"
    );
    assert_eq!(open_record(&relay, Some("client"))["deflate"], json!({}));
    assert!(open_record(&relay, Some("server")).get("deflate").is_none());
    assert_compressed(&wire(&relay, Some("client"), "in"), "client leg in");
    assert_compressed(&wire(&relay, Some("client"), "out"), "client leg out");
    assert_plain(&wire(&relay, Some("server"), "in"), "server leg in");
    assert_plain(&wire(&relay, Some("server"), "out"), "server leg out");

    // What the upstreams saw: wsprobe's own offer (not the app's) when it
    // compresses, no offer at all with --no-deflate.
    let upstream = stop(deflating);
    let offered = |records: &[Value]| {
        open_record(records, None)["request_headers"]["sec-websocket-extensions"].clone()
    };
    let first = conn(&upstream, 1);
    assert_eq!(
        offered(&first),
        "permessage-deflate; client_max_window_bits"
    );
    assert_eq!(open_record(&first, None)["deflate"], json!({}));
    let second = conn(&upstream, 2);
    assert_eq!(
        offered(&second),
        Value::Null,
        "--no-deflate offered upstream"
    );
    assert!(open_record(&second, None).get("deflate").is_none());
    let upstream = stop(plain);
    assert!(open_record(&conn(&upstream, 1), None)
        .get("deflate")
        .is_none());

    // A client that asks for everything, before a Python `websockets` server
    // that chooses its own windows: each leg keeps what its two ends agreed.
    let py = PyServer::start(&[]);
    let offer = [
        "--server-no-context-takeover",
        "--client-no-context-takeover",
        "--server-max-window-bits",
        "9",
        "--client-max-window-bits",
        "9",
    ];
    let (events, relay) = through_relay(&py.url, &[], &offer);
    assert_suite(&events, &names, "a strict client through the relay");
    let agreed = event(&events, "open").unwrap()["agreed"].as_str().unwrap();
    for term in [
        "remote_no_context_takeover=True",
        "local_no_context_takeover=True",
        "remote_max_window_bits=9",
        "local_max_window_bits=9",
    ] {
        assert!(agreed.contains(term), "{term} in {agreed}");
    }
    assert_eq!(
        open_record(&relay, Some("client"))["deflate"],
        json!({
            "server_no_context_takeover": true,
            "client_no_context_takeover": true,
            "server_max_window_bits": 9
        })
    );
    assert_params(
        open_record(&relay, Some("server")),
        &json!({"server_max_window_bits": 12, "client_max_window_bits": 12}),
        "the relay's upstream leg",
    );
    assert_takeover(&wire(&relay, Some("client"), "in"), false, "client leg in");
    assert_takeover(
        &wire(&relay, Some("client"), "out"),
        false,
        "client leg out",
    );
    assert_takeover(&wire(&relay, Some("server"), "out"), true, "server leg out");
    assert_takeover(&wire(&relay, Some("server"), "in"), true, "server leg in");
    assert_eq!(py.next("the close")["code"], 1000);
}
