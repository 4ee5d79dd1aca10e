//! Background work (chapter 10): threads that flush frozen memtables and
//! run compaction while writes go on, and the stall that keeps writers
//! from outrunning them. Provided; chapter 10's `pressure` decides when a
//! write must wait.
//!
//! ```text
//!  writer ── freeze ──► want_flush ──► [jobs] ◄── worker threads wait here
//!     │                                  │ a flush (oldest frozen first), or
//!     │ make_room: pressure(frozen,       │ a compaction (one of each at most)
//!     │   level-0 tables) says Stop ─►    ▼
//!     └────── waits on `progress` ◄── a job finished (or failed: poisoned)
//! ```
//!
//! A worker never holds the writer lock, so a flush or a compaction does
//! not block writes; a job that fails (or panics) poisons the database,
//! and every waiting writer wakes to see it.

use std::panic::{AssertUnwindSafe, catch_unwind};
use std::sync::atomic::Ordering;
use std::sync::{Condvar, Mutex, MutexGuard};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use super::{Db, Pressure, add_micros, lock};
use crate::error::Result;

/// The threads, the jobs they may take, and who waits for them.
#[derive(Debug, Default)]
pub(super) struct Background {
    jobs: Mutex<Jobs>,
    /// Workers wait here for a job.
    work: Condvar,
    /// Stalled writers wait here for a job to finish.
    progress: Condvar,
    threads: Mutex<Vec<JoinHandle<()>>>,
}

#[derive(Debug, Default)]
struct Jobs {
    /// Threads started (0: inline).
    threads: usize,
    flush_running: bool,
    compaction_running: bool,
    /// Set by every flush: compaction may be due.
    compaction_wanted: bool,
    /// Pause guards held ([`Db::pause_background`]).
    paused: usize,
    stopping: bool,
}

#[derive(Clone, Copy, Debug)]
enum Job {
    Flush,
    Compaction,
}

/// Holds the background threads before their next job until dropped
/// ([`Db::pause_background`]).
#[derive(Debug)]
#[must_use = "the pause ends when the guard is dropped"]
pub struct BackgroundPause<'a> {
    background: &'a Background,
}

impl Drop for BackgroundPause<'_> {
    fn drop(&mut self) {
        self.background.lock().paused -= 1;
        self.background.wake_all();
    }
}

/// Starts the database's background threads, if it asks for any.
pub(super) fn start(db: &Db) {
    let count = db.options.background_threads;
    if count == 0 {
        return;
    }
    {
        let mut jobs = db.background.lock();
        jobs.threads = count;
        // Compaction may be due from before the crash or close.
        jobs.compaction_wanted = true;
    }
    let mut threads = lock(&db.background.threads);
    for index in 0..count {
        let handle = db.handle();
        let spawned = std::thread::Builder::new()
            .name(format!("lsm-background-{index}"))
            .spawn(move || work(&handle));
        match spawned {
            Ok(thread) => threads.push(thread),
            Err(_) => {
                // No thread, no flush: writes would wait for ever.
                db.poison(db.dir.join("(a background thread could not start)"));
            }
        }
    }
}

/// A worker: takes jobs until the database stops or fails.
fn work(db: &Db) {
    while let Some(job) = db.background.next_job(db) {
        // A panic (a `todo!()` in a chapter not written yet) poisons the
        // database like an error does, so writers stop waiting for it.
        let outcome = catch_unwind(AssertUnwindSafe(|| match job {
            Job::Flush => db.flush_now(),
            Job::Compaction => db.compact_now(),
        }));
        if outcome.is_err() {
            db.poison(db.dir.join(format!("(a background {job:?} panicked)")));
        }
        let mut jobs = db.background.lock();
        match job {
            Job::Flush => {
                jobs.flush_running = false;
                jobs.compaction_wanted = true;
            }
            Job::Compaction => jobs.compaction_running = false,
        }
        drop(jobs);
        db.background.wake_all();
    }
}

impl Background {
    fn lock(&self) -> MutexGuard<'_, Jobs> {
        lock(&self.jobs)
    }

    /// `true` if threads were started: work is handed to them.
    pub(super) fn is_running(&self) -> bool {
        self.lock().threads > 0
    }

    /// The number of threads started.
    pub(super) fn threads(&self) -> usize {
        self.lock().threads
    }

    /// A memtable was frozen: wake a worker.
    pub(super) fn want_flush(&self) {
        // Taking the lock orders this wake-up after any worker's look at
        // the frozen memtables: it either saw this one or is waiting.
        drop(self.lock());
        self.work.notify_all();
    }

    /// Compaction may be due: wake a worker.
    pub(super) fn want_compaction(&self) {
        self.lock().compaction_wanted = true;
        self.work.notify_all();
    }

    /// Wakes every worker and every waiting writer (after a change they
    /// check under the lock: a failure, the end of a pause).
    pub(super) fn wake_all(&self) {
        drop(self.lock());
        self.work.notify_all();
        self.progress.notify_all();
    }

    pub(super) fn pause(&self) -> BackgroundPause<'_> {
        self.lock().paused += 1;
        BackgroundPause { background: self }
    }

    /// Waits for the next job and marks it running; `None` once the
    /// database stops or fails.
    fn next_job(&self, db: &Db) -> Option<Job> {
        let mut jobs = self.lock();
        loop {
            if jobs.stopping || db.poisoned.get().is_some() {
                return None;
            }
            if jobs.paused == 0 {
                if !jobs.flush_running && !db.read_state().frozen.is_empty() {
                    jobs.flush_running = true;
                    return Some(Job::Flush);
                }
                if !jobs.compaction_running
                    && jobs.compaction_wanted
                    && db.options.compaction.is_some()
                {
                    jobs.compaction_running = true;
                    jobs.compaction_wanted = false;
                    return Some(Job::Compaction);
                }
            }
            jobs = self.work.wait(jobs).unwrap_or_else(|e| e.into_inner());
        }
    }

    /// Stops the threads: each finishes the job it is running, none takes
    /// another; returns once all have ended.
    pub(super) fn stop(&self) {
        self.lock().stopping = true;
        self.wake_all();
        let threads = std::mem::take(&mut *lock(&self.threads));
        for thread in threads {
            // A worker's panic was caught and reported as a failure.
            let _ = thread.join();
        }
    }
}

impl Db {
    /// Before a write (writer lock held): with background threads, asks
    /// the stall rule (chapter 10's `pressure`) whether background work is too far behind,
    /// and delays the write once (`Slow`) or waits until a job finishes
    /// and asks again (`Stop`). The time is counted in the stall counters.
    pub(super) fn make_room(&self) -> Result<()> {
        let Some(rule) = self.options.stall_rule else {
            return Ok(());
        };
        if !self.background.is_running() {
            return Ok(());
        }
        let started = Instant::now();
        let (mut slowed, mut stopped) = (false, false);
        let mut jobs = self.background.lock();
        loop {
            self.check_poisoned()?;
            let state = self.read_state();
            // Without compaction nothing empties level 0: only the frozen
            // memtables can hold writes back.
            let level0 = match self.options.compaction {
                Some(_) => state.levels.first().map_or(0, Vec::len),
                None => 0,
            };
            let busy = jobs.flush_running
                || jobs.compaction_running
                || (jobs.compaction_wanted && self.options.compaction.is_some())
                || !state.frozen.is_empty();
            let idle = !busy;
            match rule(state.frozen.len(), level0, &self.options.stall) {
                Pressure::Proceed => break,
                Pressure::Slow if slowed => break,
                Pressure::Slow => {
                    slowed = true;
                    self.stats.slowed_writes.fetch_add(1, Ordering::Relaxed);
                    drop(jobs);
                    std::thread::sleep(Duration::from_micros(self.options.stall.slowdown_micros));
                    jobs = self.background.lock();
                }
                // Nothing running and nothing due: no job will change what
                // `pressure` sees (say, level 0 above the stop trigger
                // while compaction's own trigger is higher still), so
                // waiting would be for ever.
                Pressure::Stop if idle => break,
                Pressure::Stop => {
                    if !stopped {
                        stopped = true;
                        self.stats.stopped_writes.fetch_add(1, Ordering::Relaxed);
                    }
                    // A worker may be idle while the flush it would take
                    // became due before it looked: wake them first.
                    self.background.work.notify_all();
                    jobs = (self.background.progress.wait(jobs)).unwrap_or_else(|e| e.into_inner());
                }
            }
        }
        drop(jobs);
        if slowed || stopped {
            add_micros(&self.stats.stall_micros, started);
        }
        Ok(())
    }
}
