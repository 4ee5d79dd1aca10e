//! The write path: sequence numbers, the log, the memtable, publishing;
//! freezing a full memtable; flushing frozen memtables into level-0 tables.

// BEGIN SOLUTION hide
// STARTER: #![allow(dead_code, reason = "provided helpers that only the code you write calls")]
// END SOLUTION

use std::sync::atomic::Ordering;

use super::recovery::Opening;
use super::{Db, WriteOptions, Writer};
use crate::ch01_memtable::Memtable;
use crate::ch03_sstable::write_table;
use crate::ch06_manifest::TableMeta;
use crate::error::{Error, Result};
use crate::filename::FileName;
use crate::types::{Entry, InternalKey, SeqNo, WriteBatch};
// BEGIN SOLUTION hide
use super::{Frozen, ReadState};
use crate::ch02_wal::{LogHeader, Wal};
use crate::ch06_manifest::VersionEdit;
use std::sync::Arc;
// END SOLUTION

impl Db {
    // ANCHOR: ch07_write
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
        // BEGIN SOLUTION todo(writer, batch, options): number, log, insert, publish; freeze and maintain when full — book §7.4, task 2
        if batch.ops.is_empty() {
            return Ok(());
        }
        let batch = WriteBatch {
            seq: writer.next_seq,
            ops: batch.ops,
        };
        let seq_end = batch.seq_end().ok_or_else(|| {
            Error::InvalidArgument("the database has used up its sequence numbers".into())
        })?;
        let len_before = writer.wal.len_bytes();
        let appended = writer.wal.append(&batch);
        self.poison_on_error(appended)?;
        if options.sync {
            let synced = writer.wal.sync();
            self.poison_on_error(synced)?;
        }
        let state = self.read_state();
        let mut user_bytes = 0;
        for entry in batch.entries() {
            user_bytes += entry.key.len() + entry.value.as_put().map_or(0, |v| v.len());
            state.active.insert(entry);
        }
        writer.next_seq = seq_end;
        self.published_seq.store(seq_end - 1, Ordering::Release);
        let stats = &self.stats;
        stats
            .user_bytes
            .fetch_add(user_bytes as u64, Ordering::Relaxed);
        let appended_bytes = writer.wal.len_bytes() - len_before;
        stats.wal_bytes.fetch_add(appended_bytes, Ordering::Relaxed);
        if state.active.approximate_size_bytes() >= self.options.memtable_size_bytes {
            self.freeze(writer)?;
            self.maintain()?;
        }
        Ok(())
        // END SOLUTION
    }
    // ANCHOR_END: ch07_write

    // ANCHOR: ch07_freeze
    /// Makes the active memtable read-only and starts a new one with a new
    /// log. The old log is synced first, so a log is complete before a
    /// newer one exists: a crash can tear only the newest log.
    pub(super) fn freeze(&self, writer: &mut Writer) -> Result<()> {
        // BEGIN SOLUTION todo(writer): sync the log, start a new one, swap in a new active memtable — book §7.4, task 2
        let synced = writer.wal.sync();
        self.poison_on_error(synced)?;
        let number = self.manifest().new_file_number();
        let header = LogHeader {
            salt: self.salt(number),
            first_seq: writer.next_seq,
        };
        let path = FileName::Log(number).path(&self.dir);
        let created = Wal::create(self.options.fs.as_ref(), &path, header);
        writer.wal = self.poison_on_error(created)?;
        self.update_read_state(|state| {
            let mut frozen = vec![Frozen {
                memtable: Arc::clone(&state.active),
                log_number: state.active_log,
            }];
            frozen.extend(state.frozen.iter().cloned());
            ReadState {
                active: Arc::new(Memtable::new()),
                active_log: number,
                frozen,
                levels: state.levels.clone(),
            }
        });
        Ok(())
        // END SOLUTION
    }
    // ANCHOR_END: ch07_freeze

    // ANCHOR: ch07_flush
    /// Flushes every frozen memtable, oldest first: writes it as a level-0
    /// table, then installs one manifest edit that adds the table and
    /// retires the memtable's log ([`install_flush`](Db::install_flush)
    /// drops the memtable from the read state in the same swap that adds
    /// its table). Runs without the writer lock (writes may freeze more
    /// memtables meanwhile); one flush at a time.
    pub(super) fn flush_frozen(&self) -> Result<()> {
        // BEGIN SOLUTION todo(): table, edit, install — oldest frozen first — book §7.4, task 2
        loop {
            let state = self.read_state();
            let Some((oldest, newer)) = state.frozen.split_last() else {
                return Ok(());
            };
            // The oldest log still needed once `oldest` is in a table: the
            // next frozen memtable's, or the active one's.
            let next_log = newer.last().map_or(state.active_log, |f| f.log_number);
            let mut edit = VersionEdit {
                log_number: Some(next_log),
                ..VersionEdit::default()
            };
            if !oldest.memtable.is_empty() {
                let number = self.new_table_number();
                let written = write_level0_table(&self.opening(), number, &oldest.memtable);
                let (table, last_seq) = self.poison_on_error(written)?;
                edit.last_seq = Some(last_seq);
                edit.added.push((0, table));
            }
            self.install_flush(&edit)?;
        }
        // END SOLUTION
    }
    // ANCHOR_END: ch07_flush
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
