//! Dashboard state and how it changes: no I/O, no terminal.

pub mod input;
pub mod msg;
pub mod packed;
pub mod slash;
pub mod state;
pub mod update;

pub use msg::{Action, Drawn, Edit, Effect, Msg, Target};
pub use state::{AppState, Focus, Mode};
pub use update::update;
