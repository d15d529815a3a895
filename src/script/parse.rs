//! A script's lines into steps, every line checked before anything connects:
//! what a line sends is read by the input box's own parser (`app::slash`) and
//! the protocols' encoders (`proto`), so a script and the box speak one language.

use std::time::Duration;

use super::expect::Expect;
use super::vars::{self, Vars};
use crate::app::slash;
use crate::net::relay::JsonPath;
use crate::proto::{Choice, Context, Protocol, Spoken};

/// What a line is, before its `${…}` are filled in.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Cmd {
    /// Anything the input box sends: text, `/json`, `/ping`, `/call`…
    Send,
    Expect,
    ExpectClose,
    Wait,
    Set,
    Capture,
    Connect,
}

impl Cmd {
    /// Its name in reports and `--json`.
    pub fn name(self) -> &'static str {
        match self {
            Cmd::Send => "send",
            Cmd::Expect => "expect",
            Cmd::ExpectClose => "expect-close",
            Cmd::Wait => "wait",
            Cmd::Set => "set",
            Cmd::Capture => "capture",
            Cmd::Connect => "connect",
        }
    }
}

/// One line that does something.
#[derive(Clone, Debug)]
pub struct Step {
    /// Its line number in the file, from 1.
    pub line: usize,
    /// The line as written, leading blanks taken off.
    pub text: String,
    pub cmd: Cmd,
    /// Where the command's arguments start in `text`.
    pub args_at: usize,
}

#[derive(Clone, Debug, Default)]
pub struct Script {
    /// The file, as named on the command line.
    pub file: String,
    pub steps: Vec<Step>,
}

/// A line's step with its variables filled in, ready to run.
#[derive(Clone, Debug)]
pub enum Op {
    Send(String),
    Expect {
        want: Expect,
        within: Option<Duration>,
    },
    ExpectClose {
        code: Option<u16>,
        within: Option<Duration>,
    },
    Wait(Duration),
    Set {
        name: String,
        value: String,
    },
    Capture {
        name: String,
        path: JsonPath,
    },
    Connect(String),
}

/// Something wrong in a line: where (byte offset and length in the line as
/// kept in its step) and why.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Problem {
    pub line: usize,
    pub text: String,
    pub at: usize,
    pub len: usize,
    pub message: String,
}

impl Problem {
    /// Its column, counted in characters from 1.
    pub fn column(&self) -> usize {
        self.text[..self.start()].chars().count() + 1
    }

    /// Where it starts, on a character's first byte.
    fn start(&self) -> usize {
        floor(&self.text, self.at)
    }

    /// As a compiler says it: the message, file:line:column, the line, and a
    /// caret under what is wrong.
    pub fn render(&self, file: &str) -> String {
        let shown = self.text.replace('\t', " ");
        let at = self.start();
        let col = self.column() - 1;
        let end = floor(&self.text, at + self.len).max(at);
        let width = self.text[at..end].chars().count().max(1);
        let gutter = " ".repeat(self.line.to_string().len());
        format!(
            "error: {}\n{gutter}--> {file}:{}:{}\n{gutter} |\n{} | {}\n{gutter} | {}{}",
            self.message,
            self.line,
            col + 1,
            self.line,
            crate::escape::escape_text(&shown, 400),
            " ".repeat(col),
            "^".repeat(width)
        )
    }
}

/// `at`, or the start of the character it falls in, within `text`.
fn floor(text: &str, at: usize) -> usize {
    let mut at = at.min(text.len());
    while !text.is_char_boundary(at) {
        at -= 1;
    }
    at
}

/// What checking a script needs to know from the command line.
pub struct Checks<'a> {
    pub choice: Choice,
    /// `--var NAME=VALUE`.
    pub vars: &'a [(String, String)],
    /// Reads `${env:NAME}` (the process environment, or a test's).
    pub env: &'a dyn Fn(&str) -> Option<String>,
    /// A URL was given besides the file: the script may start without `/connect`.
    pub has_url: bool,
}

/// What a value captured at run time stands for while the script is checked.
const CAPTURED: &str = "0";

/// Reads and checks every line; all the problems found, not just the first.
pub fn parse(file: &str, source: &str, checks: &Checks) -> Result<Script, Vec<Problem>> {
    let mut steps = Vec::new();
    let mut problems = Vec::new();
    let mut known = Vars::new(checks.vars);
    let mut connected = checks.has_url;
    let mut matched = false;
    for (i, raw) in source.lines().enumerate() {
        let line = i + 1;
        let text = raw.trim_end_matches('\r').trim_start();
        if text.is_empty() || text.starts_with('#') {
            continue;
        }
        let problem = |at: usize, len: usize, message: String| Problem {
            line,
            text: text.to_string(),
            at,
            len,
            message,
        };
        let (cmd, args_at) = match classify(text) {
            Ok(found) => found,
            Err((at, len, why)) => {
                problems.push(problem(at, len, why));
                continue;
            }
        };
        let step = Step {
            line,
            text: text.to_string(),
            cmd,
            args_at,
        };
        let op = match resolve(&step, &known, checks.env) {
            Ok(op) => op,
            Err((at, len, why)) => {
                problems.push(problem(at, len, why));
                continue;
            }
        };
        let name_len = args_at.saturating_sub(1).max(1);
        match &op {
            Op::Send(line_text) => {
                if !connected {
                    problems.push(problem(0, text.len(), no_url()));
                    connected = true;
                } else if let Err(why) = check_send(line_text, checks.choice) {
                    let (at, len) = match text.starts_with('/') {
                        true => (0, text.find(' ').unwrap_or(text.len())),
                        false => (0, text.len()),
                    };
                    problems.push(problem(at, len, why));
                }
            }
            Op::Expect { .. } | Op::ExpectClose { .. } if !connected => {
                problems.push(problem(0, name_len, no_url()));
                connected = true;
            }
            Op::Expect { .. } => matched = true,
            Op::Set { name, value } => known.set(name, value.clone()),
            Op::Capture { name, .. } => {
                if !matched {
                    problems.push(problem(
                        0,
                        name_len,
                        "/capture reads the message the last /expect matched: put an /expect before it".into(),
                    ));
                }
                known.set(name, CAPTURED.into());
            }
            Op::Connect(_) => {
                connected = true;
                matched = false;
            }
            _ => {}
        }
        steps.push(step);
    }
    if !problems.is_empty() {
        return Err(problems);
    }
    if steps.is_empty() {
        return Err(vec![Problem {
            line: 1,
            text: source.lines().next().unwrap_or("").to_string(),
            at: 0,
            len: 1,
            message: "the script has no steps (only blank lines and # comments)".into(),
        }]);
    }
    Ok(Script {
        file: file.to_string(),
        steps,
    })
}

fn no_url() -> String {
    "nothing to connect to yet: give a URL after the file, or start with /connect URL".into()
}

/// The script's own commands, and the input box's that mean nothing in a script.
fn classify(text: &str) -> Result<(Cmd, usize), vars::Bad> {
    let Some(rest) = text.strip_prefix('/') else {
        return Ok((Cmd::Send, 0));
    };
    if rest.starts_with('/') {
        return Ok((Cmd::Send, 0));
    }
    let name = rest.split(char::is_whitespace).next().unwrap_or("");
    // The blank after the name may be any whitespace, a no-break space included.
    let blank = rest[name.len()..].chars().next().map_or(0, char::len_utf8);
    let args_at = 1 + name.len() + blank;
    let cmd = match name {
        "expect" => Cmd::Expect,
        "expect-close" => Cmd::ExpectClose,
        "wait" => Cmd::Wait,
        "set" => Cmd::Set,
        "capture" => Cmd::Capture,
        "connect" => Cmd::Connect,
        "help" | "?" => {
            return Err((0, 1 + name.len(), "/help means nothing in a script".into()));
        }
        "run" => {
            return Err((0, 4, "a script cannot /run another script".into()));
        }
        _ => Cmd::Send,
    };
    Ok((cmd, args_at))
}

/// The step with its variables filled in from `vars` (and the environment):
/// what it will do. The error is where in the line, and why.
pub fn resolve(
    step: &Step,
    vars: &Vars,
    env: &dyn Fn(&str) -> Option<String>,
) -> Result<Op, vars::Bad> {
    let args_at = step.args_at;
    let raw_args = &step.text[args_at..];
    let shift = |(at, len, why): vars::Bad| (args_at + at, len, why);
    let plain = |s: &str| vars.fill(s, env, str::to_string).map_err(shift);
    let usage = |u: &str| (0, args_at.max(1), format!("usage: {u}"));
    // `within D` ends the line, or is all of it (`/expect-close within 2s`).
    let within = |args: &str| -> Result<(usize, Option<Duration>), vars::Bad> {
        let split = match args.strip_prefix("within ") {
            Some(d) => Some(("", d)),
            None => args.rsplit_once(" within "),
        };
        match split {
            Some((before, d)) => match crate::units::parse_duration(d) {
                Ok(d) => Ok((before.len(), Some(d))),
                Err(e) => Err((
                    args_at + args.len() - d.len(),
                    d.len(),
                    format!("within: {e}"),
                )),
            },
            None => Ok((args.len(), None)),
        }
    };
    Ok(match step.cmd {
        Cmd::Send => Op::Send(vars.fill(&step.text, env, str::to_string)?),
        Cmd::Expect => {
            let (end, within) = within(raw_args)?;
            let pattern = &raw_args[..end];
            if pattern.trim().is_empty() {
                return Err(usage(
                    "/expect REGEX [within DURATION], or /expect json PATH == VALUE",
                ));
            }
            // A value put into a regex stands for itself, whatever it holds.
            let filled = match pattern.starts_with("json ") {
                true => vars.fill(pattern, env, str::to_string),
                false => vars.fill(pattern, env, regex::escape),
            }
            .map_err(shift)?;
            let want = Expect::parse(&filled).map_err(|(at, why)| {
                // Point into the line as written when no value moved it.
                match filled == pattern {
                    true => (args_at + at, end - at, why),
                    false => (args_at, end, why),
                }
            })?;
            Op::Expect { want, within }
        }
        Cmd::ExpectClose => {
            let (end, within) = within(raw_args)?;
            let code = plain(raw_args[..end].trim())?;
            let code = match code.as_str() {
                "" => None,
                c => Some(
                    c.parse::<u16>()
                        .ok()
                        .filter(|c| (1000..5000).contains(c))
                        .ok_or((
                            args_at,
                            end,
                            format!("`{c}` is not a close code (1000-4999)"),
                        ))?,
                ),
            };
            Op::ExpectClose { code, within }
        }
        Cmd::Wait => {
            let d = plain(raw_args.trim())?;
            let d = crate::units::parse_duration(&d)
                .map_err(|e| (args_at, raw_args.len().max(1), format!("/wait: {e}")))?;
            Op::Wait(d)
        }
        Cmd::Set => {
            let (name, value) = raw_args
                .trim()
                .split_once(char::is_whitespace)
                .unwrap_or((raw_args.trim(), ""));
            if name.is_empty() {
                return Err(usage("/set NAME VALUE"));
            }
            vars::check_name(name).map_err(|why| (args_at, name.len(), why))?;
            let value = value.trim_start();
            // Where the value starts in the line, for a caret under its `${…}`.
            let value_at = match value.is_empty() {
                true => raw_args.len(),
                false => value.as_ptr() as usize - raw_args.as_ptr() as usize,
            };
            let value = vars
                .fill(value, env, str::to_string)
                .map_err(|(at, len, why)| (args_at + value_at + at, len, why))?;
            Op::Set {
                name: name.to_string(),
                value,
            }
        }
        Cmd::Capture => {
            let mut words = raw_args.split_whitespace();
            let (Some(name), Some("json"), Some(path), None) =
                (words.next(), words.next(), words.next(), words.next())
            else {
                return Err(usage(
                    "/capture NAME json PATH, e.g. /capture id json $.result.id",
                ));
            };
            vars::check_name(name).map_err(|why| (args_at, name.len(), why))?;
            let path_at = raw_args.rfind(path).unwrap_or(0);
            let path = JsonPath::parse(path).map_err(|why| (args_at + path_at, path.len(), why))?;
            Op::Capture {
                name: name.to_string(),
                path,
            }
        }
        Cmd::Connect => {
            let url = plain(raw_args.trim())?;
            check_url(&url).map_err(|why| (args_at, raw_args.len().max(1), why))?;
            Op::Connect(url)
        }
    })
}

/// `/connect`'s URL: a WebSocket URL, or an HTTP one (Socket.IO's).
fn check_url(url: &str) -> Result<(), String> {
    if url.is_empty() {
        return Err("usage: /connect URL".into());
    }
    let lower = url.to_ascii_lowercase();
    if lower.starts_with("http://") || lower.starts_with("https://") {
        return url
            .parse::<tokio_tungstenite::tungstenite::http::Uri>()
            .map(|_| ())
            .map_err(|e| format!("`{url}` is not a valid URL ({e})"));
    }
    crate::net::client::parse_ws_url(url).map(|_| ())
}

/// The input box's commands, which a script sends as typed.
const BOX: &[&str] = &["ping", "close", "hex", "json", "repeat", "frame", "frag"];
/// The script's own.
const OWN: &[&str] = &[
    "expect",
    "expect-close",
    "wait",
    "set",
    "capture",
    "connect",
];
const PROTOCOLS: &[Protocol] = &Protocol::ALL;

/// A line to send, checked as the input box would take it: wsprobe's own
/// commands, or a command of the protocol `--protocol` names (any protocol's
/// with `auto`, which may find any).
pub fn check_send(line: &str, choice: Choice) -> Result<(), String> {
    let Some(rest) = line.strip_prefix('/').filter(|r| !r.starts_with('/')) else {
        return Ok(());
    };
    let name = rest.split(char::is_whitespace).next().unwrap_or("");
    if BOX.contains(&name) {
        return slash::parse(line).map(|_| ());
    }
    let speaking: Vec<Protocol> = match Spoken::new(choice, None).protocol {
        Some(p) if choice.is_explicit() => vec![p],
        _ if choice == Choice::Raw => Vec::new(),
        _ => PROTOCOLS.to_vec(),
    };
    let mut said = None;
    for p in speaking {
        match crate::proto::typed_command(p, rest, &mut Context::default()) {
            Some(Ok(_)) => return Ok(()),
            Some(Err(e)) => said = said.or(Some(e)),
            None => {}
        }
    }
    if let Some(e) = said {
        return Err(e);
    }
    let mut known: Vec<String> = BOX.iter().chain(OWN).map(|s| s.to_string()).collect();
    for p in PROTOCOLS {
        for (usage, _) in p.codec().commands() {
            let n = usage.trim_start_matches('/');
            known.push(n.split(' ').next().unwrap_or(n).to_string());
        }
    }
    let hint = known
        .iter()
        .filter(|k| distance(k, name) <= 2)
        .min_by_key(|k| distance(k, name))
        .map(|k| format!(" (did you mean /{k}?)"))
        .unwrap_or_default();
    Err(format!(
        "unknown command /{name}{hint}; a script takes the input box's commands \
         (text, /json, /hex, /ping, /close, /repeat, a protocol's /call, /emit…), \
         /expect, /expect-close, /wait, /set, /capture, /connect; // sends text starting with /"
    ))
}

/// Edits between two short words, for "did you mean".
fn distance(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    let mut row: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.chars().enumerate() {
        let mut prev = row[0];
        row[0] = i + 1;
        for (j, cb) in b.iter().enumerate() {
            let here = row[j + 1];
            row[j + 1] = (prev + usize::from(ca != *cb))
                .min(row[j] + 1)
                .min(here + 1);
            prev = here;
        }
    }
    row[b.len()]
}

#[cfg(test)]
mod tests {
    use super::*;

    fn env(name: &str) -> Option<String> {
        (name == "TOKEN").then(|| "s3cret".to_string())
    }

    fn checks() -> Checks<'static> {
        Checks {
            choice: Choice::Auto,
            vars: &[],
            env: &env,
            has_url: true,
        }
    }

    fn problems(src: &str) -> Vec<Problem> {
        parse("t.wsp", src, &checks()).unwrap_err()
    }

    #[test]
    fn lines_become_steps_and_comments_go() {
        let s = parse(
            "t.wsp",
            "# a comment\n\nhello\n  /expect ^Echo: hello$ within 2s\n/json {\"a\":1}\n/wait 10ms\n/expect-close 4000\n",
            &checks(),
        )
        .unwrap();
        let shape: Vec<(usize, Cmd)> = s.steps.iter().map(|s| (s.line, s.cmd)).collect();
        assert_eq!(
            shape,
            [
                (3, Cmd::Send),
                (4, Cmd::Expect),
                (5, Cmd::Send),
                (6, Cmd::Wait),
                (7, Cmd::ExpectClose)
            ]
        );
        let vars = Vars::new(&[]);
        match resolve(&s.steps[1], &vars, &env).unwrap() {
            Op::Expect { within, .. } => assert_eq!(within, Some(Duration::from_secs(2))),
            other => panic!("{other:?}"),
        }
        match resolve(&s.steps[4], &vars, &env).unwrap() {
            Op::ExpectClose { code, within } => assert_eq!((code, within), (Some(4000), None)),
            other => panic!("{other:?}"),
        }
        let s = parse(
            "t.wsp",
            "/expect-close within 2s
",
            &checks(),
        )
        .unwrap();
        match resolve(&s.steps[0], &vars, &env).unwrap() {
            Op::ExpectClose { code, within } => {
                assert_eq!((code, within), (None, Some(Duration::from_secs(2))))
            }
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn every_bad_line_is_reported_with_where() {
        let p = problems("/expekt hi\nhello\n/expect a(b\n/json ${nope}\n/json {oops\n");
        assert_eq!(p.len(), 4, "{p:#?}");
        assert_eq!((p[0].line, p[0].at, p[0].len), (1, 0, 7));
        assert!(
            p[0].message.contains("did you mean /expect?"),
            "{}",
            p[0].message
        );
        assert_eq!((p[1].line, p[1].at), (3, 8));
        assert!(p[1].message.starts_with("bad regex"), "{}", p[1].message);
        assert_eq!((p[2].line, p[2].at, p[2].len), (4, 6, 7));
        assert!(
            p[2].message.contains("${nope} is not defined"),
            "{}",
            p[2].message
        );
        assert_eq!(p[3].line, 5);
        assert!(p[3].message.contains("not valid JSON"), "{}", p[3].message);
    }

    #[test]
    fn the_caret_sits_under_the_problem() {
        let p = &problems("hi\n/expect ok\n/send ${missing} x\n")[0];
        let shown = p.render("t.wsp");
        let lines: Vec<&str> = shown.lines().collect();
        assert!(lines[0].starts_with("error: "), "{shown}");
        assert_eq!(lines[1], " --> t.wsp:3:7");
        assert_eq!(lines[3], "3 | /send ${missing} x");
        assert_eq!(lines[4], "  |       ^^^^^^^^^^");
    }

    #[test]
    fn variables_are_known_from_set_capture_var_and_env() {
        let vars = [("who".to_string(), "ci".to_string())];
        let c = Checks {
            vars: &vars,
            ..checks()
        };
        let src = "/set greeting hello ${who}\n${greeting}\n/expect ${greeting}\n/capture id json $.id\n/json {\"id\":${id},\"t\":\"${env:TOKEN}\"}\n";
        let s = parse("t.wsp", src, &c).unwrap();
        assert_eq!(s.steps.len(), 5);
        let p = problems("/json {\"t\":\"${env:NOT_SET_ANYWHERE}\"}\n");
        assert!(
            p[0].message.contains("environment variable"),
            "{}",
            p[0].message
        );
        let p = problems("hi\n/capture id json $.id\n");
        assert!(
            p[0].message.contains("put an /expect before it"),
            "{}",
            p[0].message
        );
        let p = problems("/set a  x ${nope}  \n");
        assert_eq!((p[0].at, p[0].len), (10, 7), "{p:?}");
        let p = problems("${later}\n/set later x\n");
        assert_eq!(p.len(), 1);
        assert_eq!(p[0].line, 1);
    }

    #[test]
    fn a_value_in_a_regex_stands_for_itself() {
        let s = parse("t.wsp", "/set v a.b\n/expect ^${v}$\n", &checks()).unwrap();
        let mut vars = Vars::new(&[]);
        vars.set("v", "a.b".into());
        let Op::Expect { want, .. } = resolve(&s.steps[1], &vars, &env).unwrap() else {
            panic!("not an expect")
        };
        assert!(want.check(crate::net::FrameKind::Text, b"a.b").is_ok());
        assert!(want.check(crate::net::FrameKind::Text, b"axb").is_err());
    }

    #[test]
    fn protocol_commands_are_checked_by_their_protocol() {
        assert!(check_send("/call add 1 2", Choice::Auto).is_ok());
        assert!(check_send("/emit chat \"hi\"", Choice::Socketio).is_ok());
        assert!(check_send("/emit chat \"hi\"", Choice::Jsonrpc).is_err());
        assert!(check_send("/call", Choice::Jsonrpc).is_err());
        assert!(check_send("//etc", Choice::Raw).is_ok());
        assert!(check_send("/hex zz", Choice::Auto).is_err());
        assert!(check_send("/pingg", Choice::Auto)
            .unwrap_err()
            .contains("did you mean /ping?"));
    }

    #[test]
    fn a_script_needs_somewhere_to_connect() {
        let c = Checks {
            has_url: false,
            ..checks()
        };
        let p = parse("t.wsp", "hello\n", &c).unwrap_err();
        assert!(p[0].message.contains("give a URL"), "{}", p[0].message);
        assert!(parse("t.wsp", "/connect ws://127.0.0.1:1/\nhello\n", &c).is_ok());
        let p = parse("t.wsp", "/connect localhost:1\n", &c).unwrap_err();
        assert_eq!(p[0].at, 9);
        assert!(problems("# only a comment\n")[0]
            .message
            .contains("no steps"));
        assert!(problems("/help\n")[0]
            .message
            .contains("nothing in a script"));
        assert!(problems("/wait soon\n")[0].message.contains("/wait"));
        assert!(problems("/expect-close 99\n")[0]
            .message
            .contains("close code"));
        assert!(problems("/expect x within forever\n")[0]
            .message
            .contains("within"));
    }
}
