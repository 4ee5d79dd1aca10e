//! Dumping a table: the footer, each data block, the filter and the index,
//! each decoded by the reference and each on its own, so that damage in one
//! part is reported at its offset and the rest is still shown.
//!
//! The file is read directly (not through `Table::open`, which stops at the
//! first damaged part), with the same checks as the engine: a handle must lie
//! inside the file and a frame must pass `unframe` at its own offset before
//! anything in it is decoded.

use lsm_workbook::ch03_sstable::block::{
    BLOCK_HEADER_LEN_BYTES, BLOCK_OFFSET_LEN_BYTES, BLOCK_PAYLOAD_LEN_MAX_BYTES, Block, unframe,
};
use lsm_workbook::ch03_sstable::footer::{
    FOOTER_CRC_OFFSET, FOOTER_LEN_BYTES, FOOTER_MAGIC_OFFSET, FOOTER_VERSION_OFFSET, FORMAT_VERSION,
};
use lsm_workbook::ch03_sstable::{BlockHandle, Footer};
use lsm_workbook::ch04_bloom::BloomFilter;
use lsm_workbook::ch05_index::{IndexEntry, SparseIndex};
use lsm_workbook::fs::ReadableFile;
use lsm_workbook::types::Entry;

use super::{Out, TABLE_MAGIC, damage, say, show, show_entry};

/// Prints the table read from `file`: the footer, the data blocks, then
/// the filter and the index (file order).
pub fn dump(file: Box<dyn ReadableFile>, limit: usize, out: &mut Out) {
    let raw = Raw { file };
    let Some((footer, verified)) = read_footer(&raw, out) else {
        return;
    };
    let index = (!footer.index.is_none()).then(|| {
        let payload = raw.framed(footer.index)?;
        SparseIndex::decode(&payload, &footer)
    });
    let filter = (!footer.filter.is_none()).then(|| {
        let payload = raw.framed(footer.filter)?;
        BloomFilter::decode(&payload)
    });
    let totals = match &index {
        Some(Ok(index)) => blocks_from_index(&raw, index, limit, out),
        _ => {
            let why = match (verified, &index) {
                (false, _) => "the footer is invalid, so the regions it names are unverified",
                (true, Some(_)) => "the index is damaged, see below",
                (true, None) => "the table has no index",
            };
            blocks_by_walk(&raw, &footer, why, limit, out)
        }
    };
    print_totals(&footer, verified, &totals, out);
    print_filter(&footer, verified, filter.as_ref(), out);
    print_index(&footer, verified, index.as_ref(), out);
}

/// The table file, read at offsets after a bounds check.
struct Raw {
    file: Box<dyn ReadableFile>,
}

impl Raw {
    fn len(&self) -> u64 {
        self.file.len()
    }

    /// `len` bytes at `offset`, if the file has them.
    fn read(&self, offset: u64, len: u64) -> Result<Vec<u8>, String> {
        let inside = offset.checked_add(len).is_some_and(|end| end <= self.len());
        let len = usize::try_from(len)
            .ok()
            .filter(|_| inside)
            .ok_or_else(|| {
                format!(
                    "{len} bytes at {offset} run past the end of the file ({} bytes)",
                    self.len()
                )
            })?;
        let mut buf = vec![0; len];
        self.file
            .read_exact_at(&mut buf, offset)
            .map_err(|e| e.to_string())?;
        Ok(buf)
    }

    /// The checked payload of the framed block at `handle` (its checksum
    /// covers its offset, so a moved block fails here).
    fn framed(&self, handle: BlockHandle) -> Result<Vec<u8>, String> {
        if handle.len > (BLOCK_HEADER_LEN_BYTES + BLOCK_PAYLOAD_LEN_MAX_BYTES) as u64 {
            return Err(format!("block length {} is implausible", handle.len));
        }
        let framed = self.read(handle.offset, handle.len)?;
        unframe(&framed, handle.offset).map(<[u8]>::to_vec)
    }

    /// The data block at `handle`, unframed, its offsets array checked, and
    /// every entry decoded in order.
    fn block(&self, handle: BlockHandle) -> Result<DataBlock, String> {
        let payload = self.framed(handle)?;
        let payload_len = payload.len();
        let block = Block::decode(payload.into())?;
        let entries = block.entries()?;
        Ok(DataBlock {
            entries,
            payload_len,
        })
    }

    /// The data block starting at `offset`, its length taken from its own
    /// header; it must end by `data_end`.
    fn block_at(&self, offset: u64, data_end: u64) -> Result<(DataBlock, BlockHandle), String> {
        let header_len = BLOCK_HEADER_LEN_BYTES as u64;
        if offset + header_len > data_end {
            return Err(format!(
                "no room for a block header before the data region's end ({data_end})"
            ));
        }
        let header = self.read(offset, header_len)?;
        let len = u32::from_le_bytes([header[0], header[1], header[2], header[3]]);
        let handle = BlockHandle {
            offset,
            len: header_len + u64::from(len),
        };
        if handle.end() > data_end {
            return Err(format!(
                "block length {len} runs past the data region's end ({data_end})"
            ));
        }
        Ok((self.block(handle)?, handle))
    }
}

/// A data block as the dump shows it: its entries, and its payload's
/// length (entries, offsets array, count).
struct DataBlock {
    entries: Vec<Entry>,
    payload_len: usize,
}

/// `OFFSET+LEN`, or `none` for an absent block.
fn handle(handle: BlockHandle) -> String {
    match handle.is_none() {
        true => "none".to_string(),
        false => format!("{}+{}", handle.offset, handle.len),
    }
}

/// Prints the footer's fields and checks them with `Footer::decode`: the
/// footer and `true` if it passed. A footer that fails is still returned,
/// from its raw fields, with `false`, so the dump can go on (best effort);
/// `None` if the file cannot even hold one.
fn read_footer(raw: &Raw, out: &mut Out) -> Option<(Footer, bool)> {
    let footer_len = FOOTER_LEN_BYTES as u64;
    let Some(offset) = raw.len().checked_sub(footer_len) else {
        damage!(
            out,
            "footer at 0: CORRUPTION: the file is {} bytes, too short for a {footer_len}-byte footer",
            raw.len()
        );
        return None;
    };
    let mut bytes = [0; FOOTER_LEN_BYTES];
    if let Err(e) = raw.file.read_exact_at(&mut bytes, offset) {
        damage!(out, "footer at {offset}: {e}");
        return None;
    }
    let raw_footer = print_footer(offset, &bytes, raw.len(), out);
    match Footer::decode(&bytes, raw.len()) {
        Ok(footer) => Some((footer, true)),
        Err(detail) => {
            damage!(out, "footer at {offset}: CORRUPTION: {detail}");
            say!(
                out,
                "  (the footer is invalid: its fields and the regions they name are unverified; \
                 the dump goes on with them, best effort)"
            );
            Some((raw_footer, false))
        }
    }
}

/// Prints the footer's fields as stored and returns them, unverified.
fn print_footer(
    offset: u64,
    bytes: &[u8; FOOTER_LEN_BYTES],
    file_len: u64,
    out: &mut Out,
) -> Footer {
    let word = |index: usize| {
        let mut word = [0; 8];
        word.copy_from_slice(&bytes[index * 8..index * 8 + 8]);
        u64::from_le_bytes(word)
    };
    let footer = Footer {
        data_len: word(0),
        block_count: word(1),
        entry_count: word(2),
        filter: BlockHandle {
            offset: word(3),
            len: word(4),
        },
        index: BlockHandle {
            offset: word(5),
            len: word(6),
        },
        table_len: word(7),
    };
    let u32_at =
        |at: usize| u32::from_le_bytes([bytes[at], bytes[at + 1], bytes[at + 2], bytes[at + 3]]);
    let version = u32_at(FOOTER_VERSION_OFFSET);
    let crc = u32_at(FOOTER_CRC_OFFSET);
    let magic = &bytes[FOOTER_MAGIC_OFFSET..];
    say!(
        out,
        "footer at {offset} ({FOOTER_LEN_BYTES} bytes; handles are offset+len):"
    );
    say!(out, "  data_len     {}", footer.data_len);
    say!(out, "  block_count  {}", footer.block_count);
    say!(out, "  entry_count  {}", footer.entry_count);
    say!(out, "  filter       {}", handle(footer.filter));
    say!(out, "  index        {}", handle(footer.index));
    let table_len_ok = match footer.table_len == file_len {
        true => "ok, the file's length".to_string(),
        false => format!("BAD, the file is {file_len} bytes"),
    };
    say!(out, "  table_len    {} ({table_len_ok})", footer.table_len);
    let version_ok = match version == FORMAT_VERSION {
        true => "ok".to_string(),
        false => format!("BAD, this reader knows {FORMAT_VERSION}"),
    };
    say!(out, "  version      {version} ({version_ok})");
    let computed = crc32(&bytes[..FOOTER_CRC_OFFSET]);
    let crc_ok = match crc == computed {
        true => "ok".to_string(),
        false => format!("BAD, computed {computed:#010x}"),
    };
    say!(out, "  crc          {crc:#010x} ({crc_ok})");
    let magic_ok = match magic == TABLE_MAGIC {
        true => "ok".to_string(),
        false => format!("BAD, expected {}", show(TABLE_MAGIC)),
    };
    say!(out, "  magic        {} ({magic_ok})", show(magic));
    footer
}

/// CRC-32 (IEEE, as `crc32fast` computes it), bit by bit: the footer's 68
/// bytes do not need a table, and xtask needs no dependency for them.
fn crc32(bytes: &[u8]) -> u32 {
    let mut crc = !0u32;
    for &byte in bytes {
        crc ^= u32::from(byte);
        for _ in 0..8 {
            let mask = (crc & 1).wrapping_neg();
            crc = (crc >> 1) ^ (0xEDB8_8320 & mask);
        }
    }
    !crc
}

/// What the block walk found.
#[derive(Default)]
struct Totals {
    blocks: u64,
    entries: u64,
    failed: bool,
}

/// Every data block, at the positions the index gives: a damaged block is
/// reported and the walk goes on with the next.
fn blocks_from_index(raw: &Raw, index: &SparseIndex, limit: usize, out: &mut Out) -> Totals {
    say!(out, "data blocks (positions from the index):");
    let mut totals = Totals::default();
    for (number, entry) in index.entries().iter().enumerate() {
        match raw.block(entry.handle) {
            Ok(block) => {
                print_block(number, entry.handle, &block, limit, out);
                check_last(number, entry, &block, out);
                totals.blocks += 1;
                totals.entries += block.entries.len() as u64;
            }
            Err(detail) => {
                let offset = entry.handle.offset;
                damage!(out, "block {number} at {offset}: CORRUPTION: {detail}");
                totals.failed = true;
            }
        }
    }
    totals
}

/// Every data block, walking the data region by the blocks' own headers:
/// after a damaged block the next one's position is unknown, so the walk
/// stops.
fn blocks_by_walk(raw: &Raw, footer: &Footer, why: &str, limit: usize, out: &mut Out) -> Totals {
    let data_end = footer
        .data_len
        .min(raw.len().saturating_sub(FOOTER_LEN_BYTES as u64));
    say!(
        out,
        "data blocks (walking [0, {data_end}) by block headers; {why}):"
    );
    let mut totals = Totals::default();
    let mut offset = 0;
    while offset < data_end {
        let number = totals.blocks;
        match raw.block_at(offset, data_end) {
            Ok((block, handle)) => {
                print_block(number as usize, handle, &block, limit, out);
                totals.blocks += 1;
                totals.entries += block.entries.len() as u64;
                offset = handle.end();
            }
            Err(detail) => {
                damage!(out, "block {number} at {offset}: CORRUPTION: {detail}");
                say!(
                    out,
                    "block walk stopped: without an index, the next block's position is unknown"
                );
                totals.failed = true;
                break;
            }
        }
    }
    totals
}

/// `block N at OFFSET: LEN bytes, K entries, first …, last …`, the payload's
/// layout (entries, offsets array, count), then up to `limit` entries.
fn print_block(number: usize, at: BlockHandle, block: &DataBlock, limit: usize, out: &mut Out) {
    let entries = &block.entries;
    let count = entries.len() as u64;
    let range = match (entries.first(), entries.last()) {
        (Some(first), Some(last)) => format!(
            ", first {}@{}, last {}@{}",
            show(&first.key),
            first.seq,
            show(&last.key),
            last.seq
        ),
        _ => String::new(),
    };
    say!(
        out,
        "block {number} at {}: {} bytes, {count} entr{}{range}",
        at.offset,
        at.len,
        if count == 1 { "y" } else { "ies" }
    );
    let offsets_len = BLOCK_OFFSET_LEN_BYTES * entries.len();
    let entries_len = block
        .payload_len
        .saturating_sub(offsets_len + BLOCK_OFFSET_LEN_BYTES);
    say!(
        out,
        "  payload {} bytes: entries {entries_len}, offsets array {count} x {BLOCK_OFFSET_LEN_BYTES} \
         at +{entries_len}, count at +{}",
        block.payload_len,
        entries_len + offsets_len
    );
    for entry in entries.iter().take(limit) {
        say!(out, "    {}", show_entry(entry));
    }
    if entries.len() > limit && limit > 0 {
        say!(out, "    … {} more", entries.len() - limit);
    }
}

/// The index's last key for a block must be the block's last entry: lookups
/// rely on it.
fn check_last(number: usize, entry: &IndexEntry, block: &DataBlock, out: &mut Out) {
    let last = block.entries.last().map(|last| (&last.key, last.seq));
    if last != Some((&entry.last_key, entry.last_seq)) {
        let ends = match last {
            Some((key, seq)) => format!("{}@{seq}", show(key)),
            None => "no entry".to_string(),
        };
        damage!(
            out,
            "block {number} at {}: INCONSISTENT: the index says it ends with {}@{}, it ends with {ends}",
            entry.handle.offset,
            show(&entry.last_key),
            entry.last_seq
        );
    }
}

/// Blocks and entries read, against the footer's counts (checked only if
/// the footer is `verified` and every block was read).
fn print_totals(footer: &Footer, verified: bool, totals: &Totals, out: &mut Out) {
    say!(
        out,
        "data blocks read: {} of {}, {} of {} entries",
        totals.blocks,
        footer.block_count,
        totals.entries,
        footer.entry_count
    );
    let counts_differ = totals.blocks != footer.block_count || totals.entries != footer.entry_count;
    if counts_differ && verified && !totals.failed {
        damage!(
            out,
            "data blocks: INCONSISTENT: every block decoded, but the footer's counts differ"
        );
    }
}

/// A region named by the footer could not be read. With a valid footer,
/// that is damage; with an invalid one, the region may not even exist (the
/// footer's damage is already reported).
fn unreadable(what: &str, at: BlockHandle, verified: bool, detail: &str, out: &mut Out) {
    match verified {
        true => damage!(out, "{what} at {}: CORRUPTION: {detail}", at.offset),
        false => say!(
            out,
            "{what} at {} (named by the invalid footer, unverified): unreadable: {detail}",
            at.offset
        ),
    }
}

/// The index entries: `N: last KEY@SEQ → OFFSET+LEN`.
fn print_index(
    footer: &Footer,
    verified: bool,
    index: Option<&Result<SparseIndex, String>>,
    out: &mut Out,
) {
    let at = footer.index;
    match index {
        None => say!(out, "index: none"),
        Some(Err(detail)) => unreadable("index", at, verified, detail, out),
        Some(Ok(index)) => {
            let count = index.entries().len();
            let entries = if count == 1 { "entry" } else { "entries" };
            say!(
                out,
                "index at {}: {} bytes, {count} {entries}",
                at.offset,
                at.len
            );
            for (number, entry) in index.entries().iter().enumerate() {
                say!(
                    out,
                    "  {number}: last {}@{} → {}",
                    show(&entry.last_key),
                    entry.last_seq,
                    handle(entry.handle)
                );
            }
        }
    }
}

/// The filter's parameters and its expected false-positive rate.
fn print_filter(
    footer: &Footer,
    verified: bool,
    filter: Option<&Result<BloomFilter, String>>,
    out: &mut Out,
) {
    let at = footer.filter;
    match filter {
        None => say!(out, "filter: none"),
        Some(Err(detail)) => unreadable("filter", at, verified, detail, out),
        Some(Ok(filter)) => {
            let line = filter_line(filter);
            say!(out, "filter at {}: {} bytes, {line}", at.offset, at.len);
        }
    }
}

/// `probes P, bits B, keys K, bits/key B/K, expected FP rate R%`.
pub fn filter_line(filter: &BloomFilter) -> String {
    let bits_per_key = match filter.key_count() {
        0 => "n/a".to_string(),
        keys => format!("{:.2}", filter.bit_count() as f64 / keys as f64),
    };
    format!(
        "probes {}, bits {}, keys {}, bits/key {bits_per_key}, expected FP rate {:.3}%",
        filter.probes(),
        filter.bit_count(),
        filter.key_count(),
        filter.expected_fp_rate() * 100.0
    )
}
