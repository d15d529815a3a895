//! One file per screen region. Every widget only reads the state.

pub mod bench;
pub mod connections;
pub mod frames;
pub mod held;
pub mod input;
pub mod pairs;
pub mod popup;
pub mod rtt;
pub mod status;
pub mod wire;
