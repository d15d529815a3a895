//! The jobs without a terminal: line or JSON output, pipe mode.

pub mod output;
pub mod pipe;
pub mod relay;
pub mod replay;
pub mod script;
pub mod server;
