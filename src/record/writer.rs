//! `--record FILE`: every event and frame as JSON Lines, written by a thread of
//! its own. Each side hands its events over through a [`Tap`] into one bounded
//! queue whose senders wait for room (a recording loses nothing; the echo slows
//! down to the disk's pace instead), so the file has the events in the order they
//! were handed over. Whatever was handed over (a completed send) before
//! [`Recording::finish`] is called is on disk when it returns, and `Recording`'s
//! `Drop` calls it on every way out, unwinding panics included.

use std::fs::File;
use std::io::{BufWriter, Write};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::sync::mpsc;

use super::schema::Record;
use crate::net::{NetEvent, Side, Tap};

/// Events waiting for the writer; beyond this, senders wait.
const QUEUE: usize = 16384;
/// How long an exit waits for the writer to catch up.
const FINISH_WAIT: Duration = Duration::from_secs(5);

/// How `finish` asks the writer to write out what is queued and flush: the writer
/// answers on it when that is done.
type FinishRequest = std::sync::mpsc::SyncSender<()>;

/// The recording as a whole. Its writer thread ends when every tap is gone
/// (connection tasks may outlive this), so it is never joined: `finish` waits for
/// what matters, the lines on disk.
pub struct Recording {
    queue: mpsc::Sender<(Side, NetEvent)>,
    finish: mpsc::UnboundedSender<FinishRequest>,
    path: PathBuf,
    error: Arc<Mutex<Option<String>>>,
    /// Set by the relay: its lines say which way each message travels.
    relayed: Arc<AtomicBool>,
}

impl Recording {
    /// Creates (or truncates) the file and starts the writer.
    pub fn start(path: &Path) -> Result<Recording, String> {
        let file = File::create(path)
            .map_err(|e| format!("cannot create the recording {}: {e}", path.display()))?;
        let (queue, events) = mpsc::channel(QUEUE);
        let (finish, finish_rx) = mpsc::unbounded_channel();
        let error = Arc::new(Mutex::new(None));
        // The writer waits on the events and on `finish` at once: a small runtime
        // of its own, on its own thread, away from the echo's.
        let runtime = tokio::runtime::Builder::new_current_thread()
            .build()
            .map_err(|e| format!("cannot start the recorder: {e}"))?;
        let relayed = Arc::new(AtomicBool::new(false));
        let writer = Writer {
            relayed: relayed.clone(),
            out: BufWriter::with_capacity(64 * 1024, file),
            error: error.clone(),
            path: path.to_path_buf(),
        };
        std::thread::Builder::new()
            .name("wsprobe-recorder".into())
            .spawn(move || runtime.block_on(writer.run(events, finish_rx)))
            .map_err(|e| format!("cannot start the recorder: {e}"))?;
        Ok(Recording {
            queue,
            finish,
            path: path.to_path_buf(),
            error,
            relayed,
        })
    }

    /// Where a relay hands both legs' events over (it names the leg of each).
    pub fn relay_tap(&self) -> Tap {
        self.relayed.store(true, Ordering::Relaxed);
        self.tap(Side::Client)
    }

    /// Where one side hands its events over; every clone feeds the same file.
    pub fn tap(&self, side: Side) -> Tap {
        Tap::new(side, self.queue.clone())
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Waits until every event handed over so far is on disk (at most
    /// `FINISH_WAIT`). Returns the writer's error, if it had one.
    pub fn finish(&mut self) -> Option<String> {
        let (done, written) = std::sync::mpsc::sync_channel(1);
        // A writer that stopped (a disk error, kept below) takes no request, and
        // one that stops while at it drops the request: either way, no waiting.
        if self.finish.send(done).is_ok() {
            let _ = written.recv_timeout(FINISH_WAIT);
        }
        self.error.lock().ok().and_then(|e| e.clone())
    }
}

impl Drop for Recording {
    fn drop(&mut self) {
        self.finish();
    }
}

/// The writer's end: the file and where its first error goes.
struct Writer {
    relayed: Arc<AtomicBool>,
    out: BufWriter<File>,
    error: Arc<Mutex<Option<String>>>,
    path: PathBuf,
}

impl Writer {
    /// Writes events as they come until every tap is gone, or until the disk
    /// fails (then the taps' senders get an error, and the error is kept for
    /// `finish`).
    async fn run(
        mut self,
        mut events: mpsc::Receiver<(Side, NetEvent)>,
        mut finishing: mpsc::UnboundedReceiver<FinishRequest>,
    ) {
        let mut asked = true;
        loop {
            let result = tokio::select! {
                Some((side, ev)) = events.recv() => self.write(side, &ev),
                request = finishing.recv(), if asked => match request {
                    Some(done) => {
                        // Every send completed before `finish` was called is queued by now.
                        let result = self.drain(&mut events).and_then(|()| self.out.flush());
                        if let Err(e) = result {
                            return self.failed(e);
                        }
                        let _ = done.send(());
                        Ok(())
                    }
                    // The recording is gone; taps may still be held.
                    None => {
                        asked = false;
                        Ok(())
                    }
                },
                else => break,
            };
            // Flushed whenever the writer catches up.
            let result = result.and_then(|()| {
                if events.is_empty() {
                    self.out.flush()
                } else {
                    Ok(())
                }
            });
            if let Err(e) = result {
                return self.failed(e);
            }
        }
        let _ = self.out.flush();
    }

    /// Writes what was queued when asked; later sends do not keep `finish` waiting.
    fn drain(&mut self, events: &mut mpsc::Receiver<(Side, NetEvent)>) -> std::io::Result<()> {
        for _ in 0..events.len() {
            match events.try_recv() {
                Ok((side, ev)) => self.write(side, &ev)?,
                Err(_) => break,
            }
        }
        Ok(())
    }

    fn write(&mut self, side: Side, ev: &NetEvent) -> std::io::Result<()> {
        let rec = if self.relayed.load(Ordering::Relaxed) {
            Record::relayed(side, ev)
        } else {
            let mut rec = Record::from_event(ev);
            rec.side = Some(side);
            rec
        };
        let mut line = rec.to_line();
        line.push('\n');
        // One write per whole line: the file never ends inside one.
        self.out.write_all(line.as_bytes())
    }

    fn failed(&self, e: std::io::Error) {
        if let Ok(mut slot) = self.error.lock() {
            *slot = Some(format!(
                "writing the recording {}: {e}",
                self.path.display()
            ));
        }
    }
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
            let tap = recording.tap(Side::Client);
            rt.block_on(async {
                for i in 0..10_000u64 {
                    tap.send(NetEvent::Error {
                        conn: Some(i),
                        ts: Utc::now(),
                        message: "x".into(),
                    })
                    .await
                    .unwrap();
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

    #[test]
    fn finish_writes_what_both_sides_handed_over_while_their_taps_live_on() {
        let path = std::env::temp_dir().join(format!("wsprobe-rec-sides-{}", std::process::id()));
        let rt = tokio::runtime::Builder::new_current_thread()
            .build()
            .unwrap();
        let mut recording = Recording::start(&path).unwrap();
        let (server, client) = (recording.tap(Side::Server), recording.tap(Side::Client));
        rt.block_on(async {
            for i in 0..20_000u64 {
                let ev = NetEvent::Error {
                    conn: Some(i),
                    ts: Utc::now(),
                    message: "x".into(),
                };
                server.send(ev.clone()).await.unwrap();
                client.send(ev).await.unwrap();
            }
        });
        assert_eq!(recording.finish(), None);
        let text = std::fs::read_to_string(&path).unwrap();
        assert!(text.ends_with('\n'));
        let side = |name: &str| {
            text.lines()
                .filter(|l| l.contains(&format!(r#""side":"{name}""#)))
                .count()
        };
        assert_eq!((side("server"), side("client")), (20_000, 20_000));
        // In the order they were handed over: server, client, server, client...
        let sides: Vec<bool> = text
            .lines()
            .map(|l| l.contains(r#""side":"server""#))
            .collect();
        assert!(
            sides.iter().enumerate().all(|(i, s)| *s == (i % 2 == 0)),
            "the two sides' lines interleave as they were sent"
        );
        drop((server, client, recording));
        let _ = std::fs::remove_file(&path);
    }
}
