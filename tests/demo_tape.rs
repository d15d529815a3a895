//! demo.tape types `wsprobe …` commands; each must parse with the current CLI.

use clap::Parser;
use wsprobe::cli::Cli;

/// Splits a command line on spaces, honouring single and double quotes.
fn words(line: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut cur = String::new();
    let mut quote: Option<char> = None;
    for c in line.chars() {
        match (quote, c) {
            (Some(q), c) if c == q => quote = None,
            (Some(_), c) => cur.push(c),
            (None, '\'' | '"') => quote = Some(c),
            (None, ' ') => {
                if !cur.is_empty() {
                    out.push(std::mem::take(&mut cur));
                }
            }
            (None, c) => cur.push(c),
        }
    }
    if !cur.is_empty() {
        out.push(cur);
    }
    out
}

/// The `wsprobe …` commands typed by the tape, cut at pipes.
fn typed_commands(tape: &str) -> Vec<String> {
    tape.lines()
        .filter_map(|l| l.trim().strip_prefix("Type "))
        .map(|arg| {
            arg.trim()
                .trim_matches(|c| c == '"' || c == '\'')
                .to_string()
        })
        .flat_map(|typed| {
            typed
                .split('|')
                // A trailing `&` runs it in the background: the shell's, not ours.
                .map(|part| part.trim().trim_end_matches('&').trim())
                .filter(|part| part.starts_with("wsprobe"))
                .map(str::to_string)
                .collect::<Vec<_>>()
        })
        .collect()
}

#[test]
fn every_wsprobe_command_in_the_tape_parses() {
    let tape = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/demo.tape")).unwrap();
    let commands = typed_commands(&tape);
    assert!(
        commands.len() >= 3,
        "the tape should show several commands: {commands:?}"
    );
    for cmd in commands {
        if let Err(e) = Cli::try_parse_from(words(&cmd)) {
            panic!("demo.tape types `{cmd}`, which the CLI rejects:\n{e}");
        }
    }
}

#[test]
fn a_wrong_command_would_be_caught() {
    let tape = "Type \"wsprobe client --no-such-flag ws://x\"";
    let cmd = &typed_commands(tape)[0];
    assert!(Cli::try_parse_from(words(cmd)).is_err());
}
