//! Version edits: what one flush or compaction changes, and their encoding.
//!
//! An edit is a sequence of tagged fields. Counters appear at most once;
//! removals and additions any number of times:
//!
//! ```text
//!  field := tag u8 | body
//!
//!  tag  name         body
//!   1   log_number   u64 LE   the oldest log still needed
//!   2   next_file    u64 LE   the next file number to hand out
//!   3   last_seq     u64 LE   the last sequence number in any table
//!   4   remove       level u8 | file_number u64 LE
//!   5   add          level u8 | file_number u64 LE | size u64 LE
//!                    | smallest | largest
//!
//!  smallest, largest (internal keys) := key_len u32 LE | key | seq u64 LE
//! ```
//!
//! Fields are written in the order above (counters, removals, additions);
//! decode accepts them in any order but refuses a counter twice, an unknown
//! tag, a truncated field and a key length past the end.

use crate::types::{InternalKey, SeqNo};

/// Tag of the `log_number` field.
pub const TAG_LOG_NUMBER: u8 = 1;
/// Tag of the `next_file` field.
pub const TAG_NEXT_FILE: u8 = 2;
/// Tag of the `last_seq` field.
pub const TAG_LAST_SEQ: u8 = 3;
/// Tag of a `remove` field.
pub const TAG_REMOVE: u8 = 4;
/// Tag of an `add` field.
pub const TAG_ADD: u8 = 5;
/// The number of levels a version has: level 0 and levels 1 to 6.
pub const LEVEL_COUNT: usize = 7;

/// What the manifest records of one table.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct TableMeta {
    /// The table's file number: its file is `NNNNNN.sst`.
    pub file_number: u64,
    /// The file's size in bytes (checked when the table is opened).
    pub size_bytes: u64,
    /// The first entry's internal key.
    pub smallest: InternalKey,
    /// The last entry's internal key.
    pub largest: InternalKey,
}

/// One change to the version: tables removed, tables added, counters set.
/// Applied by [`Version::apply`](super::Version::apply): removals first,
/// then additions, so a table can move between levels in one edit.
#[derive(Clone, Debug, Default, PartialEq, Eq, Hash)]
pub struct VersionEdit {
    /// Logs numbered below this hold nothing the tables lack.
    pub log_number: Option<u64>,
    /// The next file number to hand out.
    pub next_file_number: Option<u64>,
    /// The last sequence number written to any table.
    pub last_seq: Option<SeqNo>,
    /// Tables removed: `(level, file_number)`.
    pub removed: Vec<(usize, u64)>,
    /// Tables added: `(level, table)`.
    pub added: Vec<(usize, TableMeta)>,
}

impl VersionEdit {
    /// The edit's bytes, as drawn in the module docs. The caller keeps
    /// levels below [`LEVEL_COUNT`] and keys under 4 GiB.
    pub fn encode(&self) -> Vec<u8> {
        todo!("ch06: counters, then removals, then additions, each tagged — book §6.4, task 1")
    }

    /// Decodes an edit. Trust boundary: the bytes passed a record checksum,
    /// but every field is checked: an unknown tag, a counter given twice, a
    /// truncated field or a key length past the end is an `Err` saying what
    /// and at which byte of the edit (the manifest adds file and offset).
    /// Levels are not checked here: [`Version::apply`](super::Version::apply) refuses bad ones.
    pub fn decode(bytes: &[u8]) -> Result<VersionEdit, String> {
        let _ = bytes;
        todo!("ch06: read tagged fields until the end, checking each — book §6.4, task 1")
    }
}
