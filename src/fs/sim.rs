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
//! | [`CrashMode::PowerLossRandom`] | synced bytes + a random part of the unsynced tail | each unsynced change survives or not, independently |
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

use std::collections::BTreeMap;
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

    fn from_replay_code(code: &str) -> Option<CrashMode> {
        let (name, seed) = match code.split_once(':') {
            Some((name, seed)) => (name, seed.parse().ok()?),
            None => (code, 0),
        };
        match name {
            "kill" => Some(CrashMode::ProcessKill),
            "power" => Some(CrashMode::PowerLoss),
            "random" => Some(CrashMode::PowerLossRandom { seed }),
            "torn" => Some(CrashMode::Torn { seed }),
            _ => None,
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
    /// Which one of them fails first, counting from 1 at injection time.
    pub nth: u64,
    /// If `true`, that call and every later call of `kind` fail.
    pub persistent: bool,
    /// For [`OpKind::Sync`]: a failing sync also *forgets* the unsynced
    /// bytes, as Linux does when writeback fails: they will never become
    /// durable, even if a later sync succeeds.
    pub forget: bool,
}

impl Fault {
    /// The `nth` call of `kind` fails, once.
    pub fn nth(kind: OpKind, nth: u64) -> Self {
        Fault {
            kind,
            nth,
            persistent: false,
            forget: false,
        }
    }

    /// Every call of `kind` from the `nth` on fails.
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
    /// `false` if the call failed (stopped world or injected fault).
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

#[derive(Clone, Debug, Default)]
struct Inode {
    /// What reads see: every appended byte.
    data: Vec<u8>,
    /// What survives a power loss: a prefix of `data`, except that
    /// forgotten ranges are zeros.
    durable: Vec<u8>,
    /// Ranges a failed sync forgot; they become zeros when made durable.
    forgotten: Vec<Range<usize>>,
}

#[derive(Clone, Debug, Default)]
struct Dir {
    current: BTreeMap<String, InodeId>,
    durable: BTreeMap<String, InodeId>,
}

#[derive(Clone, Debug, Default)]
struct ActiveFault {
    fault: Option<Fault>,
    seen: u64,
}

#[derive(Debug, Default)]
struct State {
    inodes: Vec<Inode>,
    dirs: BTreeMap<PathBuf, Dir>,
    trace: Vec<TraceEntry>,
    stop_after: Option<u64>,
    faults: Vec<ActiveFault>,
    /// Set when the last fault that fired was a forgetting one.
    last_fault_forgets: bool,
    reads: BTreeMap<PathBuf, ReadStats>,
}

/// The simulated file system. See the module documentation.
#[derive(Clone, Debug, Default)]
pub struct SimFs {
    state: Arc<Mutex<State>>,
}

impl SimFs {
    /// An empty file system with the directories `.` and `/`.
    pub fn new() -> Self {
        let mut state = State::default();
        state.dirs.insert(PathBuf::from("."), Dir::default());
        state.dirs.insert(PathBuf::from("/"), Dir::default());
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

    /// The number of mutating operations attempted so far.
    pub fn op_count(&self) -> u64 {
        self.lock().trace.len() as u64
    }

    /// The numbered trace of every mutating operation so far.
    pub fn trace(&self) -> Vec<TraceEntry> {
        self.lock().trace.clone()
    }

    /// The trace as text, one operation per line.
    pub fn trace_string(&self) -> String {
        self.trace()
            .iter()
            .map(|entry| format!("{entry}\n"))
            .collect()
    }

    /// Stops the world after operation `after_op` has completed: every later
    /// call (of any kind, reads included) fails with an I/O error, as if the
    /// process had died there. Combine with [`SimFs::crash`] to see what a
    /// crash at that point leaves on disk.
    pub fn stop_after(&self, after_op: u64) {
        self.lock().stop_after = Some(after_op);
    }

    /// `true` once the world has stopped.
    pub fn is_stopped(&self) -> bool {
        let state = self.lock();
        matches!(state.stop_after, Some(k) if state.trace.len() as u64 >= k)
    }

    /// Injects an I/O error; see [`Fault`].
    pub fn inject(&self, fault: Fault) {
        self.lock().faults.push(ActiveFault {
            fault: Some(fault),
            seen: 0,
        });
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

    /// The durable (synced) bytes of the file at `path`, if it exists.
    pub fn durable_bytes(&self, path: impl AsRef<Path>) -> Option<Vec<u8>> {
        let state = self.lock();
        let id = state.lookup(path.as_ref())?;
        Some(state.inodes[id].durable.clone())
    }

    /// Flips bit `bit` (bit 0 is the lowest bit of byte 0) of the file at
    /// `path`, as damage on the disk: both the current and the durable
    /// bytes change. Not an operation of the trace.
    pub fn flip_bit(&self, path: impl AsRef<Path>, bit: u64) -> Result<()> {
        self.damage(path.as_ref(), |bytes| {
            let index = usize::try_from(bit / 8).unwrap_or(usize::MAX);
            if let Some(byte) = bytes.get_mut(index) {
                *byte ^= 1 << (bit % 8);
            }
        })
    }

    /// Cuts the file at `path` to `len` bytes (damage, not an operation).
    pub fn truncate(&self, path: impl AsRef<Path>, len: u64) -> Result<()> {
        let len = usize::try_from(len).unwrap_or(usize::MAX);
        self.damage(path.as_ref(), |bytes| bytes.truncate(len))
    }

    /// Appends `garbage` to the file at `path`, durably (damage, not an
    /// operation): what a crash can leave after the last real write.
    pub fn append_garbage(&self, path: impl AsRef<Path>, garbage: &[u8]) -> Result<()> {
        let path = path.as_ref();
        let mut state = self.lock();
        let id = state
            .lookup(path)
            .ok_or_else(|| not_found("damage", path))?;
        let inode = &mut state.inodes[id];
        inode
            .data
            .truncate(inode.durable.len().max(inode.data.len()));
        inode.durable = inode.data.clone();
        inode.data.extend_from_slice(garbage);
        inode.durable.extend_from_slice(garbage);
        Ok(())
    }

    fn damage(&self, path: &Path, change: impl Fn(&mut Vec<u8>)) -> Result<()> {
        let mut state = self.lock();
        let id = state
            .lookup(path)
            .ok_or_else(|| not_found("damage", path))?;
        let inode = &mut state.inodes[id];
        change(&mut inode.data);
        change(&mut inode.durable);
        Ok(())
    }

    /// Builds the crash image `mode` of the current state: a new, independent
    /// file system with an empty trace, no faults and no stop point.
    pub fn crash(&self, mode: CrashMode) -> SimFs {
        let state = self.lock();
        let mut rng = Rng::new(match mode {
            CrashMode::PowerLossRandom { seed } | CrashMode::Torn { seed } => seed,
            CrashMode::ProcessKill | CrashMode::PowerLoss => 0,
        });
        let mut image = State::default();
        for (dir_path, dir) in &state.dirs {
            let entries = surviving_entries(dir, mode, &mut rng);
            let mut new_dir = Dir::default();
            for (name, id) in entries {
                let inode = crashed_inode(&state.inodes[id], mode, &mut rng);
                image.inodes.push(inode);
                new_dir.current.insert(name, image.inodes.len() - 1);
            }
            new_dir.durable = new_dir.current.clone();
            image.dirs.insert(dir_path.clone(), new_dir);
        }
        SimFs {
            state: Arc::new(Mutex::new(image)),
        }
    }

    /// Starts a numbered operation: fails if the world has stopped or a
    /// fault fires, and records it in the trace either way.
    fn begin(&self, state: &mut State, kind: OpKind, path: &Path, detail: String) -> Result<()> {
        let stopped = matches!(state.stop_after, Some(k) if state.trace.len() as u64 >= k);
        let verdict = if stopped {
            Err(crashed(kind, path))
        } else {
            state.fire_fault(kind, path)
        };
        if kind.is_mutating() {
            let number = state.trace.len() as u64 + 1;
            state.trace.push(TraceEntry {
                number,
                kind,
                path: path.to_path_buf(),
                detail,
                ok: verdict.is_ok(),
            });
        }
        verdict
    }
}

impl State {
    fn lookup(&self, path: &Path) -> Option<InodeId> {
        let (dir, name) = split(path)?;
        self.dirs.get(&dir)?.current.get(&name).copied()
    }

    /// Checks the injected faults for a call of `kind`.
    fn fire_fault(&mut self, kind: OpKind, path: &Path) -> Result<()> {
        for active in &mut self.faults {
            let Some(fault) = active.fault.filter(|f| f.kind == kind) else {
                continue;
            };
            active.seen += 1;
            let fires = active.seen == fault.nth || (fault.persistent && active.seen > fault.nth);
            if fires {
                self.last_fault_forgets = fault.forget;
                if !fault.persistent {
                    active.fault = None;
                }
                return Err(Error::io(
                    kind.name(),
                    path,
                    io::Error::other(format!(
                        "injected fault: {} number {}",
                        kind.name(),
                        active.seen
                    )),
                ));
            }
        }
        Ok(())
    }

    fn forget_unsynced(&mut self, id: InodeId) {
        let inode = &mut self.inodes[id];
        let start = inode.durable.len();
        if start < inode.data.len() {
            inode.forgotten.push(start..inode.data.len());
        }
    }
}

/// The directory entries that survive a crash.
fn surviving_entries(dir: &Dir, mode: CrashMode, rng: &mut Rng) -> BTreeMap<String, InodeId> {
    match mode {
        CrashMode::ProcessKill => dir.current.clone(),
        CrashMode::PowerLoss => dir.durable.clone(),
        CrashMode::PowerLossRandom { .. } | CrashMode::Torn { .. } => {
            // Each name whose entry changed since the last directory sync
            // ends up either as it is now or as it was at that sync.
            let mut names: Vec<&String> = dir.current.keys().chain(dir.durable.keys()).collect();
            names.sort();
            names.dedup();
            let mut kept = BTreeMap::new();
            for name in names {
                let now = dir.current.get(name);
                let then = dir.durable.get(name);
                let survivor = if now == then || rng.coin() { now } else { then };
                if let Some(&id) = survivor {
                    kept.insert(name.clone(), id);
                }
            }
            kept
        }
    }
}

/// The bytes of one file after a crash.
fn crashed_inode(inode: &Inode, mode: CrashMode, rng: &mut Rng) -> Inode {
    let bytes = match mode {
        CrashMode::ProcessKill => inode.data.clone(),
        CrashMode::PowerLoss => inode.durable.clone(),
        CrashMode::PowerLossRandom { .. } | CrashMode::Torn { .. } => {
            let synced = inode.durable.len().min(inode.data.len());
            let unsynced = inode.data.len() - synced;
            let kept = rng.below(unsynced as u64 + 1) as usize;
            let mut bytes = inode.durable.clone();
            bytes.truncate(synced);
            let tail = synced..synced + kept;
            bytes.extend(tail.clone().map(|i| {
                if inode.forgotten.iter().any(|r| r.contains(&i)) {
                    0
                } else {
                    inode.data[i]
                }
            }));
            if matches!(mode, CrashMode::Torn { .. }) && kept > 0 && rng.coin() {
                tear_last_sector(&mut bytes, tail, rng);
            }
            bytes
        }
    };
    Inode {
        data: bytes.clone(),
        durable: bytes,
        forgotten: Vec::new(),
    }
}

/// Overwrites the part of `tail` that lies in its last sector with zeros or
/// with garbage, as a write torn by a power loss can leave it.
fn tear_last_sector(bytes: &mut [u8], tail: Range<usize>, rng: &mut Rng) {
    let sector_start = (tail.end - 1) / SECTOR_SIZE_BYTES * SECTOR_SIZE_BYTES;
    let start = sector_start.max(tail.start);
    let zeros = rng.coin();
    for byte in &mut bytes[start..tail.end] {
        *byte = if zeros { 0 } else { rng.next() as u8 };
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

fn crashed(kind: OpKind, path: &Path) -> Error {
    Error::io(
        kind.name(),
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
        self.begin(&mut state, OpKind::Create, path, String::new())?;
        let (dir, name) = split(path).ok_or_else(|| not_found("create", path))?;
        if state.lookup(path).is_some() {
            let exists = io::Error::from(io::ErrorKind::AlreadyExists);
            return Err(Error::io("create", path, exists));
        }
        let id = state.inodes.len();
        let dir = state
            .dirs
            .get_mut(&dir)
            .ok_or_else(|| not_found("create", path))?;
        dir.current.insert(name, id);
        state.inodes.push(Inode::default());
        Ok(Box::new(SimWritable {
            fs: self.clone(),
            id,
            path: path.to_path_buf(),
        }))
    }

    fn open(&self, path: &Path) -> Result<Box<dyn ReadableFile>> {
        let mut state = self.lock();
        self.begin(&mut state, OpKind::Open, path, String::new())?;
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
        self.begin(&mut state, OpKind::Rename, from, detail)?;
        let id = state
            .lookup(from)
            .ok_or_else(|| not_found("rename", from))?;
        let (from_dir, from_name) = split(from).ok_or_else(|| not_found("rename", from))?;
        let (to_dir, to_name) = split(to).ok_or_else(|| not_found("rename", to))?;
        if !state.dirs.contains_key(&to_dir) {
            return Err(not_found("rename", to));
        }
        if let Some(dir) = state.dirs.get_mut(&from_dir) {
            dir.current.remove(&from_name);
        }
        if let Some(dir) = state.dirs.get_mut(&to_dir) {
            dir.current.insert(to_name, id);
        }
        Ok(())
    }

    fn remove(&self, path: &Path) -> Result<()> {
        let mut state = self.lock();
        self.begin(&mut state, OpKind::Remove, path, String::new())?;
        let (dir, name) = split(path).ok_or_else(|| not_found("remove", path))?;
        state
            .dirs
            .get_mut(&dir)
            .and_then(|dir| dir.current.remove(&name))
            .map(drop)
            .ok_or_else(|| not_found("remove", path))
    }

    fn list(&self, dir: &Path) -> Result<Vec<String>> {
        let state = self.lock();
        if matches!(state.stop_after, Some(k) if state.trace.len() as u64 >= k) {
            return Err(crashed(OpKind::Open, dir));
        }
        let mut names: Vec<String> = state
            .dirs
            .get(dir)
            .ok_or_else(|| not_found("list", dir))?
            .current
            .keys()
            .cloned()
            .collect();
        // Subdirectories are entries too.
        for sub in state.dirs.keys() {
            if let Some(name) = sub.file_name().filter(|_| sub.parent() == Some(dir)) {
                names.push(name.to_string_lossy().into_owned());
            }
        }
        names.sort();
        Ok(names)
    }

    fn create_dir_all(&self, dir: &Path) -> Result<()> {
        let mut state = self.lock();
        self.begin(&mut state, OpKind::CreateDir, dir, String::new())?;
        for ancestor in dir.ancestors() {
            if !ancestor.as_os_str().is_empty() {
                state.dirs.entry(ancestor.to_path_buf()).or_default();
            }
        }
        Ok(())
    }

    fn sync_dir(&self, dir: &Path) -> Result<()> {
        let mut state = self.lock();
        self.begin(&mut state, OpKind::SyncDir, dir, String::new())?;
        let entry = state
            .dirs
            .get_mut(dir)
            .ok_or_else(|| not_found("sync_dir", dir))?;
        entry.durable = entry.current.clone();
        Ok(())
    }

    fn exists(&self, path: &Path) -> Result<bool> {
        let state = self.lock();
        if matches!(state.stop_after, Some(k) if state.trace.len() as u64 >= k) {
            return Err(crashed(OpKind::Open, path));
        }
        Ok(state.lookup(path).is_some() || state.dirs.contains_key(path))
    }
}

impl WritableFile for SimWritable {
    fn append(&mut self, data: &[u8]) -> Result<()> {
        let mut state = self.fs.lock();
        let start = state.inodes[self.id].data.len();
        let detail = format!("[{start}..{}) {} bytes", start + data.len(), data.len());
        self.fs
            .begin(&mut state, OpKind::Append, &self.path, detail)?;
        state.inodes[self.id].data.extend_from_slice(data);
        Ok(())
    }

    fn sync(&mut self) -> Result<()> {
        let mut state = self.fs.lock();
        let inode = &state.inodes[self.id];
        let detail = format!("durable {} -> {}", inode.durable.len(), inode.data.len());
        let verdict = self.fs.begin(&mut state, OpKind::Sync, &self.path, detail);
        if verdict.is_err() {
            if std::mem::take(&mut state.last_fault_forgets) {
                state.forget_unsynced(self.id);
            }
            return verdict;
        }
        let inode = &mut state.inodes[self.id];
        let from = inode.durable.len();
        for i in from..inode.data.len() {
            let lost = inode.forgotten.iter().any(|r| r.contains(&i));
            inode.durable.push(if lost { 0 } else { inode.data[i] });
        }
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
        let detail = String::new();
        self.fs
            .begin(&mut state, OpKind::Read, &self.path, detail)?;
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
