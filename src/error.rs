//! Typed errors of the library. Each message is one line a person understands;
//! [`exit_code`] is the one place that maps them to exit codes.

use std::time::Duration;

use thiserror::Error;

#[derive(Debug, Error)]
pub enum NetError {
    #[error("cannot listen on {addr}: {reason}")]
    Bind { addr: String, reason: String },

    #[error("cannot resolve {host}: {reason}")]
    Resolve { host: String, reason: String },

    #[error("connection refused by {addr} (is a server listening there?)")]
    Refused { addr: String },

    #[error("cannot connect to {addr}: {reason}")]
    Connect { addr: String, reason: String },

    #[error("{what} timed out after {}", humantime::format_duration(*.after))]
    Timeout { what: String, after: Duration },

    #[error("TLS error with {host}: {reason}")]
    Tls { host: String, reason: String },

    #[error("the server answered `{status}` instead of `101 Switching Protocols`{body}")]
    NotUpgraded { status: String, body: String },

    /// The server speaks another protocol than the URL's scheme asks for.
    #[error("{0}")]
    WrongScheme(String),

    #[error("WebSocket handshake with {addr} failed: {reason}")]
    Handshake { addr: String, reason: String },

    #[error("proxy {proxy}: {reason}")]
    Proxy { proxy: String, reason: String },

    /// Something asked for that cannot be done as asked: exit code 2.
    #[error(transparent)]
    Usage(#[from] UsageError),
}

impl NetError {
    pub fn usage(message: impl Into<String>) -> Self {
        NetError::Usage(UsageError(message.into()))
    }

    /// Usage errors exit with 2, everything else that stops the program with 1.
    pub fn exit_code(&self) -> u8 {
        match self {
            NetError::Usage(_) => 2,
            _ => 1,
        }
    }
}

/// An error the user caused by what they typed: exit code 2.
#[derive(Debug, Error)]
#[error("{0}")]
pub struct UsageError(pub String);

/// The exit code for an error that stopped the program: 2 for usage errors, 1 otherwise.
pub fn exit_code(e: &anyhow::Error) -> u8 {
    if let Some(net) = e.downcast_ref::<NetError>() {
        return net.exit_code();
    }
    if e.downcast_ref::<UsageError>().is_some() {
        return 2;
    }
    1
}
