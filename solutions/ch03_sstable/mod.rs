//! Chapter 3 — the SSTable (sorted string table): an immutable file of
//! entries in internal order, written once by a [`TableBuilder`] (for
//! example from a memtable's iterator, which is how a memtable is flushed)
//! and read by a [`Table`].
//!
//! ```text
//!  +---------+---------+-----+-----------+---------------+--------------+--------+
//!  | data    | data    | …   | data      | filter block  | index block  | footer |
//!  | block 0 | block 1 |     | block n-1 | (chapter 4)   | (chapter 5)  | 80 B   |
//!  +---------+---------+-----+-----------+---------------+--------------+--------+
//!  0                                   data_len                         table_len
//! ```
//!
//! Every block ([`block`]) is framed, with a checksum that also covers its
//! offset, so a block is valid only where it was written; the [`footer`]
//! says where everything is and how long the table is, so a file is exactly
//! one table. A data block ends with an offsets array, so a lookup
//! binary-searches it and decodes only the entries it touches. The filter and the index are optional parts of
//! the format, switched on by [`TableOptions`]: this chapter's tables have
//! neither, so a lookup *scans* the data blocks in order. Chapters 4 and 5
//! add them; the glue that calls them is already here (look for
//! `ch04_bloom` and `ch05_index`) and is not yours to write.
//!
//! You write: in [`block`], `frame`, `unframe`, [`BlockBuilder`],
//! [`Block`] (`decode`, `len`, `entry`, `seek`, `iter`) and
//! [`block::BlockIter`]; in [`footer`], `Footer::encode` and
//! `Footer::decode`; here, [`TableBuilder::create`], the block writing
//! helper `write_block`, the readers `read_footer` and `read_framed`,
//! `Table::load_block`, [`Table::read_block_at`], [`Table::get_by_scan`]
//! and [`TableIter`]. Book: "3. The SSTable".
//!
//! Seam for chapter 10: [`BlockCache`]. A table opened
//! [`with_cache`](Table::with_cache) looks every data block up in the cache
//! before it reads the file ([`Table::read_block`]), under a key no other
//! open table shares ([`BlockKey`]).
//!
//! Invariants: a table is never modified after [`TableBuilder::finish`];
//! entries are added in strictly increasing internal order; every byte read
//! from the file is checked (frame checksum, footer checksum) before it is
//! used, and damage is [`Error::Corruption`] naming the file and offset.
//! Where each check happens is listed in the [`block`] module's docs.

pub mod block;
pub mod footer;

use std::cell::Cell;
use std::fmt;
use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use bytes::Bytes;

use crate::ch04_bloom::{BloomFilter, BloomFilterBuilder};
use crate::ch05_index::{IndexBuilder, SparseIndex};
use crate::error::{Error, Result};
use crate::fs::{Fs, ReadableFile, WritableFile};
use crate::types::{Entry, SEQ_MAX, SeqNo, Value};

pub use block::{Block, BlockBuilder, BlockIter};
pub use footer::{BlockHandle, FOOTER_LEN_BYTES, Footer};
// BEGIN SOLUTION hide
use block::{BLOCK_HEADER_LEN_BYTES, BLOCK_PAYLOAD_LEN_MAX_BYTES, frame, unframe};
// END SOLUTION

/// How a table is built.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct TableOptions {
    /// A data block is closed as soon as its payload reaches this size, so
    /// a block holds at least one entry and ends with the entry that took
    /// it past the target (a large value makes a large block).
    pub block_size_bytes: usize,
    /// Bits of bloom filter per key (chapter 4); 0 = no filter.
    pub bloom_bits_per_key: u32,
    /// Write a sparse index (chapter 5).
    pub index: bool,
}

impl Default for TableOptions {
    /// What the engine uses: 4 KiB blocks, a 10-bit bloom filter, an index.
    fn default() -> Self {
        TableOptions {
            block_size_bytes: 4096,
            bloom_bits_per_key: 10,
            index: true,
        }
    }
}

impl TableOptions {
    /// Chapter 3's tables: data blocks and a footer only, no filter, no
    /// index.
    pub fn plain(block_size_bytes: usize) -> Self {
        TableOptions {
            block_size_bytes,
            bloom_bits_per_key: 0,
            index: false,
        }
    }
}

/// What a finished table holds, for the caller's records (the manifest of
/// chapter 7 stores it).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct TableSummary {
    /// Number of entries.
    pub entry_count: u64,
    /// Number of data blocks.
    pub block_count: u64,
    /// The file's size in bytes.
    pub file_len: u64,
    /// The smallest and the largest key, `None` for an empty table.
    pub key_range: Option<(Bytes, Bytes)>,
}

/// Writes a new table, one entry at a time, in internal order.
#[derive(Debug)]
pub struct TableBuilder {
    file: Box<dyn WritableFile>,
    options: TableOptions,
    block: BlockBuilder,
    filter: Option<BloomFilterBuilder>,
    index: Option<IndexBuilder>,
    /// The last entry added: (key, seq), for the order check and the index.
    last: Option<(Bytes, SeqNo)>,
    summary: TableSummary,
}

impl TableBuilder {
    /// Creates the file at `path` (it must not exist).
    pub fn create(fs: &dyn Fs, path: &Path, options: TableOptions) -> Result<TableBuilder> {
        // BEGIN SOLUTION todo(fs, path, options): create the file and an empty builder — book §3.4, task 5
        let filter = match options.bloom_bits_per_key {
            0 => None,
            bits => Some(BloomFilterBuilder::new(bits)),
        };
        Ok(TableBuilder {
            file: fs.create(path)?,
            options,
            block: BlockBuilder::new(),
            filter,
            index: options.index.then(IndexBuilder::new),
            last: None,
            summary: TableSummary::default(),
        })
        // END SOLUTION
    }

    /// Adds `entry`, which must come after every entry added before it in
    /// internal order (key ascending, then sequence number descending);
    /// otherwise [`Error::InvalidArgument`].
    pub fn add(&mut self, entry: &Entry) -> Result<()> {
        self.check_order(entry)?;
        if let Some(filter) = &mut self.filter {
            filter.add_key(&entry.key);
        }
        self.block.add(entry);
        self.last = Some((entry.key.clone(), entry.seq));
        self.summary.entry_count += 1;
        let first = self.summary.key_range.take().map(|(first, _)| first);
        let first = first.unwrap_or_else(|| entry.key.clone());
        self.summary.key_range = Some((first, entry.key.clone()));
        if self.block.size_bytes() >= self.options.block_size_bytes {
            self.flush_block()?;
        }
        Ok(())
    }

    fn check_order(&self, entry: &Entry) -> Result<()> {
        if let Some((key, seq)) = &self.last {
            let ordered = (key.as_ref(), std::cmp::Reverse(*seq))
                < (entry.key.as_ref(), std::cmp::Reverse(entry.seq));
            if !ordered {
                return Err(Error::InvalidArgument(format!(
                    "entries must be added in internal order: {:?}@{} after {key:?}@{seq}",
                    entry.key, entry.seq
                )));
            }
        }
        Ok(())
    }

    /// Writes the current data block, if any, and tells the index where it
    /// went and which entry it ends with.
    fn flush_block(&mut self) -> Result<()> {
        if self.block.is_empty() {
            return Ok(());
        }
        let payload = self.block.finish();
        let handle = self.write_block(&payload)?;
        self.summary.block_count += 1;
        if let (Some(index), Some((key, seq))) = (&mut self.index, &self.last) {
            index.add_block(key, *seq, handle);
        }
        Ok(())
    }

    // ANCHOR: ch03_write_block
    /// Frames `payload`, appends it to the file and returns its handle.
    fn write_block(&mut self, payload: &[u8]) -> Result<BlockHandle> {
        // BEGIN SOLUTION todo(payload): frame, append, and say where it went — book §3.4, task 5
        let offset = self.file.len();
        let framed = frame(payload, offset);
        self.file.append(&framed)?;
        Ok(BlockHandle {
            offset,
            len: framed.len() as u64,
        })
        // END SOLUTION
    }
    // ANCHOR_END: ch03_write_block

    /// Writes the last data block, the filter and index blocks (if the
    /// options ask for them) and the footer, then syncs the file. Making
    /// the file's *name* durable (a directory sync) is the caller's job.
    pub fn finish(mut self) -> Result<TableSummary> {
        self.flush_block()?;
        let data_len = self.file.len();
        let filter = match self.filter.take() {
            Some(filter) => self.write_block(&filter.finish())?,
            None => BlockHandle::NONE,
        };
        let index = match self.index.take() {
            Some(index) => self.write_block(&index.finish())?,
            None => BlockHandle::NONE,
        };
        let footer = Footer {
            data_len,
            block_count: self.summary.block_count,
            entry_count: self.summary.entry_count,
            filter,
            index,
            table_len: self.file.len() + FOOTER_LEN_BYTES as u64,
        };
        self.file.append(&footer.encode())?;
        self.file.sync()?;
        self.summary.file_len = self.file.len();
        Ok(self.summary)
    }
}

/// Builds a table at `path` from `entries` (in internal order), e.g. a
/// memtable's `iter()`: this is how a memtable is flushed.
pub fn write_table(
    fs: &dyn Fs,
    path: &Path,
    options: TableOptions,
    entries: impl IntoIterator<Item = Entry>,
) -> Result<TableSummary> {
    let mut builder = TableBuilder::create(fs, path, options)?;
    for entry in entries {
        builder.add(&entry)?;
    }
    builder.finish()
}

/// An open table. Cheap lookups need nothing but the file handle, the
/// footer, and (chapters 4, 5) the filter and the index, all read at open.
#[derive(Debug)]
pub struct Table {
    file: Box<dyn ReadableFile>,
    footer: Footer,
    filter: Option<BloomFilter>,
    index: Option<SparseIndex>,
    /// Chapter 10's block cache, and this open table's key in it.
    cache: Option<(Arc<dyn BlockCache>, u64)>,
}

/// Where a data block is cached: the open table it belongs to and its
/// offset. `table` is drawn from a process-wide counter each time a table
/// is opened with a cache, so no two open tables — of one database or of
/// several sharing a cache, before or after a file is replaced — ever
/// share a key: a cache cannot serve a block of a table that is gone.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct BlockKey {
    /// The open table's number in the cache (not its file number).
    pub table: u64,
    /// The block's offset in the table.
    pub offset: u64,
}

/// What a block cache has done, as its [`BlockCache::stats`] reports it.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct CacheStats {
    /// Lookups that found their block.
    pub hits: u64,
    /// Lookups that did not.
    pub misses: u64,
    /// Blocks inserted.
    pub inserts: u64,
    /// Blocks evicted to make room.
    pub evictions: u64,
    /// Bytes the cached blocks are charged for now (never above the
    /// capacity).
    pub bytes: u64,
    /// The capacity in bytes.
    pub capacity_bytes: u64,
}

/// A shared, size-bounded cache of decoded data blocks (chapter 10 writes
/// one). Blocks are cheap to clone (they share one buffer).
pub trait BlockCache: Send + Sync + fmt::Debug {
    /// The cached block under `key`, if there is one; counts a hit or a
    /// miss.
    fn get(&self, key: BlockKey) -> Option<Block>;
    /// Caches `block` under `key`, charged `charge_bytes` against the
    /// capacity, evicting others as needed so that the cache never holds
    /// more than its capacity. A block charged more than the capacity is
    /// not cached.
    fn insert(&self, key: BlockKey, block: Block, charge_bytes: usize);
    /// Counts and sizes, read now.
    fn stats(&self) -> CacheStats;
}

/// What a cached block costs on top of its framed bytes: its handle in
/// the cache, the key, the bookkeeping of a policy (an estimate).
pub const BLOCK_CHARGE_OVERHEAD_BYTES: usize = 64;

thread_local! {
    /// `false` while this thread runs [`without_filling_cache`].
    static FILL_CACHE: Cell<bool> = const { Cell::new(true) };
}

/// Runs `work` with block reads on this thread looking blocks up in the
/// cache but not inserting the ones they read from a file: compaction
/// reads every block of its inputs once, and caching them would push out
/// the blocks readers come back to (RocksDB's `fill_cache = false`).
pub fn without_filling_cache<T>(work: impl FnOnce() -> T) -> T {
    struct Restore(bool);
    impl Drop for Restore {
        fn drop(&mut self) {
            FILL_CACHE.set(self.0);
        }
    }
    let _restore = Restore(FILL_CACHE.replace(false));
    work()
}

/// The next open table's [`BlockKey::table`].
static NEXT_CACHED_TABLE: AtomicU64 = AtomicU64::new(1);

impl Table {
    // ANCHOR: ch03_open
    /// Opens the table at `path`: reads and validates the footer, then the
    /// filter and index blocks if the footer has them. A file too short for
    /// a footer, or with any damage in these parts, is
    /// [`Error::Corruption`].
    pub fn open(fs: &dyn Fs, path: &Path) -> Result<Table> {
        let file = fs.open(path)?;
        let footer = read_footer(file.as_ref())?;
        let filter = read_meta_block(file.as_ref(), footer.filter, BloomFilter::decode)?;
        let index = read_meta_block(file.as_ref(), footer.index, |payload| {
            SparseIndex::decode(payload, &footer)
        })?;
        Ok(Table {
            file,
            footer,
            filter,
            index,
            cache: None,
        })
    }
    // ANCHOR_END: ch03_open

    /// This table, reading its data blocks through `cache` (chapter 10),
    /// under a [`BlockKey::table`] no other open table has.
    pub fn with_cache(mut self, cache: Arc<dyn BlockCache>) -> Table {
        let id = NEXT_CACHED_TABLE.fetch_add(1, Ordering::Relaxed);
        self.cache = Some((cache, id));
        self
    }

    /// The footer.
    pub fn footer(&self) -> &Footer {
        &self.footer
    }

    /// The bloom filter, if the table has one (chapter 4).
    pub fn filter(&self) -> Option<&BloomFilter> {
        self.filter.as_ref()
    }

    /// The sparse index, if the table has one (chapter 5).
    pub fn index(&self) -> Option<&SparseIndex> {
        self.index.as_ref()
    }

    /// The file this table reads from.
    pub fn path(&self) -> &Path {
        self.file.path()
    }

    /// The data block at `handle`: from the block cache if the table has
    /// one (chapter 10) and it holds the block, otherwise read from the
    /// file ([`load_block`](Self::load_block)) and then cached.
    pub fn read_block(&self, handle: BlockHandle) -> Result<Block> {
        let Some((cache, table)) = &self.cache else {
            return self.load_block(handle);
        };
        let key = BlockKey {
            table: *table,
            offset: handle.offset,
        };
        if let Some(block) = cache.get(key) {
            return Ok(block);
        }
        let block = self.load_block(handle)?;
        if FILL_CACHE.get() {
            let charge = usize::try_from(handle.len).unwrap_or(usize::MAX);
            let charge = charge.saturating_add(BLOCK_CHARGE_OVERHEAD_BYTES);
            cache.insert(key, block.clone(), charge);
        }
        Ok(block)
    }

    /// Reads the data block at `handle` from the file with one read, checks
    /// its frame (for this offset) and decodes its offsets array.
    pub fn load_block(&self, handle: BlockHandle) -> Result<Block> {
        // BEGIN SOLUTION todo(handle): read, unframe and decode one block — book §3.4, task 6
        let payload = read_framed(self.file.as_ref(), handle)?;
        Block::decode(payload).map_err(|e| corruption(self.file.as_ref(), handle.offset, e))
        // END SOLUTION
    }

    // ANCHOR: ch03_get
    /// The newest version of `key` at or below `seq` in this table:
    /// `Some(Value::Delete)` for a tombstone, `None` if the table has no
    /// such version. Consults the filter (chapter 4) and the index
    /// (chapter 5) when the table has them; otherwise scans.
    pub fn get(&self, key: &[u8], seq: SeqNo) -> Result<Option<Value>> {
        if let Some(filter) = &self.filter
            && !filter.may_contain(key)
        {
            return Ok(None);
        }
        self.get_unfiltered(key, seq)
    }
    // ANCHOR_END: ch03_get

    /// [`get`](Self::get) for a key whose
    /// [`bloom_hash`](crate::ch04_bloom::bloom_hash) is `hash`
    /// (chapter 4): a read that asks several tables (the engine's `get`,
    /// chapter 7) hashes its key once, not once per table.
    pub fn get_hashed(&self, key: &[u8], hash: u64, seq: SeqNo) -> Result<Option<Value>> {
        if let Some(filter) = &self.filter
            && !filter.may_contain_hash(hash)
        {
            return Ok(None);
        }
        self.get_unfiltered(key, seq)
    }

    /// [`get`](Self::get) past the filter: with the index if the table has
    /// one, otherwise by scanning.
    fn get_unfiltered(&self, key: &[u8], seq: SeqNo) -> Result<Option<Value>> {
        match &self.index {
            Some(index) => crate::ch05_index::get_indexed(self, index, key, seq),
            None => self.get_by_scan(key, seq),
        }
    }

    // ANCHOR: ch03_get_by_scan
    /// [`get`](Self::get) without filter or index: reads the data blocks
    /// in order and stops at the first entry at or after (`key`, `seq`).
    pub fn get_by_scan(&self, key: &[u8], seq: SeqNo) -> Result<Option<Value>> {
        // BEGIN SOLUTION todo(key, seq): scan the blocks in order for the newest visible version — book §3.4, task 6
        let mut offset = 0;
        while offset < self.footer.data_len {
            let (block, next) = self.read_block_at(offset)?;
            let found = block
                .find(key, seq)
                .map_err(|e| corruption(self.file.as_ref(), offset, e))?;
            if let Some(entry) = found {
                return Ok((entry.key.as_ref() == key).then_some(entry.value));
            }
            offset = next;
        }
        Ok(None)
        // END SOLUTION
    }
    // ANCHOR_END: ch03_get_by_scan

    /// Every entry, in internal order.
    pub fn iter(&self) -> TableIter<'_> {
        TableIter::new(self, 0, Bytes::new())
    }

    /// The entries from the first one whose key is `key` or greater, in
    /// internal order. With an index (chapter 5) it starts at the right
    /// block; without, it reads from the first block and skips.
    pub fn seek(&self, key: &[u8]) -> TableIter<'_> {
        let start = match &self.index {
            Some(index) => index.seek_offset(key, SEQ_MAX, &self.footer),
            None => 0,
        };
        TableIter::new(self, start, Bytes::copy_from_slice(key))
    }

    /// Reads the data block that starts at `offset` (found by walking the
    /// data region, so its length comes from its own header) and returns it
    /// with the offset of the next block.
    pub fn read_block_at(&self, offset: u64) -> Result<(Block, u64)> {
        // BEGIN SOLUTION todo(offset): read the header, check the length, read the block — book §3.4, task 6
        let header_end = offset.saturating_add(BLOCK_HEADER_LEN_BYTES as u64);
        if header_end > self.footer.data_len {
            let detail = format!(
                "no room for a block header before data_len {}",
                self.footer.data_len
            );
            return Err(corruption(self.file.as_ref(), offset, detail));
        }
        let mut header = [0; BLOCK_HEADER_LEN_BYTES];
        self.file.read_exact_at(&mut header, offset)?;
        let len = u64::from(u32::from_le_bytes([
            header[0], header[1], header[2], header[3],
        ]));
        let handle = BlockHandle {
            offset,
            len: BLOCK_HEADER_LEN_BYTES as u64 + len,
        };
        if handle.end() > self.footer.data_len || len as usize > BLOCK_PAYLOAD_LEN_MAX_BYTES {
            let detail = format!(
                "block length {len} runs past the data region ({})",
                self.footer.data_len
            );
            return Err(corruption(self.file.as_ref(), offset, detail));
        }
        Ok((self.read_block(handle)?, handle.end()))
        // END SOLUTION
    }
}

// ANCHOR: ch03_read_footer
/// Reads and validates the footer: the last [`FOOTER_LEN_BYTES`] of the
/// file. A file too short to hold one is [`Error::Corruption`] at offset 0,
/// a footer that fails [`Footer::decode`] (e.g. one whose `table_len` is
/// not the file's length) is Corruption at the footer's offset.
fn read_footer(file: &dyn ReadableFile) -> Result<Footer> {
    // BEGIN SOLUTION todo(file): read the last 80 bytes and decode them — book §3.4, task 6
    let file_len = file.len();
    let footer_len = FOOTER_LEN_BYTES as u64;
    if file_len < footer_len {
        let detail = format!("file is {file_len} bytes, too short for a {footer_len}-byte footer");
        return Err(corruption(file, 0, detail));
    }
    let offset = file_len - footer_len;
    let mut bytes = [0; FOOTER_LEN_BYTES];
    file.read_exact_at(&mut bytes, offset)?;
    Footer::decode(&bytes, file_len).map_err(|e| corruption(file, offset, e))
    // END SOLUTION
}
// ANCHOR_END: ch03_read_footer

/// Reads the framed block at `handle` with one read and returns its
/// checked payload (sharing the read buffer).
fn read_framed(file: &dyn ReadableFile, handle: BlockHandle) -> Result<Bytes> {
    // BEGIN SOLUTION todo(file, handle): check the handle, read it in one call, unframe — book §3.4, task 6
    let len = usize::try_from(handle.len)
        .ok()
        .filter(|&len| len <= BLOCK_HEADER_LEN_BYTES + BLOCK_PAYLOAD_LEN_MAX_BYTES)
        .filter(|_| handle.end() <= file.len())
        .ok_or_else(|| {
            let detail = format!("block length {} is implausible", handle.len);
            corruption(file, handle.offset, detail)
        })?;
    let mut framed = vec![0; len];
    file.read_exact_at(&mut framed, handle.offset)?;
    let payload =
        unframe(&framed, handle.offset).map_err(|e| corruption(file, handle.offset, e))?;
    let start = framed.len() - payload.len();
    Ok(Bytes::from(framed).slice(start..))
    // END SOLUTION
}

/// Reads and decodes an optional block (the filter or the index): `None`
/// if the footer says the table has none.
fn read_meta_block<T>(
    file: &dyn ReadableFile,
    handle: BlockHandle,
    decode: impl FnOnce(&[u8]) -> Result<T, String>,
) -> Result<Option<T>> {
    if handle.is_none() {
        return Ok(None);
    }
    let payload = read_framed(file, handle)?;
    decode(&payload)
        .map(Some)
        .map_err(|e| corruption(file, handle.offset, e))
}

/// A [`Error::Corruption`] in `file` at `offset`.
fn corruption(file: &dyn ReadableFile, offset: u64, detail: String) -> Error {
    Error::corruption(file.path(), offset, detail)
}

/// An iterator over a table's entries in internal order, from a starting
/// block, skipping entries whose key is below a lower bound. Yields an
/// error (once, then ends) if a block it reads is damaged.
#[derive(Debug)]
pub struct TableIter<'a> {
    // BEGIN SOLUTION hide: the state your iterator needs (the table, where to read next, the lower bound, the current block…) — book §3.4, task 7
    // STARTER: _table: std::marker::PhantomData<&'a Table>,
    table: &'a Table,
    /// Offset of the next block to read.
    next_offset: u64,
    /// Entries with a key below this are skipped.
    lower: Bytes,
    /// The current block's entries, and where the block starts (for errors).
    block: BlockIter,
    block_offset: u64,
    done: bool,
    // END SOLUTION
}

impl<'a> TableIter<'a> {
    fn new(table: &'a Table, next_offset: u64, lower: Bytes) -> Self {
        // BEGIN SOLUTION todo(table, next_offset, lower): start before the first block to read — book §3.4, task 7
        TableIter {
            table,
            next_offset,
            lower,
            block: Block::default().iter(),
            block_offset: 0,
            done: false,
        }
        // END SOLUTION
    }
}

impl Iterator for TableIter<'_> {
    type Item = Result<Entry>;

    // ANCHOR: ch03_iter_next
    fn next(&mut self) -> Option<Result<Entry>> {
        // BEGIN SOLUTION todo(): yield the next entry at or above the lower bound, reading blocks as needed — book §3.4, task 7
        loop {
            if self.done {
                return None;
            }
            match self.block.next() {
                Some(Ok(entry)) if entry.key < self.lower => continue,
                Some(Ok(entry)) => return Some(Ok(entry)),
                Some(Err(detail)) => {
                    self.done = true;
                    let file = self.table.file.as_ref();
                    return Some(Err(corruption(file, self.block_offset, detail)));
                }
                None => {}
            }
            if self.next_offset >= self.table.footer.data_len {
                self.done = true;
                return None;
            }
            match self.table.read_block_at(self.next_offset) {
                Ok((block, next)) => {
                    self.block = block.iter();
                    self.block_offset = self.next_offset;
                    self.next_offset = next;
                }
                Err(error) => {
                    self.done = true;
                    return Some(Err(error));
                }
            }
        }
        // END SOLUTION
    }
    // ANCHOR_END: ch03_iter_next
}
