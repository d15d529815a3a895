//! The command line resolved into the options the program runs with. Output
//! flags can come before the subcommand (or with none, for the demo) and after
//! it; this is the one place where the two are merged.

use std::io::IsTerminal;
use std::path::PathBuf;

use crate::cli::{BenchCommand, Cli, Command, DashboardArgs, OutputArgs, RecordArgs};
use crate::error::UsageError;
use crate::headless::output::Format;

/// How many frames the dashboard keeps when `--keep` is not given.
pub const DEFAULT_KEEP: usize = 10_000;

/// How results are shown, wherever on the command line they were asked for.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Options {
    pub no_tui: bool,
    pub json: bool,
    pub quiet: bool,
    /// Print every frame as it crossed the wire (`--frames`).
    pub frames: bool,
    /// Frames the dashboard keeps for scrolling.
    pub keep: usize,
    /// Where every event and frame is recorded.
    pub record: Option<PathBuf>,
}

impl Options {
    /// The dashboard needs a terminal to draw on and one to read keys from.
    pub fn use_tui(&self) -> bool {
        !self.no_tui
            && !self.json
            && std::io::stdout().is_terminal()
            && std::io::stdin().is_terminal()
    }

    /// Whether connections log each frame: the dashboard always does (a key
    /// shows them), lines only with `--frames`.
    pub fn watch_frames(&self) -> bool {
        self.frames || self.use_tui()
    }

    /// How lines are written when there is no dashboard.
    pub fn format(&self) -> Format {
        if self.json {
            Format::Json
        } else {
            Format::Human
        }
    }
}

/// The flags the subcommand itself takes; `None` where it takes none.
struct Own<'a> {
    output: Option<OutputArgs>,
    dashboard: Option<&'a DashboardArgs>,
    record: Option<&'a RecordArgs>,
}

fn own(command: Option<&Command>) -> Own<'_> {
    match command {
        None | Some(Command::Completions(_) | Command::Man(_)) => Own {
            output: None,
            dashboard: None,
            record: None,
        },
        Some(Command::Server(a)) => Own {
            output: Some(a.output.clone()),
            dashboard: Some(&a.dashboard),
            record: Some(&a.record),
        },
        Some(Command::Client(a)) => Own {
            output: Some(a.output.clone()),
            dashboard: Some(&a.dashboard),
            record: Some(&a.record),
        },
        Some(Command::Relay(a)) => Own {
            output: Some(a.output.clone()),
            dashboard: Some(&a.dashboard),
            record: Some(&a.record),
        },
        Some(Command::Replay(a)) => Own {
            output: Some(a.output.clone()),
            dashboard: Some(&a.dashboard),
            record: None,
        },
        Some(Command::Bench(BenchCommand::Merge(a))) => Own {
            output: Some(OutputArgs {
                no_tui: true,
                json: a.json,
                quiet: false,
                frames: false,
            }),
            dashboard: None,
            record: None,
        },
        Some(Command::Run(a)) => Own {
            output: Some(OutputArgs {
                no_tui: true,
                json: a.output.json,
                quiet: a.output.quiet,
                frames: false,
            }),
            dashboard: None,
            record: None,
        },
        Some(Command::Bench(BenchCommand::Run(a))) => Own {
            output: Some(OutputArgs {
                no_tui: a.output.no_tui,
                json: a.output.json,
                quiet: false,
                frames: false,
            }),
            dashboard: None,
            record: None,
        },
    }
}

/// Merges the flags before the subcommand with the subcommand's own: a switch
/// is on when either turns it on, a value after the subcommand wins.
pub fn resolve(cli: &Cli) -> Result<Options, UsageError> {
    let own = own(cli.command.as_ref());
    let demo = cli.command.is_none();
    if cli.record.record.is_some() && !demo && own.record.is_none() {
        return Err(UsageError(
            "--record works with `server`, `client`, `relay` and the demo".into(),
        ));
    }
    let top = &cli.output;
    let sub = own.output.unwrap_or_default();
    Ok(Options {
        no_tui: top.no_tui || sub.no_tui,
        json: top.json || sub.json,
        quiet: top.quiet || sub.quiet,
        frames: top.frames || sub.frames,
        keep: own
            .dashboard
            .and_then(|d| d.keep)
            .or(cli.dashboard.keep)
            .unwrap_or(DEFAULT_KEEP),
        record: own
            .record
            .and_then(|r| r.record.clone())
            .or_else(|| cli.record.record.clone()),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::{CommandFactory, Parser};

    fn options(args: &[&str]) -> Options {
        let cli = Cli::try_parse_from(args).unwrap_or_else(|e| panic!("{args:?}: {e}"));
        resolve(&cli).unwrap_or_else(|e| panic!("{args:?}: {}", e.0))
    }

    fn with(f: impl FnOnce(&mut Options)) -> Options {
        let mut o = Options {
            no_tui: false,
            json: false,
            quiet: false,
            frames: false,
            keep: DEFAULT_KEEP,
            record: None,
        };
        f(&mut o);
        o
    }

    #[test]
    fn every_spelling_in_use_still_parses_and_means_the_same() {
        let url = "ws://127.0.0.1:8765";
        let cases: Vec<(Vec<&str>, Options)> = vec![
            (vec!["wsprobe"], with(|_| {})),
            (
                vec!["wsprobe", "--record", "demo.jsonl"],
                with(|o| o.record = Some("demo.jsonl".into())),
            ),
            (
                vec!["wsprobe", "--no-tui", "--record", "d.jsonl", "--keep", "5"],
                with(|o| {
                    o.no_tui = true;
                    o.record = Some("d.jsonl".into());
                    o.keep = 5;
                }),
            ),
            (
                vec!["wsprobe", "server", "127.0.0.1:0", "--json", "-q"],
                with(|o| {
                    o.json = true;
                    o.quiet = true;
                }),
            ),
            (
                vec!["wsprobe", "--json", "server", "127.0.0.1:0"],
                with(|o| o.json = true),
            ),
            (
                vec![
                    "wsprobe", "-q", "--keep", "9", "server", "--record", "s.jsonl",
                ],
                with(|o| {
                    o.quiet = true;
                    o.keep = 9;
                    o.record = Some("s.jsonl".into());
                }),
            ),
            (
                vec!["wsprobe", "server", "127.0.0.1:0", "--no-tui", "--quiet"],
                with(|o| {
                    o.no_tui = true;
                    o.quiet = true;
                }),
            ),
            (
                vec!["wsprobe", "client", url, "--json"],
                with(|o| o.json = true),
            ),
            (
                vec!["wsprobe", "client", url, "--record", "s.jsonl", "--quiet"],
                with(|o| {
                    o.quiet = true;
                    o.record = Some("s.jsonl".into());
                }),
            ),
            (
                vec!["wsprobe", "--record", "a.jsonl", "client", url],
                with(|o| o.record = Some("a.jsonl".into())),
            ),
            (
                vec![
                    "wsprobe",
                    "client",
                    url,
                    "--keep",
                    "3",
                    "--log-file",
                    "l.txt",
                ],
                with(|o| o.keep = 3),
            ),
            (
                vec!["wsprobe", "--keep", "7", "client", url, "--keep", "3"],
                with(|o| o.keep = 3),
            ),
            (
                vec!["wsprobe", "bench", url, "--json"],
                with(|o| o.json = true),
            ),
            (
                vec!["wsprobe", "--no-tui", "bench", url],
                with(|o| o.no_tui = true),
            ),
            (
                vec!["wsprobe", "replay", "s.jsonl", "--json"],
                with(|o| o.json = true),
            ),
            (
                vec![
                    "wsprobe", "replay", "s.jsonl", "--no-tui", "-q", "--keep", "4",
                ],
                with(|o| {
                    o.no_tui = true;
                    o.quiet = true;
                    o.keep = 4;
                }),
            ),
            (
                vec!["wsprobe", "--log-file", "l.txt", "completions", "bash"],
                with(|_| {}),
            ),
        ];
        for (args, want) in cases {
            assert_eq!(options(&args), want, "{args:?}");
        }
    }

    #[test]
    fn the_log_file_goes_anywhere() {
        for args in [
            vec!["wsprobe", "--log-file", "l.txt", "server"],
            vec!["wsprobe", "server", "--log-file", "l.txt"],
            vec!["wsprobe", "man", "--log-file", "l.txt"],
        ] {
            let cli = Cli::try_parse_from(&args).unwrap();
            assert_eq!(cli.log_file, Some("l.txt".into()), "{args:?}");
        }
    }

    #[test]
    fn flags_are_refused_where_they_mean_nothing() {
        for args in [
            vec!["wsprobe", "bench", "ws://x", "--record", "x.jsonl"],
            vec!["wsprobe", "bench", "ws://x", "--keep", "5"],
            vec!["wsprobe", "bench", "ws://x", "-q"],
            vec!["wsprobe", "replay", "s.jsonl", "--record", "x.jsonl"],
            vec!["wsprobe", "completions", "bash", "--json"],
            vec!["wsprobe", "man", "--no-tui"],
        ] {
            let err = Cli::try_parse_from(&args).unwrap_err();
            assert_eq!(err.exit_code(), 2, "{args:?}");
        }
        // Before the subcommand it parses, and a recording nobody would make is refused.
        for sub in [vec!["bench", "ws://x"], vec!["replay", "s.jsonl"]] {
            let mut args = vec!["wsprobe", "--record", "x.jsonl"];
            args.extend(sub);
            let cli = Cli::try_parse_from(&args).unwrap();
            let err = resolve(&cli).unwrap_err();
            assert!(err.0.contains("--record works with"), "{args:?}");
        }
    }

    fn help(sub: &str) -> String {
        let mut cmd = Cli::command();
        cmd.build();
        cmd.find_subcommand_mut(sub)
            .unwrap_or_else(|| panic!("no {sub}"))
            .render_long_help()
            .to_string()
    }

    /// Whether a help text lists `flag` as an option (`  -q, --quiet`), not
    /// only names it in prose or an example.
    fn lists(help: &str, flag: &str) -> bool {
        help.lines().any(|l| {
            let l = l.trim_start();
            let l = match l.as_bytes() {
                [b'-', c, b',', b' ', ..] if *c != b'-' => &l[4..],
                _ => l,
            };
            l.split([' ', '=']).next() == Some(flag)
        })
    }

    #[test]
    fn each_help_lists_the_flags_that_mean_something_there() {
        let all = [
            "--no-tui",
            "--json",
            "--quiet",
            "--keep",
            "--record",
            "--log-file",
        ];
        let expect: [(&str, &[&str]); 6] = [
            ("server", &all),
            ("client", &all),
            (
                "replay",
                &["--no-tui", "--json", "--quiet", "--keep", "--log-file"],
            ),
            ("bench", &["--no-tui", "--json", "--log-file"]),
            ("completions", &["--log-file"]),
            ("man", &["--log-file"]),
        ];
        for (sub, shown) in expect {
            let text = help(sub);
            for flag in all {
                assert_eq!(
                    lists(&text, flag),
                    shown.contains(&flag),
                    "`wsprobe {sub} --help` and {flag}:\n{text}"
                );
            }
        }
        let top = Cli::command().render_long_help().to_string();
        for flag in all {
            assert!(lists(&top, flag), "`wsprobe --help` lacks {flag}");
        }
    }
}
