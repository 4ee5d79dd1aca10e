//! The timeline: a durable, sampled record of when sequence numbers were
//! written, so that a read as of a wall-clock time can find its number.
//!
//! A [`Sample`] `(time, seq)` says: every write numbered at or below `seq`
//! was made at or before `time`, and every write numbered above it at or
//! after `time`. Before a batch is logged, the engine asks for a sample
//! ([`sample_for`]); one is taken only when `resolution` has passed since
//! the last, so between two samples `i` and `i + 1` every write numbered
//! in `(seq_i, seq_i+1]` was made in `[time_i, time_i + resolution)`.
//!
//! ```text
//!  samples   (10.0 s, 0)          (11.2 s, 3)                (13.0 s, 5)
//!  writes     1  2  3 at 10.0–10.9   4  5 at 11.2–11.8          6 at 13.0
//!  as of 10.5 → 0   (10.0 + 1 > 10.5: writes 1–3 may be after 10.5)
//!  as of 11.0 → 3   (10.0 + 1 ≤ 11.0: writes 1–3 were all before 11.0)
//!  as of 12.5 → 5   (11.2 + 1 ≤ 12.5)      as of 13.0 → 5 (13.0 + 1 > 13.0)
//! ```
//!
//! The file `TIMELINE` is a chapter 2 log (the third use of the format,
//! after the write-ahead log and the manifest): one record per sample,
//! appended and synced before the write it describes is logged. At open it
//! is rewritten with the samples still needed (`TIMELINE.tmp`, synced,
//! renamed over it, the directory synced), as the manifest is.

use std::fmt;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, MutexGuard};

use bytes::Bytes;

use crate::ch02_wal::{LogHeader, Wal, read_log};
use crate::ch07_engine::History;
use crate::error::{Error, Result};
use crate::fs::Fs;
use crate::types::{Op, SeqNo, WriteBatch};

/// The timeline's file in the database directory.
pub const TIMELINE_FILE: &str = "TIMELINE";
/// The file a new timeline is written to before it replaces the old one.
pub const TIMELINE_TEMP_FILE: &str = "TIMELINE.tmp";
/// The key of a sample's record in the timeline's log.
const SAMPLE_KEY: &[u8] = b"sample";
/// The key of a gap's record.
const GAP_KEY: &[u8] = b"gap";
/// The salt of the timeline's log: fixed, since nothing else is appended
/// to it (a stale record of another log cannot pass for one of it: each
/// log starts anew at open).
const TIMELINE_SALT: u64 = 0x7157_e11e_0000_0009;

/// How much history the timeline keeps, and how finely.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct TimelineOptions {
    /// At most one sample per this many microseconds: a read as of `T`
    /// sees every write made before `T − resolution_micros`.
    pub resolution_micros: u64,
    /// Reads as of a time up to this many microseconds ago are answered;
    /// compaction keeps every version they may see.
    pub retention_micros: u64,
}

impl Default for TimelineOptions {
    /// A sample a second, an hour of history.
    fn default() -> Self {
        TimelineOptions {
            resolution_micros: 1_000_000,
            retention_micros: 3_600_000_000,
        }
    }
}

/// Every write numbered at or below `seq` was made at or before
/// `time_micros`; every write numbered above it at or after.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Sample {
    /// Microseconds since the Unix epoch, by the database's clock.
    pub time_micros: u64,
    /// The last sequence number written by then.
    pub seq: SeqNo,
}

/// Times the timeline cannot answer for: writes were made then that it
/// did not see when they were made — after a crash that left writes newer
/// than the last sample, or after the database was opened without its
/// timeline. Reads as of a time in `from_micros..to_micros` are refused.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Gap {
    /// The first time refused.
    pub from_micros: u64,
    /// The first time answered again (the reopen that found the gap).
    pub to_micros: u64,
}

// ANCHOR: ch09_sample_for
/// The sample to record before a batch numbered from `first_seq` is
/// logged at `now_micros`, or `None` if the last sample is less than
/// `resolution_micros` old. The first write ever gets one. A clock that
/// went backwards is read as the last sample's time: samples never go
/// back in time.
pub fn sample_for(
    samples: &[Sample],
    first_seq: SeqNo,
    now_micros: u64,
    options: &TimelineOptions,
) -> Option<Sample> {
    // BEGIN SOLUTION todo(samples, first_seq, now_micros, options): a sample (now, first_seq − 1) if none is younger than the resolution — book §9.5, task 2
    let seq = first_seq.saturating_sub(1);
    match samples.last() {
        None => Some(Sample {
            time_micros: now_micros,
            seq,
        }),
        Some(last) => {
            let now = now_micros.max(last.time_micros);
            (now - last.time_micros >= options.resolution_micros).then_some(Sample {
                time_micros: now,
                seq,
            })
        }
    }
    // END SOLUTION
}
// ANCHOR_END: ch09_sample_for

// ANCHOR: ch09_seq_as_of
/// The sequence number a read as of `time_micros` uses, given the samples
/// (oldest first), the engine's `now_micros` and `last_seq`: the largest
/// number whose writes were all made by then, as far as the samples tell.
/// With `j` the last sample at or before the time: its `seq`; or, if its
/// `time + resolution` is at or before the time too, the next sample's
/// `seq` (or `last_seq` after the last sample) — every write between the
/// two samples was made within the resolution after sample `j`.
///
/// Before the first sample the answer is 0 if that sample says nothing
/// was written before it (its `seq` is 0), or if there are no samples and
/// nothing was ever written.
///
/// Errors ([`Error::OutOfHistory`]): a time after `now_micros` (the
/// future), before `now_micros − retention_micros` (outside the window),
/// before the first sample when writes were made before it (they were
/// not recorded), or any time when there are no samples but `last_seq` is
/// not 0 (none of the writes was recorded).
pub fn seq_as_of(
    samples: &[Sample],
    time_micros: u64,
    now_micros: u64,
    last_seq: SeqNo,
    options: &TimelineOptions,
) -> Result<SeqNo> {
    // BEGIN SOLUTION todo(samples, time_micros, now_micros, last_seq, options): the future, the window, the last sample at or before the time, the resolution — book §9.5, task 2
    let out = |detail: String| Error::OutOfHistory {
        time_micros,
        detail,
    };
    if time_micros > now_micros {
        return Err(out(format!(
            "that is in the future: the database's clock reads {now_micros}"
        )));
    }
    let window_start = now_micros.saturating_sub(options.retention_micros);
    if time_micros < window_start {
        return Err(out(format!(
            "before the retention window, which starts at {window_start} ({} µs of history are kept)",
            options.retention_micros
        )));
    }
    let after = samples.partition_point(|s| s.time_micros <= time_micros);
    let Some(j) = after.checked_sub(1) else {
        // Before the first sample: nothing written then is the only
        // answer the samples can give.
        return match samples.first() {
            Some(first) if first.seq == 0 => Ok(0),
            None if last_seq == 0 => Ok(0),
            Some(first) => Err(out(format!(
                "before the recorded history, which starts at {}",
                first.time_micros
            ))),
            None => Err(out(
                "no history was recorded for the writes made so far".into()
            )),
        };
    };
    let sample = samples[j];
    if sample.time_micros.saturating_add(options.resolution_micros) > time_micros {
        return Ok(sample.seq);
    }
    Ok(samples.get(j + 1).map_or(last_seq, |next| next.seq))
    // END SOLUTION
}
// ANCHOR_END: ch09_seq_as_of

// ANCHOR: ch09_retained
/// How many of the oldest samples no read inside the retention window
/// needs any more, at `now_micros`: every sample before the last one at
/// or before the window's start (that one answers a read as of the start
/// itself). `0` if the window starts before the second sample.
pub fn retained(samples: &[Sample], now_micros: u64, options: &TimelineOptions) -> usize {
    // BEGIN SOLUTION todo(samples, now_micros, options): the samples before the last one at or before now − retention — book §9.5, task 2
    let window_start = now_micros.saturating_sub(options.retention_micros);
    samples
        .partition_point(|s| s.time_micros <= window_start)
        .saturating_sub(1)
    // END SOLUTION
}
// ANCHOR_END: ch09_retained

/// A database's timeline: the samples in memory, appended to `TIMELINE`
/// as they are taken. Implements chapter 7's [`History`].
pub struct Timeline {
    fs: Arc<dyn Fs>,
    dir: PathBuf,
    options: TimelineOptions,
    state: Mutex<State>,
}

struct State {
    samples: Vec<Sample>,
    gaps: Vec<Gap>,
    log: Wal,
    /// Samples dropped from memory since the file was last rewritten (the
    /// file still holds them).
    dropped: usize,
}

impl fmt::Debug for Timeline {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Timeline")
            .field("dir", &self.dir)
            .field("options", &self.options)
            .field("samples", &self.lock().samples.len())
            .finish_non_exhaustive()
    }
}

impl Timeline {
    /// Opens the timeline of the database in `dir`, creating it (and the
    /// directory) if missing, and rewrites its file with the samples it
    /// read. A damaged file is [`Error::Corruption`]; a torn last record (a
    /// sample whose append did not finish, so its write was never made) is
    /// dropped.
    pub fn open(fs: Arc<dyn Fs>, dir: &Path, options: TimelineOptions) -> Result<Arc<Timeline>> {
        fs.create_dir_all(dir)?;
        let path = dir.join(TIMELINE_FILE);
        let (samples, gaps) = if fs.exists(&path)? {
            read_timeline(fs.as_ref(), &path)?
        } else {
            (Vec::new(), Vec::new())
        };
        let log = write_timeline(fs.as_ref(), dir, &samples, &gaps)?;
        Ok(Arc::new(Timeline {
            fs,
            dir: dir.to_path_buf(),
            options,
            state: Mutex::new(State {
                samples,
                gaps,
                log,
                dropped: 0,
            }),
        }))
    }

    /// The samples held, oldest first.
    pub fn samples(&self) -> Vec<Sample> {
        self.lock().samples.clone()
    }

    /// The gaps held, oldest first.
    pub fn gaps(&self) -> Vec<Gap> {
        self.lock().gaps.clone()
    }

    /// The options it was opened with.
    pub fn options(&self) -> TimelineOptions {
        self.options
    }

    fn lock(&self) -> MutexGuard<'_, State> {
        // Every change to the state is one push or one drain, whole after
        // a panic.
        self.state
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// Drops the samples no read in the window needs; once the dropped
    /// ones outnumber the kept ones, rewrites the file without them.
    fn trim(&self, state: &mut State, now_micros: u64) -> Result<()> {
        let unneeded = retained(&state.samples, now_micros, &self.options);
        if unneeded == 0 {
            return Ok(());
        }
        state.samples.drain(..unneeded);
        let window_start = now_micros.saturating_sub(self.options.retention_micros);
        state.gaps.retain(|gap| gap.to_micros > window_start);
        state.dropped += unneeded;
        if state.dropped > state.samples.len().max(16) {
            self.rewrite(state)?;
        }
        Ok(())
    }

    /// Replaces the file with one holding what is in memory.
    fn rewrite(&self, state: &mut State) -> Result<()> {
        state.log = write_timeline(self.fs.as_ref(), &self.dir, &state.samples, &state.gaps)?;
        state.dropped = 0;
        Ok(())
    }
}

impl History for Timeline {
    fn record(&self, first_seq: SeqNo, now_micros: u64) -> Result<()> {
        let mut state = self.lock();
        let Some(sample) = sample_for(&state.samples, first_seq, now_micros, &self.options) else {
            return Ok(());
        };
        append_record(&mut state.log, SAMPLE_KEY, sample.time_micros, sample.seq)?;
        state.samples.push(sample);
        self.trim(&mut state, now_micros)
    }

    fn recovered(&self, last_seq: SeqNo, now_micros: u64) -> Result<()> {
        let mut state = self.lock();
        // Writes above `last_seq` were lost: their numbers will be used
        // again, later. "Every write up to seq was made by time" stays
        // true with seq lowered to `last_seq`.
        let mut changed = false;
        for sample in &mut state.samples {
            if sample.seq > last_seq {
                sample.seq = last_seq;
                changed = true;
            }
        }
        // Writes above the last sample: with the timeline running, each was
        // made within the resolution after that sample (a later one would
        // have taken a sample first). But the database may have been
        // written without its timeline, or closed by a crash: their times
        // are unknown from the resolution after the last sample until now.
        let newest = state.samples.last().copied();
        match newest {
            Some(last) if last_seq > last.seq => {
                let now = now_micros.max(last.time_micros);
                let from = last
                    .time_micros
                    .saturating_add(self.options.resolution_micros);
                if now > from {
                    state.gaps.push(Gap {
                        from_micros: from,
                        to_micros: now,
                    });
                }
                state.samples.push(Sample {
                    time_micros: now,
                    seq: last_seq,
                });
                changed = true;
            }
            // Writes made before the timeline existed: a read as of a time
            // before this sample is refused by `seq_as_of`.
            None if last_seq > 0 => {
                state.samples.push(Sample {
                    time_micros: now_micros,
                    seq: last_seq,
                });
                changed = true;
            }
            _ => {}
        }
        if changed {
            self.rewrite(&mut state)?;
        }
        Ok(())
    }

    fn closed(&self, last_seq: SeqNo, now_micros: u64) -> Result<()> {
        let mut state = self.lock();
        let last = state.samples.last().copied();
        if last.is_some_and(|last| last.seq >= last_seq) || (last.is_none() && last_seq == 0) {
            return Ok(());
        }
        // Every write up to `last_seq` was made by now: the next open finds
        // nothing it did not see.
        let sample = Sample {
            time_micros: last.map_or(now_micros, |last| now_micros.max(last.time_micros)),
            seq: last_seq,
        };
        append_record(&mut state.log, SAMPLE_KEY, sample.time_micros, sample.seq)?;
        state.samples.push(sample);
        Ok(())
    }

    fn oldest_readable(&self, now_micros: u64) -> Option<SeqNo> {
        let state = self.lock();
        let first = state.samples.first()?;
        let window_start = now_micros.saturating_sub(self.options.retention_micros);
        let oldest_time = window_start.max(first.time_micros).min(now_micros);
        // Reads as of later times use the same number or a larger one.
        let last_seq = state.samples.last().map_or(0, |s| s.seq);
        seq_as_of(
            &state.samples,
            oldest_time,
            now_micros,
            last_seq,
            &self.options,
        )
        .ok()
    }

    fn seq_as_of(&self, time_micros: u64, now_micros: u64, last_seq: SeqNo) -> Result<SeqNo> {
        let state = self.lock();
        let gap = state
            .gaps
            .iter()
            .find(|gap| (gap.from_micros..gap.to_micros).contains(&time_micros));
        if let Some(gap) = gap {
            return Err(Error::OutOfHistory {
                time_micros,
                detail: format!(
                    "writes were made between {} and {} that the timeline did not see \
                     (a crash closed the database, or it was opened without its timeline): \
                     their times are unknown",
                    gap.from_micros, gap.to_micros
                ),
            });
        }
        seq_as_of(
            &state.samples,
            time_micros,
            now_micros,
            last_seq,
            &self.options,
        )
    }
}

/// Appends one record (`key`: a sample or a gap; its two numbers) to the
/// timeline's log and syncs it.
fn append_record(log: &mut Wal, key: &'static [u8], a: u64, b: u64) -> Result<()> {
    log.append(&record(log.next_seq(), key, a, b))?;
    log.sync()
}

fn record(seq: SeqNo, key: &'static [u8], a: u64, b: u64) -> WriteBatch {
    let mut value = Vec::with_capacity(16);
    value.extend_from_slice(&a.to_le_bytes());
    value.extend_from_slice(&b.to_le_bytes());
    WriteBatch::new(seq).put(Bytes::from_static(key), value)
}

/// Writes a new timeline holding `samples` and `gaps` (to
/// `TIMELINE.tmp`, synced, renamed over `TIMELINE`, the directory synced)
/// and returns its log, open for appending.
fn write_timeline(fs: &dyn Fs, dir: &Path, samples: &[Sample], gaps: &[Gap]) -> Result<Wal> {
    let temp = dir.join(TIMELINE_TEMP_FILE);
    if fs.exists(&temp)? {
        fs.remove(&temp)?;
    }
    let header = LogHeader {
        salt: TIMELINE_SALT,
        first_seq: 1,
    };
    let mut log = Wal::create(fs, &temp, header)?;
    for gap in gaps {
        log.append(&record(
            log.next_seq(),
            GAP_KEY,
            gap.from_micros,
            gap.to_micros,
        ))?;
    }
    for sample in samples {
        log.append(&record(
            log.next_seq(),
            SAMPLE_KEY,
            sample.time_micros,
            sample.seq,
        ))?;
    }
    log.sync()?;
    let path = dir.join(TIMELINE_FILE);
    fs.rename(&temp, &path)?;
    fs.sync_dir(dir)?;
    // The open file keeps appending under its new name (a rename moves the
    // name, not the file); its `path()` still names `TIMELINE.tmp`.
    Ok(log)
}

/// The samples and the gaps of the timeline file at `path`, each oldest
/// first. A record that is neither, samples that go back in time or in
/// number, or a gap that ends before it starts are [`Error::Corruption`]
/// at the record's offset; a torn last record is dropped (its append did
/// not finish, so the write it announced was never made).
pub fn read_timeline(fs: &dyn Fs, path: &Path) -> Result<(Vec<Sample>, Vec<Gap>)> {
    let mut samples: Vec<Sample> = Vec::new();
    let mut gaps: Vec<Gap> = Vec::new();
    let mut bad = None;
    read_log(fs, path, &mut |offset, batch| {
        if bad.is_some() {
            return;
        }
        match decode_record(&batch) {
            Some((SAMPLE_KEY, time_micros, seq)) => {
                let sample = Sample { time_micros, seq };
                match samples.last() {
                    Some(last) if !ordered(last, &sample) => {
                        bad = Some((offset, format!("sample {sample:?} goes back from {last:?}")));
                    }
                    _ => samples.push(sample),
                }
            }
            Some((GAP_KEY, from_micros, to_micros)) if from_micros < to_micros => gaps.push(Gap {
                from_micros,
                to_micros,
            }),
            Some((GAP_KEY, from, to)) => {
                bad = Some((
                    offset,
                    format!("a gap from {from} to {to} ends before it starts"),
                ));
            }
            _ => bad = Some((offset, "a record that is not one sample or gap".to_string())),
        }
    })?;
    match bad {
        Some((offset, detail)) => Err(Error::corruption(path, offset, detail)),
        None => Ok((samples, gaps)),
    }
}

/// `true` if `next` may follow `last`: neither time nor number goes back.
fn ordered(last: &Sample, next: &Sample) -> bool {
    next.time_micros >= last.time_micros && next.seq >= last.seq
}

/// A record's key (a sample's or a gap's) and its two numbers.
fn decode_record(batch: &WriteBatch) -> Option<(&'static [u8], u64, u64)> {
    let [Op::Put { key, value }] = batch.ops.as_slice() else {
        return None;
    };
    let key = [SAMPLE_KEY, GAP_KEY]
        .into_iter()
        .find(|known| key.as_ref() == *known)?;
    if value.len() != 16 {
        return None;
    }
    let (a, b) = value.split_at(8);
    Some((
        key,
        u64::from_le_bytes(a.try_into().ok()?),
        u64::from_le_bytes(b.try_into().ok()?),
    ))
}
