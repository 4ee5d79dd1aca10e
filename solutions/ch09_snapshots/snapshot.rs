//! Snapshots: a read view pinned at one sequence number.
//!
//! ```text
//!  db.snapshot()  ──►  pins.pin(|| last_seq)  ──►  Snapshot { seq }
//!  snapshot.get(k) ──► db.get_at(k, seq)      snapshot.scan(r) ──► db.scan_at(r, seq)
//!  drop(snapshot) ──►  pins.unpin(seq): compaction may now drop what only it saw
//! ```

// BEGIN SOLUTION hide
// STARTER: #![allow(dead_code, reason = "the fields are read by the code you write")]
// END SOLUTION

use std::ops::RangeBounds;

use bytes::Bytes;

use crate::ch07_engine::{Db, Scan};
use crate::error::Result;
use crate::types::SeqNo;
// BEGIN SOLUTION hide
use crate::ch07_engine::owned_bounds;
// END SOLUTION

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

// ANCHOR: ch09_snapshot
impl Db {
    /// A snapshot at the last published sequence number.
    pub fn snapshot(&self) -> Snapshot<'_> {
        // BEGIN SOLUTION todo(): choose last_seq and pin it, under the pins' lock — book §9.5, task 1
        let seq = self.pins().pin(|| self.last_seq());
        Snapshot { db: self, seq }
        // END SOLUTION
    }
}

impl Snapshot<'_> {
    /// The sequence number it reads at.
    pub fn seq(&self) -> SeqNo {
        self.seq
    }

    /// The value of `key` as of the snapshot.
    pub fn get(&self, key: &[u8]) -> Result<Option<Bytes>> {
        // BEGIN SOLUTION todo(key): a read at the snapshot's number — book §9.5, task 1
        self.db.get_at(key, self.seq)
        // END SOLUTION
    }

    /// The live pairs with keys in `range`, as of the snapshot.
    pub fn scan<'k>(&self, range: impl RangeBounds<&'k [u8]>) -> Scan {
        // BEGIN SOLUTION todo(range): a scan at the snapshot's number — book §9.5, task 1
        self.db.scan_at(owned_bounds(&range), self.seq)
        // END SOLUTION
    }
}

impl Drop for Snapshot<'_> {
    fn drop(&mut self) {
        // BEGIN SOLUTION hide: release the pin — book §9.5, task 1
        self.db.pins().unpin(self.seq);
        // END SOLUTION
    }
}
// ANCHOR_END: ch09_snapshot
