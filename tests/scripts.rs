//! `wsprobe run FILE URL`: the real binary running scripts against real
//! servers on loopback (our own `wsprobe server` and the Python peers): the
//! examples pass, a wrong reply exits 1, a bad script exits 2 with a caret
//! before anything connects, a silent server meets the timeout, and Ctrl-C
//! stops with a partial report.

mod support;

use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

use serde_json::Value;
use support::bin::{output_within, sigterm, wsprobe, ServerProcess};
use support::lines::Lines;
use support::peers::PyServer;

fn example(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("examples/scripts")
        .join(name)
}

/// A script written for one test, in a directory of its own.
fn script(name: &str, text: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("wsprobe-scripts-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join(name);
    std::fs::write(&path, text).unwrap();
    path
}

/// Runs `wsprobe run ARGS` to its end, within the tests' bound.
fn run(args: &[&str]) -> Output {
    run_cmd(wsprobe().arg("run").args(args))
}

fn run_cmd(cmd: &mut Command) -> Output {
    let child = cmd
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    output_within(child, "the script run never ended")
}

fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

fn code(out: &Output) -> i32 {
    out.status.code().expect("an exit code, not a signal")
}

#[track_caller]
fn assert_passed(out: &Output) {
    assert_eq!(
        code(out),
        0,
        "stdout:\n{}\nstderr:\n{}",
        text(&out.stdout),
        text(&out.stderr)
    );
    let stdout = text(&out.stdout);
    assert!(
        stdout.lines().last().unwrap_or("").starts_with("PASS "),
        "{stdout}"
    );
    assert!(!stdout.contains("FAIL"), "{stdout}");
}

/// JSON lines of stdout.
fn records(out: &Output) -> Vec<Value> {
    text(&out.stdout)
        .lines()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("{e}: {l}")))
        .collect()
}

/// Well-formed XML, as an XML parser that shares no code with wsprobe reads it.
fn assert_well_formed_xml(path: &Path) {
    let ok = Command::new("python3")
        .args([
            "-c",
            "import sys, xml.etree.ElementTree as E; E.parse(sys.argv[1])",
        ])
        .arg(path)
        .status()
        .expect("python3 runs");
    assert!(ok.success(), "{} is not well-formed XML", path.display());
}

#[test]
fn the_echo_example_passes_against_a_prefixing_server() {
    let server = ServerProcess::start(&["--prefix", "Echo: "]);
    let out = run_cmd(
        wsprobe()
            .args(["run"])
            .arg(example("echo.wsp"))
            .arg(&server.url)
            .arg("--var")
            .arg("name=ci"),
    );
    assert_passed(&out);
    let stdout = text(&out.stdout);
    // A line per step, with its time, result and line number.
    assert!(
        stdout
            .lines()
            .any(|l| l.contains(" ok ") && l.contains("   7  /expect ^Echo: hello$")),
        "{stdout}"
    );
    assert!(stdout.contains("reply latency"), "{stdout}");
}

#[test]
fn the_close_example_passes_and_a_wrong_code_fails() {
    let server = ServerProcess::start(&["--close-after", "2", "--close-code", "4000"]);
    assert_passed(&run(&[example("close.wsp").to_str().unwrap(), &server.url]));

    let other = ServerProcess::start(&["--close-after", "2", "--close-code", "4001"]);
    let out = run(&[example("close.wsp").to_str().unwrap(), &other.url]);
    assert_eq!(code(&out), 1, "{}", text(&out.stdout));
    let stdout = text(&out.stdout);
    assert!(
        stdout.contains("expected: a close frame with code 4000"),
        "{stdout}"
    );
    assert!(stdout.contains("received: close 4001"), "{stdout}");
    assert!(stdout.contains("close.wsp:8"), "{stdout}");
}

#[test]
fn the_jsonrpc_example_passes_with_each_expectation_timed() {
    let server = PyServer::script("py_jsonrpc_server.py", &[]);
    let out = run(&[
        example("jsonrpc.wsp").to_str().unwrap(),
        &server.url,
        "--json",
    ]);
    assert_eq!(code(&out), 0, "{}{}", text(&out.stdout), text(&out.stderr));
    let lines = records(&out);
    let steps: Vec<&Value> = lines.iter().filter(|v| v["event"] == "step").collect();
    assert!(steps.iter().all(|s| s["status"] == "pass"), "{steps:#?}");
    let expects: Vec<&&Value> = steps.iter().filter(|s| s["command"] == "expect").collect();
    assert_eq!(expects.len(), 5);
    assert!(expects.iter().all(|s| s["latency_us"].as_u64().is_some()));
    let capture = steps.iter().find(|s| s["command"] == "capture").unwrap();
    assert_eq!(capture["detail"], "sum = 5");
    let summary = lines.last().unwrap();
    assert_eq!(summary["event"], "summary");
    assert_eq!(
        (
            &summary["status"],
            &summary["exit_code"],
            &summary["failed"]
        ),
        (&Value::from("pass"), &Value::from(0), &Value::from(0))
    );
    // The protocol's replies are timed by their request, as in the client.
    assert!(
        summary["reply_us"]["count"].as_u64().unwrap() >= 5,
        "{summary}"
    );
    assert!(
        summary["reply_by_request_us"]["add"].is_object(),
        "{summary}"
    );
}

#[test]
fn the_socketio_example_passes_past_the_protocols_own_messages() {
    let server = PyServer::script("py_socketio_server.py", &[]);
    let out = run(&[
        example("socketio.wsp").to_str().unwrap(),
        &server.url,
        "--protocol",
        "socketio",
    ]);
    assert_passed(&out);
}

#[test]
fn a_wrong_reply_exits_1_with_both_sides_and_a_junit_report() {
    let server = ServerProcess::start(&[]);
    let file = script("wrong.wsp", "hello\n/expect ^goodbye$\nnever sent\n");
    let junit = file.with_extension("xml");
    let out = run(&[
        file.to_str().unwrap(),
        &server.url,
        "--junit",
        junit.to_str().unwrap(),
    ]);
    assert_eq!(code(&out), 1);
    let stdout = text(&out.stdout);
    assert!(stdout.contains("FAIL    2  /expect ^goodbye$"), "{stdout}");
    assert!(
        stdout.contains("expected: a message matching /^goodbye$/"),
        "{stdout}"
    );
    assert!(stdout.contains("received: hello"), "{stdout}");
    assert!(
        stdout.contains(&format!("at {}:2", file.display())),
        "{stdout}"
    );
    assert!(stdout.contains("skip    3  never sent"), "{stdout}");
    assert!(
        stdout.lines().last().unwrap().starts_with("FAIL "),
        "{stdout}"
    );
    assert_well_formed_xml(&junit);
    let xml = std::fs::read_to_string(&junit).unwrap();
    assert!(
        xml.contains("tests=\"4\" failures=\"1\" errors=\"0\" skipped=\"1\""),
        "{xml}"
    );
    assert!(
        xml.contains("<failure message=\"it does not match\""),
        "{xml}"
    );
}

#[test]
fn a_bad_script_exits_2_with_carets_before_connecting() {
    // Nothing listens there: a script error must be found before any connect.
    let file = script(
        "bad.wsp",
        "hello\n/expekt hi\n/expect a(b\n/json {\"id\": ${id}}\n",
    );
    let out = run(&[file.to_str().unwrap(), "ws://127.0.0.1:9/"]);
    assert_eq!(code(&out), 2, "{}", text(&out.stderr));
    assert!(out.stdout.is_empty(), "{}", text(&out.stdout));
    let stderr = text(&out.stderr);
    let shown = file.display();
    for expected in [
        "error: unknown command /expekt (did you mean /expect?)".to_string(),
        format!(" --> {shown}:2:1\n  |\n2 | /expekt hi\n  | ^^^^^^^\n"),
        "error: bad regex: unclosed group".to_string(),
        format!(" --> {shown}:3:9\n  |\n3 | /expect a(b\n  |         ^^^\n"),
        "error: ${id} is not defined here".to_string(),
        format!(" --> {shown}:4:14\n  |\n4 | /json {{\"id\": ${{id}}}}\n  |              ^^^^^\n"),
        format!("3 problems in {shown}; nothing was sent"),
    ] {
        assert!(stderr.contains(&expected), "{expected:?} not in:\n{stderr}");
    }
    // With --json each problem is an object too, on stdout; --junit has a
    // failed test case for each.
    let junit = file.with_extension("xml");
    let out = run(&[
        file.to_str().unwrap(),
        "ws://127.0.0.1:9/",
        "--json",
        "--junit",
        junit.to_str().unwrap(),
    ]);
    assert_well_formed_xml(&junit);
    let xml = std::fs::read_to_string(&junit).unwrap();
    assert!(xml.contains("tests=\"3\" failures=\"3\""), "{xml}");
    assert!(xml.contains("type=\"problem\">at "), "{xml}");
    assert_eq!(code(&out), 2);
    let problems = records(&out);
    assert_eq!(problems.len(), 3);
    assert_eq!(
        (
            &problems[1]["line"],
            &problems[1]["column"],
            &problems[1]["event"]
        ),
        (&Value::from(3), &Value::from(9), &Value::from("problem"))
    );
}

#[test]
fn a_server_that_never_answers_meets_the_timeout() {
    let server = ServerProcess::start(&["--drop", "100%"]);
    let file = script(
        "silent.wsp",
        "hello\n/expect hello\nagain\n/expect again within 200ms\n",
    );
    let started = Instant::now();
    let out = run(&[file.to_str().unwrap(), &server.url, "--timeout", "300ms"]);
    assert_eq!(code(&out), 1);
    assert!(
        started.elapsed() < Duration::from_secs(4),
        "{:?}",
        started.elapsed()
    );
    let stdout = text(&out.stdout);
    assert!(
        stdout.contains("received: nothing within 300ms"),
        "{stdout}"
    );
    assert!(stdout.contains("skip    4"), "{stdout}");
}

#[test]
fn variables_come_from_var_set_env_and_captures() {
    let server = ServerProcess::start(&[]);
    let file = script(
        "vars.wsp",
        "/set who script\n/json {\"who\": \"${who}\", \"home\": \"${env:WSPROBE_TEST_HOME}\"}\n/expect json $.who == ci\n/capture home json $.home\nhome ${home}-${who}\n/expect ^home /tmp/x-ci$\n",
    );
    let out = run_cmd(
        wsprobe()
            .arg("run")
            .arg(&file)
            .arg(&server.url)
            .args(["--var", "who=ci", "--json"])
            .env("WSPROBE_TEST_HOME", "/tmp/x"),
    );
    assert_eq!(code(&out), 0, "{}{}", text(&out.stdout), text(&out.stderr));
    // Without the variable the environment is asked for, and the check says so.
    let out = run(&[file.to_str().unwrap(), &server.url]);
    assert_eq!(code(&out), 2);
    assert!(
        text(&out.stderr).contains("the environment variable WSPROBE_TEST_HOME is not set"),
        "{}",
        text(&out.stderr)
    );
}

#[test]
fn connect_opens_a_second_connection_and_client_script_is_the_same_run() {
    let first = ServerProcess::start(&["--prefix", "1: "]);
    let second = ServerProcess::start(&["--prefix", "2: "]);
    let file = script(
        "two.wsp",
        &format!(
            "/connect {}\nhi\n/expect ^1: hi$\n/connect {}\nhi\n/expect ^2: hi$\n",
            first.url, second.url
        ),
    );
    assert_passed(&run(&[file.to_str().unwrap()]));

    let file = script("one.wsp", "hi\n/expect ^1: hi$\n");
    let out = run_cmd(
        wsprobe()
            .args(["client", &first.url, "--script"])
            .arg(&file),
    );
    assert_passed(&out);
    let out = run_cmd(wsprobe().args(["client", &first.url, "--junit", "x.xml"]));
    assert_eq!(code(&out), 2, "--junit without --script");
}

#[test]
fn ctrl_c_stops_cleanly_with_a_partial_report() {
    let server = ServerProcess::start(&[]);
    let file = script("long.wsp", "hi\n/expect hi\n/wait 60s\nnever\n");
    let junit = file.with_extension("xml");
    let mut child = wsprobe()
        .arg("run")
        .arg(&file)
        .arg(&server.url)
        .arg("--junit")
        .arg(&junit)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let lines = Lines::read(child.stdout.take().unwrap());
    lines.wait_for("the expectation met", |l| l.contains("/expect hi"));
    sigterm(&child);
    let out = output_within(child, "the interrupted run never ended");
    assert_eq!(code(&out), 130);
    let rest = lines.rest("the rest of the report").join("\n");
    assert!(rest.contains("FAIL    3  /wait 60s  interrupted"), "{rest}");
    assert!(rest.contains("skip    4  never"), "{rest}");
    assert!(rest.contains("INTERRUPTED "), "{rest}");
    assert_well_formed_xml(&junit);
    let xml = std::fs::read_to_string(&junit).unwrap();
    assert!(xml.contains("name=\"interrupted\" value=\"true\""), "{xml}");
}

#[test]
fn a_server_that_closes_mid_script_fails_the_step_waiting_at_once() {
    let server = ServerProcess::start(&["--close-after", "1"]);
    let file = script("closing.wsp", "a\n/expect a\nb\n/expect b\nc\n");
    let started = Instant::now();
    let out = run(&[file.to_str().unwrap(), &server.url]);
    assert_eq!(code(&out), 1);
    assert!(
        started.elapsed() < Duration::from_secs(4),
        "not the timeout"
    );
    let stdout = text(&out.stdout);
    assert!(
        stdout.contains("FAIL    4  /expect b  the connection closed first"),
        "{stdout}"
    );
    assert!(
        stdout.contains("received: nothing: closed by server 1000"),
        "{stdout}"
    );
    assert!(stdout.contains("skip    5  c"), "{stdout}");
}
