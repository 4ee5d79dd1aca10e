//! Shared key and value types (provided).
//!
//! Every write in the engine carries a **sequence number**: a counter that
//! grows by one per operation. Two writes to the same key are told apart, and
//! ordered, by it; a reader at sequence number `s` sees exactly the writes
//! numbered `s` or less. Chapters 1 and 2 already store it, so that later
//! chapters (snapshots, write batches) never force you to rewrite them.
//!
//! An [`Entry`] is one *version* of one key. Internally the engine orders
//! entries by key ascending, then by sequence number **descending**, so the
//! newest version of a key is the first one a reader meets:
//!
//! ```text
//! ("apple", 7, Put "red")     <- newest "apple"
//! ("apple", 3, Delete)
//! ("apple", 1, Put "green")   <- oldest "apple"
//! ("banana", 5, Put "yellow")
//! ```

use bytes::Bytes;

/// A sequence number: the position of a write in the history of the engine.
pub type SeqNo = u64;

/// The largest sequence number; a read at `SEQ_MAX` sees every write.
pub const SEQ_MAX: SeqNo = u64::MAX;

/// What a version of a key says: a value, or that the key was deleted.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum Value {
    /// The key holds these bytes.
    Put(Bytes),
    /// A **tombstone**: the key was deleted. It must hide every older version.
    Delete,
}

impl Value {
    /// The bytes of a [`Value::Put`], `None` for a tombstone.
    pub fn as_put(&self) -> Option<&Bytes> {
        match self {
            Value::Put(bytes) => Some(bytes),
            Value::Delete => None,
        }
    }

    /// `true` for a tombstone.
    pub fn is_delete(&self) -> bool {
        matches!(self, Value::Delete)
    }
}

/// One version of one key: the unit that memtables, logs and tables store.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct Entry {
    /// The user's key.
    pub key: Bytes,
    /// The sequence number of the write that produced this version.
    pub seq: SeqNo,
    /// The value, or a tombstone.
    pub value: Value,
}

/// One operation of a [`WriteBatch`].
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum Op {
    /// Set `key` to `value`.
    Put {
        /// The key.
        key: Bytes,
        /// The value.
        value: Bytes,
    },
    /// Delete `key`.
    Delete {
        /// The key.
        key: Bytes,
    },
}

impl Op {
    /// The key this operation writes.
    pub fn key(&self) -> &Bytes {
        match self {
            Op::Put { key, .. } | Op::Delete { key } => key,
        }
    }

    /// The version this operation produces when it is given sequence number `seq`.
    pub fn to_entry(&self, seq: SeqNo) -> Entry {
        match self {
            Op::Put { key, value } => Entry {
                key: key.clone(),
                seq,
                value: Value::Put(value.clone()),
            },
            Op::Delete { key } => Entry {
                key: key.clone(),
                seq,
                value: Value::Delete,
            },
        }
    }
}

/// An ordered group of operations that is logged, and recovered, as one unit:
/// after a crash either all of its operations are there or none is.
///
/// The batch's first operation gets sequence number `seq`, the next `seq + 1`,
/// and so on. A batch is *valid* only if all of them lie below [`SEQ_MAX`]
/// (which is reserved for reads), that is if [`seq_end`](Self::seq_end)
/// is `Some`; the log refuses any other batch.
#[derive(Clone, Debug, Default, PartialEq, Eq, Hash)]
pub struct WriteBatch {
    /// The sequence number of the first operation.
    pub seq: SeqNo,
    /// The operations, in order.
    pub ops: Vec<Op>,
}

impl WriteBatch {
    /// An empty batch whose first operation will get sequence number `seq`.
    pub fn new(seq: SeqNo) -> Self {
        WriteBatch {
            seq,
            ops: Vec::new(),
        }
    }

    /// Adds a put; returns `self` so calls chain.
    pub fn put(mut self, key: impl Into<Bytes>, value: impl Into<Bytes>) -> Self {
        self.ops.push(Op::Put {
            key: key.into(),
            value: value.into(),
        });
        self
    }

    /// Adds a delete; returns `self` so calls chain.
    pub fn delete(mut self, key: impl Into<Bytes>) -> Self {
        self.ops.push(Op::Delete { key: key.into() });
        self
    }

    /// The versions this batch produces, each with its own sequence number.
    /// Saturates at [`SEQ_MAX`] rather than overflow for an invalid batch.
    pub fn entries(&self) -> impl Iterator<Item = Entry> + '_ {
        (0u64..)
            .zip(&self.ops)
            .map(|(index, op)| op.to_entry(self.seq.saturating_add(index)))
    }

    /// The sequence number of the last operation, `None` for an empty batch
    /// (or an invalid one whose numbers overflow).
    pub fn last_seq(&self) -> Option<SeqNo> {
        let count = u64::try_from(self.ops.len()).ok()?;
        count
            .checked_sub(1)
            .and_then(|last| self.seq.checked_add(last))
    }

    /// The first sequence number after this batch: `seq + ops.len()`.
    /// `None` if that passes [`SEQ_MAX`], which makes the batch invalid
    /// (its last operation would need [`SEQ_MAX`] or more).
    pub fn seq_end(&self) -> Option<SeqNo> {
        u64::try_from(self.ops.len())
            .ok()
            .and_then(|count| self.seq.checked_add(count))
    }
}

/// A version's place in internal order: a user key and a sequence number.
/// Ordered by key ascending, then sequence number **descending**, so the
/// newest version of a key sorts first (see the module docs). Tables record
/// their smallest and largest internal key in the manifest (chapter 6).
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct InternalKey {
    /// The user's key.
    pub key: Bytes,
    /// The sequence number of the version.
    pub seq: SeqNo,
}

impl InternalKey {
    /// The internal key of `key` at `seq`.
    pub fn new(key: impl Into<Bytes>, seq: SeqNo) -> Self {
        InternalKey {
            key: key.into(),
            seq,
        }
    }
}

impl Ord for InternalKey {
    fn cmp(&self, other: &Self) -> std::cmp::Ordering {
        self.key
            .cmp(&other.key)
            .then_with(|| other.seq.cmp(&self.seq))
    }
}

impl PartialOrd for InternalKey {
    fn partial_cmp(&self, other: &Self) -> Option<std::cmp::Ordering> {
        Some(self.cmp(other))
    }
}
