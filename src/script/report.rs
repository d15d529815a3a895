//! How a run is told: a line per step for people, a JSON object per step
//! (`--json`), and JUnit XML (`--junit FILE`) for CI systems.

use std::fmt::Write;
use std::time::Duration;

use serde_json::json;

use super::runner::{Outcome, Status};
use crate::escape::escape_text;
use crate::present::{format_duration, ClientTotals};
use crate::record::schema::RttRecord;

/// Steps by how they went.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Tally {
    pub passed: usize,
    pub failed: usize,
    pub skipped: usize,
}

pub fn tally(outcomes: &[Outcome]) -> Tally {
    let mut t = Tally::default();
    for o in outcomes {
        match o.status {
            Status::Pass => t.passed += 1,
            Status::Fail => t.failed += 1,
            Status::Skipped => t.skipped += 1,
        }
    }
    t
}

fn secs(d: Duration) -> String {
    format!("{:.3}s", d.as_secs_f64())
}

/// One step for people: its time, result, line and what happened; a failure
/// adds what was expected, what came, and where in the file.
pub fn human(file: &str, o: &Outcome) -> Vec<String> {
    let mark = match o.status {
        Status::Pass => "ok  ",
        Status::Fail => "FAIL",
        Status::Skipped => "skip",
    };
    let when = match o.status {
        Status::Skipped => "-".to_string(),
        _ => secs(o.at),
    };
    let mut detail = o.detail.clone();
    if let Some(l) = o.latency {
        detail = format!("{} · {detail}", format_duration(l));
    }
    let mut lines = vec![format!(
        "{when:>8} {mark} {:>4}  {}{}",
        o.line,
        script_line(&o.text),
        match detail.is_empty() {
            true => String::new(),
            false => format!("  {detail}"),
        }
    )
    .trim_end()
    .to_string()];
    if o.status == Status::Fail {
        let pad = " ".repeat(15);
        if let Some(e) = &o.expected {
            lines.push(format!("{pad}expected: {e}"));
        }
        if let Some(r) = &o.received {
            lines.push(format!("{pad}received: {r}"));
        }
        if o.line > 0 {
            lines.push(format!("{pad}at {file}:{}", o.line));
        }
    }
    lines
}

/// A line of the script as written (backslashes of a regex left single),
/// unless it holds what a terminal must not see raw.
fn script_line(text: &str) -> String {
    let cut: String = text.chars().take(60).collect();
    match crate::escape::is_terminal_safe(&cut) {
        true if cut.len() < text.len() => format!("{cut}…"),
        true => cut,
        false => escape_text(text, 60),
    }
}

/// The last line for people.
pub fn human_summary(
    file: &str,
    outcomes: &[Outcome],
    elapsed: Duration,
    interrupted: bool,
) -> String {
    let t = tally(outcomes);
    let verdict = match (interrupted, t.failed) {
        (true, _) => "INTERRUPTED",
        (false, 0) => "PASS",
        _ => "FAIL",
    };
    format!(
        "{verdict} {file}: {} passed, {} failed, {} skipped in {}",
        t.passed,
        t.failed,
        t.skipped,
        format_duration(elapsed)
    )
}

fn us(d: Duration) -> u64 {
    d.as_micros() as u64
}

/// One step as a JSON line.
pub fn json_step(file: &str, o: &Outcome) -> String {
    let mut v = json!({
        "event": "step",
        "file": file,
        "line": o.line,
        "command": o.cmd.name(),
        "text": o.text,
        "status": o.status.as_str(),
        "at_us": us(o.at),
        "took_us": us(o.took),
    });
    let fields = v.as_object_mut().expect("an object");
    if !o.detail.is_empty() {
        fields.insert("detail".into(), json!(o.detail));
    }
    if let Some(l) = o.latency {
        fields.insert("latency_us".into(), json!(us(l)));
    }
    if let Some(e) = &o.expected {
        fields.insert("expected".into(), json!(e));
    }
    if let Some(r) = &o.received {
        fields.insert("received".into(), json!(r));
    }
    v.to_string()
}

/// The run as one JSON line, last: counts, verdict, exit code and the
/// connection's totals with the expectations' latencies (`reply_us`).
pub fn json_summary(
    file: &str,
    outcomes: &[Outcome],
    elapsed: Duration,
    exit_code: u8,
    interrupted: bool,
    totals: &ClientTotals,
) -> String {
    let t = tally(outcomes);
    let status = match (interrupted, t.failed) {
        (true, _) => "interrupted",
        (false, 0) => "pass",
        _ => "fail",
    };
    let mut v = json!({
        "event": "summary",
        "file": file,
        "status": status,
        "exit_code": exit_code,
        "steps": outcomes.len(),
        "passed": t.passed,
        "failed": t.failed,
        "skipped": t.skipped,
        "duration_us": us(elapsed),
        "sent": totals.sent,
        "received": totals.received,
        "echo_rtt_us": RttRecord::from(totals.rtt.echo.summary()),
    });
    let fields = v.as_object_mut().expect("an object");
    if totals.rtt.reply.count() > 0 {
        fields.insert(
            "reply_us".into(),
            json!(RttRecord::from(totals.rtt.reply.summary())),
        );
        let by: serde_json::Map<String, serde_json::Value> = (totals.rtt.by_label.iter())
            .map(|(l, s)| (l.to_string(), json!(RttRecord::from(s.summary()))))
            .collect();
        fields.insert("reply_by_request_us".into(), serde_json::Value::Object(by));
    }
    v.to_string()
}

/// Text made safe for XML 1.0: markup escaped, control characters shown as escapes.
fn xml(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in escape_text(s, 4000).chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&apos;"),
            c => out.push(c),
        }
    }
    out
}

/// JUnit XML: the file a test suite, each step a test case (the connection
/// to the URL given on the command line is line 0).
pub fn junit(
    file: &str,
    outcomes: &[Outcome],
    elapsed: Duration,
    interrupted: bool,
    timestamp: chrono::DateTime<chrono::Utc>,
) -> String {
    let t = tally(outcomes);
    let total = format!("{:.3}", elapsed.as_secs_f64());
    let mut x = String::from("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n");
    let _ = writeln!(
        x,
        "<testsuites name=\"wsprobe\" tests=\"{}\" failures=\"{}\" errors=\"0\" skipped=\"{}\" time=\"{total}\">",
        outcomes.len(),
        t.failed,
        t.skipped
    );
    let _ = writeln!(
        x,
        "  <testsuite name=\"{}\" tests=\"{}\" failures=\"{}\" errors=\"0\" skipped=\"{}\" time=\"{total}\" timestamp=\"{}\">",
        xml(file),
        outcomes.len(),
        t.failed,
        t.skipped,
        timestamp.format("%Y-%m-%dT%H:%M:%S")
    );
    if interrupted {
        x.push_str(
            "    <properties><property name=\"interrupted\" value=\"true\"/></properties>\n",
        );
    }
    for o in outcomes {
        let _ = write!(
            x,
            "    <testcase classname=\"{}\" name=\"line {}: {}\" time=\"{:.3}\"",
            xml(file),
            o.line,
            xml(&o.text),
            o.took.as_secs_f64()
        );
        match o.status {
            Status::Pass => x.push_str("/>\n"),
            Status::Skipped => x.push_str("><skipped/></testcase>\n"),
            Status::Fail => {
                let mut body = String::new();
                if let Some(e) = &o.expected {
                    let _ = writeln!(body, "expected: {e}");
                }
                if let Some(r) = &o.received {
                    let _ = writeln!(body, "received: {r}");
                }
                let _ = write!(body, "at {file}:{}", o.line);
                let _ = writeln!(
                    x,
                    "><failure message=\"{}\" type=\"{}\">{}</failure></testcase>",
                    xml(&o.detail),
                    o.cmd.name(),
                    xml(&body).replace("\\n", "\n")
                );
            }
        }
    }
    x.push_str("  </testsuite>\n</testsuites>\n");
    x
}

/// JUnit XML for a script refused before it ran: a failed test case per problem,
/// so a CI system that reads the file sees why.
pub fn junit_refused(file: &str, problems: &[(usize, usize, String)]) -> String {
    let mut x = String::from("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n");
    let n = problems.len();
    let _ = writeln!(
        x,
        "<testsuites name=\"wsprobe\" tests=\"{n}\" failures=\"{n}\" errors=\"0\" skipped=\"0\" time=\"0\">"
    );
    let _ = writeln!(
        x,
        "  <testsuite name=\"{}\" tests=\"{n}\" failures=\"{n}\" errors=\"0\" skipped=\"0\" time=\"0\">",
        xml(file)
    );
    for (line, column, message) in problems {
        let _ = writeln!(
            x,
            "    <testcase classname=\"{}\" name=\"line {line}: the script\" time=\"0\"><failure message=\"{}\" type=\"problem\">at {}:{line}:{column}</failure></testcase>",
            xml(file),
            xml(message),
            xml(file)
        );
    }
    x.push_str("  </testsuite>\n</testsuites>\n");
    x
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::script::parse::Cmd;

    fn outcome(line: usize, status: Status) -> Outcome {
        Outcome {
            line,
            text: "/expect <b>&\"x\"\u{1b}".into(),
            cmd: Cmd::Expect,
            status,
            at: Duration::from_millis(1500),
            took: Duration::from_millis(2),
            latency: (status == Status::Pass).then(|| Duration::from_micros(1210)),
            detail: match status {
                Status::Fail => "no message came".into(),
                _ => "got hi".into(),
            },
            expected: (status == Status::Fail).then(|| "a message matching /b/".into()),
            received: (status == Status::Fail).then(|| "nothing within 5s".into()),
        }
    }

    #[test]
    fn a_failure_says_what_was_expected_what_came_and_where() {
        let lines = human("s.wsp", &outcome(6, Status::Fail));
        assert!(
            lines[0].contains("FAIL") && lines[0].contains("   6  /expect"),
            "{lines:?}"
        );
        assert!(lines[0].contains("\\x1b"), "escaped: {lines:?}");
        assert!(lines[1].ends_with("expected: a message matching /b/"));
        assert!(lines[2].ends_with("received: nothing within 5s"));
        assert!(lines[3].ends_with("at s.wsp:6"));
        let ok = human("s.wsp", &outcome(4, Status::Pass));
        assert_eq!(ok.len(), 1);
        assert!(ok[0].contains("1.21ms · got hi"), "{ok:?}");
    }

    #[test]
    fn json_lines_carry_the_fields() {
        let v: serde_json::Value =
            serde_json::from_str(&json_step("s.wsp", &outcome(6, Status::Fail))).unwrap();
        assert_eq!(v["event"], "step");
        assert_eq!(v["line"], 6);
        assert_eq!(v["status"], "fail");
        assert_eq!(v["command"], "expect");
        assert_eq!(v["expected"], "a message matching /b/");
        let v: serde_json::Value =
            serde_json::from_str(&json_step("s.wsp", &outcome(4, Status::Pass))).unwrap();
        assert_eq!(v["latency_us"], 1210);
        assert!(v.get("expected").is_none());
        let all = [
            outcome(4, Status::Pass),
            outcome(6, Status::Fail),
            outcome(7, Status::Skipped),
        ];
        let s: serde_json::Value = serde_json::from_str(&json_summary(
            "s.wsp",
            &all,
            Duration::from_secs(2),
            1,
            false,
            &ClientTotals::default(),
        ))
        .unwrap();
        assert_eq!(
            (
                &s["status"],
                &s["passed"],
                &s["failed"],
                &s["skipped"],
                &s["exit_code"]
            ),
            (&json!("fail"), &json!(1), &json!(1), &json!(1), &json!(1))
        );
    }

    #[test]
    fn junit_is_escaped_and_counts() {
        let all = [
            outcome(4, Status::Pass),
            outcome(6, Status::Fail),
            outcome(7, Status::Skipped),
        ];
        let x = junit(
            "a&b.wsp",
            &all,
            Duration::from_secs(2),
            true,
            chrono::Utc::now(),
        );
        assert!(
            x.contains("tests=\"3\" failures=\"1\" errors=\"0\" skipped=\"1\""),
            "{x}"
        );
        assert!(x.contains("name=\"a&amp;b.wsp\""), "{x}");
        assert!(
            x.contains("/expect &lt;b&gt;&amp;&quot;x&quot;\\x1b"),
            "{x}"
        );
        assert!(
            x.contains("<failure message=\"no message came\" type=\"expect\">"),
            "{x}"
        );
        assert!(x.contains("<skipped/>"));
        assert!(x.contains("name=\"interrupted\""));
        assert!(!x.contains('\u{1b}'));
    }
}
