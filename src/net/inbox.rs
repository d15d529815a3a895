//! A connection's command queue: a bounded many-to-one channel that allocates
//! nothing until the first command.
//!
//! tokio's `mpsc` sets aside a block of 32 slots and a cache-padded channel head
//! when it is made, about 1.8 KB per connection: more than all the rest of an idle
//! server connection put together. Commands to a connection are rare (a line typed
//! on the dashboard, a shutdown), so they wait in a plain queue instead. The API
//! follows tokio's, errors included, so callers read the same.

use std::collections::VecDeque;
use std::future::poll_fn;
use std::sync::{Arc, Mutex, MutexGuard};
use std::task::{Poll, Waker};

pub use tokio::sync::mpsc::error::{SendError, TryRecvError, TrySendError};

/// A bounded channel: `send` waits while `cap` values are queued.
pub fn channel<T>(cap: usize) -> (Outbox<T>, Inbox<T>) {
    let shared = Arc::new(Shared {
        cap: cap.clamp(1, u32::MAX as usize) as u32,
        state: Mutex::new(State {
            queue: VecDeque::new(),
            senders: 1,
            reserved: 0,
            open: true,
            alarm: false,
            alarm_waker: None,
            receiver: None,
            waiting: Vec::new(),
        }),
    });
    (
        Outbox {
            shared: shared.clone(),
        },
        Inbox { shared },
    )
}

struct Shared<T> {
    cap: u32,
    state: Mutex<State<T>>,
}

struct State<T> {
    queue: VecDeque<T>,
    senders: u32,
    /// Room promised to permits not yet used.
    reserved: u32,
    /// False once the receiver is closed or gone.
    open: bool,
    /// Rung by a sender ([`Outbox::ring`]); heard by [`Alarm::rung`].
    alarm: bool,
    alarm_waker: Option<Waker>,
    receiver: Option<Waker>,
    /// Senders waiting for room.
    waiting: Vec<Waker>,
}

impl<T> Shared<T> {
    fn lock(&self) -> MutexGuard<'_, State<T>> {
        // A panic while holding the lock leaves the queue itself consistent.
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn full(&self, s: &State<T>) -> bool {
        s.queue.len() + s.reserved as usize >= self.cap as usize
    }
}

/// The sending half; cloned for every sender.
pub struct Outbox<T> {
    shared: Arc<Shared<T>>,
}

impl<T> Clone for Outbox<T> {
    fn clone(&self) -> Self {
        self.shared.lock().senders += 1;
        Outbox {
            shared: self.shared.clone(),
        }
    }
}

impl<T> Drop for Outbox<T> {
    fn drop(&mut self) {
        let mut s = self.shared.lock();
        s.senders -= 1;
        if s.senders == 0 {
            if let Some(w) = s.receiver.take() {
                w.wake();
            }
        }
    }
}

impl<T> std::fmt::Debug for Outbox<T> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Outbox").finish_non_exhaustive()
    }
}

impl<T> Outbox<T> {
    /// Queues a value if there is room now.
    pub fn try_send(&self, value: T) -> Result<(), TrySendError<T>> {
        let mut s = self.shared.lock();
        if !s.open {
            return Err(TrySendError::Closed(value));
        }
        if self.shared.full(&s) {
            return Err(TrySendError::Full(value));
        }
        s.queue.push_back(value);
        if let Some(w) = s.receiver.take() {
            w.wake();
        }
        Ok(())
    }

    /// Queues a value, waiting for room; the value comes back when the receiver
    /// is gone.
    pub async fn send(&self, value: T) -> Result<(), SendError<T>> {
        let mut value = Some(value);
        poll_fn(|cx| {
            let mut s = self.shared.lock();
            let v = value.take().expect("polled after completion");
            if !s.open {
                return Poll::Ready(Err(SendError(v)));
            }
            if self.shared.full(&s) {
                value = Some(v);
                s.waiting.push(cx.waker().clone());
                return Poll::Pending;
            }
            s.queue.push_back(v);
            if let Some(w) = s.receiver.take() {
                w.wake();
            }
            Poll::Ready(Ok(()))
        })
        .await
    }

    /// Waits for room for one value, then holds it for the permit: the value can
    /// be chosen after the wait, and is not lost when the wait is abandoned.
    pub async fn reserve(&self) -> Result<Permit<'_, T>, SendError<()>> {
        poll_fn(|cx| {
            let mut s = self.shared.lock();
            if !s.open {
                return Poll::Ready(Err(SendError(())));
            }
            if self.shared.full(&s) {
                s.waiting.push(cx.waker().clone());
                return Poll::Pending;
            }
            s.reserved += 1;
            Poll::Ready(Ok(Permit { outbox: self }))
        })
        .await
    }

    /// Tells the receiver to stop waiting, whatever it waits for, without
    /// queueing anything (see [`Inbox::alarm`]).
    pub fn ring(&self) {
        let mut s = self.shared.lock();
        s.alarm = true;
        if let Some(w) = s.alarm_waker.take() {
            w.wake();
        }
    }

    /// Whether the receiver is closed or gone.
    pub fn is_closed(&self) -> bool {
        !self.shared.lock().open
    }
}

/// Room for one value, held until it is used or dropped.
pub struct Permit<'a, T> {
    outbox: &'a Outbox<T>,
}

impl<T> Permit<'_, T> {
    pub fn send(self, value: T) {
        let mut s = self.outbox.shared.lock();
        s.reserved -= 1;
        if s.open {
            s.queue.push_back(value);
            if let Some(w) = s.receiver.take() {
                w.wake();
            }
        }
        drop(s);
        std::mem::forget(self);
    }
}

impl<T> Drop for Permit<'_, T> {
    fn drop(&mut self) {
        let mut s = self.outbox.shared.lock();
        s.reserved -= 1;
        wake_senders(&mut s);
    }
}

/// The receiving half.
pub struct Inbox<T> {
    shared: Arc<Shared<T>>,
}

impl<T> std::fmt::Debug for Inbox<T> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Inbox").finish_non_exhaustive()
    }
}

impl<T> Inbox<T> {
    /// The next value; None once every sender is gone and the queue is empty.
    pub async fn recv(&mut self) -> Option<T> {
        poll_fn(|cx| match self.take() {
            Ok(v) => Poll::Ready(Some(v)),
            Err(TryRecvError::Disconnected) => Poll::Ready(None),
            Err(TryRecvError::Empty) => {
                let mut s = self.shared.lock();
                // A value may have come between the two locks.
                if let Some(v) = s.queue.pop_front() {
                    wake_senders(&mut s);
                    return Poll::Ready(Some(v));
                }
                if s.senders == 0 {
                    return Poll::Ready(None);
                }
                s.receiver = Some(cx.waker().clone());
                Poll::Pending
            }
        })
        .await
    }

    /// What hears [`Outbox::ring`]: a handle of its own, so that it can be
    /// awaited beside `recv`.
    pub fn alarm(&self) -> Alarm<T> {
        Alarm {
            shared: self.shared.clone(),
        }
    }

    pub fn try_recv(&mut self) -> Result<T, TryRecvError> {
        self.take()
    }

    /// Refuses further values; those already queued can still be received.
    pub fn close(&mut self) {
        let mut s = self.shared.lock();
        s.open = false;
        wake_senders(&mut s);
    }

    fn take(&self) -> Result<T, TryRecvError> {
        let mut s = self.shared.lock();
        match s.queue.pop_front() {
            Some(v) => {
                wake_senders(&mut s);
                if s.queue.is_empty() && s.queue.capacity() > 16 {
                    // A burst's room is given back once it has been read.
                    s.queue = VecDeque::new();
                }
                Ok(v)
            }
            None if s.senders == 0 || !s.open => Err(TryRecvError::Disconnected),
            None => Err(TryRecvError::Empty),
        }
    }
}

/// Hears a sender's [`Outbox::ring`]; made by [`Inbox::alarm`].
pub struct Alarm<T> {
    shared: Arc<Shared<T>>,
}

impl<T> Alarm<T> {
    /// Done once a sender has rung (at once if one already has).
    pub async fn rung(&self) {
        poll_fn(|cx| {
            let mut s = self.shared.lock();
            if s.alarm {
                return Poll::Ready(());
            }
            s.alarm_waker = Some(cx.waker().clone());
            Poll::Pending
        })
        .await
    }
}

impl<T> Drop for Inbox<T> {
    fn drop(&mut self) {
        let mut s = self.shared.lock();
        s.open = false;
        s.queue.clear();
        wake_senders(&mut s);
    }
}

fn wake_senders<T>(s: &mut State<T>) {
    for w in s.waiting.drain(..) {
        w.wake();
    }
    if s.waiting.capacity() > 16 {
        s.waiting = Vec::new();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn values_arrive_in_order_and_end_when_every_sender_is_gone() {
        let (tx, mut rx) = channel(4);
        let tx2 = tx.clone();
        tx.send(1).await.unwrap();
        tx2.try_send(2).unwrap();
        drop(tx);
        assert_eq!(rx.recv().await, Some(1));
        assert_eq!(rx.recv().await, Some(2));
        let waiter = tokio::spawn(async move { rx.recv().await });
        tx2.send(3).await.unwrap();
        drop(tx2);
        assert_eq!(waiter.await.unwrap(), Some(3));
    }

    #[tokio::test]
    async fn a_full_queue_refuses_try_send_and_makes_send_wait_for_room() {
        let (tx, mut rx) = channel(1);
        tx.try_send(1).unwrap();
        assert!(matches!(tx.try_send(2), Err(TrySendError::Full(2))));
        let tx2 = tx.clone();
        let sender = tokio::spawn(async move { tx2.send(2).await });
        assert_eq!(rx.recv().await, Some(1));
        sender.await.unwrap().unwrap();
        assert_eq!(rx.recv().await, Some(2));
    }

    #[tokio::test]
    async fn a_closed_or_dropped_receiver_gives_the_value_back() {
        let (tx, mut rx) = channel(1);
        tx.try_send(1).unwrap();
        let tx2 = tx.clone();
        let blocked = tokio::spawn(async move { tx2.send(2).await });
        rx.close();
        assert_eq!(blocked.await.unwrap().unwrap_err().0, 2);
        assert!(tx.is_closed());
        assert!(matches!(tx.try_send(3), Err(TrySendError::Closed(3))));
        assert_eq!(rx.try_recv(), Ok(1));
        assert_eq!(rx.try_recv(), Err(TryRecvError::Disconnected));
        drop(rx);
        assert_eq!(tx.send(4).await.unwrap_err().0, 4);
    }

    #[tokio::test]
    async fn a_permit_holds_room_until_it_is_used_or_dropped() {
        let (tx, mut rx) = channel(1);
        let permit = tx.reserve().await.unwrap();
        assert!(matches!(tx.try_send(1), Err(TrySendError::Full(1))));
        drop(permit);
        let permit = tx.reserve().await.unwrap();
        permit.send(2);
        assert_eq!(rx.recv().await, Some(2));
        tx.try_send(3).unwrap();
        assert_eq!(rx.recv().await, Some(3));
    }

    #[tokio::test]
    async fn a_ring_is_heard_once_rung_and_ever_after() {
        let (tx, rx) = channel::<u8>(1);
        let alarm = rx.alarm();
        let listener = tokio::spawn(async move { alarm.rung().await });
        tokio::task::yield_now().await;
        assert!(!listener.is_finished());
        tx.ring();
        listener.await.unwrap();
        rx.alarm().rung().await;
    }

    #[test]
    fn nothing_is_allocated_for_the_queue_until_a_value_comes() {
        let (tx, rx) = channel::<[u8; 64]>(64);
        let s = tx.shared.lock();
        assert_eq!(s.queue.capacity(), 0);
        assert_eq!(s.waiting.capacity(), 0);
        drop(s);
        drop(rx);
    }
}
