//! The write path: sequence numbers, the log, the memtable, publishing;
//! freezing a full memtable; flushing frozen memtables into level-0 tables.

#![allow(
    dead_code,
    reason = "provided helpers that only the code you write calls"
)]

use std::sync::atomic::Ordering;

use super::recovery::Opening;
use super::{Db, WriteOptions, Writer};
use crate::ch01_memtable::Memtable;
use crate::ch03_sstable::write_table;
use crate::ch06_manifest::TableMeta;
use crate::error::{Error, Result};
use crate::filename::FileName;
use crate::types::{Entry, InternalKey, SeqNo, WriteBatch};

impl Db {
    /// Writes `batch` atomically, with the writer lock held (`writer`; the
    /// provided [`Db::write`] takes it and checks that the database is not
    /// poisoned). The engine numbers its operations (the batch's own `seq`
    /// is ignored): the log record is appended (and synced if
    /// `options.sync`), the operations go into the active memtable, and
    /// only then is the batch's last sequence number published, so no
    /// reader sees part of it. A full memtable is frozen, and then
    /// `maintain` flushes it (inline, or on chapter 10's threads).
    pub(super) fn write_locked(
        &self,
        writer: &mut Writer,
        batch: WriteBatch,
        options: WriteOptions,
    ) -> Result<()> {
        let _ = (writer, batch, options);
        todo!(
            "ch07: number, log, insert, publish; freeze and maintain when full — book §7.4, task 2"
        )
    }

    /// Makes the active memtable read-only and starts a new one with a new
    /// log. The old log is synced first, so a log is complete before a
    /// newer one exists: a crash can tear only the newest log.
    pub(super) fn freeze(&self, writer: &mut Writer) -> Result<()> {
        let _ = writer;
        todo!(
            "ch07: sync the log, start a new one, swap in a new active memtable — book §7.4, task 2"
        )
    }

    /// Flushes every frozen memtable, oldest first: writes it as a level-0
    /// table, then installs one manifest edit that adds the table and
    /// retires the memtable's log ([`install_flush`](Db::install_flush)
    /// drops the memtable from the read state in the same swap that adds
    /// its table). Runs without the writer lock (writes may freeze more
    /// memtables meanwhile); one flush at a time.
    pub(super) fn flush_frozen(&self) -> Result<()> {
        todo!("ch07: table, edit, install — oldest frozen first — book §7.4, task 2")
    }
}

/// Writes `memtable` as table `number` and makes its name durable;
/// returns what the manifest records of it and its largest sequence
/// number. Used by flushes and by recovery.
pub(super) fn write_level0_table(
    opening: &Opening<'_>,
    number: u64,
    memtable: &Memtable,
) -> Result<(TableMeta, SeqNo)> {
    let fs = opening.options.fs.as_ref();
    let path = FileName::Table(number).path(opening.dir);
    let mut bounds = Bounds::default();
    let entries = memtable.iter().inspect(|entry| bounds.see(entry));
    let summary = write_table(fs, &path, opening.options.table, entries)?;
    fs.sync_dir(opening.dir)?;
    let stats = opening.stats;
    stats
        .flush_bytes
        .fetch_add(summary.file_len, Ordering::Relaxed);
    stats.flushes.fetch_add(1, Ordering::Relaxed);
    let (Some(smallest), Some(largest)) = (bounds.smallest, bounds.largest) else {
        return Err(Error::InvalidArgument("flushed an empty memtable".into()));
    };
    let table = TableMeta {
        file_number: number,
        size_bytes: summary.file_len,
        smallest,
        largest,
    };
    Ok((table, bounds.seq_max))
}

/// The first and last internal keys of a run of entries in internal order,
/// and their largest sequence number.
#[derive(Default)]
struct Bounds {
    smallest: Option<InternalKey>,
    largest: Option<InternalKey>,
    seq_max: SeqNo,
}

impl Bounds {
    fn see(&mut self, entry: &Entry) {
        let key = InternalKey::new(entry.key.clone(), entry.seq);
        if self.smallest.is_none() {
            self.smallest = Some(key.clone());
        }
        self.largest = Some(key);
        self.seq_max = self.seq_max.max(entry.seq);
    }
}
