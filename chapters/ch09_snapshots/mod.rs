//! Chapter 9 — snapshots, time travel and transactions: reads at a point
//! in history. Every entry has carried a sequence number since chapter 1,
//! and every read of chapter 7 takes one; this chapter chooses the number.
//!
//! ```text
//!  seq   1    2    3    4    5    6    7         last_seq = 7
//!        a=1  b=1  a=2  c=1  a=3  b=×  c=2
//!                       ▲              ▲
//!               snapshot (4):       get a → 3, b → none
//!               a → 2, b → 1, c → 1
//!
//!  timeline  (t=10 s, seq 0) (t=11 s, seq 3) (t=12 s, seq 5)
//!  get_as_of(a, 11.5 s) → the seq that time maps to → a as of it
//! ```
//!
//! - A [`Snapshot`](snapshot::Snapshot) pins the sequence number it reads
//!   at (in [`Db::pins`](crate::ch07_engine::Db::pins)): compaction keeps
//!   every version it may see until it is dropped.
//! - The [`Timeline`](timeline::Timeline) records, durably, when sequence
//!   numbers were written — a sample per `resolution` — so a read as of a
//!   wall-clock time finds its number; it keeps history for `retention`,
//!   and compaction keeps the versions reads in that window may see.
//! - A [`Transaction`](transaction::Transaction) reads at its snapshot plus
//!   its own writes and commits them as one batch, or fails with
//!   [`Error::Conflict`](crate::Error::Conflict) if a key it read has
//!   changed since (optimistic concurrency control).
//!
//! You write: `Db::snapshot`, `Snapshot::get`, `Snapshot::scan` and its
//! `Drop` (`snapshot.rs`); `sample_for`, `seq_as_of` and `retained`
//! (`timeline.rs`) and `Db::get_as_of`, `Db::scan_as_of` (this file);
//! `Transaction::get`, `scan` and `commit` (`transaction.rs`). The
//! timeline's file, the options and the engine's seams (chapter 7's
//! `Pins`, `History`, `Db::write_with`) are provided. Book: "9. Snapshots,
//! time travel and transactions".
//!
//! Invariants: a reader's sequence number is chosen and pinned under the
//! pins' lock, so compaction never drops a version it may see; a sample of
//! the timeline is durable before the write it describes is logged; a read
//! as of a time `T` sees every write made before `T − resolution` and
//! nothing made after `T`, or fails with `Error::OutOfHistory`; a commit
//! writes all of a transaction or nothing.

pub mod snapshot;
pub mod timeline;
pub mod transaction;

use std::ops::RangeBounds;
use std::path::Path;
use std::sync::Arc;

use bytes::Bytes;

use crate::ch07_engine::{Db, Options, Scan};
use crate::error::{Error, Result};
use crate::types::SeqNo;

pub use snapshot::Snapshot;
pub use timeline::{Gap, Sample, Timeline, TimelineOptions, retained, sample_for, seq_as_of};
pub use transaction::Transaction;

/// Opens the database in `dir` with a [`Timeline`] (created if missing) as
/// its history, so that [`Db::get_as_of`] can answer.
pub fn open_with_timeline(
    dir: impl AsRef<Path>,
    options: Options,
    timeline: TimelineOptions,
) -> Result<Db> {
    let dir = dir.as_ref();
    let history = Timeline::open(Arc::clone(&options.fs), dir, timeline)?;
    Db::open(
        dir,
        Options {
            history: Some(history),
            ..options
        },
    )
}

impl Db {
    /// The value of `key` as it was at `time_micros` (microseconds since
    /// the Unix epoch, by the database's clock): the sequence number the
    /// history maps that time to, chosen and pinned under the pins' lock,
    /// then a read at it. Fails with [`Error::OutOfHistory`] for a time the
    /// history cannot answer, or if the database has no history.
    pub fn get_as_of(&self, key: &[u8], time_micros: u64) -> Result<Option<Bytes>> {
        let _ = (key, time_micros);
        todo!(
            "ch09: the history's seq for the time, pinned while you read at it — book §9.5, task 2"
        )
    }

    /// The live pairs with keys in `range` as they were at `time_micros`
    /// (see [`Db::get_as_of`]). The scan holds its own view of the tables:
    /// the pin is needed only until it has started.
    pub fn scan_as_of<'k>(
        &self,
        range: impl RangeBounds<&'k [u8]>,
        time_micros: u64,
    ) -> Result<Scan> {
        let _ = (range, time_micros);
        todo!("ch09: as get_as_of, with a scan at the seq — book §9.5, task 2")
    }

    /// The sequence number the history maps `time_micros` to, pinned
    /// (release it with `self.pins().unpin(seq)`).
    pub fn pin_as_of(&self, time_micros: u64) -> Result<SeqNo> {
        let history = self.history().ok_or_else(|| Error::OutOfHistory {
            time_micros,
            detail: "the database was opened without a history (Options::history; \
                     see ch09_snapshots::open_with_timeline)"
                .into(),
        })?;
        self.pins()
            .try_pin(|| history.seq_as_of(time_micros, self.clock().now_micros(), self.last_seq()))
    }
}
