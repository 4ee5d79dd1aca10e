//! `lsm` — play with your engine. Opens the database in a directory of the
//! real file system with chapter 7's `Db` (your code, or the reference with
//! `--features solutions`) and reads one command per line from stdin:
//!
//! ```text
//! cargo run --bin lsm -- /tmp/mydb
//! echo 'SET a 1
//! GET a' | cargo run -q --bin lsm --features solutions -- /tmp/mydb
//! ```
//!
//! Keys and values are bytes: quote them for spaces (`"a b"`), escape with
//! `\xNN`, `\"` and `\\`. Values are printed the same way, so what `GET`
//! and `SCAN` print can be typed back. A bad command or an engine error is
//! one `error:` line and the session goes on; a `todo!()` your chapters
//! still hold is reported as "chapter N is not done yet". The prompt is
//! printed only when stdin is a terminal, so a piped session prints only
//! results. QUIT, EXIT and the end of input close the database cleanly.
//!
//! Chapter 9's commands: `SNAPSHOT`, reads `AT` a snapshot or `ASOF` a
//! time, `BEGIN` … `COMMIT` / `ROLLBACK`, `NOW`. The database is opened
//! with a timeline (what `ch09_snapshots::open_with_timeline` does) only
//! if chapter 9's timeline functions do not stop at a `todo!()`; without
//! it, `ASOF` says chapter 9 is not implemented yet. Snapshots and the open
//! transaction live in the session, next to the `Db` they borrow: they are
//! in memory only, and the end of the session drops them (an open
//! transaction writes nothing).
//!
//! `--config FILE` opens the database with the options of a TOML file
//! (chapter 10; `config.rs` has the format, `lsm.example.toml` at the
//! repository's root every key with its default):
//!
//! ```text
//! cargo run --bin lsm -- --config lsm.example.toml /tmp/mydb
//! ```
//!
//! A key the file leaves out keeps the REPL's default: the engine's
//! `Options::default()`, no block cache, chapter 8's leveled compaction
//! and chapter 9's timeline if those chapters are done (set explicitly,
//! they must be). An unknown key or a bad value stops the REPL before it
//! opens anything, with the file, line and key on stderr.
//! Book: "7. The engine", *Play with your engine*; "9. Snapshots, time
//! travel and transactions"; "10. Background work, stalls and the block
//! cache".

// A crate root's modules sit next to it (src/bin/), so the path is named.
#[path = "lsm/config.rs"]
mod config;

use std::any::Any;
use std::cell::RefCell;
use std::collections::BTreeMap;
use std::io::{self, BufRead, IsTerminal, Write};
use std::ops::Bound;
use std::panic::{self, AssertUnwindSafe};
use std::path::Path;
use std::process::ExitCode;
use std::sync::Arc;
use std::time::Instant;

use lsm_workbook::Error;
use lsm_workbook::ch06_manifest::Version;
use lsm_workbook::ch07_engine::{Db, DbStats, History, Options, WriteOptions};
use lsm_workbook::ch08_compaction::pick;
use lsm_workbook::ch09_snapshots::{
    Snapshot, Timeline, TimelineOptions, Transaction, retained, sample_for, seq_as_of,
};

use config::Config;

/// Each command: its name, its usage line, what it does.
const COMMANDS: &[(&str, &str, &str)] = &[
    (
        "SET",
        "SET key value",
        "sets key to value (PUT is the same); in a transaction, buffered until COMMIT",
    ),
    (
        "GET",
        "GET key [AT n | ASOF time]",
        "the value of key or (nil): now (as the open transaction sees it), in snapshot n, or as of a time",
    ),
    (
        "DEL",
        "DEL key",
        "deletes key; in a transaction, buffered until COMMIT",
    ),
    (
        "SCAN",
        "SCAN [prefix | from to] [AT n | ASOF time]",
        "pairs in key order: all, those with a prefix, or from <= key < to; AT and ASOF as for GET",
    ),
    (
        "BATCH",
        "BATCH n",
        "n random puts (16-digit keys below n, 100-byte values), one unsynced write each, timed",
    ),
    (
        "FLUSH",
        "FLUSH",
        "freezes the memtable and flushes it to a level-0 table",
    ),
    (
        "SNAPSHOT",
        "SNAPSHOT",
        "takes a snapshot of the database as it is now; prints its number n",
    ),
    (
        "RELEASE",
        "RELEASE n",
        "drops snapshot n: compaction may then reclaim the versions only it could see",
    ),
    (
        "BEGIN",
        "BEGIN",
        "starts a transaction: GET, SET, DEL and SCAN go to it until COMMIT or ROLLBACK",
    ),
    (
        "COMMIT",
        "COMMIT",
        "writes its writes as one batch, or fails with a conflict (nothing written) if a key it read changed",
    ),
    (
        "ROLLBACK",
        "ROLLBACK",
        "drops the transaction: nothing of it is written",
    ),
    (
        "!",
        "!command",
        "runs command outside the open transaction, as another client would",
    ),
    (
        "NOW",
        "NOW",
        "the database's clock: unix milliseconds (what ASOF takes) and UTC",
    ),
    (
        "STATS",
        "STATS",
        "tables, bytes and entries per level; memtable; flushes, compactions, stalls, threads; the block cache; amplifications; pins, snapshots, the timeline",
    ),
    ("HELP", "HELP", "this list"),
    (
        "QUIT",
        "QUIT | EXIT",
        "closes the database and leaves (so does the end of input)",
    ),
];

const USAGE: &str = "usage: lsm [--config FILE] DIR
  opens or creates the database in DIR; HELP inside lists the commands
  --config FILE   options from a TOML file (lsm.example.toml lists every key)";

/// What the command line asks for.
enum Command {
    Help,
    Run { config: Option<String>, dir: String },
}

/// `lsm DIR`, `lsm --config FILE DIR` (or `--config=FILE`, either side of
/// DIR), `lsm --help`; `None` for anything else.
fn command(args: &[String]) -> Option<Command> {
    let mut config = None;
    let mut dir = None;
    let mut args = args.iter();
    while let Some(arg) = args.next() {
        match arg.as_str() {
            "-h" | "--help" => return Some(Command::Help),
            "--config" if config.is_none() => config = Some(args.next()?.clone()),
            flag if flag.starts_with("--config=") && config.is_none() => {
                config = Some(flag["--config=".len()..].to_string());
            }
            flag if flag.starts_with('-') && flag != "-" => return None,
            _ if dir.is_some() => return None,
            path => dir = Some(path.to_string()),
        }
    }
    Some(Command::Run { config, dir: dir? })
}

/// The config `path` names, or the defaults without one; `Err` is the
/// line to print.
fn load_config(path: Option<&str>) -> Result<Config, String> {
    let Some(path) = path else {
        return Ok(Config::default());
    };
    let text = std::fs::read_to_string(path)
        .map_err(|error| format!("error: cannot read the config file {path}: {error}"))?;
    config::parse(&text, path).map_err(|error| format!("error: {error}"))
}

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let (config, dir) = match command(&args) {
        Some(Command::Help) => {
            println!("{USAGE}");
            return ExitCode::SUCCESS;
        }
        Some(Command::Run { config, dir }) => (config, dir),
        None => {
            eprintln!("{USAGE}");
            return ExitCode::from(2);
        }
    };
    let config = match load_config(config.as_deref()) {
        Ok(config) => config,
        Err(message) => {
            eprintln!("{message}");
            return ExitCode::FAILURE;
        }
    };
    let dir = dir.as_str();
    quiet_panics();
    let (db, timeline) = match open(dir, &config) {
        Ok(opened) => opened,
        Err(message) => {
            eprintln!("{message}");
            return ExitCode::FAILURE;
        }
    };
    let interactive = io::stdin().is_terminal();
    if interactive {
        let engine = if cfg!(feature = "ref-ch07") {
            "the reference"
        } else {
            "your"
        };
        let history = match &timeline {
            Ok(_) => "with a timeline".to_string(),
            Err(no) => format!("without a timeline ({})", no.why()),
        };
        let options = match config.file.as_str() {
            "" => String::new(),
            file => format!(" with the options of {file}"),
        };
        println!("lsm: {engine} engine on {dir}{options}, {history}; HELP lists the commands");
    }
    session(&db, timeline, interactive);
    match guarded(|| db.close()) {
        Ok(Ok(())) => ExitCode::SUCCESS,
        Ok(Err(error)) => {
            eprintln!("error: close: {error}");
            ExitCode::FAILURE
        }
        Err(panic) => {
            eprintln!("{panic}");
            ExitCode::FAILURE
        }
    }
}

/// Why a session has no timeline.
enum NoTimeline {
    /// Chapter 9's timeline functions stop at a `todo!()`: the report.
    Unimplemented(String),
    /// The config file turns it off: where (`lsm.toml:12`).
    Off(String),
}

impl NoTimeline {
    /// Why, for the banner and STATS.
    fn why(&self) -> String {
        match self {
            NoTimeline::Unimplemented(_) => "chapter 9 is not implemented yet".to_string(),
            NoTimeline::Off(place) => format!("turned off by {place}"),
        }
    }
}

/// The database, and its timeline or why it has none.
type Opened = (Db, Result<Arc<Timeline>, NoTimeline>);

/// `lsm.toml:7`: where the config file sets `key` in `table`.
fn place(config: &Config, table: &str, key: &str) -> String {
    match config.line(table, key) {
        Some(line) => format!("{}:{line}", config.file),
        None => format!("the default {key}"),
    }
}

/// Opens the database in `dir` with `config`'s options and what the
/// learner's chapters support: chapter 8's compaction if its `pick` does
/// not stop at a `todo!()`, chapter 9's timeline if its functions do not
/// (else why not) — unless the config asks for them by name, which makes
/// a missing chapter an error. `Err` is the line to print.
fn open(dir: &str, config: &Config) -> Result<Opened, String> {
    let current = lsm_workbook::filename::FileName::Current.path(Path::new(dir));
    if !config.create_if_missing && !current.exists() {
        return Err(format!(
            "error: cannot open {dir}: it holds no database (no CURRENT), and {} sets \
             create_if_missing = false",
            place(config, "", "create_if_missing")
        ));
    }
    let mut options = guarded(|| config.apply(Options::default())).map_err(|why| {
        let place = place(config, "", "block_cache_bytes");
        format!("error: {place}: block_cache_bytes needs chapter 10's cache: {why}")
    })?;
    if options.compaction.is_some()
        && let Err(why) = guarded(|| pick(&Version::default(), &config.leveled))
    {
        if let Some(line) = config.line("compaction", "style") {
            let file = &config.file;
            return Err(format!(
                "error: {file}:{line}: style = \"leveled\" needs chapter 8's compaction: {why}"
            ));
        }
        options.compaction = None;
    }
    let timeline = timeline(dir, config, &options)?;
    let options = Options {
        history: timeline
            .as_ref()
            .ok()
            .map(|timeline| Arc::clone(timeline) as Arc<dyn History>),
        ..options
    };
    match guarded(|| Db::open(dir, options)) {
        Ok(Ok(db)) => Ok((db, timeline)),
        Ok(Err(error)) => Err(format!("error: cannot open {dir}: {error}")),
        Err(panic) => Err(panic),
    }
}

/// What `open_with_timeline` does, keeping the timeline for STATS: the
/// outer `Err` is a line to print (the REPL stops), the inner one why the
/// session goes on without a timeline.
fn timeline(
    dir: &str,
    config: &Config,
    options: &Options,
) -> Result<Result<Arc<Timeline>, NoTimeline>, String> {
    if !config.timeline_enabled {
        return Ok(Err(NoTimeline::Off(place(config, "timeline", "enabled"))));
    }
    if let Err(why) = timeline_implemented(&config.timeline) {
        return match config.line("timeline", "enabled") {
            Some(line) => Err(format!(
                "error: {}:{line}: enabled = true needs chapter 9's timeline: {why}",
                config.file
            )),
            None => Ok(Err(NoTimeline::Unimplemented(why))),
        };
    }
    let fs = Arc::clone(&options.fs);
    match guarded(|| Timeline::open(fs, Path::new(dir), config.timeline)) {
        Ok(Ok(timeline)) => Ok(Ok(timeline)),
        Ok(Err(error)) => Err(format!("error: cannot open {dir}: {error}")),
        Err(panic) => Err(panic),
    }
}

/// `Ok` if chapter 9's timeline functions answer (the timeline calls all
/// three: `sample_for` before writes, `retained` after a sample,
/// `seq_as_of` for reads and for what compaction keeps); else the report
/// of the first `todo!()` (or panic) met.
fn timeline_implemented(options: &TimelineOptions) -> Result<(), String> {
    guarded(|| {
        sample_for(&[], 1, 0, options);
        retained(&[], 0, options);
        let _ = seq_as_of(&[], 0, 0, 0, options);
    })
}

/// Reads and runs commands until QUIT, the end of input, or stdout closes.
fn session(db: &Db, timeline: Result<Arc<Timeline>, NoTimeline>, interactive: bool) {
    let mut state = Session {
        db,
        timeline,
        snapshots: BTreeMap::new(),
        snapshots_taken: 0,
        transaction: None,
    };
    let mut input = io::stdin().lock();
    let mut out = io::stdout().lock();
    let mut line = Vec::new();
    loop {
        let prompt = match state.transaction {
            Some(_) => "lsm(transaction)> ",
            None => "lsm> ",
        };
        if interactive && write!(out, "{prompt}").and_then(|()| out.flush()).is_err() {
            return;
        }
        line.clear();
        match input.read_until(b'\n', &mut line) {
            Ok(0) => {
                if interactive {
                    let _ = writeln!(out);
                }
                break;
            }
            Ok(_) => {}
            Err(error) => {
                let _ = writeln!(out, "error: reading stdin: {error}");
                return;
            }
        }
        let outcome = match split(&line) {
            Ok(words) => match guarded(|| state.execute(&words, &mut out)) {
                Ok(outcome) => outcome,
                Err(panic) => Err(Failure::Message(panic)),
            },
            Err(message) => Err(refuse(message)),
        };
        let written = match outcome {
            Ok(Flow::Continue) => Ok(()),
            Ok(Flow::Quit) => break,
            Err(Failure::Message(message)) => writeln!(out, "{message}"),
            Err(Failure::Output(error)) => Err(error),
        };
        if written.is_err() {
            return;
        }
    }
    if let Some(transaction) = state.transaction.take() {
        let writes = plural(transaction.write_count() as u64, "write");
        let _ = writeln!(
            out,
            "the open transaction is rolled back: {writes} not written"
        );
    }
}

enum Flow {
    Continue,
    Quit,
}

/// Why a command stopped: a line to print, or stdout is gone.
enum Failure {
    Message(String),
    Output(io::Error),
}

impl From<io::Error> for Failure {
    fn from(error: io::Error) -> Self {
        Failure::Output(error)
    }
}

impl From<Error> for Failure {
    fn from(error: Error) -> Self {
        refuse(error.to_string())
    }
}

fn refuse(message: String) -> Failure {
    Failure::Message(format!("error: {message}"))
}

/// What a read sees: the database now (or the open transaction), a
/// snapshot by its number, or the database as of a time (µs).
#[derive(Clone, Copy)]
enum View {
    Now,
    Snapshot(u64),
    AsOf(u64),
}

/// A key range, owned.
type Range = (Bound<Vec<u8>>, Bound<Vec<u8>>);

/// The session's state: the database and what borrows it.
struct Session<'db> {
    db: &'db Db,
    /// The timeline, or why the database was opened without one.
    timeline: Result<Arc<Timeline>, NoTimeline>,
    /// Open snapshots by their number (1, 2, … in the order taken).
    snapshots: BTreeMap<u64, Snapshot<'db>>,
    snapshots_taken: u64,
    transaction: Option<Transaction<'db>>,
}

impl<'db> Session<'db> {
    fn execute(&mut self, words: &[Word], out: &mut dyn Write) -> Result<Flow, Failure> {
        let Some((first, rest)) = words.split_first() else {
            return Ok(Flow::Continue);
        };
        let name = String::from_utf8_lossy(&first.bytes).to_ascii_uppercase();
        if name.starts_with('#') {
            return Ok(Flow::Continue);
        }
        let (name, outside) = match name.strip_prefix('!') {
            Some(name) => (name, true),
            None => (name.as_str(), false),
        };
        let name = match name {
            "PUT" => "SET",
            "EXIT" => "QUIT",
            name => name,
        };
        let (rest, view) = match name {
            "GET" | "SCAN" => self.view_of(rest)?,
            _ => (rest, View::Now),
        };
        let args: Vec<&[u8]> = rest.iter().map(|word| word.bytes.as_slice()).collect();
        match (name, args.as_slice()) {
            ("SET", [key, value]) => self.write(key, Some(value), outside, out)?,
            ("GET", [key]) => self.get(key, view, outside, out)?,
            ("DEL", [key]) => self.write(key, None, outside, out)?,
            ("SCAN", bounds) if bounds.len() <= 2 => {
                let range = scan_range(bounds)?;
                self.scan(&range, view, outside, out)?;
            }
            ("BATCH", [count]) => batch(self.db, count, out)?,
            ("FLUSH", []) => {
                self.db.flush()?;
                writeln!(out, "OK")?;
            }
            ("SNAPSHOT", []) => self.take_snapshot(out)?,
            ("RELEASE", [number]) => self.release(number, out)?,
            ("BEGIN", []) => self.begin(out)?,
            ("COMMIT", []) => self.commit(out)?,
            ("ROLLBACK", []) => self.rollback(out)?,
            ("NOW", []) => now(self.db, out)?,
            ("STATS", []) => self.stats(out)?,
            ("HELP", []) => help(&self.timeline, out)?,
            ("QUIT", []) => return Ok(Flow::Quit),
            _ => {
                return Err(refuse(match COMMANDS.iter().find(|c| c.0 == name) {
                    Some((_, usage, _)) => format!("wrong number of arguments: {usage}"),
                    None => format!(
                        "unknown command {}; HELP lists the commands",
                        readable(name.as_bytes())
                    ),
                }));
            }
        }
        Ok(Flow::Continue)
    }

    /// Splits a trailing `AT n` or `ASOF time` (the keyword unquoted) off
    /// a read's arguments.
    fn view_of<'w>(&self, args: &'w [Word]) -> Result<(&'w [Word], View), Failure> {
        let Some((keyword, rest)) = args.len().checked_sub(2).map(|at| args[at..].split_at(1))
        else {
            return Ok((args, View::Now));
        };
        let (keyword, value) = (&keyword[0], &rest[0].bytes);
        let head = &args[..args.len() - 2];
        if !keyword.bare {
            return Ok((args, View::Now));
        }
        match keyword.bytes.to_ascii_uppercase().as_slice() {
            b"AT" => {
                let number = parse_number(value).ok_or_else(|| {
                    refuse(format!(
                        "AT needs a snapshot number (SNAPSHOT prints it), got {}",
                        readable(value)
                    ))
                })?;
                Ok((head, View::Snapshot(number)))
            }
            b"ASOF" => {
                let time = parse_time(value, self.db.clock().now_micros()).map_err(refuse)?;
                Ok((head, View::AsOf(time)))
            }
            _ => Ok((args, View::Now)),
        }
    }

    /// The open transaction, unless the command runs outside it (`!`).
    fn inside(&mut self, outside: bool) -> Option<&mut Transaction<'db>> {
        self.transaction.as_mut().filter(|_| !outside)
    }

    /// A put (`Some(value)`) or a delete of `key`.
    fn write(
        &mut self,
        key: &[u8],
        value: Option<&[u8]>,
        outside: bool,
        out: &mut dyn Write,
    ) -> Result<(), Failure> {
        if let Some(transaction) = self.inside(outside) {
            match value {
                Some(value) => transaction.put(key.to_vec(), value.to_vec()),
                None => transaction.delete(key.to_vec()),
            }
            writeln!(out, "OK (in the transaction)")?;
            return Ok(());
        }
        match value {
            Some(value) => self.db.put(key.to_vec(), value.to_vec())?,
            None => self.db.delete(key.to_vec())?,
        }
        writeln!(out, "OK")?;
        Ok(())
    }

    fn get(
        &mut self,
        key: &[u8],
        view: View,
        outside: bool,
        out: &mut dyn Write,
    ) -> Result<(), Failure> {
        let value = match view {
            View::Now => match self.inside(outside) {
                Some(transaction) => transaction.get(key)?,
                None => self.db.get(key)?,
            },
            View::Snapshot(number) => self.snapshot(number)?.get(key)?,
            View::AsOf(time) => {
                self.require_timeline()?;
                self.db.get_as_of(key, time)?
            }
        };
        match value {
            Some(value) => writeln!(out, "{}", readable(&value))?,
            None => writeln!(out, "(nil)")?,
        }
        Ok(())
    }

    fn scan(
        &mut self,
        range: &Range,
        view: View,
        outside: bool,
        out: &mut dyn Write,
    ) -> Result<(), Failure> {
        let bounds = (
            range.0.as_ref().map(Vec::as_slice),
            range.1.as_ref().map(Vec::as_slice),
        );
        match view {
            View::Now => match self.inside(outside) {
                Some(transaction) => {
                    print_pairs(transaction.scan(bounds)?.into_iter().map(Ok), out)
                }
                None => print_pairs(self.db.scan(bounds), out),
            },
            View::Snapshot(number) => print_pairs(self.snapshot(number)?.scan(bounds), out),
            View::AsOf(time) => {
                self.require_timeline()?;
                print_pairs(self.db.scan_as_of(bounds, time)?, out)
            }
        }
    }

    fn snapshot(&self, number: u64) -> Result<&Snapshot<'db>, Failure> {
        self.snapshots.get(&number).ok_or_else(|| {
            refuse(format!(
                "no snapshot {number} is open ({})",
                self.open_snapshots()
            ))
        })
    }

    /// `1 at seq 4, 3 at seq 9`, or that none is.
    fn open_snapshots(&self) -> String {
        if self.snapshots.is_empty() {
            return "none is open: SNAPSHOT takes one".to_string();
        }
        let open: Vec<String> = self
            .snapshots
            .iter()
            .map(|(number, snapshot)| format!("{number} at seq {}", snapshot.seq()))
            .collect();
        format!("open: {}", open.join(", "))
    }

    fn require_timeline(&self) -> Result<(), Failure> {
        match &self.timeline {
            Ok(_) => Ok(()),
            Err(NoTimeline::Unimplemented(why)) => Err(Failure::Message(format!(
                "chapter 9 is not implemented yet: ASOF reads need the timeline, and the database \
                 was opened without one ({})",
                why.strip_prefix("chapter 9 is not done yet: ")
                    .unwrap_or(why)
            ))),
            Err(NoTimeline::Off(place)) => Err(refuse(format!(
                "ASOF reads need the timeline, and {place} turns it off ([timeline] enabled = false)"
            ))),
        }
    }

    fn take_snapshot(&mut self, out: &mut dyn Write) -> Result<(), Failure> {
        let snapshot = self.db.snapshot();
        let seq = snapshot.seq();
        self.snapshots_taken += 1;
        let number = self.snapshots_taken;
        self.snapshots.insert(number, snapshot);
        writeln!(out, "snapshot {number} at seq {seq}")?;
        Ok(())
    }

    fn release(&mut self, number: &[u8], out: &mut dyn Write) -> Result<(), Failure> {
        let number = parse_number(number).ok_or_else(|| {
            refuse(format!(
                "RELEASE n needs a snapshot number, got {}",
                readable(number)
            ))
        })?;
        self.snapshot(number)?;
        if let Some(snapshot) = self.snapshots.remove(&number) {
            let seq = snapshot.seq();
            drop(snapshot);
            writeln!(out, "released snapshot {number} at seq {seq}")?;
        }
        Ok(())
    }

    fn begin(&mut self, out: &mut dyn Write) -> Result<(), Failure> {
        if let Some(open) = &self.transaction {
            return Err(refuse(format!(
                "a transaction is already open (at seq {}): COMMIT or ROLLBACK it first",
                open.snapshot_seq()
            )));
        }
        let transaction = self.db.transaction();
        writeln!(out, "transaction at seq {}", transaction.snapshot_seq())?;
        self.transaction = Some(transaction);
        Ok(())
    }

    fn take_transaction(&mut self) -> Result<Transaction<'db>, Failure> {
        self.transaction
            .take()
            .ok_or_else(|| refuse("no transaction is open: BEGIN starts one".to_string()))
    }

    fn commit(&mut self, out: &mut dyn Write) -> Result<(), Failure> {
        self.take_transaction()?.commit(WriteOptions::default())?;
        writeln!(out, "committed")?;
        Ok(())
    }

    fn rollback(&mut self, out: &mut dyn Write) -> Result<(), Failure> {
        let transaction = self.take_transaction()?;
        let writes = plural(transaction.write_count() as u64, "write");
        drop(transaction);
        writeln!(out, "rolled back: {writes} dropped")?;
        Ok(())
    }

    fn stats(&self, out: &mut dyn Write) -> io::Result<()> {
        stats(self.db, out)?;
        let pins = self.db.pins();
        let oldest = match pins.oldest() {
            Some(seq) => format!(", the oldest at seq {seq}"),
            None => String::new(),
        };
        writeln!(
            out,
            "pins: {}{oldest}; oldest readable seq {}",
            pins.len(),
            self.db.oldest_readable_seq()
        )?;
        match self.snapshots.is_empty() {
            true => writeln!(out, "snapshots: none")?,
            false => writeln!(
                out,
                "snapshots: {}",
                &self.open_snapshots()["open: ".len()..]
            )?,
        }
        match &self.transaction {
            Some(open) => writeln!(
                out,
                "transaction: open at seq {}, {} buffered",
                open.snapshot_seq(),
                plural(open.write_count() as u64, "write")
            )?,
            None => writeln!(out, "transaction: none")?,
        }
        match &self.timeline {
            Ok(timeline) => timeline_stats(timeline, out),
            Err(no) => writeln!(out, "timeline: none ({})", no.why()),
        }
    }
}

/// `timeline: 3 samples, first … → seq 0, last … → seq 7 (…)`.
fn timeline_stats(timeline: &Timeline, out: &mut dyn Write) -> io::Result<()> {
    let samples = timeline.samples();
    let options = timeline.options();
    let mut line = format!("timeline: {}", plural(samples.len() as u64, "sample"));
    if let (Some(first), Some(last)) = (samples.first(), samples.last()) {
        line += &format!(
            ", first {} → seq {}, last {} → seq {}",
            utc(first.time_micros),
            first.seq,
            utc(last.time_micros),
            last.seq
        );
    }
    writeln!(
        out,
        "{line} (a sample per {}, kept {})",
        duration(options.resolution_micros),
        duration(options.retention_micros)
    )
}

fn print_pairs<K, V>(
    pairs: impl Iterator<Item = lsm_workbook::Result<(K, V)>>,
    out: &mut dyn Write,
) -> Result<(), Failure>
where
    K: AsRef<[u8]>,
    V: AsRef<[u8]>,
{
    let mut count = 0;
    for pair in pairs {
        let (key, value) = pair?;
        writeln!(
            out,
            "{} {}",
            readable(key.as_ref()),
            readable(value.as_ref())
        )?;
        count += 1;
    }
    writeln!(out, "({})", plural(count, "pair"))?;
    Ok(())
}

/// SCAN's range: all keys, those with a prefix, or `from <= key < to`.
fn scan_range(args: &[&[u8]]) -> Result<Range, Failure> {
    match args {
        [] => Ok((Bound::Unbounded, Bound::Unbounded)),
        [prefix] => {
            let upper = prefix_end(prefix).map_or(Bound::Unbounded, Bound::Excluded);
            Ok((Bound::Included(prefix.to_vec()), upper))
        }
        [from, to] if from > to => Err(refuse(format!(
            "SCAN from to needs from <= to, got {} > {}",
            readable(from),
            readable(to)
        ))),
        [from, to] => Ok((Bound::Included(from.to_vec()), Bound::Excluded(to.to_vec()))),
        _ => Err(refuse(
            "wrong number of arguments: SCAN [prefix | from to]".to_string(),
        )),
    }
}

fn parse_number(word: &[u8]) -> Option<u64> {
    std::str::from_utf8(word).ok()?.parse().ok()
}

/// ASOF's time, in µs: unix milliseconds, or back from `now_micros` by
/// `-Nms`, `-Ns`, `-Nm` or `-Nh`.
fn parse_time(word: &[u8], now_micros: u64) -> Result<u64, String> {
    let wrong = || {
        format!(
            "ASOF needs a time: unix milliseconds (as NOW prints them) or back from now \
             (-200ms, -5s, -2m, -1h), got {}",
            readable(word)
        )
    };
    let text = std::str::from_utf8(word).map_err(|_| wrong())?;
    let Some(back) = text.strip_prefix('-') else {
        let millis: u64 = text.parse().map_err(|_| wrong())?;
        return millis.checked_mul(1_000).ok_or_else(wrong);
    };
    let digits = back
        .find(|c: char| !c.is_ascii_digit())
        .unwrap_or(back.len());
    let (count, unit) = back.split_at(digits);
    let unit_micros: u64 = match unit {
        "ms" => 1_000,
        "s" => 1_000_000,
        "m" => 60_000_000,
        "h" => 3_600_000_000,
        _ => return Err(wrong()),
    };
    let count: u64 = count.parse().map_err(|_| wrong())?;
    count
        .checked_mul(unit_micros)
        .and_then(|back| now_micros.checked_sub(back))
        .ok_or_else(|| format!("{text} from now is before 1970"))
}

fn now(db: &Db, out: &mut dyn Write) -> io::Result<()> {
    let micros = db.clock().now_micros();
    writeln!(out, "{} ms ({})", micros / 1_000, utc(micros))
}

/// `micros` since the epoch as ISO-8601 UTC (milliseconds).
fn utc(micros: u64) -> String {
    lsm_workbook::clock::format_utc(micros, 3)
}

/// `1 s`, `1 h`, `200 ms`: the largest unit that divides `micros`.
fn duration(micros: u64) -> String {
    for (unit, name) in [
        (3_600_000_000, "h"),
        (60_000_000, "min"),
        (1_000_000, "s"),
        (1_000, "ms"),
    ] {
        if micros >= unit && micros.is_multiple_of(unit) {
            return format!("{} {name}", micros / unit);
        }
    }
    format!("{micros} µs")
}

/// The smallest key above every key that starts with `prefix`; `None` if
/// there is none (the prefix is empty or all `0xff`).
fn prefix_end(prefix: &[u8]) -> Option<Vec<u8>> {
    let mut end = prefix.to_vec();
    while let Some(last) = end.pop() {
        if last < 0xff {
            end.push(last + 1);
            return Some(end);
        }
    }
    None
}

/// `count` single puts of random keys below `count` (so some overwrite),
/// like db_bench's fillrandom; values are slices of one random pool, so
/// making them costs next to nothing in the timing.
fn batch(db: &Db, count: &[u8], out: &mut dyn Write) -> Result<(), Failure> {
    let count: u64 = match std::str::from_utf8(count).ok().and_then(|s| s.parse().ok()) {
        Some(count) if count > 0 => count,
        _ => {
            return Err(refuse(format!(
                "BATCH n needs a count n >= 1, got {}",
                readable(count)
            )));
        }
    };
    const VALUE_LEN: usize = 100;
    let mut random = db.last_seq();
    let pool: Vec<u8> = (0..1024)
        .map(|_| b'a' + (splitmix(&mut random) % 26) as u8)
        .collect();
    let start = Instant::now();
    for done in 0..count {
        let key = format!("{:016}", splitmix(&mut random) % count);
        let offset = (splitmix(&mut random) % (pool.len() - VALUE_LEN) as u64) as usize;
        let value = pool[offset..offset + VALUE_LEN].to_vec();
        if let Err(error) = db.put(key, value) {
            return Err(refuse(format!("after {done} of {count} puts: {error}")));
        }
    }
    let seconds = start.elapsed().as_secs_f64();
    let rate = count as f64 / seconds.max(1e-9);
    writeln!(
        out,
        "OK {count} puts (one write each) in {seconds:.3} s: {rate:.0} ops/s"
    )?;
    Ok(())
}

fn splitmix(state: &mut u64) -> u64 {
    *state = state.wrapping_add(0x9e37_79b9_7f4a_7c15);
    let mut z = *state;
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    z ^ (z >> 31)
}

/// STATS' engine part: `Db::stats()`, one topic a line.
fn stats(db: &Db, out: &mut dyn Write) -> io::Result<()> {
    let stats = db.stats();
    for (level, &(tables, bytes)) in stats.levels.iter().enumerate() {
        let entries = stats.level_entries.get(level).copied().unwrap_or(0);
        writeln!(
            out,
            "L{level}: {}, {bytes} bytes, {}",
            plural(tables as u64, "table"),
            plural(entries, "entry")
        )?;
    }
    writeln!(
        out,
        "memtable: {} bytes, {} frozen",
        stats.memtable_bytes, stats.frozen_memtables
    )?;
    writeln!(out, "last seq: {}", stats.last_seq)?;
    writeln!(
        out,
        "bytes written: user {}, wal {}, flush {}, compaction {}",
        stats.user_bytes, stats.wal_bytes, stats.flush_bytes, stats.compaction_bytes
    )?;
    writeln!(
        out,
        "flushes: {}, {} bytes in {}",
        stats.flushes,
        stats.flush_bytes,
        millis(stats.flush_micros)
    )?;
    writeln!(
        out,
        "compactions: {}, {} bytes in {}; trivial moves: {}",
        stats.compactions,
        stats.compaction_bytes,
        millis(stats.compaction_micros),
        stats.trivial_moves
    )?;
    writeln!(
        out,
        "gets: {}, tables read by gets {}",
        stats.gets, stats.tables_read_by_gets
    )?;
    writeln!(
        out,
        "stalls: {} slowed, {} stopped, {} stalled",
        plural(stats.slowed_writes, "write"),
        stats.stopped_writes,
        millis(stats.stall_micros)
    )?;
    match stats.background_threads {
        0 => writeln!(
            out,
            "background threads: 0 (flush and compaction run inline, on the writing thread)"
        )?,
        threads => writeln!(out, "background threads: {threads}")?,
    }
    writeln!(out, "{}", cache_line(&stats))?;
    writeln!(
        out,
        "amplification: write {}, read {}, space {} (estimate: all levels / the deepest)",
        ratio(stats.write_amplification()),
        ratio(stats.read_amplification()),
        ratio(stats.space_amplification_estimate())
    )
}

/// `block cache: 3 hits, 1 miss (75.0% hits), 8256 of 1048576 bytes, …`.
fn cache_line(stats: &DbStats) -> String {
    let Some(cache) = stats.cache else {
        return "block cache: none (block_cache_bytes = 0)".to_string();
    };
    let rate = match stats.cache_hit_rate() {
        Some(rate) => format!("{:.1}% hits", rate * 100.0),
        None => "hit rate n/a".to_string(),
    };
    format!(
        "block cache: {}, {} ({rate}), {} of {} bytes, {} inserted, {} evicted",
        plural(cache.hits, "hit"),
        plural(cache.misses, "miss"),
        cache.bytes,
        cache.capacity_bytes,
        plural(cache.inserts, "block"),
        cache.evictions
    )
}

/// `4.21`, or `n/a` before there is anything to divide by.
fn ratio(value: Option<f64>) -> String {
    value.map_or_else(|| "n/a".to_string(), |value| format!("{value:.2}"))
}

/// `0.4 ms`, `1.234 s`.
fn millis(micros: u64) -> String {
    match micros {
        0..1_000_000 => format!("{:.1} ms", micros as f64 / 1_000.0),
        _ => format!("{:.3} s", micros as f64 / 1_000_000.0),
    }
}

fn help(timeline: &Result<Arc<Timeline>, NoTimeline>, out: &mut dyn Write) -> io::Result<()> {
    // A usage longer than the column gets a line of its own.
    const WIDTH: usize = 26;
    for (_, usage, what) in COMMANDS {
        match usage.len() {
            0..WIDTH => writeln!(out, "{usage:<WIDTH$} {what}")?,
            _ => writeln!(out, "{usage}\n{:WIDTH$} {what}", "")?,
        }
    }
    writeln!(
        out,
        "ASOF time: unix milliseconds (as NOW prints them), or back from now: -200ms, -5s, -2m, -1h."
    )?;
    match timeline {
        Ok(timeline) => {
            let options = timeline.options();
            writeln!(
                out,
                "The timeline takes a sample per {} and keeps {}: a read as of a time sees every \
                 write made more than {} before it, and none made after it.",
                duration(options.resolution_micros),
                duration(options.retention_micros),
                duration(options.resolution_micros)
            )?;
        }
        Err(no) => writeln!(
            out,
            "There is no timeline ({}): ASOF reads are refused.",
            no.why()
        )?,
    }
    writeln!(
        out,
        "Snapshots and transactions are in memory: the end of the session drops them. \
         BATCH and FLUSH act on the database, even in a transaction."
    )?;
    writeln!(
        out,
        "Quote keys and values for spaces (\"a b\") and to read a key named AT or ASOF; \
         \\xNN, \\\" and \\\\ escape bytes."
    )?;
    writeln!(
        out,
        "Options (memtable size, background threads, block cache, compaction, stalls, timeline) \
         come from `lsm --config FILE DIR`; lsm.example.toml lists them with their defaults."
    )
}

/// `1 table`, `2 tables`; `entries`, `misses`.
fn plural(count: u64, noun: &str) -> String {
    match (count, noun.strip_suffix('y')) {
        (1, _) => format!("1 {noun}"),
        (_, Some(stem)) => format!("{count} {stem}ies"),
        _ if noun.ends_with('s') => format!("{count} {noun}es"),
        _ => format!("{count} {noun}s"),
    }
}

/// One word of a command line; `bare` if it had no quotes and no escapes
/// (only a bare `AT` or `ASOF` is a keyword).
struct Word {
    bytes: Vec<u8>,
    bare: bool,
}

/// The word being read, started if need be; `bare: false` marks it as
/// quoted or escaped.
fn started(word: &mut Option<Word>, bare: bool) -> &mut Word {
    let word = word.get_or_insert_with(|| Word {
        bytes: Vec::new(),
        bare: true,
    });
    word.bare &= bare;
    word
}

/// Splits a line into words: spaces separate them, double quotes group
/// them (`"a b"`, `""` is the empty word), `\xNN`, `\"` and `\\` are bytes.
fn split(line: &[u8]) -> Result<Vec<Word>, String> {
    let mut words = Vec::new();
    let mut word: Option<Word> = None;
    let mut quoted = false;
    let mut bytes = line.iter().copied();
    while let Some(byte) = bytes.next() {
        match byte {
            b'"' => {
                quoted = !quoted;
                started(&mut word, false);
            }
            b'\\' => {
                let escaped = match bytes.next() {
                    Some(b'x') => {
                        let digits = [bytes.next(), bytes.next()];
                        let hex = digits.map(|d| d.and_then(|d| (d as char).to_digit(16)));
                        match hex {
                            [Some(high), Some(low)] => (high * 16 + low) as u8,
                            _ => return Err("\\x needs two hex digits".to_string()),
                        }
                    }
                    Some(byte @ (b'"' | b'\\')) => byte,
                    _ => return Err("a backslash escapes only \\xNN, \\\" and \\\\".to_string()),
                };
                started(&mut word, false).bytes.push(escaped);
            }
            byte if byte.is_ascii_whitespace() && !quoted => words.extend(word.take()),
            byte => started(&mut word, true).bytes.push(byte),
        }
    }
    if quoted {
        return Err("unterminated quote".to_string());
    }
    words.extend(word);
    Ok(words)
}

/// `bytes` in double quotes, printable ASCII as is, `"` and `\` escaped,
/// every other byte as `\xNN`: what [`split`] reads back.
fn readable(bytes: &[u8]) -> String {
    let mut text = String::with_capacity(bytes.len() + 2);
    text.push('"');
    for &byte in bytes {
        match byte {
            b'"' | b'\\' => {
                text.push('\\');
                text.push(byte as char);
            }
            b' '..=b'~' => text.push(byte as char),
            _ => text.push_str(&format!("\\x{byte:02x}")),
        }
    }
    text.push('"');
    text
}

thread_local! {
    /// Where the last panic on this thread happened, for [`guarded`].
    static PANIC_LOCATION: RefCell<Option<String>> = const { RefCell::new(None) };
}

/// Panics on the main thread print nothing: [`guarded`] reports them in
/// one line. Other threads keep the default report.
fn quiet_panics() {
    let default = panic::take_hook();
    panic::set_hook(Box::new(move |info| {
        if std::thread::current().name() == Some("main") {
            let location = info.location().map(|l| l.to_string());
            PANIC_LOCATION.with(|cell| *cell.borrow_mut() = location);
        } else {
            default(info);
        }
    }));
}

/// Runs `f`; a panic becomes its one-line report: "chapter N is not done
/// yet: …" for a chapter's `todo!()`, the message and place otherwise.
fn guarded<T>(f: impl FnOnce() -> T) -> Result<T, String> {
    panic::catch_unwind(AssertUnwindSafe(f)).map_err(|payload| describe(payload.as_ref()))
}

fn describe(payload: &(dyn Any + Send)) -> String {
    let message = match (
        payload.downcast_ref::<String>(),
        payload.downcast_ref::<&str>(),
    ) {
        (Some(message), _) => message.as_str(),
        (None, Some(message)) => message,
        (None, None) => "(no message)",
    };
    let todo = message.strip_prefix("not yet implemented: ch");
    let chapter = todo.and_then(|rest| rest.split_once(": "));
    if let Some((number, what)) = chapter
        && let Ok(number) = number.parse::<u32>()
    {
        return format!("chapter {number} is not done yet: {what}");
    }
    let location = PANIC_LOCATION.with(|cell| cell.borrow_mut().take());
    match location {
        Some(location) => format!("error: panic at {location}: {message}"),
        None => format!("error: panic: {message}"),
    }
}

#[cfg(test)]
mod tests {
    use super::{duration, parse_time, utc};

    #[test]
    fn utc_prints_iso_8601_to_the_millisecond() {
        assert_eq!(utc(0), "1970-01-01T00:00:00.000Z", "the epoch");
        // 2024-02-29 (a leap day) is day 19_782; 2000-03-01 is day 11_017.
        assert_eq!(
            utc((19_782 * 86_400 + 3_723) * 1_000_000 + 456_789),
            "2024-02-29T01:02:03.456Z",
            "a leap day, milliseconds truncated"
        );
        assert_eq!(
            utc(11_017 * 86_400 * 1_000_000),
            "2000-03-01T00:00:00.000Z",
            "the day after 2000's leap day"
        );
        assert_eq!(
            utc(((19_722 * 86_400) + 86_399) * 1_000_000),
            "2023-12-31T23:59:59.000Z",
            "the last second of a year"
        );
    }

    #[test]
    fn asof_times_are_unix_milliseconds_or_back_from_now() {
        let now = 10_000_000_000;
        assert_eq!(parse_time(b"1234", now), Ok(1_234_000), "unix ms");
        assert_eq!(parse_time(b"-200ms", now), Ok(now - 200_000), "-200ms");
        assert_eq!(parse_time(b"-5s", now), Ok(now - 5_000_000), "-5s");
        assert_eq!(parse_time(b"-2m", now), Ok(now - 120_000_000), "-2m");
        assert_eq!(parse_time(b"-1h", now), Ok(now - 3_600_000_000), "-1h");
        for bad in [&b"-3d"[..], b"-s", b"soon", b"", b"-1h2", b"-99999h"] {
            assert!(parse_time(bad, now).is_err(), "{bad:?} is refused");
        }
        assert_eq!(duration(1_000_000), "1 s");
        assert_eq!(duration(3_600_000_000), "1 h");
        assert_eq!(duration(1_500), "1500 µs");
    }
}
