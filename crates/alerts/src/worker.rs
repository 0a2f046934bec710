//! The network destinations (webhook, email) of the router: a thread per
//! destination sends from a bounded queue, so a slow or dead server costs
//! the report nothing but that destination's queue. A full queue drops the
//! alert (counted); a failed delivery is tried again after each wait of
//! `retry`, then counted as failed; at the end [`Worker::close`] and
//! [`Worker::settle`] let the thread send what is queued until a deadline
//! and count the rest as lost. Counts are logged at powers of two.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc::{self, Receiver, SyncSender, TrySendError};
use std::sync::{Arc, Mutex, MutexGuard};
use std::thread::{self, JoinHandle};
use std::time::{Duration, Instant};

use crate::config::{Email, Url};
use crate::deliver;
use crate::store::AlertRow;

/// Where a worker sends.
#[derive(Clone, Debug)]
pub(crate) enum Target {
    Webhook(Url),
    Email(Email),
}

impl Target {
    fn send(&self, row: &AlertRow, timeout: Duration) -> Result<(), String> {
        match self {
            Target::Webhook(url) => deliver::webhook(url, &row.idea, timeout),
            Target::Email(e) => deliver::email(e, row, timeout),
        }
    }
}

/// One destination's counters.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Counts {
    /// Alerts sent.
    pub delivered: u64,
    /// Alerts given up on after the last attempt.
    pub failed: u64,
    /// Alerts refused because the queue was full.
    pub dropped: u64,
    /// Alerts queued or being sent.
    pub pending: u64,
    /// Alerts still pending when the end's deadline passed.
    pub lost: u64,
}

struct Shared {
    counts: Mutex<Counts>,
    /// Set at the end's deadline: the thread sends no more and counts
    /// nothing more (what it held is `lost`).
    cancel: AtomicBool,
}

impl Shared {
    fn counts(&self) -> MutexGuard<'_, Counts> {
        self.counts.lock().unwrap_or_else(|p| p.into_inner())
    }
}

pub(crate) struct Worker {
    /// `webhook` or `email`, for log lines.
    kind: &'static str,
    name: String,
    capacity: usize,
    tx: Option<SyncSender<Box<AlertRow>>>,
    shared: Arc<Shared>,
    thread: Option<JoinHandle<()>>,
}

/// Logs at 1, 2, 4, 8... occurrences.
fn logged(n: u64) -> bool {
    n.is_power_of_two()
}

impl Worker {
    pub(crate) fn spawn(
        kind: &'static str,
        name: String,
        target: Target,
        capacity: usize,
        timeout: Duration,
        retry: Vec<Duration>,
    ) -> Result<Worker, String> {
        let (tx, rx) = mpsc::sync_channel(capacity);
        let shared = Arc::new(Shared {
            counts: Mutex::new(Counts::default()),
            cancel: AtomicBool::new(false),
        });
        let label = format!("{kind} {name}");
        let thread = {
            let shared = shared.clone();
            thread::Builder::new()
                .name(format!("report-{kind}"))
                .spawn(move || run(&label, &target, rx, &shared, timeout, &retry))
                .map_err(|e| format!("{kind} {name}: no thread: {e}"))?
        };
        Ok(Worker {
            kind,
            name,
            capacity,
            tx: Some(tx),
            shared,
            thread: Some(thread),
        })
    }

    pub(crate) fn counts(&self) -> Counts {
        *self.shared.counts()
    }

    /// Queues `row`; a full (or closed) queue drops it, counted.
    pub(crate) fn enqueue(&self, row: &AlertRow) {
        // Pending goes up before the send so the thread never sees it
        // below what it took.
        self.shared.counts().pending += 1;
        let full = match &self.tx {
            Some(tx) => match tx.try_send(Box::new(row.clone())) {
                Ok(()) => return,
                Err(TrySendError::Full(_)) => true,
                Err(TrySendError::Disconnected(_)) => false,
            },
            None => false,
        };
        let dropped = {
            let mut c = self.shared.counts();
            c.pending -= 1;
            c.dropped += 1;
            c.dropped
        };
        if logged(dropped) {
            let why = if full {
                format!("queue full ({} alerts)", self.capacity)
            } else {
                "no sender thread".to_string()
            };
            eprintln!(
                "report: {} {}: {why}, {dropped} alert(s) dropped so far",
                self.kind, self.name
            );
        }
    }

    /// Closes the queue: the thread sends what it holds, then ends.
    pub(crate) fn close(&mut self) {
        self.tx = None;
    }

    pub(crate) fn finished(&self) -> bool {
        self.thread.as_ref().is_none_or(|t| t.is_finished())
    }

    /// After [`Worker::close`] and the wait: joins a finished thread, or
    /// stops counting a stalled one and counts what it still holds as
    /// lost (the thread is left to end on its own). Returns the lost.
    pub(crate) fn settle(&mut self) -> u64 {
        if self.finished() {
            if let Some(t) = self.thread.take() {
                let _ = t.join();
            }
        }
        let lost = {
            let mut c = self.shared.counts();
            self.shared.cancel.store(true, Ordering::SeqCst);
            let lost = c.pending;
            c.lost += lost;
            c.pending = 0;
            lost
        };
        self.thread = None;
        if lost > 0 {
            eprintln!(
                "report: {} {}: {lost} alert(s) lost: not delivered by the end's deadline",
                self.kind, self.name
            );
        }
        lost
    }
}

/// The thread: sends each queued alert, with retries, until the queue is
/// closed and empty or the end's deadline cancels it.
fn run(
    label: &str,
    target: &Target,
    rx: Receiver<Box<AlertRow>>,
    shared: &Shared,
    timeout: Duration,
    retry: &[Duration],
) {
    let cancelled = || shared.cancel.load(Ordering::SeqCst);
    while let Ok(row) = rx.recv() {
        if cancelled() {
            return;
        }
        let mut attempt = 0;
        let result = loop {
            match target.send(&row, timeout) {
                Ok(()) => break Ok(()),
                Err(e) if attempt < retry.len() => {
                    if !sleep_unless(retry[attempt], &cancelled) {
                        break Err(e);
                    }
                    attempt += 1;
                }
                Err(e) => break Err(e),
            }
        };
        // Counted under the lock the deadline takes: after it, nothing.
        let mut c = shared.counts();
        if cancelled() {
            return;
        }
        c.pending = c.pending.saturating_sub(1);
        match result {
            Ok(()) => c.delivered += 1,
            Err(e) => {
                c.failed += 1;
                let failed = c.failed;
                drop(c);
                if logged(failed) {
                    eprintln!(
                        "report: {label}: {e} (after {} attempt(s); {failed} alert(s) failed so far)",
                        attempt + 1
                    );
                }
            }
        }
    }
}

/// Sleeps `d` in short steps; false if cancelled meanwhile.
fn sleep_unless(d: Duration, cancelled: &dyn Fn() -> bool) -> bool {
    let end = Instant::now() + d;
    loop {
        if cancelled() {
            return false;
        }
        let now = Instant::now();
        if now >= end {
            return true;
        }
        thread::sleep((end - now).min(Duration::from_millis(20)));
    }
}
