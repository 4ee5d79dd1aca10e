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
// BEGIN SOLUTION hide
use bytes::Bytes;
// END SOLUTION

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
    // ANCHOR: ch06_edit_encode
    /// The edit's bytes, as drawn in the module docs. The caller keeps
    /// levels below [`LEVEL_COUNT`] and keys under 4 GiB.
    pub fn encode(&self) -> Vec<u8> {
        // BEGIN SOLUTION todo(): counters, then removals, then additions, each tagged — book §6.4, task 1
        let mut out = Vec::new();
        for (tag, counter) in [
            (TAG_LOG_NUMBER, self.log_number),
            (TAG_NEXT_FILE, self.next_file_number),
            (TAG_LAST_SEQ, self.last_seq),
        ] {
            if let Some(value) = counter {
                out.push(tag);
                out.extend_from_slice(&value.to_le_bytes());
            }
        }
        for &(level, file_number) in &self.removed {
            out.push(TAG_REMOVE);
            out.push(level_byte(level));
            out.extend_from_slice(&file_number.to_le_bytes());
        }
        for (level, table) in &self.added {
            out.push(TAG_ADD);
            out.push(level_byte(*level));
            out.extend_from_slice(&table.file_number.to_le_bytes());
            out.extend_from_slice(&table.size_bytes.to_le_bytes());
            put_internal_key(&mut out, &table.smallest);
            put_internal_key(&mut out, &table.largest);
        }
        out
        // END SOLUTION
    }
    // ANCHOR_END: ch06_edit_encode

    // ANCHOR: ch06_edit_decode
    /// Decodes an edit. Trust boundary: the bytes passed a record checksum,
    /// but every field is checked: an unknown tag, a counter given twice, a
    /// truncated field or a key length past the end is an `Err` saying what
    /// and at which byte of the edit (the manifest adds file and offset).
    /// Levels are not checked here: [`Version::apply`](super::Version::apply) refuses bad ones.
    pub fn decode(bytes: &[u8]) -> Result<VersionEdit, String> {
        // BEGIN SOLUTION todo(bytes): read tagged fields until the end, checking each — book §6.4, task 1
        let mut reader = Reader { bytes, at: 0 };
        let mut edit = VersionEdit::default();
        while !reader.is_empty() {
            let field_at = reader.at;
            let [tag] = reader.array("tag")?;
            let counter = match tag {
                TAG_LOG_NUMBER => &mut edit.log_number,
                TAG_NEXT_FILE => &mut edit.next_file_number,
                TAG_LAST_SEQ => &mut edit.last_seq,
                TAG_REMOVE => {
                    let [level] = reader.array("level")?;
                    let file_number = reader.u64("file number")?;
                    edit.removed.push((usize::from(level), file_number));
                    continue;
                }
                TAG_ADD => {
                    let [level] = reader.array("level")?;
                    let table = TableMeta {
                        file_number: reader.u64("file number")?,
                        size_bytes: reader.u64("size")?,
                        smallest: reader.internal_key("smallest key")?,
                        largest: reader.internal_key("largest key")?,
                    };
                    edit.added.push((usize::from(level), table));
                    continue;
                }
                other => return Err(format!("byte {field_at}: unknown tag {other}")),
            };
            if counter.is_some() {
                return Err(format!("byte {field_at}: tag {tag} appears twice"));
            }
            *counter = Some(reader.u64("counter")?);
        }
        Ok(edit)
        // END SOLUTION
    }
    // ANCHOR_END: ch06_edit_decode
}

// BEGIN SOLUTION hide
fn level_byte(level: usize) -> u8 {
    u8::try_from(level).unwrap_or(u8::MAX)
}

fn put_internal_key(out: &mut Vec<u8>, key: &InternalKey) {
    let len = u32::try_from(key.key.len()).unwrap_or(u32::MAX);
    out.extend_from_slice(&len.to_le_bytes());
    out.extend_from_slice(&key.key);
    out.extend_from_slice(&key.seq.to_le_bytes());
}

/// A cursor over untrusted bytes that never reads past their end and
/// knows where it is, for messages.
struct Reader<'a> {
    bytes: &'a [u8],
    at: usize,
}

impl Reader<'_> {
    fn is_empty(&self) -> bool {
        self.bytes.is_empty()
    }

    fn take(&mut self, len: usize, what: &str) -> Result<&[u8], String> {
        if len > self.bytes.len() {
            return Err(format!(
                "byte {}: {what} needs {len} bytes, {} left",
                self.at,
                self.bytes.len()
            ));
        }
        let (head, rest) = self.bytes.split_at(len);
        self.bytes = rest;
        self.at += len;
        Ok(head)
    }

    fn array<const N: usize>(&mut self, what: &str) -> Result<[u8; N], String> {
        let mut array = [0; N];
        array.copy_from_slice(self.take(N, what)?);
        Ok(array)
    }

    fn u64(&mut self, what: &str) -> Result<u64, String> {
        self.array(what).map(u64::from_le_bytes)
    }

    fn internal_key(&mut self, what: &str) -> Result<InternalKey, String> {
        let len = u32::from_le_bytes(self.array(what)?) as usize;
        let key = Bytes::copy_from_slice(self.take(len, what)?);
        Ok(InternalKey {
            key,
            seq: self.u64(what)?,
        })
    }
}
// END SOLUTION
