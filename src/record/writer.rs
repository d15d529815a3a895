//! `--record FILE`: every event and frame as JSON Lines, written by a thread of
//! its own. Senders wait for room (a recording loses nothing; the echo slows
//! down to the disk's pace instead), and whatever was handed over before an exit
//! is on disk when [`Recording::finish`] returns, which the guard's `Drop` calls
//! on every way out, unwinding panics included.

use std::fs::File;
use std::io::{BufWriter, Write};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Condvar, Mutex};
use std::time::Duration;

use tokio::sync::mpsc;

use crate::net::{NetEvent, Side};
use crate::record::Record;

/// Events waiting for the writer; beyond this, senders wait.
const QUEUE: usize = 8192;
/// How long an exit waits for the writer to catch up.
const FINISH_WAIT: Duration = Duration::from_secs(5);

/// What the writer has made durable, for `finish` to wait on.
#[derive(Default)]
struct Progress {
    /// Events handed to the queue.
    sent: AtomicU64,
    /// Events written and flushed, and whether the writer has stopped.
    written: Mutex<(u64, bool)>,
    changed: Condvar,
}

/// A handle that records events; cheap to clone, one per side.
#[derive(Clone)]
pub struct Recorder {
    tx: mpsc::Sender<(Side, NetEvent)>,
    side: Side,
    progress: Arc<Progress>,
}

impl std::fmt::Debug for Recorder {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Recorder({})", self.side.as_str())
    }
}

impl Recorder {
    pub fn side(&self, side: Side) -> Recorder {
        Recorder {
            side,
            ..self.clone()
        }
    }

    /// Records one event, waiting for room in the queue.
    pub async fn record(&self, ev: NetEvent) {
        self.progress.sent.fetch_add(1, Ordering::SeqCst);
        if self.tx.send((self.side, ev)).await.is_err() {
            // The writer stopped (a disk error, already reported): count it as
            // done so that `finish` does not wait for it.
            self.progress.sent.fetch_sub(1, Ordering::SeqCst);
        }
    }
}

/// The recording as a whole. Its writer thread ends when the last recorder is
/// gone (connection tasks may outlive this), so it is never joined: `finish`
/// waits for what matters, the lines on disk.
pub struct Recording {
    recorder: Recorder,
    path: PathBuf,
    error: Arc<Mutex<Option<String>>>,
}

impl Recording {
    /// Creates (or truncates) the file and starts the writer.
    pub fn start(path: &Path) -> Result<Recording, String> {
        let file = File::create(path)
            .map_err(|e| format!("cannot create the recording {}: {e}", path.display()))?;
        let (tx, rx) = mpsc::channel(QUEUE);
        let progress = Arc::new(Progress::default());
        let error = Arc::new(Mutex::new(None));
        std::thread::Builder::new()
            .name("wsprobe-recorder".into())
            .spawn({
                let progress = progress.clone();
                let error = error.clone();
                let path = path.to_path_buf();
                move || {
                    write_all(
                        rx,
                        BufWriter::with_capacity(64 * 1024, file),
                        &progress,
                        &error,
                        &path,
                    )
                }
            })
            .map_err(|e| format!("cannot start the recorder: {e}"))?;
        Ok(Recording {
            recorder: Recorder {
                tx,
                side: Side::Client,
                progress,
            },
            path: path.to_path_buf(),
            error,
        })
    }

    pub fn recorder(&self, side: Side) -> Recorder {
        self.recorder.side(side)
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Waits until every event handed over so far is on disk. Returns the
    /// writer's error, if it had one.
    pub fn finish(&mut self) -> Option<String> {
        let target = self.recorder.progress.sent.load(Ordering::SeqCst);
        let progress = &self.recorder.progress;
        if let Ok(guard) = progress.written.lock() {
            let _ =
                progress
                    .changed
                    .wait_timeout_while(guard, FINISH_WAIT, |(written, stopped)| {
                        *written < target && !*stopped
                    });
        }
        self.error.lock().ok().and_then(|e| e.clone())
    }
}

impl Drop for Recording {
    fn drop(&mut self) {
        self.finish();
    }
}

fn write_all(
    mut rx: mpsc::Receiver<(Side, NetEvent)>,
    mut out: BufWriter<File>,
    progress: &Progress,
    error: &Mutex<Option<String>>,
    path: &Path,
) {
    let mut count = 0u64;
    let failed = |e: std::io::Error| {
        if let Ok(mut slot) = error.lock() {
            *slot = Some(format!("writing the recording {}: {e}", path.display()));
        }
    };
    while let Some((side, ev)) = rx.blocking_recv() {
        let mut rec = Record::from_event(&ev);
        rec.side = Some(side);
        let mut line = rec.to_line();
        line.push('\n');
        // One write per whole line: the file never ends inside one.
        if let Err(e) = out.write_all(line.as_bytes()) {
            failed(e);
            break;
        }
        count += 1;
        // Flushed whenever the writer catches up, and now and then under a flood
        // so that `finish` has a point to wait for.
        if rx.is_empty() || count.is_multiple_of(4096) {
            if let Err(e) = out.flush() {
                failed(e);
                break;
            }
            if let Ok(mut w) = progress.written.lock() {
                w.0 = count;
            }
            progress.changed.notify_all();
        }
    }
    let _ = out.flush();
    if let Ok(mut w) = progress.written.lock() {
        w.0 = count;
        w.1 = true;
    }
    progress.changed.notify_all();
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::Utc;

    #[test]
    fn a_panic_still_leaves_every_recorded_line_on_disk() {
        let path = std::env::temp_dir().join(format!("wsprobe-rec-panic-{}", std::process::id()));
        let p = path.clone();
        let result = std::panic::catch_unwind(move || {
            let rt = tokio::runtime::Builder::new_current_thread()
                .build()
                .unwrap();
            let recording = Recording::start(&p).unwrap();
            let rec = recording.recorder(Side::Client);
            rt.block_on(async {
                for i in 0..10_000u64 {
                    rec.record(NetEvent::Error {
                        conn: Some(i),
                        ts: Utc::now(),
                        message: "x".into(),
                    })
                    .await;
                }
            });
            panic!("on purpose, with {} queued", recording.path().display());
        });
        assert!(result.is_err());
        let text = std::fs::read_to_string(&path).unwrap();
        assert!(text.ends_with('\n'));
        assert_eq!(text.lines().count(), 10_000);
        let _ = std::fs::remove_file(&path);
    }
}
