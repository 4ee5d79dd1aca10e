//! Chapter 6 — the manifest: which files are the database. A directory
//! listing cannot say (it shows half-written tables, compaction inputs next
//! to their outputs, logs already flushed); the manifest can. It is a log
//! of [`VersionEdit`]s — a chapter-2 write-ahead log whose every record is
//! one edit — replayed into the current [`Version`]. `CURRENT` names the
//! live manifest and is only ever replaced atomically.
//!
//! ```text
//!  db/
//!    CURRENT            "MANIFEST-000004\n"  (temp → sync → rename → sync dir)
//!    MANIFEST-000004    log header | edit 1 (a snapshot) | edit 2 | edit 3 …
//!    000002.sst         tables the version holds
//!    000005.log         the live write-ahead log
//! ```
//!
//! A manifest record is a chapter-2 record holding one put whose key is
//! [`EDIT_KEY`] and whose value is the encoded edit; its sequence number is
//! the edit's number in this manifest (1, 2, …). So the WAL's framing,
//! salt, sequence chain and torn-or-corrupt rules protect every edit.
//!
//! You write: [`VersionEdit::encode`]/[`VersionEdit::decode`] (in
//! [`edit`]), [`Version::apply`] (in [`version`]), and here
//! [`write_current`], [`read_current`], [`replay`], the creation rule
//! `new_database`, `Manifest::start`, [`Manifest::install`],
//! [`Manifest::rotate`] and [`Manifest::obsolete_files`].
//! [`Manifest::open`] is provided: it calls them. Book: "6. The manifest".
//!
//! Invariants: an edit counts as installed only once its record is synced;
//! `CURRENT` always names a complete, synced manifest; an old manifest is
//! removed only after `CURRENT` stops naming it durably; file numbers are
//! never reused, even after a crash; after a failed write or sync the
//! manifest refuses further installs (fail-stop).

pub mod edit;
pub mod version;

use std::path::{Path, PathBuf};
use std::sync::Arc;

use crate::ch02_wal::{TornTail, Wal};
use crate::error::Result;
use crate::filename::FileName;
use crate::fs::Fs;

pub use edit::{LEVEL_COUNT, TableMeta, VersionEdit};
pub use version::Version;
// BEGIN SOLUTION hide
use crate::ch02_wal::{LogHeader, read_log};
use crate::error::Error;
use crate::fs::read_all;
use crate::types::{Op, WriteBatch};
// END SOLUTION

/// The key of the one put in every manifest record.
pub const EDIT_KEY: &[u8] = b"edit";
/// The largest `CURRENT` file: a manifest name and a newline.
pub const CURRENT_LEN_MAX_BYTES: u64 = 64;

/// How a manifest is opened.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ManifestOptions {
    /// Create a new database if the directory has none (no `CURRENT`).
    /// Off by default: an existing database whose `CURRENT` is missing is
    /// an error, never silently replaced by an empty one.
    pub create_if_missing: bool,
    /// A manifest that grows past this many bytes is rotated: a new one
    /// starts with a snapshot of the version.
    pub rotate_len_bytes: u64,
    /// Where the salts of new manifests come from: each manifest's salt is
    /// derived from this seed and its file number. Random by default;
    /// tests fix it so that files are reproducible.
    pub salt_seed: u64,
}

impl Default for ManifestOptions {
    fn default() -> Self {
        ManifestOptions {
            create_if_missing: false,
            rotate_len_bytes: 4 << 20,
            salt_seed: random_seed(),
        }
    }
}

/// What opening the manifest found.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ManifestRecovery {
    /// `true` if a new database was created.
    pub created: bool,
    /// Edits replayed from the manifest `CURRENT` named.
    pub edits: u64,
    /// A torn last edit that was dropped (it never counted as installed).
    pub torn_tail: Option<TornTail>,
}

/// The live manifest of one database directory.
#[derive(Debug)]
pub struct Manifest {
    fs: Arc<dyn Fs>,
    dir: PathBuf,
    options: ManifestOptions,
    /// The live manifest file, as a log of edits.
    log: Wal,
    /// Its file number.
    number: u64,
    version: Arc<Version>,
    /// The next file number to hand out; ahead of the version's recorded
    /// counter between installs.
    next_file_number: u64,
    // BEGIN SOLUTION hide: whatever else your manifest needs (fail-stop) — book §6.4, task 4
    /// Set after a failed write, sync or switch: fail-stop (promise P6).
    poisoned: bool,
    // END SOLUTION
}

impl Manifest {
    // ANCHOR: ch06_open
    /// Opens the database in `dir`: reads `CURRENT`, replays the manifest it
    /// names into the version, makes sure no file number in the directory
    /// is handed out again, and rotates to a fresh manifest (so a torn tail
    /// is never appended to). Without `CURRENT`, creates a new database if
    /// the options ask and the directory holds no database files; otherwise
    /// it is an error.
    pub fn open(
        fs: Arc<dyn Fs>,
        dir: &Path,
        options: ManifestOptions,
    ) -> Result<(Manifest, ManifestRecovery)> {
        if options.create_if_missing {
            fs.create_dir_all(dir)?;
        }
        let listing = fs.list(dir)?;
        let (version, old_number, recovery) = match read_current(fs.as_ref(), dir)? {
            Some(number) => {
                let (version, recovery) =
                    replay(fs.as_ref(), &FileName::Manifest(number).path(dir))?;
                (version, Some(number), recovery)
            }
            None => (
                new_database(fs.as_ref(), dir, &options, &listing)?,
                None,
                ManifestRecovery {
                    created: true,
                    ..ManifestRecovery::default()
                },
            ),
        };
        let number_max = listing
            .iter()
            .filter_map(|name| FileName::parse(name)?.number())
            .max()
            .unwrap_or(0);
        let next_file_number = version.next_file_number.max(number_max + 1);
        let manifest = Manifest::start(fs, dir, options, version, next_file_number)?;
        if let Some(old) = old_number {
            manifest.remove_quietly(FileName::Manifest(old));
        }
        Ok((manifest, recovery))
    }
    // ANCHOR_END: ch06_open

    /// The current version.
    pub fn version(&self) -> Arc<Version> {
        Arc::clone(&self.version)
    }

    /// The live manifest's file number.
    pub fn number(&self) -> u64 {
        self.number
    }

    /// The live manifest's path.
    pub fn path(&self) -> &Path {
        self.log.path()
    }

    /// The live manifest's size in bytes.
    pub fn len_bytes(&self) -> u64 {
        self.log.len_bytes()
    }

    /// The database directory.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// The options it was opened with.
    pub fn options(&self) -> &ManifestOptions {
        &self.options
    }

    /// Hands out a file number no file of this database ever had or will
    /// have. Recorded with the next installed edit.
    pub fn new_file_number(&mut self) -> u64 {
        let number = self.next_file_number;
        self.next_file_number += 1;
        number
    }

    // ANCHOR: ch06_install
    /// Installs `edit`: stamps it with the next file number, checks it
    /// against the version (an invalid edit is
    /// [`Error::InvalidArgument`](crate::Error::InvalidArgument) and changes nothing), appends it to the
    /// manifest and syncs it. Only then
    /// does the version change. Rotates the manifest when it has grown past
    /// [`ManifestOptions::rotate_len_bytes`].
    ///
    /// After a failed append, sync or rotation, this and every later call
    /// return [`Error::Poisoned`](crate::Error::Poisoned): whether the edit is installed is then
    /// known only after a reopen.
    pub fn install(&mut self, edit: &VersionEdit) -> Result<()> {
        // BEGIN SOLUTION todo(edit): validate, stamp, append and sync, then switch the version; rotate when large — book §6.4, task 4
        self.check_poisoned()?;
        let mut edit = edit.clone();
        let stamped = edit
            .next_file_number
            .unwrap_or(0)
            .max(self.next_file_number);
        edit.next_file_number = Some(stamped);
        let next = self
            .version
            .apply(&edit)
            .map_err(|reason| Error::InvalidArgument(format!("refused version edit: {reason}")))?;
        let appended = append_edit(&mut self.log, &edit);
        self.poisoned = appended.is_err();
        appended?;
        self.next_file_number = stamped;
        self.version = Arc::new(next);
        if self.log.len_bytes() > self.options.rotate_len_bytes {
            self.rotate()?;
        }
        Ok(())
        // END SOLUTION
    }
    // ANCHOR_END: ch06_install

    // ANCHOR: ch06_rotate
    /// Starts a new manifest holding one snapshot edit of the version,
    /// switches `CURRENT` to it, and only then removes the old one.
    pub fn rotate(&mut self) -> Result<()> {
        // BEGIN SOLUTION todo(): start a new manifest from a snapshot, switch CURRENT, remove the old manifest — book §6.4, task 4
        self.check_poisoned()?;
        let old = self.number;
        let version = Arc::clone(&self.version);
        let started = Manifest::start(
            Arc::clone(&self.fs),
            &self.dir,
            self.options.clone(),
            Version::clone(&version),
            self.next_file_number,
        );
        match started {
            Ok(new) => {
                *self = new;
                self.remove_quietly(FileName::Manifest(old));
                Ok(())
            }
            Err(error) => {
                self.poisoned = true;
                Err(error)
            }
        }
        // END SOLUTION
    }
    // ANCHOR_END: ch06_rotate

    // ANCHOR: ch06_start
    /// Writes a new manifest numbered `next_file_number` holding one
    /// snapshot edit of `version` (with the counters it hands on), syncs it,
    /// and makes `CURRENT` name it.
    fn start(
        fs: Arc<dyn Fs>,
        dir: &Path,
        options: ManifestOptions,
        version: Version,
        next_file_number: u64,
    ) -> Result<Manifest> {
        // BEGIN SOLUTION todo(fs, dir, options, version, next_file_number): a new manifest with one snapshot edit, synced, then CURRENT — book §6.4, task 4
        let number = next_file_number;
        let next_file_number = number + 1;
        let mut version = version;
        version.next_file_number = next_file_number;
        let header = LogHeader {
            salt: salt_for(options.salt_seed, number),
            first_seq: 1,
        };
        let mut log = Wal::create(fs.as_ref(), &FileName::Manifest(number).path(dir), header)?;
        append_edit(&mut log, &version.snapshot_edit())?;
        write_current(fs.as_ref(), dir, number)?;
        Ok(Manifest {
            fs,
            dir: dir.to_path_buf(),
            options,
            log,
            number,
            version: Arc::new(version),
            next_file_number,
            poisoned: false,
        })
        // END SOLUTION
    }
    // ANCHOR_END: ch06_start

    // ANCHOR: ch06_obsolete
    /// The names in `listing` (a listing of the database directory) that
    /// may be deleted: tables the version does not hold (except the
    /// `pending` numbers of tables being written), logs below the version's
    /// `log_number`, manifests other than the live one, and a leftover
    /// `CURRENT.tmp`. Anything else — `CURRENT`, the live files, names that
    /// are not the database's — is left alone.
    pub fn obsolete_files(&self, listing: &[String], pending: &[u64]) -> Vec<String> {
        // BEGIN SOLUTION todo(listing, pending): pick the names no live state needs — book §6.4, task 5
        listing
            .iter()
            .filter(|name| match FileName::parse(name) {
                Some(FileName::Table(number)) => {
                    !self.version.contains_table(number) && !pending.contains(&number)
                }
                Some(FileName::Log(number)) => number < self.version.log_number,
                Some(FileName::Manifest(number)) => number != self.number,
                Some(FileName::CurrentTemp) => true,
                Some(FileName::Current) | None => false,
            })
            .cloned()
            .collect()
        // END SOLUTION
    }
    // ANCHOR_END: ch06_obsolete

    /// Removes a file that nothing needs any more. A failure leaves debris
    /// that [`Manifest::obsolete_files`] names again next time, so it is
    /// not an error of the operation that made the file obsolete.
    fn remove_quietly(&self, name: FileName) {
        let _ = self.fs.remove(&name.path(&self.dir));
    }

    // BEGIN SOLUTION hide
    fn check_poisoned(&self) -> Result<()> {
        if self.poisoned {
            return Err(Error::Poisoned {
                path: self.log.path().to_path_buf(),
            });
        }
        Ok(())
    }
    // END SOLUTION
}

// BEGIN SOLUTION hide
/// Appends `edit` as the manifest's next record and syncs it.
fn append_edit(log: &mut Wal, edit: &VersionEdit) -> Result<()> {
    let batch = WriteBatch::new(log.next_seq()).put(EDIT_KEY, edit.encode());
    log.append(&batch)?;
    log.sync()
}

// END SOLUTION

// ANCHOR: ch06_new_database
/// The database is new: refuse if the directory holds anything but the
/// debris of an interrupted creation (manifests `CURRENT` never named, a
/// temp file), then clear that debris.
fn new_database(
    fs: &dyn Fs,
    dir: &Path,
    options: &ManifestOptions,
    listing: &[String],
) -> Result<Version> {
    // BEGIN SOLUTION todo(fs, dir, options, listing): refuse unless asked and the directory holds no database files; clear the debris — book §6.4, task 3
    if !options.create_if_missing {
        return Err(Error::InvalidArgument(format!(
            "{} holds no database (no CURRENT) and create_if_missing is off",
            dir.display()
        )));
    }
    let mut debris = Vec::new();
    for name in listing {
        match FileName::parse(name) {
            Some(file @ (FileName::Manifest(_) | FileName::CurrentTemp)) => debris.push(file),
            Some(file) => {
                return Err(Error::corruption(
                    FileName::Current.path(dir),
                    0,
                    format!(
                        "CURRENT is missing, but {file} is there: this is a database that lost its CURRENT"
                    ),
                ));
            }
            None => {}
        }
    }
    for file in debris {
        fs.remove(&file.path(dir))?;
    }
    Ok(Version::default())
    // END SOLUTION
}
// ANCHOR_END: ch06_new_database

// ANCHOR: ch06_write_current
/// Makes `CURRENT` name manifest `number`, atomically: write
/// `CURRENT.tmp`, sync it, rename it over `CURRENT`, sync the directory.
/// `CURRENT` is never written in place, so a crash leaves the old one or
/// the new one, never half of either.
pub fn write_current(fs: &dyn Fs, dir: &Path, number: u64) -> Result<()> {
    // BEGIN SOLUTION todo(fs, dir, number): temp, sync, rename, sync the directory — book §6.4, task 3
    let temp = FileName::CurrentTemp.path(dir);
    if fs.exists(&temp)? {
        fs.remove(&temp)?;
    }
    let mut file = fs.create(&temp)?;
    file.append(format!("{}\n", FileName::Manifest(number)).as_bytes())?;
    file.sync()?;
    fs.rename(&temp, &FileName::Current.path(dir))?;
    fs.sync_dir(dir)
    // END SOLUTION
}
// ANCHOR_END: ch06_write_current

/// The number of the manifest `CURRENT` names, `None` if there is no
/// `CURRENT`. A `CURRENT` that is empty, too long, not a manifest's name
/// followed by a newline, or that names a manifest that is not there, is
/// [`Error::Corruption`](crate::Error::Corruption) in `CURRENT` at offset 0.
pub fn read_current(fs: &dyn Fs, dir: &Path) -> Result<Option<u64>> {
    // BEGIN SOLUTION todo(fs, dir): read CURRENT and check it strictly — book §6.4, task 3
    let path = FileName::Current.path(dir);
    if !fs.exists(&path)? {
        return Ok(None);
    }
    let bad = |detail: String| Error::corruption(&path, 0, detail);
    let len = fs.open(&path)?.len();
    if len > CURRENT_LEN_MAX_BYTES {
        return Err(bad(format!(
            "CURRENT is {len} bytes, more than a manifest name"
        )));
    }
    let bytes = read_all(fs, &path, CURRENT_LEN_MAX_BYTES)?;
    let name = std::str::from_utf8(&bytes)
        .ok()
        .and_then(|text| text.strip_suffix('\n'))
        .ok_or_else(|| bad(format!("CURRENT holds {bytes:?}, not a name and a newline")))?;
    let Some(FileName::Manifest(number)) = FileName::parse(name) else {
        return Err(bad(format!(
            "CURRENT names {name:?}, which is not a manifest"
        )));
    };
    if !fs.exists(&FileName::Manifest(number).path(dir))? {
        return Err(bad(format!("CURRENT names {name}, which does not exist")));
    }
    Ok(Some(number))
    // END SOLUTION
}

// ANCHOR: ch06_replay
/// Replays the manifest at `path` into a version. The WAL's rules apply to
/// its records (a torn last record is dropped and reported, damage before
/// a valid record is corruption); on top of them, a manifest without a
/// valid first edit (its snapshot), a record that is not one put of
/// [`EDIT_KEY`], an edit that does not decode, and an edit the version
/// refuses are [`Error::Corruption`](crate::Error::Corruption).
pub fn replay(fs: &dyn Fs, path: &Path) -> Result<(Version, ManifestRecovery)> {
    // BEGIN SOLUTION todo(fs, path): read the log, decode and apply each edit in order — book §6.4, task 3
    let mut records = Vec::new();
    let report = read_log(fs, path, &mut |offset, batch| records.push((offset, batch)))?;
    if report.header.is_none() {
        return Err(Error::corruption(
            path,
            0,
            "CURRENT names a manifest without a header",
        ));
    }
    // CURRENT names a manifest only once its snapshot edit is synced: a
    // manifest with no valid edit is damage. Read as a torn tail, it would
    // give the empty version, and every table would look obsolete.
    if records.is_empty() {
        let offset = report.torn_tail.as_ref().map_or(0, |torn| torn.offset);
        return Err(Error::corruption(
            path,
            offset,
            "CURRENT names a manifest whose snapshot edit is not valid",
        ));
    }
    let mut version = Version::default();
    for (offset, batch) in &records {
        let edit = match batch.ops.as_slice() {
            [Op::Put { key, value }] if key.as_ref() == EDIT_KEY => VersionEdit::decode(value),
            _ => Err(format!(
                "record holds {} ops, not one edit",
                batch.ops.len()
            )),
        };
        version = edit
            .and_then(|edit| version.apply(&edit))
            .map_err(|detail| Error::corruption(path, *offset, detail))?;
    }
    let recovery = ManifestRecovery {
        created: false,
        edits: records.len() as u64,
        torn_tail: report.torn_tail,
    };
    Ok((version, recovery))
    // END SOLUTION
}
// ANCHOR_END: ch06_replay

// BEGIN SOLUTION hide
/// Each manifest's salt: the seed and the file number, mixed
/// (SplitMix64's finaliser), so two manifests of one database differ.
fn salt_for(seed: u64, number: u64) -> u64 {
    let mut z = seed ^ number.wrapping_mul(0x9e37_79b9_7f4a_7c15);
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    z ^ (z >> 31)
}
// END SOLUTION

/// A seed no user can guess: std's per-process random hashing keys.
fn random_seed() -> u64 {
    use std::hash::{BuildHasher, Hasher};
    let mut hasher = std::collections::hash_map::RandomState::new().build_hasher();
    hasher.write_u64(0x6c73_6d77_6273_6565);
    hasher.finish()
}
