//! Scripted checks: a file of the lines a person types into the client's input
//! box, plus expectations (`/expect`, `/expect-close`), waits, variables and
//! captures. `parse` reads and checks every line before anything connects,
//! `runner` runs the steps against a connection's events (pure: the headless
//! runner and the dashboard each carry out its actions), `report` tells the
//! result as lines, JSON or JUnit XML.

pub mod expect;
pub mod parse;
pub mod report;
pub mod runner;
pub mod vars;

#[cfg(test)]
mod tests;

use std::path::Path;

pub use parse::{Checks, Script};
pub use runner::{Action, Outcome, Runner, Settings, Status};

/// Exit code of a run stopped by Ctrl-C or SIGTERM (128 + SIGINT, as shells say).
pub const EXIT_INTERRUPTED: u8 = 130;
/// An `/expect` without `within` waits this long unless `--timeout` says otherwise.
pub const DEFAULT_TIMEOUT: &str = "5s";

/// The script's own commands, for help screens: usage, meaning.
pub const HELP: &[(&str, &str)] = &[
    (
        "/expect REGEX [within D]",
        "the next message matches REGEX (a binary one as hex)",
    ),
    (
        "/expect json PATH == VALUE",
        "the next message is JSON with VALUE at PATH ($.result, $.a[0]); also != VALUE, or only PATH",
    ),
    (
        "/expect-close [CODE] [within D]",
        "the server closes (with CODE)",
    ),
    ("/wait D", "wait, e.g. /wait 200ms"),
    ("/set NAME VALUE", "${NAME} in any later line is VALUE"),
    (
        "/capture NAME json PATH",
        "NAME is the value at PATH in the message the last /expect matched",
    ),
    ("/connect URL", "close the connection and open one to URL"),
    ("# text", "a comment; ${env:NAME} reads the environment"),
];

/// `${env:NAME}` from the process's environment.
pub fn process_env(name: &str) -> Option<String> {
    std::env::var(name).ok()
}

/// How long an `/expect` waits by default, as a duration.
pub fn default_timeout() -> std::time::Duration {
    crate::units::parse_duration(DEFAULT_TIMEOUT).expect("a valid default")
}

fn read(path: &Path) -> Result<String, String> {
    let shown = path.display();
    let source = std::fs::read(path).map_err(|e| format!("cannot read {shown}: {e}"))?;
    String::from_utf8(source).map_err(|e| {
        format!(
            "{shown} is not UTF-8 text (byte {} of the file)",
            e.utf8_error().valid_up_to() + 1
        )
    })
}

/// Why a script did not run: it could not be read, or these problems.
#[derive(Clone, Debug)]
pub enum Refusal {
    Unreadable(String),
    Problems {
        file: String,
        problems: Vec<parse::Problem>,
    },
}

impl Refusal {
    /// For a terminal: each problem with its line and a caret under it.
    pub fn text(&self) -> String {
        match self {
            Refusal::Unreadable(why) => format!("error: {why}"),
            Refusal::Problems { file, problems } => {
                let mut text: Vec<String> = problems.iter().map(|p| p.render(file)).collect();
                text.push(format!(
                    "{} in {file}; nothing was sent",
                    crate::present::count(problems.len() as u64, "problem", "problems")
                ));
                text.join("\n\n")
            }
        }
    }

    /// One line each (`FILE:LINE:COLUMN: why`), for a screen with a line to spare.
    pub fn lines(&self) -> Vec<String> {
        match self {
            Refusal::Unreadable(why) => vec![why.clone()],
            Refusal::Problems { file, problems } => problems
                .iter()
                .map(|p| format!("{file}:{}:{}: {}", p.line, p.column(), p.message))
                .collect(),
        }
    }

    /// `--junit`: a failed test case per problem.
    pub fn junit(&self) -> String {
        match self {
            Refusal::Unreadable(why) => report::junit_refused("", &[(0, 0, why.clone())]),
            Refusal::Problems { file, problems } => {
                let each: Vec<(usize, usize, String)> = problems
                    .iter()
                    .map(|p| (p.line, p.column(), p.message.clone()))
                    .collect();
                report::junit_refused(file, &each)
            }
        }
    }

    /// `--json`: an object per problem.
    pub fn json(&self) -> Vec<String> {
        match self {
            Refusal::Unreadable(why) => {
                vec![serde_json::json!({"event": "problem", "message": why}).to_string()]
            }
            Refusal::Problems { file, problems } => problems
                .iter()
                .map(|p| {
                    serde_json::json!({
                        "event": "problem",
                        "file": file,
                        "line": p.line,
                        "column": p.column(),
                        "text": p.text,
                        "message": p.message,
                    })
                    .to_string()
                })
                .collect(),
        }
    }
}

/// Reads and checks a script file (exit code 2 when refused).
pub fn load(path: &Path, checks: &Checks) -> Result<Script, Refusal> {
    let file = path.display().to_string();
    let source = read(path).map_err(Refusal::Unreadable)?;
    parse::parse(&file, &source, checks).map_err(|problems| Refusal::Problems { file, problems })
}
