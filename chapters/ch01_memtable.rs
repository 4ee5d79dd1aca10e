//! Chapter 1 — the memtable: the ordered, in-memory table that absorbs every
//! write before it reaches disk.
//!
//! The memtable stores *versions*: every write is an [`Entry`] carrying a
//! sequence number, and a delete is a tombstone ([`Value::Delete`]) rather
//! than a removal, because an older version of the key may still live on
//! disk and must stay hidden. Entries are ordered by key ascending, then by
//! sequence number descending, so the newest version of a key comes first.
//!
//! You write: the fields of [`Memtable`] and [`MemtableIter`],
//! [`Memtable::new`], [`Memtable::insert`], [`Memtable::get`],
//! [`Memtable::range`], [`Memtable::len`], [`Memtable::approximate_size_bytes`]
//! and [`MemtableIter::next`]. Book: "1. The memtable".
//!
//! Invariants: a (key, sequence number) pair is inserted at most once;
//! iteration is always in (key ascending, sequence number descending) order;
//! the memtable is safe to share between threads (`&self` everywhere).

use std::ops::{Bound, RangeBounds};

use bytes::Bytes;

use crate::types::{Entry, SeqNo, Value};

/// Bytes charged per entry on top of its key and value: the sequence
/// number, the tag and the skip list's node and tower pointers, roughly.
pub const ENTRY_OVERHEAD_BYTES: usize = 32;

// TODO(ch01): your internal key type, ordered by key ascending then sequence number descending — book §1.2

/// An ordered, concurrent, in-memory table of versioned entries.
///
/// ```
/// # use lsm_workbook::ch01_memtable::Memtable;
/// # use lsm_workbook::types::Value;
/// let memtable = Memtable::new();
/// memtable.put("apple".into(), 1, "green".into());
/// memtable.put("apple".into(), 2, "red".into());
/// assert_eq!(memtable.get(b"apple", 2), Some(Value::Put("red".into())));
/// assert_eq!(memtable.get(b"apple", 1), Some(Value::Put("green".into())));
/// ```
#[derive(Debug)]
pub struct Memtable {
    // TODO(ch01): the fields your memtable needs — book §1.3, task 1
}

impl Memtable {
    /// An empty memtable.
    pub fn new() -> Self {
        todo!("ch01: create an empty memtable — book §1.3, task 1")
    }

    /// Adds one version of a key. Each insert grows
    /// [`approximate_size_bytes`](Self::approximate_size_bytes) by
    /// `key.len() + value.len() + ENTRY_OVERHEAD_BYTES` (a tombstone's value
    /// length is 0).
    ///
    /// The caller gives each (key, sequence number) pair at most once.
    pub fn insert(&self, entry: Entry) {
        let _ = entry;
        todo!("ch01: store the version and account for its size — book §1.3, task 2")
    }

    /// Adds version `seq` of `key` with `value`.
    pub fn put(&self, key: Bytes, seq: SeqNo, value: Bytes) {
        self.insert(Entry {
            key,
            seq,
            value: Value::Put(value),
        });
    }

    /// Adds a tombstone for `key` at `seq`.
    pub fn delete(&self, key: Bytes, seq: SeqNo) {
        self.insert(Entry {
            key,
            seq,
            value: Value::Delete,
        });
    }

    /// The newest version of `key` whose sequence number is at most `seq`:
    /// `Some(Value::Put(..))`, `Some(Value::Delete)` if that version is a
    /// tombstone, `None` if this memtable has no such version.
    ///
    /// A tombstone is returned, not hidden, because the caller must stop
    /// looking: an older version of the key on disk is deleted too.
    pub fn get(&self, key: &[u8], seq: SeqNo) -> Option<Value> {
        let _ = (key, seq);
        todo!("ch01: find the newest version at or below `seq` — book §1.3, task 3")
    }

    /// Every version of every key within `range`, in internal order: key
    /// ascending, then sequence number descending. `range(..)` visits the
    /// whole table.
    ///
    /// ```
    /// # use lsm_workbook::ch01_memtable::Memtable;
    /// # let memtable = Memtable::new();
    /// let from_b: Vec<_> = memtable.range(b"b".as_slice()..).collect();
    /// ```
    pub fn range<'k>(&self, range: impl RangeBounds<&'k [u8]>) -> MemtableIter<'_> {
        let _ = range;
        todo!("ch01: iterate over the versions whose key lies in `range` — book §1.3, task 4")
    }

    /// Every version in the table, in internal order.
    pub fn iter(&self) -> MemtableIter<'_> {
        self.range((Bound::<&[u8]>::Unbounded, Bound::Unbounded))
    }

    /// The number of versions stored (not the number of distinct keys).
    pub fn len(&self) -> usize {
        todo!("ch01: count the versions — book §1.3, task 1")
    }

    /// `true` if nothing was ever inserted.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The memory this table accounts for: the sum over inserts of
    /// `key.len() + value.len() + ENTRY_OVERHEAD_BYTES`. The engine freezes
    /// and flushes a memtable once this passes its budget.
    pub fn approximate_size_bytes(&self) -> usize {
        todo!("ch01: report the accounted size — book §1.3, task 2")
    }
}

impl Default for Memtable {
    fn default() -> Self {
        Memtable::new()
    }
}

/// An iterator over a memtable's versions in internal order, borrowed from
/// the memtable. Writes that happen while it runs may or may not be seen.
#[derive(Debug)]
pub struct MemtableIter<'a> {
    // TODO(ch01): the state your iterator needs — book §1.3, task 4
    _memtable: std::marker::PhantomData<&'a Memtable>,
}

impl Iterator for MemtableIter<'_> {
    type Item = Entry;

    fn next(&mut self) -> Option<Entry> {
        todo!("ch01: yield the next version as an Entry — book §1.3, task 4")
    }
}
