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
// BEGIN SOLUTION hide
use std::cmp::Reverse;
use std::sync::atomic::{AtomicUsize, Ordering};

use crossbeam_skiplist::SkipMap;
use crossbeam_skiplist::map::Range;
// END SOLUTION

use crate::types::{Entry, SeqNo, Value};

/// Bytes charged per entry on top of its key and value: the sequence
/// number, the tag and the skip list's node and tower pointers, roughly.
pub const ENTRY_OVERHEAD_BYTES: usize = 32;

// ANCHOR: ch01_internal_key
// BEGIN SOLUTION hide: your internal key type, ordered by key ascending then sequence number descending — book §1.2
/// The skip list's key: the user key, then the sequence number *reversed*,
/// so that the derived ordering puts newer versions of a key first:
/// `("a", 9) < ("a", 3) < ("b", 7)`.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord)]
struct InternalKey {
    key: Bytes,
    seq: Reverse<SeqNo>,
}

impl InternalKey {
    fn new(key: Bytes, seq: SeqNo) -> Self {
        InternalKey {
            key,
            seq: Reverse(seq),
        }
    }
}
// END SOLUTION
// ANCHOR_END: ch01_internal_key

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
// ANCHOR: ch01_memtable_struct
#[derive(Debug)]
pub struct Memtable {
    // BEGIN SOLUTION hide: the fields your memtable needs — book §1.3, task 1
    map: SkipMap<InternalKey, Value>,
    size_bytes: AtomicUsize,
    // END SOLUTION
}
// ANCHOR_END: ch01_memtable_struct

impl Memtable {
    /// An empty memtable.
    pub fn new() -> Self {
        // BEGIN SOLUTION todo(): create an empty memtable — book §1.3, task 1
        Memtable {
            map: SkipMap::new(),
            size_bytes: AtomicUsize::new(0),
        }
        // END SOLUTION
    }

    // ANCHOR: ch01_insert
    /// Adds one version of a key. Each insert grows
    /// [`approximate_size_bytes`](Self::approximate_size_bytes) by
    /// `key.len() + value.len() + ENTRY_OVERHEAD_BYTES` (a tombstone's value
    /// length is 0).
    ///
    /// The caller gives each (key, sequence number) pair at most once.
    pub fn insert(&self, entry: Entry) {
        // BEGIN SOLUTION todo(entry): store the version and account for its size — book §1.3, task 2
        let value_len = entry.value.as_put().map_or(0, Bytes::len);
        let size = entry.key.len() + value_len + ENTRY_OVERHEAD_BYTES;
        let key = InternalKey::new(entry.key, entry.seq);
        debug_assert!(!self.map.contains_key(&key), "(key, seq) inserted twice");
        self.map.insert(key, entry.value);
        self.size_bytes.fetch_add(size, Ordering::Relaxed);
        // END SOLUTION
    }
    // ANCHOR_END: ch01_insert

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

    // ANCHOR: ch01_get
    /// The newest version of `key` whose sequence number is at most `seq`:
    /// `Some(Value::Put(..))`, `Some(Value::Delete)` if that version is a
    /// tombstone, `None` if this memtable has no such version.
    ///
    /// A tombstone is returned, not hidden, because the caller must stop
    /// looking: an older version of the key on disk is deleted too.
    pub fn get(&self, key: &[u8], seq: SeqNo) -> Option<Value> {
        // BEGIN SOLUTION todo(key, seq): find the newest version at or below `seq` — book §1.3, task 3
        // Versions of `key` visible at `seq` run from (key, seq) to (key, 0)
        // in internal order; the first of them is the newest.
        let key = Bytes::copy_from_slice(key);
        let first = InternalKey::new(key.clone(), seq);
        let last = InternalKey::new(key, 0);
        self.map
            .range(first..=last)
            .next()
            .map(|entry| entry.value().clone())
        // END SOLUTION
    }
    // ANCHOR_END: ch01_get

    // ANCHOR: ch01_range
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
        // BEGIN SOLUTION todo(range): iterate over the versions whose key lies in `range` — book §1.3, task 4
        // (key, SEQ_MAX) is the smallest internal key of `key` and (key, 0)
        // the largest, so they turn user-key bounds into internal bounds.
        let lower = match range.start_bound() {
            Bound::Included(key) => Bound::Included(internal(key, SeqNo::MAX)),
            Bound::Excluded(key) => Bound::Excluded(internal(key, 0)),
            Bound::Unbounded => Bound::Unbounded,
        };
        let upper = match range.end_bound() {
            Bound::Included(key) => Bound::Included(internal(key, 0)),
            Bound::Excluded(key) => Bound::Excluded(internal(key, SeqNo::MAX)),
            Bound::Unbounded => Bound::Unbounded,
        };
        MemtableIter {
            inner: self.map.range((lower, upper)),
        }
        // END SOLUTION
    }
    // ANCHOR_END: ch01_range

    /// Every version in the table, in internal order.
    pub fn iter(&self) -> MemtableIter<'_> {
        self.range((Bound::<&[u8]>::Unbounded, Bound::Unbounded))
    }

    /// The number of versions stored (not the number of distinct keys).
    pub fn len(&self) -> usize {
        // BEGIN SOLUTION todo(): count the versions — book §1.3, task 1
        self.map.len()
        // END SOLUTION
    }

    /// `true` if nothing was ever inserted.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The memory this table accounts for: the sum over inserts of
    /// `key.len() + value.len() + ENTRY_OVERHEAD_BYTES`. The engine freezes
    /// and flushes a memtable once this passes its budget.
    pub fn approximate_size_bytes(&self) -> usize {
        // BEGIN SOLUTION todo(): report the accounted size — book §1.3, task 2
        self.size_bytes.load(Ordering::Relaxed)
        // END SOLUTION
    }
}

// BEGIN SOLUTION hide
fn internal(key: &[u8], seq: SeqNo) -> InternalKey {
    InternalKey::new(Bytes::copy_from_slice(key), seq)
}

type SkipRange<'a> =
    Range<'a, InternalKey, (Bound<InternalKey>, Bound<InternalKey>), InternalKey, Value>;
// END SOLUTION

impl Default for Memtable {
    fn default() -> Self {
        Memtable::new()
    }
}

/// An iterator over a memtable's versions in internal order, borrowed from
/// the memtable. Writes that happen while it runs may or may not be seen.
#[derive(Debug)]
pub struct MemtableIter<'a> {
    // BEGIN SOLUTION hide: the state your iterator needs — book §1.3, task 4
    // STARTER: _memtable: std::marker::PhantomData<&'a Memtable>,
    inner: SkipRange<'a>,
    // END SOLUTION
}

impl Iterator for MemtableIter<'_> {
    type Item = Entry;

    fn next(&mut self) -> Option<Entry> {
        // BEGIN SOLUTION todo(): yield the next version as an Entry — book §1.3, task 4
        let entry = self.inner.next()?;
        Some(Entry {
            key: entry.key().key.clone(),
            seq: entry.key().seq.0,
            value: entry.value().clone(),
        })
        // END SOLUTION
    }
}
