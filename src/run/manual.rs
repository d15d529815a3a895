//! `wsprobe completions SHELL` and `wsprobe man`: shell completions and man
//! pages made from the command line's own definition, so they never fall behind.

use std::io::Write;
use std::path::Path;

use clap::CommandFactory;
use clap_complete::Shell;

use crate::cli::Cli;

/// Writes the completion script for `shell` to stdout.
pub fn completions(shell: Shell) -> anyhow::Result<u8> {
    let mut out = Vec::new();
    write_completions(shell, &mut out);
    write_stdout(&out)
}

pub fn write_completions(shell: Shell, out: &mut impl Write) {
    clap_complete::generate(shell, &mut Cli::command(), "wsprobe", out);
}

/// The man page of `wsprobe` to stdout, or with `dir` every page (wsprobe.1,
/// wsprobe-server.1, …) written there, each path said on stderr.
pub fn man(dir: Option<&Path>) -> anyhow::Result<u8> {
    match dir {
        None => {
            let mut out = Vec::new();
            write_man(&mut out)?;
            write_stdout(&out)
        }
        Some(dir) => {
            for path in write_man_pages(dir).map_err(|e| {
                crate::error::UsageError(format!(
                    "cannot write man pages to {}: {e}",
                    dir.display()
                ))
            })? {
                eprintln!("wrote {}", path.display());
            }
            Ok(0)
        }
    }
}

pub fn write_man(out: &mut impl Write) -> std::io::Result<()> {
    clap_mangen::Man::new(Cli::command()).render(out)
}

/// Writes a page for the program and for each subcommand; returns their paths.
pub fn write_man_pages(dir: &Path) -> std::io::Result<Vec<std::path::PathBuf>> {
    fn each(
        cmd: clap::Command,
        dir: &Path,
        written: &mut Vec<std::path::PathBuf>,
    ) -> std::io::Result<()> {
        let subs: Vec<clap::Command> = cmd
            .get_subcommands()
            .filter(|s| !s.is_hide_set())
            .cloned()
            .collect();
        written.push(clap_mangen::Man::new(cmd).generate_to(dir)?);
        for sub in subs {
            each(sub, dir, written)?;
        }
        Ok(())
    }
    std::fs::create_dir_all(dir)?;
    // Built, so subcommands carry their full names (wsprobe-server).
    let mut cmd = Cli::command().disable_help_subcommand(true);
    cmd.build();
    let mut written = Vec::new();
    each(cmd, dir, &mut written)?;
    Ok(written)
}

fn write_stdout(bytes: &[u8]) -> anyhow::Result<u8> {
    let mut stdout = std::io::stdout().lock();
    match stdout.write_all(bytes).and_then(|()| stdout.flush()) {
        Ok(()) => Ok(0),
        // `| head`: a closed stdout is not an error worth a message.
        Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => Ok(0),
        Err(e) => Err(e.into()),
    }
}
