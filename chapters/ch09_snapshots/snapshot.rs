//! Snapshots: a read view pinned at one sequence number.
//!
//! ```text
//!  db.snapshot()  ──►  pins.pin(|| last_seq)  ──►  Snapshot { seq }
//!  snapshot.get(k) ──► db.get_at(k, seq)      snapshot.scan(r) ──► db.scan_at(r, seq)
//!  drop(snapshot) ──►  pins.unpin(seq): compaction may now drop what only it saw
//! ```

#![allow(dead_code, reason = "the fields are read by the code you write")]

use std::ops::RangeBounds;

use bytes::Bytes;

use crate::ch07_engine::{Db, Scan};
use crate::error::Result;
use crate::types::SeqNo;

/// A consistent, read-only view of the database at one sequence number:
/// every read through it sees exactly the writes numbered at or below it,
/// however many writes, flushes and compactions happen meanwhile. While it
/// lives its number is pinned, so compaction keeps every version it may
/// see; dropping it releases the pin.
#[derive(Debug)]
pub struct Snapshot<'db> {
    db: &'db Db,
    seq: SeqNo,
}

impl Db {
    /// A snapshot at the last published sequence number.
    pub fn snapshot(&self) -> Snapshot<'_> {
        todo!("ch09: choose last_seq and pin it, under the pins' lock — book §9.5, task 1")
    }
}

impl Snapshot<'_> {
    /// The sequence number it reads at.
    pub fn seq(&self) -> SeqNo {
        self.seq
    }

    /// The value of `key` as of the snapshot.
    pub fn get(&self, key: &[u8]) -> Result<Option<Bytes>> {
        let _ = key;
        todo!("ch09: a read at the snapshot's number — book §9.5, task 1")
    }

    /// The live pairs with keys in `range`, as of the snapshot.
    pub fn scan<'k>(&self, range: impl RangeBounds<&'k [u8]>) -> Scan {
        let _ = range;
        todo!("ch09: a scan at the snapshot's number — book §9.5, task 1")
    }
}

impl Drop for Snapshot<'_> {
    fn drop(&mut self) {
        // TODO(ch09): release the pin — book §9.5, task 1
    }
}
