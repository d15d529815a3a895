//! The signals that end a run: Ctrl-C and SIGTERM.

use std::future::Future;

/// Said when a second Ctrl-C or SIGTERM ends a bench that did not stop at the first.
pub const SECOND_SIGNAL: &str =
    "stopped at a second signal, before the connections had finished (no report)";

/// Resolves on Ctrl-C or SIGTERM. The handlers are in place when this returns,
/// not when the future is first polled: a signal sent right after a server says
/// it is listening must find them there, not end the process unannounced.
pub fn shutdown_signal() -> impl Future<Output = ()> {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{signal, SignalKind};
        let term = signal(SignalKind::terminate()).ok();
        let interrupt = signal(SignalKind::interrupt()).ok();
        async move {
            match (term, interrupt) {
                (Some(mut term), Some(mut interrupt)) => {
                    tokio::select! {
                        _ = term.recv() => {}
                        _ = interrupt.recv() => {}
                    }
                }
                (Some(mut term), None) => {
                    term.recv().await;
                }
                (None, Some(mut interrupt)) => {
                    interrupt.recv().await;
                }
                (None, None) => {
                    let _ = tokio::signal::ctrl_c().await;
                }
            }
        }
    }
    #[cfg(not(unix))]
    {
        async {
            let _ = tokio::signal::ctrl_c().await;
        }
    }
}
