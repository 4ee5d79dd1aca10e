//! Dumping chapter 9's timeline (`TIMELINE`): a chapter-2 log of 16-byte
//! samples `(time µs, seq)` and gaps `(from µs, to µs)`, read with the
//! reference `read_timeline`. A file shows its log header, its gaps, its
//! samples and any torn tail; a database directory shows a summary (the
//! count, the first and last samples, the gaps) and, with `--limit N`, the
//! first N samples.

use std::path::Path;

use lsm_workbook::Error;
use lsm_workbook::ch02_wal::read_log;
use lsm_workbook::ch09_snapshots::timeline::read_timeline;
use lsm_workbook::ch09_snapshots::{Gap, Sample};
use lsm_workbook::fs::Fs;

use super::{Out, damage, plural, say, wal};

/// Prints the timeline file at `path`: its header, up to `limit` samples
/// (every one if `None`), the summary and any torn tail.
pub fn dump_file(fs: &dyn Fs, path: &Path, limit: Option<usize>, out: &mut Out) {
    wal::print_header(fs, path, out);
    let Some((samples, gaps)) = read(fs, path, out) else {
        return;
    };
    print_samples(&samples, limit.unwrap_or(samples.len()), out);
    print_summary(&samples, out);
    print_gaps(&gaps, out);
    print_torn_tail(fs, path, out);
}

/// Prints the summary of the timeline file at `path` of a database
/// directory, then its first `limit` samples.
pub fn dump_in_dir(fs: &dyn Fs, path: &Path, limit: usize, out: &mut Out) {
    let len = fs.open(path).map_or(0, |file| file.len());
    say!(
        out,
        "timeline ({}): {len} bytes",
        path.file_name()
            .map_or(path.as_os_str(), |name| name)
            .display()
    );
    let Some((samples, gaps)) = read(fs, path, out) else {
        return;
    };
    print_summary(&samples, out);
    print_gaps(&gaps, out);
    print_samples(&samples, limit, out);
    print_torn_tail(fs, path, out);
}

/// The samples, or `None` after reporting the damage (with its offset and
/// how many records come before it).
fn read(fs: &dyn Fs, path: &Path, out: &mut Out) -> Option<(Vec<Sample>, Vec<Gap>)> {
    match read_timeline(fs, path) {
        Ok(timeline) => Some(timeline),
        Err(Error::Corruption { offset, detail, .. }) => {
            // Records before the damage: those `read_log` hands over
            // before the offset (a damaged sample is a valid record).
            let mut before = 0u64;
            let _ = read_log(fs, path, &mut |at, _| before += u64::from(at < offset));
            damage!(out, "timeline record at {offset}: CORRUPTION: {detail}");
            say!(
                out,
                "{before} sample{} before the damage; opening the database refuses this timeline",
                plural(before)
            );
            None
        }
        Err(other) => {
            damage!(out, "error: {other}");
            None
        }
    }
}

/// `samples: N, first … → seq S, last … → seq S (span …)`.
fn print_summary(samples: &[Sample], out: &mut Out) {
    let count = samples.len() as u64;
    let (Some(first), Some(last)) = (samples.first(), samples.last()) else {
        say!(
            out,
            "samples: 0 (nothing written since the timeline was made)"
        );
        return;
    };
    say!(out, "samples: {count}");
    say!(out, "  first {}", show_sample(first));
    say!(out, "  last  {}", show_sample(last));
    say!(
        out,
        "  span {:.3} s, seqs {} to {}",
        last.time_micros.saturating_sub(first.time_micros) as f64 / 1e6,
        first.seq,
        last.seq
    );
}

/// The gaps: times reads are refused for, since writes were made then
/// that the timeline did not see (a crash, or the database opened
/// without its timeline).
fn print_gaps(gaps: &[Gap], out: &mut Out) {
    if gaps.is_empty() {
        return;
    }
    say!(
        out,
        "gaps: {} (reads as of these times are refused: writes were made then that the timeline did not see)",
        gaps.len()
    );
    for gap in gaps {
        say!(
            out,
            "  from {} ({} µs) to {} ({} µs)",
            utc(gap.from_micros),
            gap.from_micros,
            utc(gap.to_micros),
            gap.to_micros
        );
    }
}

/// The first `limit` samples, one a line, and how many more there are.
fn print_samples(samples: &[Sample], limit: usize, out: &mut Out) {
    for (number, sample) in samples.iter().take(limit).enumerate() {
        say!(out, "  sample {number}: {}", show_sample(sample));
    }
    if limit > 0 && samples.len() > limit {
        say!(out, "  … {} more", samples.len() - limit);
    }
}

/// A torn last record is dropped by `read_timeline` (its write was never
/// made): reported, not damage.
fn print_torn_tail(fs: &dyn Fs, path: &Path, out: &mut Out) {
    if let Ok(report) = read_log(fs, path, &mut |_, _| {})
        && let Some(tail) = report.torn_tail
    {
        say!(
            out,
            "torn tail at {}: {} byte{} dropped: {}",
            tail.offset,
            tail.dropped_len_bytes,
            plural(tail.dropped_len_bytes),
            tail.reason
        );
    }
}

/// `2024-04-05T19:34:38.901234Z (1712345678901234 µs) → seq 7`
pub fn show_sample(sample: &Sample) -> String {
    format!(
        "{} ({} µs) → seq {}",
        utc(sample.time_micros),
        sample.time_micros,
        sample.seq
    )
}

/// `micros` since the epoch as ISO-8601 UTC (to the microsecond).
pub fn utc(micros: u64) -> String {
    lsm_workbook::clock::format_utc(micros, 6)
}
