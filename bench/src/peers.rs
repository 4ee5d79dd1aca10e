//! Peer engines behind the same [`Engine`] trait, each compiled only with
//! its feature (`fjall`, `sled`, `redb`, `rocksdb`). Each is configured as
//! close to the workbook's engine as its API allows — no compression, its
//! log on, the same 4 MiB write buffer where there is one — and its
//! [`EngineKind`] says how durable a write is when it returns and what
//! still differs.

#[cfg(any(
    feature = "fjall",
    feature = "sled",
    feature = "redb",
    feature = "rocksdb"
))]
use std::path::Path;

use crate::engine::EngineKind;
#[cfg(any(
    feature = "fjall",
    feature = "sled",
    feature = "redb",
    feature = "rocksdb"
))]
use crate::engine::{Engine, Op, Result, Settings};

/// The peers compiled into this binary.
#[allow(
    unused_mut,
    clippy::vec_init_then_push,
    reason = "which pushes remain depends on the features"
)]
pub fn kinds() -> Vec<EngineKind> {
    let mut kinds = Vec::new();
    #[cfg(feature = "fjall")]
    kinds.extend([fjall_engine::KIND, fjall_engine::KIND_BUFFERED]);
    #[cfg(feature = "sled")]
    kinds.push(sled_engine::KIND);
    #[cfg(feature = "redb")]
    kinds.push(redb_engine::KIND);
    #[cfg(feature = "rocksdb")]
    kinds.push(rocksdb_engine::KIND);
    kinds
}

#[cfg(feature = "fjall")]
mod fjall_engine {
    use fjall::{Database, Keyspace, KeyspaceCreateOptions, PersistMode};

    use super::*;

    pub const KIND: EngineKind = EngineKind {
        name: "fjall",
        // Its default: without `manual_journal_persist`, every write flushes
        // the journal's 8 KiB `BufWriter` to the OS before it returns
        // (fjall 3.1.13, src/keyspace/mod.rs, `insert` and `remove`), as
        // ours does.
        durability: "OS buffer (journal written, not synced)",
        durability_sync: "fsync per write (persist(SyncAll))",
        notes: "fjall 3, its defaults but no lz4 (no compression) and a 4 MiB memtable; \
                flush and leveled compaction on background threads (ours: inline)",
        open: Fjall::open,
    };

    /// fjall with `manual_journal_persist(true)`: a write returns with its
    /// journal bytes in fjall's user-space buffer (up to 8 KiB), which a
    /// process crash loses — less durable than ours, shown for the cost.
    pub const KIND_BUFFERED: EngineKind = EngineKind {
        name: "fjall-buffered",
        durability: "user-space buffer (up to 8 KiB of writes lost on a process crash)",
        durability_sync: "fsync per write (persist(SyncAll))",
        notes: "as fjall, with manual_journal_persist(true): the journal is flushed to the \
                OS only when its 8 KiB buffer fills",
        open: Fjall::open_buffered,
    };

    struct Fjall {
        db: Database,
        keyspace: Keyspace,
    }

    impl Fjall {
        fn open(dir: &Path, _: &Settings) -> Result<Box<dyn Engine>> {
            Fjall::open_with(dir, false)
        }

        fn open_buffered(dir: &Path, _: &Settings) -> Result<Box<dyn Engine>> {
            Fjall::open_with(dir, true)
        }

        fn open_with(dir: &Path, buffered: bool) -> Result<Box<dyn Engine>> {
            let db = Database::builder(dir)
                .manual_journal_persist(buffered)
                .open()?;
            let keyspace = db.keyspace("bench", || {
                KeyspaceCreateOptions::default()
                    .max_memtable_size(4 << 20)
                    .manual_journal_persist(buffered)
            })?;
            Ok(Box::new(Fjall { db, keyspace }))
        }
    }

    impl Engine for Fjall {
        fn write(&mut self, ops: &[Op<'_>], sync: bool) -> Result<()> {
            match ops {
                [Op::Put(key, value)] => self.keyspace.insert(*key, *value)?,
                [Op::Delete(key)] => self.keyspace.remove(*key)?,
                _ => {
                    let mut batch = self.db.batch();
                    for op in ops {
                        match *op {
                            Op::Put(key, value) => batch.insert(&self.keyspace, key, value),
                            Op::Delete(key) => batch.remove(&self.keyspace, key),
                        }
                    }
                    batch.commit()?;
                }
            }
            if sync {
                self.db.persist(PersistMode::SyncAll)?;
            }
            Ok(())
        }

        fn get(&mut self, key: &[u8]) -> Result<Option<usize>> {
            Ok(self.keyspace.get(key)?.map(|value| value.len()))
        }

        fn seek(&mut self, key: &[u8]) -> Result<Option<(Vec<u8>, usize)>> {
            match self.keyspace.range(key..).next() {
                Some(guard) => {
                    let (key, value) = guard.into_inner()?;
                    Ok(Some((key.to_vec(), value.len())))
                }
                None => Ok(None),
            }
        }

        fn scan_all(&mut self, row: &mut dyn FnMut()) -> Result<(u64, u64)> {
            let (mut rows, mut bytes) = (0, 0);
            for guard in self.keyspace.iter() {
                let (key, value) = guard.into_inner()?;
                rows += 1;
                bytes += (key.len() + value.len()) as u64;
                row();
            }
            Ok((rows, bytes))
        }

        fn flush(&mut self) -> Result<()> {
            self.keyspace.rotate_memtable_and_wait()?;
            self.db.persist(PersistMode::SyncAll)?;
            Ok(())
        }

        fn counters(&self) -> Option<(u64, u64)> {
            None
        }

        fn close(self: Box<Self>) -> Result<()> {
            self.db.persist(PersistMode::SyncAll)?;
            Ok(())
        }
    }
}

#[cfg(feature = "sled")]
mod sled_engine {
    use super::*;

    pub const KIND: EngineKind = EngineKind {
        name: "sled",
        // sled 0.34 acknowledges a write once it is in its in-memory page
        // cache; a background thread writes and fsyncs every 500 ms.
        durability: "memory (written + fsync'd every 500 ms by a thread)",
        durability_sync: "fsync per write (Db::flush)",
        notes: "sled 0.34.7 (a Bw-tree over a log-structured store, not an LSM), \
                defaults: 1 GiB cache, flush_every_ms 500, no compression",
        open: Sled::open,
    };

    struct Sled {
        db: sled::Db,
    }

    impl Sled {
        fn open(dir: &Path, _: &Settings) -> Result<Box<dyn Engine>> {
            let db = sled::Config::new().path(dir).open()?;
            Ok(Box::new(Sled { db }))
        }
    }

    impl Engine for Sled {
        fn write(&mut self, ops: &[Op<'_>], sync: bool) -> Result<()> {
            match ops {
                [Op::Put(key, value)] => {
                    self.db.insert(*key, *value)?;
                }
                [Op::Delete(key)] => {
                    self.db.remove(*key)?;
                }
                _ => {
                    let mut batch = sled::Batch::default();
                    for op in ops {
                        match *op {
                            Op::Put(key, value) => batch.insert(key, value),
                            Op::Delete(key) => batch.remove(key),
                        }
                    }
                    self.db.apply_batch(batch)?;
                }
            }
            if sync {
                self.db.flush()?;
            }
            Ok(())
        }

        fn get(&mut self, key: &[u8]) -> Result<Option<usize>> {
            Ok(self.db.get(key)?.map(|value| value.len()))
        }

        fn seek(&mut self, key: &[u8]) -> Result<Option<(Vec<u8>, usize)>> {
            match self.db.range(key..).next() {
                Some(pair) => {
                    let (key, value) = pair?;
                    Ok(Some((key.to_vec(), value.len())))
                }
                None => Ok(None),
            }
        }

        fn scan_all(&mut self, row: &mut dyn FnMut()) -> Result<(u64, u64)> {
            let (mut rows, mut bytes) = (0, 0);
            for pair in self.db.iter() {
                let (key, value) = pair?;
                rows += 1;
                bytes += (key.len() + value.len()) as u64;
                row();
            }
            Ok((rows, bytes))
        }

        fn flush(&mut self) -> Result<()> {
            self.db.flush()?;
            Ok(())
        }

        fn counters(&self) -> Option<(u64, u64)> {
            None
        }

        fn close(self: Box<Self>) -> Result<()> {
            self.db.flush()?;
            Ok(())
        }
    }
}

#[cfg(feature = "redb")]
mod redb_engine {
    use redb::{Database, Durability, ReadOnlyTable, ReadableDatabase, TableDefinition};

    use super::*;

    const TABLE: TableDefinition<&[u8], &[u8]> = TableDefinition::new("bench");

    pub const KIND: EngineKind = EngineKind {
        name: "redb",
        // One transaction per write call. `Durability::None` keeps the
        // commit in this process until a later durable commit (a process
        // crash loses it): weaker than ours, but `Immediate` (an fsync per
        // commit) would make the fills fillsyncs.
        durability: "process memory (Durability::None: lost on a crash until the next durable commit)",
        durability_sync: "fsync per write (Durability::Immediate)",
        notes: "redb 4 (a copy-on-write B-tree, not an LSM), one transaction per write \
                call; readers reuse one read transaction per workload",
        open: Redb::open,
    };

    struct Redb {
        db: Database,
        /// The table of one read transaction, reused by a workload's reads
        /// (a new one after any write).
        reader: Option<ReadOnlyTable<&'static [u8], &'static [u8]>>,
    }

    impl Redb {
        fn open(dir: &Path, _: &Settings) -> Result<Box<dyn Engine>> {
            std::fs::create_dir_all(dir)?;
            let db = Database::create(dir.join("bench.redb"))?;
            // Create the table, so reads of an empty database work.
            let mut tx = db.begin_write()?;
            tx.set_durability(Durability::Immediate)?;
            tx.open_table(TABLE)?;
            tx.commit()?;
            Ok(Box::new(Redb { db, reader: None }))
        }

        fn reader(&mut self) -> Result<&ReadOnlyTable<&'static [u8], &'static [u8]>> {
            if self.reader.is_none() {
                let table = self.db.begin_read()?.open_table(TABLE)?;
                self.reader = Some(table);
            }
            self.reader
                .as_ref()
                .ok_or_else(|| "redb: no read transaction".into())
        }

        fn commit(&mut self, ops: &[Op<'_>], durability: Durability) -> Result<()> {
            self.reader = None;
            let mut tx = self.db.begin_write()?;
            tx.set_durability(durability)?;
            {
                let mut table = tx.open_table(TABLE)?;
                for op in ops {
                    match *op {
                        Op::Put(key, value) => {
                            table.insert(key, value)?;
                        }
                        Op::Delete(key) => {
                            table.remove(key)?;
                        }
                    }
                }
            }
            tx.commit()?;
            Ok(())
        }
    }

    impl Engine for Redb {
        fn write(&mut self, ops: &[Op<'_>], sync: bool) -> Result<()> {
            let durability = if sync {
                Durability::Immediate
            } else {
                Durability::None
            };
            self.commit(ops, durability)
        }

        fn get(&mut self, key: &[u8]) -> Result<Option<usize>> {
            Ok(self.reader()?.get(key)?.map(|value| value.value().len()))
        }

        fn seek(&mut self, key: &[u8]) -> Result<Option<(Vec<u8>, usize)>> {
            match self.reader()?.range(key..)?.next() {
                Some(pair) => {
                    let (key, value) = pair?;
                    Ok(Some((key.value().to_vec(), value.value().len())))
                }
                None => Ok(None),
            }
        }

        fn scan_all(&mut self, row: &mut dyn FnMut()) -> Result<(u64, u64)> {
            let (mut rows, mut bytes) = (0, 0);
            for pair in self.reader()?.range::<&[u8]>(..)? {
                let (key, value) = pair?;
                rows += 1;
                bytes += (key.value().len() + value.value().len()) as u64;
                row();
            }
            Ok((rows, bytes))
        }

        fn flush(&mut self) -> Result<()> {
            self.commit(&[], Durability::Immediate)
        }

        fn counters(&self) -> Option<(u64, u64)> {
            None
        }

        fn close(mut self: Box<Self>) -> Result<()> {
            self.commit(&[], Durability::Immediate)
        }
    }
}

// Untested: building RocksDB's C++ takes about 20 minutes here, so this
// module has never been compiled in this repository. Written against the
// `rocksdb` 0.25 API; `cargo xtask bench --peers --rocksdb` builds it.
#[cfg(feature = "rocksdb")]
mod rocksdb_engine {
    use rocksdb::{DB, DBCompressionType, Options, WriteBatch, WriteOptions};

    use super::*;

    pub const KIND: EngineKind = EngineKind {
        name: "rocksdb",
        durability: "OS buffer (WAL written, not synced)",
        durability_sync: "fsync per write (WriteOptions::set_sync)",
        notes: "rocksdb 0.25 (untested here), no compression, 4 MiB write buffer; \
                flush and compaction on background threads",
        open: Rocks::open,
    };

    struct Rocks {
        db: DB,
    }

    impl Rocks {
        fn open(dir: &Path, _: &Settings) -> Result<Box<dyn Engine>> {
            let mut options = Options::default();
            options.create_if_missing(true);
            options.set_compression_type(DBCompressionType::None);
            options.set_write_buffer_size(4 << 20);
            let db = DB::open(&options, dir)?;
            Ok(Box::new(Rocks { db }))
        }
    }

    impl Engine for Rocks {
        fn write(&mut self, ops: &[Op<'_>], sync: bool) -> Result<()> {
            let mut options = WriteOptions::default();
            options.set_sync(sync);
            let mut batch = WriteBatch::default();
            for op in ops {
                match *op {
                    Op::Put(key, value) => batch.put(key, value),
                    Op::Delete(key) => batch.delete(key),
                }
            }
            self.db.write_opt(&batch, &options)?;
            Ok(())
        }

        fn get(&mut self, key: &[u8]) -> Result<Option<usize>> {
            Ok(self.db.get_pinned(key)?.map(|value| value.len()))
        }

        fn seek(&mut self, key: &[u8]) -> Result<Option<(Vec<u8>, usize)>> {
            let mut iter = self.db.raw_iterator();
            iter.seek(key);
            let found = match (iter.key(), iter.value()) {
                (Some(key), Some(value)) => Some((key.to_vec(), value.len())),
                _ => None,
            };
            iter.status()?;
            Ok(found)
        }

        fn scan_all(&mut self, row: &mut dyn FnMut()) -> Result<(u64, u64)> {
            let (mut rows, mut bytes) = (0, 0);
            let mut iter = self.db.raw_iterator();
            iter.seek_to_first();
            while let (Some(key), Some(value)) = (iter.key(), iter.value()) {
                rows += 1;
                bytes += (key.len() + value.len()) as u64;
                row();
                iter.next();
            }
            iter.status()?;
            Ok((rows, bytes))
        }

        fn flush(&mut self) -> Result<()> {
            self.db.flush()?;
            self.db.flush_wal(true)?;
            Ok(())
        }

        fn counters(&self) -> Option<(u64, u64)> {
            None
        }

        fn close(self: Box<Self>) -> Result<()> {
            self.db.flush_wal(true)?;
            Ok(())
        }
    }
}
