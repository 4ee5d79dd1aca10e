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
//! Book: "7. The engine", *Play with your engine*.

use std::any::Any;
use std::cell::RefCell;
use std::io::{self, BufRead, IsTerminal, Write};
use std::ops::Bound;
use std::panic::{self, AssertUnwindSafe};
use std::process::ExitCode;
use std::time::Instant;

use lsm_workbook::Error;
use lsm_workbook::ch06_manifest::Version;
use lsm_workbook::ch07_engine::{Compaction, Db, Options};
use lsm_workbook::ch08_compaction::{Leveled, LeveledOptions, pick};

/// Each command: its name, its usage line, what it does.
const COMMANDS: &[(&str, &str, &str)] = &[
    ("SET", "SET key value", "sets key to value"),
    ("GET", "GET key", "prints the value of key, or (nil)"),
    ("DEL", "DEL key", "deletes key"),
    (
        "SCAN",
        "SCAN [prefix | from to]",
        "pairs in key order: all, those with a prefix, or from <= key < to",
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
        "STATS",
        "STATS",
        "tables and bytes per level, memtable, last sequence number, counters",
    ),
    ("HELP", "HELP", "this list"),
    (
        "QUIT",
        "QUIT | EXIT",
        "closes the database and leaves (so does the end of input)",
    ),
];

const USAGE: &str =
    "usage: lsm DIR   (opens or creates the database in DIR; HELP inside lists the commands)";

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let [dir] = args.as_slice() else {
        eprintln!("{USAGE}");
        return ExitCode::from(2);
    };
    if dir == "-h" || dir == "--help" {
        println!("{USAGE}");
        return ExitCode::SUCCESS;
    }
    quiet_panics();
    // Chapter 8's compaction if that chapter is done (its `pick` does not
    // stop at a todo!()); without it the engine works as chapter 7 left it.
    let compaction = guarded(|| pick(&Version::default(), &LeveledOptions::default()))
        .ok()
        .map(|_| std::sync::Arc::new(Leveled::default()) as std::sync::Arc<dyn Compaction>);
    let options = Options {
        compaction,
        ..Options::default()
    };
    let db = match guarded(|| Db::open(dir, options)) {
        Ok(Ok(db)) => db,
        Ok(Err(error)) => {
            eprintln!("error: cannot open {dir}: {error}");
            return ExitCode::FAILURE;
        }
        Err(panic) => {
            eprintln!("{panic}");
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
        println!("lsm: {engine} engine on {dir}; HELP lists the commands");
    }
    session(&db, interactive);
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

/// Reads and runs commands until QUIT, the end of input, or stdout closes.
fn session(db: &Db, interactive: bool) {
    let mut input = io::stdin().lock();
    let mut out = io::stdout().lock();
    let mut line = Vec::new();
    loop {
        if interactive && write!(out, "lsm> ").and_then(|()| out.flush()).is_err() {
            return;
        }
        line.clear();
        match input.read_until(b'\n', &mut line) {
            Ok(0) => {
                if interactive {
                    let _ = writeln!(out);
                }
                return;
            }
            Ok(_) => {}
            Err(error) => {
                let _ = writeln!(out, "error: reading stdin: {error}");
                return;
            }
        }
        let outcome = match split(&line) {
            Ok(words) => match guarded(|| execute(db, &words, &mut out)) {
                Ok(outcome) => outcome,
                Err(panic) => Err(Failure::Message(panic)),
            },
            Err(message) => Err(refuse(message)),
        };
        let written = match outcome {
            Ok(Flow::Continue) => Ok(()),
            Ok(Flow::Quit) => return,
            Err(Failure::Message(message)) => writeln!(out, "{message}"),
            Err(Failure::Output(error)) => Err(error),
        };
        if written.is_err() {
            return;
        }
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

fn execute(db: &Db, words: &[Vec<u8>], out: &mut dyn Write) -> Result<Flow, Failure> {
    let Some((name, args)) = words.split_first() else {
        return Ok(Flow::Continue);
    };
    let name = String::from_utf8_lossy(name).to_ascii_uppercase();
    match (name.as_str(), args) {
        (comment, _) if comment.starts_with('#') => {}
        ("SET", [key, value]) => {
            db.put(key.clone(), value.clone())?;
            writeln!(out, "OK")?;
        }
        ("GET", [key]) => match db.get(key)? {
            Some(value) => writeln!(out, "{}", readable(&value))?,
            None => writeln!(out, "(nil)")?,
        },
        ("DEL", [key]) => {
            db.delete(key.clone())?;
            writeln!(out, "OK")?;
        }
        ("SCAN", []) => scan(db, Bound::Unbounded, Bound::Unbounded, out)?,
        ("SCAN", [prefix]) => {
            let end = prefix_end(prefix);
            let upper = end.as_deref().map_or(Bound::Unbounded, Bound::Excluded);
            scan(db, Bound::Included(prefix.as_slice()), upper, out)?;
        }
        ("SCAN", [from, to]) => {
            if from > to {
                return Err(refuse(format!(
                    "SCAN from to needs from <= to, got {} > {}",
                    readable(from),
                    readable(to)
                )));
            }
            scan(
                db,
                Bound::Included(from.as_slice()),
                Bound::Excluded(to.as_slice()),
                out,
            )?;
        }
        ("BATCH", [count]) => batch(db, count, out)?,
        ("FLUSH", []) => {
            db.flush()?;
            writeln!(out, "OK")?;
        }
        ("STATS", []) => stats(db, out)?,
        ("HELP", []) => help(out)?,
        ("QUIT" | "EXIT", []) => return Ok(Flow::Quit),
        _ => {
            let known = if name == "EXIT" {
                "QUIT"
            } else {
                name.as_str()
            };
            return Err(refuse(match COMMANDS.iter().find(|c| c.0 == known) {
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

fn scan(
    db: &Db,
    lower: Bound<&[u8]>,
    upper: Bound<&[u8]>,
    out: &mut dyn Write,
) -> Result<(), Failure> {
    let mut count = 0;
    for pair in db.scan((lower, upper)) {
        let (key, value) = pair?;
        writeln!(out, "{} {}", readable(&key), readable(&value))?;
        count += 1;
    }
    writeln!(out, "({})", plural(count, "pair"))?;
    Ok(())
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

fn stats(db: &Db, out: &mut dyn Write) -> io::Result<()> {
    let stats = db.stats();
    for (level, (tables, bytes)) in stats.levels.iter().enumerate() {
        writeln!(
            out,
            "L{level}: {}, {bytes} bytes",
            plural(*tables as u64, "table")
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
        "flushes {}, gets {}, tables read by gets {}",
        stats.flushes, stats.gets, stats.tables_read_by_gets
    )
}

fn help(out: &mut dyn Write) -> io::Result<()> {
    for (_, usage, what) in COMMANDS {
        writeln!(out, "{usage:<24} {what}")?;
    }
    writeln!(
        out,
        "Quote keys and values for spaces (\"a b\"); \\xNN, \\\" and \\\\ escape bytes."
    )
}

fn plural(count: u64, noun: &str) -> String {
    match count {
        1 => format!("1 {noun}"),
        _ => format!("{count} {noun}s"),
    }
}

/// Splits a line into words: spaces separate them, double quotes group
/// them (`"a b"`, `""` is the empty word), `\xNN`, `\"` and `\\` are bytes.
fn split(line: &[u8]) -> Result<Vec<Vec<u8>>, String> {
    let mut words = Vec::new();
    let mut word: Option<Vec<u8>> = None;
    let mut quoted = false;
    let mut bytes = line.iter().copied();
    while let Some(byte) = bytes.next() {
        match byte {
            b'"' => {
                quoted = !quoted;
                word.get_or_insert_with(Vec::new);
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
                word.get_or_insert_with(Vec::new).push(escaped);
            }
            byte if byte.is_ascii_whitespace() && !quoted => words.extend(word.take()),
            byte => word.get_or_insert_with(Vec::new).push(byte),
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
