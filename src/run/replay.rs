//! `wsprobe replay FILE`: a recording (or `--json` output) shown again, in the
//! dashboard read-only or as lines; `--har` exports it.

use crate::cli::ReplayArgs;
use crate::config::Options;
use crate::error::UsageError;
use crate::headless::output::Printer;
use crate::record::har::Har;
use crate::record::reader::RecordingFile;
use crate::{headless, tui};

pub async fn run(args: ReplayArgs, out: &Options) -> anyhow::Result<u8> {
    let file = RecordingFile::open(&args.file).map_err(UsageError)?;
    if let Some(path) = &args.har {
        let mut har = Har::default();
        for r in file.records().map_err(anyhow::Error::msg)? {
            har.event(&r, file.unsided());
        }
        eprintln!("{}", har.write(path).map_err(anyhow::Error::msg)?);
        // Asked only for the export, from a script: done.
        if !out.use_tui() {
            return Ok(0);
        }
    }
    if out.use_tui() {
        // Seen only while a large recording loads, before the dashboard opens.
        eprintln!("reading {}…", args.file.display());
        return tui::run(tui::Setup::replay(file, out.keep)).await;
    }
    headless::replay::run(&file, Printer::new(out.format(), out.quiet)).await
}
