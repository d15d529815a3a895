//! One file per capability: each turns its options into the running job, with
//! the dashboard (`tui`) when a terminal is there, as lines (`headless`) when not.

pub mod bench;
pub mod client;
pub mod demo;
pub mod manual;
mod private_file;
pub mod relay;
pub mod replay;
pub mod script;
pub mod server;

use crate::record::Recording;

/// The dashboard's note line, with where the recording goes when there is one.
fn with_recording(hint: Option<String>, rec: Option<&Recording>) -> Option<String> {
    let Some(r) = rec else { return hint };
    let note = format!(" recording to {}", r.path().display());
    Some(match hint {
        Some(h) => format!("{h} ·{note}"),
        None => note,
    })
}
