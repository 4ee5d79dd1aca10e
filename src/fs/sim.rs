//! [`SimFs`]: a simulated, in-memory file system for crash testing
//! (provided).
//!
//! Each file is its bytes plus the part of them that is *durable* (synced);
//! each directory has its current entries and its durable entries. Every
//! mutating call is a numbered operation in a [trace](SimFs::trace), which
//! draws the exact order of writes, syncs and renames a protocol performs:
//!
//! ```text
//!   1 create_dir_all db
//!   2 create         db/000001.log
//!   3 sync_dir       db
//!   4 append         db/000001.log  [0..31)  31 bytes
//!   5 sync           db/000001.log  durable 0 -> 31
//! ```
//!
//! From that state it can build **crash images** ([`SimFs::crash`]):
//!
//! | mode                           | files keep                      | directories keep              |
//! |--------------------------------|---------------------------------|-------------------------------|
//! | [`CrashMode::ProcessKill`]     | every appended byte             | every change                  |
//! | [`CrashMode::PowerLoss`]       | their synced bytes              | their synced entries          |
//! | [`CrashMode::PowerLossRandom`] | synced bytes + a random prefix of the unsynced tail (none of it, or all of it, a quarter of the time each) | each unsynced change survives or not, independently |
//! | [`CrashMode::Torn`]            | as random, and the last surviving 512-byte sector of the unsynced tail may be zeros or garbage | as random |
//!
//! It can also stop the world after operation *k* ([`SimFs::stop_after`]:
//! every later call fails, so a `Drop` that flushes cannot cheat), inject
//! I/O errors ([`SimFs::inject`]), damage files ([`SimFs::flip_bit`],
//! [`SimFs::truncate`], [`SimFs::append_garbage`]) and count reads
//! ([`SimFs::reads`]).
//!
//! Simplification: directories themselves are durable as soon as
//! [`Fs::create_dir_all`] returns; only the files *in* them follow the
//! durable/current split.
//!
//! A `SimFs` is a cheap handle: clones share the same file system.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;
use std::io;
use std::ops::Range;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, MutexGuard};

use super::{Fs, ReadableFile, WritableFile, parent_dir};
use crate::error::{Error, Result};

/// Size of the sector a torn write may damage.
pub const SECTOR_SIZE_BYTES: usize = 512;

/// The kinds of call the simulated file system knows, for fault injection
/// and the trace.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum OpKind {
    /// [`Fs::create`]
    Create,
    /// [`WritableFile::append`]
    Append,
    /// [`WritableFile::sync`]
    Sync,
    /// [`Fs::rename`]
    Rename,
    /// [`Fs::remove`]
    Remove,
    /// [`Fs::create_dir_all`]
    CreateDir,
    /// [`Fs::sync_dir`]
    SyncDir,
    /// [`Fs::open`] (not numbered in the trace)
    Open,
    /// [`ReadableFile::read_exact_at`] (not numbered in the trace)
    Read,
}

impl OpKind {
    /// `true` for the kinds that change the file system and are numbered.
    pub fn is_mutating(self) -> bool {
        !matches!(self, OpKind::Open | OpKind::Read)
    }

    fn name(self) -> &'static str {
        match self {
            OpKind::Create => "create",
            OpKind::Append => "append",
            OpKind::Sync => "sync",
            OpKind::Rename => "rename",
            OpKind::Remove => "remove",
            OpKind::CreateDir => "create_dir_all",
            OpKind::SyncDir => "sync_dir",
            OpKind::Open => "open",
            OpKind::Read => "read",
        }
    }
}

/// How a simulated machine went down; see the table in the module docs.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum CrashMode {
    /// The process died; the operating system kept everything.
    ProcessKill,
    /// The power went out; only synced bytes and synced entries survive.
    PowerLoss,
    /// The power went out; synced state survives, and a random part of the
    /// unsynced state, chosen by `seed`.
    PowerLossRandom {
        /// Chooses what survives; the same seed gives the same image.
        seed: u64,
    },
    /// As [`CrashMode::PowerLossRandom`], and the last surviving sector of
    /// each unsynced tail may be zeros or garbage.
    Torn {
        /// Chooses what survives and how it is damaged.
        seed: u64,
    },
}

impl CrashMode {
    /// Every mode, the random ones with `seed`.
    pub fn all(seed: u64) -> [CrashMode; 4] {
        [
            CrashMode::ProcessKill,
            CrashMode::PowerLoss,
            CrashMode::PowerLossRandom { seed },
            CrashMode::Torn { seed },
        ]
    }

    fn replay_code(self) -> String {
        match self {
            CrashMode::ProcessKill => "kill".into(),
            CrashMode::PowerLoss => "power".into(),
            CrashMode::PowerLossRandom { seed } => format!("random:{seed}"),
            CrashMode::Torn { seed } => format!("torn:{seed}"),
        }
    }

    /// The inverse of [`CrashMode::replay_code`]: the random modes need
    /// their seed, the others take none.
    fn from_replay_code(code: &str) -> Option<CrashMode> {
        match code.split_once(':') {
            None => match code {
                "kill" => Some(CrashMode::ProcessKill),
                "power" => Some(CrashMode::PowerLoss),
                _ => None,
            },
            Some((name, seed)) => {
                let seed = seed.parse().ok()?;
                match name {
                    "random" => Some(CrashMode::PowerLossRandom { seed }),
                    "torn" => Some(CrashMode::Torn { seed }),
                    _ => None,
                }
            }
        }
    }
}

impl fmt::Display for CrashMode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            CrashMode::ProcessKill => write!(f, "process kill"),
            CrashMode::PowerLoss => write!(f, "power loss"),
            CrashMode::PowerLossRandom { seed } => write!(f, "power loss, random (seed {seed})"),
            CrashMode::Torn { seed } => write!(f, "torn write (seed {seed})"),
        }
    }
}

/// One point of a crash sweep: stop after operation `after_op`, then build
/// the image `mode`. Its `Display` says how to replay just this case.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct CrashPoint {
    /// The number of operations that completed before the crash.
    pub after_op: u64,
    /// The crash image to build.
    pub mode: CrashMode,
}

/// The environment variable that makes [`CrashPoint::sweep`] replay one case.
pub const REPLAY_ENV: &str = "LSM_SIM_REPLAY";

impl CrashPoint {
    /// Every crash point of a workload of `op_count` operations (after
    /// operation 0, 1, …, `op_count`), in every [`CrashMode`]; the random
    /// modes get a seed derived from `seed` and the point.
    ///
    /// If the environment variable `LSM_SIM_REPLAY` is set (as a failing
    /// case's message says, e.g. `LSM_SIM_REPLAY=17:torn:42`), only that
    /// point is returned.
    pub fn sweep(op_count: u64, seed: u64) -> Vec<CrashPoint> {
        if let Some(point) = std::env::var(REPLAY_ENV)
            .ok()
            .and_then(|s| CrashPoint::parse(&s))
        {
            return vec![point];
        }
        (0..=op_count)
            .flat_map(|after_op| {
                let point_seed = mix(seed ^ after_op.wrapping_mul(0x9e37_79b9_7f4a_7c15));
                CrashMode::all(point_seed).map(|mode| CrashPoint { after_op, mode })
            })
            .collect()
    }

    /// Parses the `LSM_SIM_REPLAY` form `AFTER_OP:MODE[:SEED]`.
    pub fn parse(text: &str) -> Option<CrashPoint> {
        let (after_op, mode) = text.trim().split_once(':')?;
        Some(CrashPoint {
            after_op: after_op.parse().ok()?,
            mode: CrashMode::from_replay_code(mode)?,
        })
    }
}

impl fmt::Display for CrashPoint {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "crash after operation {} ({}); replay just this case with {REPLAY_ENV}={}:{}",
            self.after_op,
            self.mode,
            self.after_op,
            self.mode.replay_code()
        )
    }
}

/// An I/O error to inject: the `nth` call of `kind` from now on fails.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Fault {
    /// Which calls to fail.
    pub kind: OpKind,
    /// Which one of them fails first, counting from 1 at injection time;
    /// 0 means none (the fault never fires, persistent or not).
    pub nth: u64,
    /// If `true`, that call and every later call of `kind` fail.
    pub persistent: bool,
    /// For [`OpKind::Sync`]: a failing sync also *forgets* the unsynced
    /// bytes, as Linux does when writeback fails: they will never become
    /// durable, even if a later sync succeeds.
    pub forget: bool,
}

impl Fault {
    /// The `nth` call of `kind` fails, once (never, if `nth` is 0).
    pub fn nth(kind: OpKind, nth: u64) -> Self {
        Fault {
            kind,
            nth,
            persistent: false,
            forget: false,
        }
    }

    /// Every call of `kind` from the `nth` on fails (none, if `nth` is 0).
    pub fn persistent(self) -> Self {
        Fault {
            persistent: true,
            ..self
        }
    }

    /// A failing sync forgets the unsynced bytes.
    pub fn forgetting(self) -> Self {
        Fault {
            forget: true,
            ..self
        }
    }
}

/// One numbered, mutating operation, as recorded in the trace.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TraceEntry {
    /// 1 for the first operation.
    pub number: u64,
    /// What kind of call it was.
    pub kind: OpKind,
    /// The file or directory.
    pub path: PathBuf,
    /// Details, e.g. the byte range of an append.
    pub detail: String,
    /// `false` if the call failed (stopped world, injected fault, or an
    /// error of its own such as `NotFound`).
    pub ok: bool,
}

impl fmt::Display for TraceEntry {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{:>4} {:<14} {}",
            self.number,
            self.kind.name(),
            self.path.display()
        )?;
        if !self.detail.is_empty() {
            write!(f, "  {}", self.detail)?;
        }
        if !self.ok {
            write!(f, "  FAILED")?;
        }
        Ok(())
    }
}

/// How often and how much a file was read.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct ReadStats {
    /// Number of [`ReadableFile::read_exact_at`] calls.
    pub calls: u64,
    /// Number of bytes those calls returned.
    pub bytes: u64,
}

type InodeId = usize;

/// One file's contents, shared by every name and handle that refers to it.
#[derive(Clone, Debug, Default)]
struct Inode {
    /// Every appended byte: what reads see and what a process kill keeps.
    data: Vec<u8>,
    /// How many leading bytes of `data` are durable (survive a power loss).
    synced: usize,
    /// Ranges of `data` that a failed, forgetting sync dropped: they never
    /// reach the disk, so after a power loss they read as zeros, even once
    /// a later sync has covered them.
    forgotten: Vec<Range<usize>>,
}

impl Inode {
    /// A file whose bytes are all durable, as every file of a power-loss
    /// image is.
    fn all_durable(data: Vec<u8>) -> Self {
        Inode {
            synced: data.len(),
            data,
            forgotten: Vec::new(),
        }
    }

    /// Byte `index` as the disk holds it (or would, once it is written back).
    fn disk_byte(&self, index: usize) -> u8 {
        if self.forgotten.iter().any(|range| range.contains(&index)) {
            0
        } else {
            self.data[index]
        }
    }

    /// The first `len` bytes as the disk holds them.
    fn disk_prefix(&self, len: usize) -> Vec<u8> {
        (0..len).map(|index| self.disk_byte(index)).collect()
    }

    /// What survives a power loss.
    fn durable(&self) -> Vec<u8> {
        self.disk_prefix(self.synced)
    }

    /// A successful sync: every appended byte becomes durable.
    fn sync(&mut self) {
        self.synced = self.data.len();
    }

    /// A failed, forgetting sync: the unsynced bytes will never be durable.
    fn forget_unsynced(&mut self) {
        if self.synced < self.data.len() {
            self.forgotten.push(self.synced..self.data.len());
        }
    }

    /// Cuts the file to `len` bytes.
    fn truncate(&mut self, len: usize) {
        self.data.truncate(len);
        self.synced = self.synced.min(len);
        for range in &mut self.forgotten {
            range.end = range.end.min(len);
        }
        self.forgotten.retain(|range| !range.is_empty());
    }
}

#[derive(Clone, Debug, Default)]
struct Dir {
    /// The entries now.
    current: BTreeMap<String, InodeId>,
    /// The entries as of the last [`Fs::sync_dir`]: what a power loss keeps.
    durable: BTreeMap<String, InodeId>,
}

#[derive(Clone, Debug)]
struct ActiveFault {
    fault: Fault,
    /// Calls of `fault.kind` seen since injection.
    seen: u64,
}

#[derive(Debug, Default)]
struct State {
    /// Every file ever created, by id; an unlinked file stays here, so a
    /// power loss that reverts its removal can bring it back.
    inodes: Vec<Inode>,
    dirs: BTreeMap<PathBuf, Dir>,
    trace: Vec<TraceEntry>,
    stop_after: Option<u64>,
    /// Injected faults that may still fire.
    faults: Vec<ActiveFault>,
    /// Whether the call just begun was failed by a forgetting fault; reset
    /// by every [`State::begin`].
    forgetting_fault_fired: bool,
    reads: BTreeMap<PathBuf, ReadStats>,
}

/// The simulated file system. See the module documentation.
#[derive(Clone, Debug)]
pub struct SimFs {
    state: Arc<Mutex<State>>,
}

impl Default for SimFs {
    fn default() -> Self {
        SimFs::new()
    }
}

impl SimFs {
    /// An empty file system with the directories `.` and `/`.
    pub fn new() -> Self {
        let mut state = State::default();
        state.dirs.insert(PathBuf::from("."), Dir::default());
        state.dirs.insert(PathBuf::from("/"), Dir::default());
        SimFs::from_state(state)
    }

    fn from_state(state: State) -> Self {
        SimFs {
            state: Arc::new(Mutex::new(state)),
        }
    }

    fn lock(&self) -> MutexGuard<'_, State> {
        // A test that panicked while holding the lock leaves the state as
        // it was at the panic; it is still the best evidence we have.
        self.state
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// The number of mutating operations attempted so far, failed ones
    /// included.
    pub fn op_count(&self) -> u64 {
        self.lock().trace.len() as u64
    }

    /// The numbered trace of every mutating operation so far.
    pub fn trace(&self) -> Vec<TraceEntry> {
        self.lock().trace.clone()
    }

    /// The trace as text, one operation per line.
    /// If the world was stopped with [`SimFs::stop_after`], a line marks
    /// the point: the operations after it are the ones that failed.
    pub fn trace_string(&self) -> String {
        let stop_after = self.lock().stop_after;
        let mut text = String::new();
        if stop_after == Some(0) {
            text.push_str("     ── the world stopped here: every later call fails ──\n");
        }
        for entry in self.trace() {
            text.push_str(&format!("{entry}\n"));
            if stop_after == Some(entry.number) {
                text.push_str("     ── the world stopped here: every later call fails ──\n");
            }
        }
        text
    }

    /// Stops the world after operation `after_op` has completed: every later
    /// call (of any kind, reads, `open`, `list` and `exists` included)
    /// fails with an I/O error, as if the process had died there. Combine
    /// with [`SimFs::crash`] to see what a crash at that point leaves on
    /// disk.
    pub fn stop_after(&self, after_op: u64) {
        self.lock().stop_after = Some(after_op);
    }

    /// `true` once the world has stopped.
    pub fn is_stopped(&self) -> bool {
        self.lock().is_stopped()
    }

    /// Injects an I/O error; see [`Fault`]. A fault with `nth == 0` never
    /// fires (calls are counted from 1).
    pub fn inject(&self, fault: Fault) {
        self.lock().faults.push(ActiveFault { fault, seen: 0 });
    }

    /// Read statistics of the file at `path` (as it was spelled at `open`).
    pub fn reads(&self, path: impl AsRef<Path>) -> ReadStats {
        self.lock()
            .reads
            .get(path.as_ref())
            .copied()
            .unwrap_or_default()
    }

    /// Forgets all read statistics.
    pub fn reset_reads(&self) {
        self.lock().reads.clear();
    }

    /// The current bytes of the file at `path`, if it exists.
    pub fn file_bytes(&self, path: impl AsRef<Path>) -> Option<Vec<u8>> {
        let state = self.lock();
        let id = state.lookup(path.as_ref())?;
        Some(state.inodes[id].data.clone())
    }

    /// The durable bytes of the file at `path` (what a power loss keeps of
    /// it, if its name survives), if it exists.
    pub fn durable_bytes(&self, path: impl AsRef<Path>) -> Option<Vec<u8>> {
        let state = self.lock();
        let id = state.lookup(path.as_ref())?;
        Some(state.inodes[id].durable())
    }

    /// Flips bit `bit` (bit 0 is the lowest bit of byte 0) of the file at
    /// `path`, as damage on the disk: both the current and the durable
    /// bytes change. Not an operation of the trace. Fails if there is no
    /// such file (`NotFound`) or no such bit ([`Error::InvalidArgument`]).
    pub fn flip_bit(&self, path: impl AsRef<Path>, bit: u64) -> Result<()> {
        let path = path.as_ref();
        self.damage(path, |inode| {
            let len = inode.data.len();
            let index = usize::try_from(bit / 8).unwrap_or(usize::MAX);
            let byte = inode.data.get_mut(index).ok_or_else(|| {
                Error::InvalidArgument(format!(
                    "bit {bit} is past the end of {} ({len} bytes)",
                    path.display()
                ))
            })?;
            *byte ^= 1 << (bit % 8);
            Ok(())
        })
    }

    /// Cuts the file at `path` to `len` bytes, as damage on the disk (not an
    /// operation of the trace). Fails if there is no such file (`NotFound`)
    /// or it is shorter than `len` ([`Error::InvalidArgument`]).
    pub fn truncate(&self, path: impl AsRef<Path>, len: u64) -> Result<()> {
        let path = path.as_ref();
        self.damage(path, |inode| {
            let len = usize::try_from(len)
                .ok()
                .filter(|&len| len <= inode.data.len())
                .ok_or_else(|| {
                    Error::InvalidArgument(format!(
                        "cannot truncate {} ({} bytes) to {len} bytes",
                        path.display(),
                        inode.data.len()
                    ))
                })?;
            inode.truncate(len);
            Ok(())
        })
    }

    /// Appends `garbage` to the file at `path` as damage on the disk (not
    /// an operation of the trace): what a crash can leave after the last
    /// real write. The garbage is in both the current and the durable
    /// bytes; as the durable bytes are a prefix of the file, the unsynced
    /// bytes before it become durable too. Fails with `NotFound` if there is
    /// no such file.
    pub fn append_garbage(&self, path: impl AsRef<Path>, garbage: &[u8]) -> Result<()> {
        self.damage(path.as_ref(), |inode| {
            inode.data.extend_from_slice(garbage);
            inode.sync();
            Ok(())
        })
    }

    fn damage(&self, path: &Path, change: impl FnOnce(&mut Inode) -> Result<()>) -> Result<()> {
        let mut state = self.lock();
        let id = state
            .lookup(path)
            .ok_or_else(|| not_found("damage", path))?;
        change(&mut state.inodes[id])
    }

    /// Builds the crash image `mode` of the current state: a new,
    /// independent file system with an empty trace, no faults, no stop
    /// point and no read statistics.
    ///
    /// A process-kill image keeps the durable/current split (the operating
    /// system survived, so what was not yet durable still is not); every
    /// power-loss image is entirely durable. Two names of one file (e.g.
    /// both sides of an unsynced rename) still share its bytes.
    pub fn crash(&self, mode: CrashMode) -> SimFs {
        let state = self.lock();
        let image = match mode {
            CrashMode::ProcessKill => State {
                inodes: state.inodes.clone(),
                dirs: state.dirs.clone(),
                ..State::default()
            },
            CrashMode::PowerLoss => state.power_loss_image(&mut Survival::exact()),
            CrashMode::PowerLossRandom { seed } => {
                state.power_loss_image(&mut Survival::random(seed, false))
            }
            CrashMode::Torn { seed } => state.power_loss_image(&mut Survival::random(seed, true)),
        };
        SimFs::from_state(image)
    }
}

impl State {
    fn is_stopped(&self) -> bool {
        matches!(self.stop_after, Some(k) if self.trace.len() as u64 >= k)
    }

    /// Fails if the world has stopped, for the calls that are neither
    /// numbered nor injectable (`list`, `exists`).
    fn check_running(&self, op: &'static str, path: &Path) -> Result<()> {
        if self.is_stopped() {
            return Err(crashed(op, path));
        }
        Ok(())
    }

    /// Starts a call of `kind`: fails if the world has stopped or an
    /// injected fault fires, and, for a mutating call, records it in the
    /// trace either way (see [`State::finish`] for later failures).
    fn begin(&mut self, kind: OpKind, path: &Path, detail: String) -> Result<()> {
        self.forgetting_fault_fired = false;
        let verdict = if self.is_stopped() {
            Err(crashed(kind.name(), path))
        } else {
            self.fire_fault(kind, path)
        };
        if kind.is_mutating() {
            let number = self.trace.len() as u64 + 1;
            self.trace.push(TraceEntry {
                number,
                kind,
                path: path.to_path_buf(),
                detail,
                ok: verdict.is_ok(),
            });
        }
        verdict
    }

    /// Ends a mutating call that [`State::begin`] let through: marks it
    /// failed in the trace if it failed after all (e.g. `NotFound`).
    fn finish<T>(&mut self, result: Result<T>) -> Result<T> {
        if result.is_err()
            && let Some(entry) = self.trace.last_mut()
        {
            entry.ok = false;
        }
        result
    }

    /// Counts a call of `kind` against every injected fault of that kind;
    /// fails it if one of them fires.
    fn fire_fault(&mut self, kind: OpKind, path: &Path) -> Result<()> {
        let mut fired: Option<(Fault, u64)> = None;
        for active in self.faults.iter_mut().filter(|a| a.fault.kind == kind) {
            active.seen += 1;
            let fault = active.fault;
            // Calls are counted from 1, so a fault with `nth == 0` never fires.
            let due = active.seen == fault.nth || (fault.persistent && active.seen > fault.nth);
            if fault.nth > 0 && due {
                fired = Some((fault, active.seen));
            }
        }
        // A one-shot fault that fired is spent; one with `nth == 0` is dead.
        self.faults.retain(|a| {
            a.fault.nth > 0 && (a.fault.persistent || a.fault.kind != kind || a.seen < a.fault.nth)
        });
        let Some((fault, seen)) = fired else {
            return Ok(());
        };
        self.forgetting_fault_fired = fault.forget;
        let message = format!("injected fault: {} number {seen}", kind.name());
        Err(Error::io(kind.name(), path, io::Error::other(message)))
    }

    fn lookup(&self, path: &Path) -> Option<InodeId> {
        let (dir, name) = split(path)?;
        self.dirs.get(&dir)?.current.get(&name).copied()
    }

    fn create_entry(&mut self, path: &Path) -> Result<InodeId> {
        let (dir, name) = split(path).ok_or_else(|| not_found("create", path))?;
        if self.lookup(path).is_some() || self.dirs.contains_key(path) {
            let exists = io::Error::from(io::ErrorKind::AlreadyExists);
            return Err(Error::io("create", path, exists));
        }
        let id = self.inodes.len();
        self.dirs
            .get_mut(&dir)
            .ok_or_else(|| not_found("create", path))?
            .current
            .insert(name, id);
        self.inodes.push(Inode::default());
        Ok(id)
    }

    fn rename_entry(&mut self, from: &Path, to: &Path) -> Result<()> {
        let id = self.lookup(from).ok_or_else(|| not_found("rename", from))?;
        let (from_dir, from_name) = split(from).ok_or_else(|| not_found("rename", from))?;
        let (to_dir, to_name) = split(to).ok_or_else(|| not_found("rename", to))?;
        if !self.dirs.contains_key(&to_dir) {
            return Err(not_found("rename", to));
        }
        if let Some(dir) = self.dirs.get_mut(&from_dir) {
            dir.current.remove(&from_name);
        }
        if let Some(dir) = self.dirs.get_mut(&to_dir) {
            dir.current.insert(to_name, id);
        }
        Ok(())
    }

    fn remove_entry(&mut self, path: &Path) -> Result<()> {
        let (dir, name) = split(path).ok_or_else(|| not_found("remove", path))?;
        self.dirs
            .get_mut(&dir)
            .and_then(|dir| dir.current.remove(&name))
            .map(drop)
            .ok_or_else(|| not_found("remove", path))
    }

    fn sync_dir_entries(&mut self, dir: &Path) -> Result<()> {
        let entry = self
            .dirs
            .get_mut(dir)
            .ok_or_else(|| not_found("sync_dir", dir))?;
        entry.durable = entry.current.clone();
        Ok(())
    }

    /// A power-loss image: directories keep their durable entries and files
    /// their durable bytes, plus what `survival` lets through of the rest.
    fn power_loss_image(&self, survival: &mut Survival) -> State {
        let mut image = State::default();
        // Old inode id -> new one, so that two surviving names of one file
        // share one crashed copy of it.
        let mut copies: BTreeMap<InodeId, InodeId> = BTreeMap::new();
        for (dir_path, dir) in &self.dirs {
            let mut entries = BTreeMap::new();
            for (name, id) in survival.entries(dir) {
                let copy = *copies.entry(id).or_insert_with(|| {
                    image.inodes.push(survival.inode(&self.inodes[id]));
                    image.inodes.len() - 1
                });
                entries.insert(name, copy);
            }
            let durable = entries.clone();
            image.dirs.insert(
                dir_path.clone(),
                Dir {
                    current: entries,
                    durable,
                },
            );
        }
        image
    }
}

/// What a power loss keeps of the unsynced state: nothing, or a random part
/// chosen by a seeded generator, possibly with a torn last sector.
struct Survival {
    rng: Option<Rng>,
    torn: bool,
}

impl Survival {
    fn exact() -> Self {
        Survival {
            rng: None,
            torn: false,
        }
    }

    fn random(seed: u64, torn: bool) -> Self {
        Survival {
            rng: Some(Rng::new(seed)),
            torn,
        }
    }

    /// The entries of `dir` that survive: each name whose entry changed
    /// since the last directory sync ends up either as it is now or as it
    /// was at that sync.
    fn entries(&mut self, dir: &Dir) -> BTreeMap<String, InodeId> {
        let names: BTreeSet<&String> = dir.current.keys().chain(dir.durable.keys()).collect();
        let mut kept = BTreeMap::new();
        for name in names {
            let now = dir.current.get(name);
            let then = dir.durable.get(name);
            let survivor = if now == then || self.coin() {
                now
            } else {
                then
            };
            if let Some(&id) = survivor {
                kept.insert(name.clone(), id);
            }
        }
        kept
    }

    /// The bytes of one file after the power loss.
    fn inode(&mut self, inode: &Inode) -> Inode {
        let synced = inode.synced;
        let kept = self.kept_len(inode.data.len() - synced);
        let mut bytes = inode.disk_prefix(synced + kept);
        if self.torn && kept > 0 && self.coin() {
            self.tear_last_sector(&mut bytes, synced..synced + kept);
        }
        Inode::all_durable(bytes)
    }

    /// How many bytes of an unsynced tail of `unsynced` bytes survive: none
    /// a quarter of the time, all of them a quarter of the time, and
    /// otherwise a cut anywhere in `0..=unsynced`. Both ends are where
    /// recovery bugs hide ("the last record is whole", "nothing after the
    /// synced prefix"); a uniform cut alone would reach them once in
    /// `unsynced + 1` images, i.e. practically never for a long tail.
    fn kept_len(&mut self, unsynced: usize) -> usize {
        let Some(rng) = &mut self.rng else { return 0 };
        match rng.below(4) {
            0 => 0,
            1 => unsynced,
            // `below` returns at most `unsynced`, which fits in a usize.
            _ => usize::try_from(rng.below(unsynced as u64 + 1)).unwrap_or(unsynced),
        }
    }

    /// Overwrites the part of `tail` that lies in its last sector with zeros
    /// or with garbage, as a write torn by a power loss can leave it.
    fn tear_last_sector(&mut self, bytes: &mut [u8], tail: Range<usize>) {
        let Some(rng) = &mut self.rng else { return };
        let sector_start = (tail.end - 1) / SECTOR_SIZE_BYTES * SECTOR_SIZE_BYTES;
        let start = sector_start.max(tail.start);
        let zeros = rng.coin();
        for byte in &mut bytes[start..tail.end] {
            *byte = if zeros { 0 } else { rng.next() as u8 };
        }
    }

    fn coin(&mut self) -> bool {
        self.rng.as_mut().is_some_and(Rng::coin)
    }
}

/// Splits a path into its directory and its file name.
fn split(path: &Path) -> Option<(PathBuf, String)> {
    let name = path.file_name()?.to_string_lossy().into_owned();
    Some((parent_dir(path), name))
}

fn not_found(op: &'static str, path: &Path) -> Error {
    Error::io(op, path, io::Error::from(io::ErrorKind::NotFound))
}

fn crashed(op: &'static str, path: &Path) -> Error {
    Error::io(
        op,
        path,
        io::Error::other("simulated crash: the world has stopped"),
    )
}

/// SplitMix64: a tiny, well-mixed deterministic generator. Crash images
/// must be reproducible from a seed on every platform, so no OS entropy.
#[derive(Debug)]
struct Rng(u64);

impl Rng {
    fn new(seed: u64) -> Self {
        Rng(seed)
    }

    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        mix(self.0)
    }

    fn coin(&mut self) -> bool {
        self.next() & 1 == 1
    }

    /// A number in `0..bound` (`bound` > 0).
    fn below(&mut self, bound: u64) -> u64 {
        self.next() % bound.max(1)
    }
}

fn mix(mut z: u64) -> u64 {
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    z ^ (z >> 31)
}

#[derive(Debug)]
struct SimWritable {
    fs: SimFs,
    id: InodeId,
    path: PathBuf,
}

#[derive(Debug)]
struct SimReadable {
    fs: SimFs,
    id: InodeId,
    path: PathBuf,
}

impl Fs for SimFs {
    fn create(&self, path: &Path) -> Result<Box<dyn WritableFile>> {
        let mut state = self.lock();
        state.begin(OpKind::Create, path, String::new())?;
        let created = state.create_entry(path);
        let id = state.finish(created)?;
        Ok(Box::new(SimWritable {
            fs: self.clone(),
            id,
            path: path.to_path_buf(),
        }))
    }

    fn open(&self, path: &Path) -> Result<Box<dyn ReadableFile>> {
        let mut state = self.lock();
        state.begin(OpKind::Open, path, String::new())?;
        let id = state.lookup(path).ok_or_else(|| not_found("open", path))?;
        Ok(Box::new(SimReadable {
            fs: self.clone(),
            id,
            path: path.to_path_buf(),
        }))
    }

    fn rename(&self, from: &Path, to: &Path) -> Result<()> {
        let mut state = self.lock();
        let detail = format!("-> {}", to.display());
        state.begin(OpKind::Rename, from, detail)?;
        let renamed = state.rename_entry(from, to);
        state.finish(renamed)
    }

    fn remove(&self, path: &Path) -> Result<()> {
        let mut state = self.lock();
        state.begin(OpKind::Remove, path, String::new())?;
        let removed = state.remove_entry(path);
        state.finish(removed)
    }

    fn list(&self, dir: &Path) -> Result<Vec<String>> {
        let state = self.lock();
        state.check_running("list", dir)?;
        let entries = &state
            .dirs
            .get(dir)
            .ok_or_else(|| not_found("list", dir))?
            .current;
        // Subdirectories are entries too.
        let subdirs = state
            .dirs
            .keys()
            .filter_map(|sub| split(sub).filter(|(parent, _)| parent == dir))
            .map(|(_, name)| name);
        let names: BTreeSet<String> = entries.keys().cloned().chain(subdirs).collect();
        Ok(names.into_iter().collect())
    }

    fn create_dir_all(&self, dir: &Path) -> Result<()> {
        let mut state = self.lock();
        state.begin(OpKind::CreateDir, dir, String::new())?;
        for ancestor in dir.ancestors() {
            if !ancestor.as_os_str().is_empty() {
                state.dirs.entry(ancestor.to_path_buf()).or_default();
            }
        }
        Ok(())
    }

    fn sync_dir(&self, dir: &Path) -> Result<()> {
        let mut state = self.lock();
        state.begin(OpKind::SyncDir, dir, String::new())?;
        let synced = state.sync_dir_entries(dir);
        state.finish(synced)
    }

    fn exists(&self, path: &Path) -> Result<bool> {
        let state = self.lock();
        state.check_running("exists", path)?;
        Ok(state.lookup(path).is_some() || state.dirs.contains_key(path))
    }
}

impl WritableFile for SimWritable {
    fn append(&mut self, data: &[u8]) -> Result<()> {
        let mut state = self.fs.lock();
        let start = state.inodes[self.id].data.len();
        let detail = format!("[{start}..{}) {} bytes", start + data.len(), data.len());
        state.begin(OpKind::Append, &self.path, detail)?;
        state.inodes[self.id].data.extend_from_slice(data);
        Ok(())
    }

    fn sync(&mut self) -> Result<()> {
        let mut state = self.fs.lock();
        let inode = &state.inodes[self.id];
        let detail = format!("durable {} -> {}", inode.synced, inode.data.len());
        if let Err(error) = state.begin(OpKind::Sync, &self.path, detail) {
            if state.forgetting_fault_fired {
                state.inodes[self.id].forget_unsynced();
            }
            return Err(error);
        }
        state.inodes[self.id].sync();
        Ok(())
    }

    fn len(&self) -> u64 {
        self.fs.lock().inodes[self.id].data.len() as u64
    }

    fn path(&self) -> &Path {
        &self.path
    }
}

impl ReadableFile for SimReadable {
    fn read_exact_at(&self, buf: &mut [u8], offset: u64) -> Result<()> {
        let mut state = self.fs.lock();
        state.begin(OpKind::Read, &self.path, String::new())?;
        let data = &state.inodes[self.id].data;
        let start = usize::try_from(offset).unwrap_or(usize::MAX);
        let end = start.saturating_add(buf.len());
        let source = data.get(start..end).ok_or_else(|| {
            let eof = io::Error::from(io::ErrorKind::UnexpectedEof);
            Error::io("read", &self.path, eof)
        })?;
        buf.copy_from_slice(source);
        let stats = state.reads.entry(self.path.clone()).or_default();
        stats.calls += 1;
        stats.bytes += buf.len() as u64;
        Ok(())
    }

    fn len(&self) -> u64 {
        self.fs.lock().inodes[self.id].data.len() as u64
    }

    fn path(&self) -> &Path {
        &self.path
    }
}

#[cfg(test)]
#[path = "sim_tests.rs"]
mod sim_tests;
