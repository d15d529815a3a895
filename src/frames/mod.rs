//! The frame layer, under tungstenite: every frame seen both ways,
//! permessage-deflate, raw frames of the user's own shape, and the `--no-pong`
//! fault. Nothing here knows of connections or screens; `net` wears the wrapper.

pub mod boundary;
pub mod deflate;
pub mod head;
mod stream;
pub mod through;
#[cfg(test)]
mod trickle;

pub use deflate::{Params, Role};
pub use stream::{
    drain, lost, DeflateSetup, FrameBuf, FrameInfo, FrameLog, FrameOptions, Frames, Shared,
};
