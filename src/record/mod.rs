//! Recordings and machine-readable output: the JSON Lines schema every
//! `--json` line and `--record` file follows, the writer that records, the
//! reader that plays a file back, and the exports built on records (HAR, the
//! send-file scripts).

pub mod har;
pub mod reader;
pub mod schema;
pub mod sendfile;
pub mod writer;

pub use schema::{Record, RttRecord};
pub use writer::Recording;
