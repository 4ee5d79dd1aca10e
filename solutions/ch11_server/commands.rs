//! The commands: what each request does to the database and the reply it
//! gets, shaped as Redis shapes them so `redis-cli`, `redis-benchmark` and
//! client libraries work unchanged.
//!
//! You write [`execute`] and the commands behind it (task 3). Book: "11.
//! The server", §11.4.
//!
//! Invariants: command names are case-insensitive; an unknown command or a
//! wrong number of arguments is an error reply, never a panic, and changes
//! nothing; a write command is one [`Db::write_with`] batch, so a
//! read-modify-write (`INCR`, `SET NX`) sees no other write in between;
//! `EXEC` runs its whole queue as ONE batch — after a crash the database
//! holds all of a transaction's writes or none — and a command inside it
//! reads the writes queued before it.

use bytes::Bytes;

use super::reply::Reply;
// BEGIN SOLUTION hide
use std::collections::BTreeMap;

use super::resp::parse_decimal;
use crate::Result;
use crate::ch07_engine::DbStats;
use crate::types::WriteBatch;
// END SOLUTION
use crate::ch07_engine::{Db, WriteOptions};

/// The server's settings that commands need.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ServerConfig {
    /// If set, a client must `AUTH` with it before any other command.
    pub requirepass: Option<String>,
    /// How each write command's batch is made durable.
    pub write_options: WriteOptions,
}

/// One connection's state: whether it has authenticated, the commands
/// queued since `MULTI`, its name, and its `SCAN` cursors.
#[derive(Debug, Default)]
pub struct Session {
    // BEGIN SOLUTION hide: your session's state (authenticated, the MULTI queue and whether it failed, the client's name, SCAN cursors) — book §11.4, task 3
    authenticated: bool,
    /// `Some` between MULTI and EXEC/DISCARD: the queued requests.
    multi: Option<Vec<Vec<Bytes>>>,
    /// A queued command was refused: EXEC must discard the queue.
    multi_failed: bool,
    name: Option<Bytes>,
    /// Cursor id → the last key a SCAN with it returned.
    cursors: BTreeMap<u64, Bytes>,
    cursor_next: u64,
    // END SOLUTION
}

impl Session {
    /// A new connection's session: not authenticated, no transaction.
    pub fn new() -> Session {
        Session::default()
    }
}

/// What the connection does after a request.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Outcome {
    /// Send the reply and read the next request.
    Reply(Reply),
    /// Send the reply, then close the connection (`QUIT`).
    Close(Reply),
}

// BEGIN SOLUTION hide
/// `SCAN` cursors a session keeps; the oldest is forgotten past this.
const CURSORS_MAX: usize = 64;
/// `SCAN`'s default `COUNT`.
const SCAN_COUNT_DEFAULT: usize = 10;
/// The version `INFO` and `HELLO` report, so clients that check it work.
const REDIS_VERSION: &str = "7.0.0";
// END SOLUTION

// ANCHOR: ch11_execute
/// Runs one request (`args[0]` is the command) for `session` on `db`.
///
/// Order of checks, as Redis: the command must exist and have the right
/// number of arguments; then, with [`ServerConfig::requirepass`], the
/// session must have authenticated (`AUTH`, `HELLO` and `QUIT` excepted);
/// then inside `MULTI` every command but `EXEC`, `DISCARD`, `MULTI` and
/// `QUIT` is queued (`+QUEUED`). A refused command inside `MULTI` makes
/// `EXEC` discard the transaction.
pub fn execute(db: &Db, config: &ServerConfig, session: &mut Session, args: Vec<Bytes>) -> Outcome {
    // BEGIN SOLUTION todo(db, config, session, args): check, queue inside MULTI, or run the command — book §11.4, task 3
    let name = args
        .first()
        .map(|name| String::from_utf8_lossy(name).to_ascii_lowercase())
        .unwrap_or_default();
    if let Some(refusal) = refusal(config, session, &name, &args) {
        if session.multi.is_some() {
            session.multi_failed = true;
        }
        return Outcome::Reply(refusal);
    }
    let reply = match name.as_str() {
        "quit" => return Outcome::Close(Reply::ok()),
        "multi" if session.multi.is_some() => Reply::error("ERR MULTI calls can not be nested"),
        "multi" => {
            session.multi = Some(Vec::new());
            session.multi_failed = false;
            Reply::ok()
        }
        "exec" => exec(db, config, session),
        "discard" => match session.multi.take() {
            Some(_) => Reply::ok(),
            None => Reply::error("ERR DISCARD without MULTI"),
        },
        _ => match &mut session.multi {
            Some(queue) => {
                queue.push(args);
                Reply::Simple("QUEUED".into())
            }
            None => run(db, config, session, &args),
        },
    };
    Outcome::Reply(reply)
    // END SOLUTION
}
// ANCHOR_END: ch11_execute

// BEGIN SOLUTION hide
/// Why a request must not run: an unknown command, a wrong number of
/// arguments, or no authentication yet. `None` if it may.
fn refusal(config: &ServerConfig, session: &Session, name: &str, args: &[Bytes]) -> Option<Reply> {
    let Some(arity) = arity(name) else {
        return Some(unknown_command(args));
    };
    let count = args.len() as i64;
    if (arity > 0 && count != arity) || (arity < 0 && count < -arity) {
        return Some(wrong_arity(name));
    }
    let exempt = matches!(name, "auth" | "hello" | "quit");
    if config.requirepass.is_some() && !session.authenticated && !exempt {
        return Some(Reply::error("NOAUTH Authentication required."));
    }
    None
}

/// Redis's arity: `n` exactly n arguments (the name included), `-n` at
/// least n. `None`: not a command.
fn arity(name: &str) -> Option<i64> {
    Some(match name {
        "ping" | "info" | "command" | "hello" | "quit" => -1,
        "echo" | "incr" | "select" => 2,
        "get" | "del" | "exists" | "mget" | "scan" | "auth" | "config" | "client" => -2,
        "set" | "mset" => -3,
        "dbsize" | "multi" | "exec" | "discard" => 1,
        _ => return None,
    })
}

/// The commands that write, run inside [`Db::write_with`].
fn is_write(name: &str) -> bool {
    matches!(name, "set" | "del" | "mset" | "incr")
}

/// `ERR unknown command 'foo', with args beginning with: 'a' 'b' `, the
/// arguments cut at 128 bytes as Redis cuts them.
fn unknown_command(args: &[Bytes]) -> Reply {
    let name = args
        .first()
        .map(|name| lossy(name, 128))
        .unwrap_or_default();
    let mut listed = String::new();
    for arg in args.iter().skip(1) {
        if listed.len() >= 128 {
            break;
        }
        listed.push_str(&format!("'{}' ", lossy(arg, 128 - listed.len())));
    }
    Reply::error(format!(
        "ERR unknown command '{name}', with args beginning with: {listed}"
    ))
}

/// At most `len_max` bytes of `bytes`, as text.
fn lossy(bytes: &[u8], len_max: usize) -> String {
    String::from_utf8_lossy(&bytes[..bytes.len().min(len_max)]).into_owned()
}

fn wrong_arity(name: &str) -> Reply {
    Reply::error(format!(
        "ERR wrong number of arguments for '{name}' command"
    ))
}

fn syntax_error() -> Reply {
    Reply::error("ERR syntax error")
}

fn not_an_integer() -> Reply {
    Reply::error("ERR value is not an integer or out of range")
}

/// A command outside `MULTI`: a write command in its own batch, a read
/// directly.
fn run(db: &Db, config: &ServerConfig, session: &mut Session, args: &[Bytes]) -> Reply {
    let name = command_name(args);
    let result = if is_write(&name) {
        db.write_with(config.write_options, |db| {
            let mut txn = Txn::new(db);
            let reply = dispatch(&mut txn, config, session, &name, args)?;
            Ok((txn.batch, reply))
        })
    } else {
        dispatch(&mut Txn::new(db), config, session, &name, args)
    };
    result.unwrap_or_else(|error| Reply::error(format!("ERR {error}")))
}

/// `EXEC`: the queued commands, in order, as ONE batch, with no other
/// write in between.
fn exec(db: &Db, config: &ServerConfig, session: &mut Session) -> Reply {
    let Some(queue) = session.multi.take() else {
        return Reply::error("ERR EXEC without MULTI");
    };
    if std::mem::take(&mut session.multi_failed) {
        return Reply::error("EXECABORT Transaction discarded because of previous errors.");
    }
    let run_all = |db: &Db| -> Result<(WriteBatch, Reply)> {
        let mut txn = Txn::new(db);
        let mut replies = Vec::with_capacity(queue.len());
        for args in &queue {
            let name = command_name(args);
            replies.push(dispatch(&mut txn, config, session, &name, args)?);
        }
        Ok((txn.batch, Reply::Array(replies)))
    };
    // Under the writer lock even when every command reads: no write can
    // land between two of them (Redis runs EXEC with nothing in between).
    db.write_with(config.write_options, run_all)
        .unwrap_or_else(|error| Reply::error(format!("ERR {error}")))
}

fn command_name(args: &[Bytes]) -> String {
    args.first()
        .map(|name| String::from_utf8_lossy(name).to_ascii_lowercase())
        .unwrap_or_default()
}

/// Reads through the writes made so far, and collects them into one
/// batch: a transaction's commands see each other's writes.
struct Txn<'db> {
    db: &'db Db,
    writes: BTreeMap<Bytes, Option<Bytes>>,
    batch: WriteBatch,
}

impl<'db> Txn<'db> {
    fn new(db: &'db Db) -> Self {
        Txn {
            db,
            writes: BTreeMap::new(),
            batch: WriteBatch::default(),
        }
    }

    fn get(&self, key: &[u8]) -> Result<Option<Bytes>> {
        match self.writes.get(key) {
            Some(value) => Ok(value.clone()),
            None => self.db.get(key),
        }
    }

    fn put(&mut self, key: &Bytes, value: &Bytes) {
        self.writes.insert(key.clone(), Some(value.clone()));
        self.batch = std::mem::take(&mut self.batch).put(key.clone(), value.clone());
    }

    fn delete(&mut self, key: &Bytes) {
        self.writes.insert(key.clone(), None);
        self.batch = std::mem::take(&mut self.batch).delete(key.clone());
    }
}

/// Runs a checked command (not a transaction's control command). `Err`
/// only for the database's errors.
fn dispatch(
    txn: &mut Txn<'_>,
    config: &ServerConfig,
    session: &mut Session,
    name: &str,
    args: &[Bytes],
) -> Result<Reply> {
    Ok(match name {
        "ping" => match args {
            [_] => Reply::Simple("PONG".into()),
            [_, message] => Reply::Bulk(message.clone()),
            _ => wrong_arity("ping"),
        },
        "echo" => Reply::Bulk(args[1].clone()),
        "set" => set(txn, args)?,
        "get" => get(txn, args)?,
        "del" => {
            let mut deleted = 0;
            for key in &args[1..] {
                if txn.get(key)?.is_some() {
                    txn.delete(key);
                    deleted += 1;
                }
            }
            Reply::Integer(deleted)
        }
        "exists" => {
            let mut found = 0;
            for key in &args[1..] {
                found += i64::from(txn.get(key)?.is_some());
            }
            Reply::Integer(found)
        }
        "mget" => {
            let mut values = Vec::with_capacity(args.len() - 1);
            for key in &args[1..] {
                values.push(txn.get(key)?.map_or(Reply::Nil, Reply::Bulk));
            }
            Reply::Array(values)
        }
        "mset" if args.len().is_multiple_of(2) => wrong_arity("mset"),
        "mset" => {
            for pair in args[1..].chunks_exact(2) {
                txn.put(&pair[0], &pair[1]);
            }
            Reply::ok()
        }
        "incr" => incr(txn, &args[1])?,
        "dbsize" => Reply::Integer(dbsize(txn)?),
        "scan" => scan(txn.db, session, args)?,
        "info" => info(&txn.db.stats(), args),
        "select" if args[1].as_ref() == b"0" => Reply::ok(),
        "select" => Reply::error("ERR DB index is out of range"),
        "config" => config_command(args),
        "command" => command_command(args),
        "client" => client(session, args),
        "hello" => hello(config, session, args),
        "auth" => auth(config, session, &args[1..]),
        _ => unknown_command(args),
    })
}

/// `SET key value [NX|XX]`: `OK`, or nil if NX/XX said not to.
fn set(txn: &mut Txn<'_>, args: &[Bytes]) -> Result<Reply> {
    let (mut nx, mut xx) = (false, false);
    for option in &args[3..] {
        match option.to_ascii_lowercase().as_slice() {
            b"nx" => nx = true,
            b"xx" => xx = true,
            _ => return Ok(syntax_error()),
        }
    }
    if nx && xx {
        return Ok(syntax_error());
    }
    if nx || xx {
        let exists = txn.get(&args[1])?.is_some();
        if (nx && exists) || (xx && !exists) {
            return Ok(Reply::Nil);
        }
    }
    txn.put(&args[1], &args[2]);
    Ok(Reply::ok())
}

/// `GET key [ASOF unix-ms]`: the value (as of that time: chapter 9), or nil.
fn get(txn: &Txn<'_>, args: &[Bytes]) -> Result<Reply> {
    let value = match args {
        [_, key] => txn.get(key)?,
        [_, key, asof, millis] if asof.eq_ignore_ascii_case(b"asof") => {
            let micros = parse_decimal(millis)
                .and_then(|millis| u64::try_from(millis).ok())
                .and_then(|millis| millis.checked_mul(1000));
            let Some(micros) = micros else {
                return Ok(not_an_integer());
            };
            match txn.db.get_as_of(key, micros) {
                Ok(value) => value,
                Err(error) => return Ok(Reply::error(format!("ERR {error}"))),
            }
        }
        _ => return Ok(syntax_error()),
    };
    Ok(value.map_or(Reply::Nil, Reply::Bulk))
}

/// `INCR key`: the value read, plus one, written back in the same batch.
fn incr(txn: &mut Txn<'_>, key: &Bytes) -> Result<Reply> {
    let current = match txn.get(key)? {
        None => 0,
        Some(value) => match parse_decimal(&value) {
            Some(n) => n,
            None => return Ok(not_an_integer()),
        },
    };
    let Some(next) = current.checked_add(1) else {
        return Ok(Reply::error("ERR increment or decrement would overflow"));
    };
    txn.put(key, &Bytes::from(next.to_string()));
    Ok(Reply::Integer(next))
}

/// `DBSIZE`: live keys, counted by a full scan (O(n): an LSM tree keeps
/// no count, since a put may or may not overwrite), then corrected by the
/// transaction's own writes.
fn dbsize(txn: &Txn<'_>) -> Result<i64> {
    let mut count: i64 = 0;
    for pair in txn.db.scan(..) {
        pair?;
        count += 1;
    }
    for (key, value) in &txn.writes {
        let before = txn.db.get(key)?.is_some();
        count += i64::from(value.is_some()) - i64::from(before);
    }
    Ok(count)
}

/// `SCAN cursor [MATCH pattern] [COUNT n]`: up to `n` keys examined after
/// the cursor's last key, those matching returned, and a new cursor (`0`
/// when the scan has reached the end). Inside `MULTI` it sees the
/// database as before the transaction.
fn scan(db: &Db, session: &mut Session, args: &[Bytes]) -> Result<Reply> {
    let Some(cursor) = parse_decimal(&args[1]).and_then(|c| u64::try_from(c).ok()) else {
        return Ok(Reply::error("ERR invalid cursor"));
    };
    let (mut pattern, mut count) = (None, SCAN_COUNT_DEFAULT);
    let mut options = args[2..].chunks(2);
    for option in options.by_ref() {
        match (option[0].to_ascii_lowercase().as_slice(), option.get(1)) {
            (b"match", Some(glob)) => pattern = Some(glob.clone()),
            (b"count", Some(n)) => match parse_decimal(n).map(usize::try_from) {
                Some(Ok(n)) if n >= 1 => count = n,
                Some(_) => return Ok(syntax_error()),
                None => return Ok(not_an_integer()),
            },
            _ => return Ok(syntax_error()),
        }
    }
    let after = match cursor {
        0 => None,
        id => match session.cursors.get(&id) {
            Some(key) => Some(key.clone()),
            None => return Ok(Reply::error("ERR invalid cursor")),
        },
    };
    let lower = match &after {
        Some(key) => std::ops::Bound::Excluded(key.as_ref()),
        None => std::ops::Bound::Unbounded,
    };
    let mut pairs = db.scan((lower, std::ops::Bound::Unbounded));
    let (mut keys, mut last) = (Vec::new(), None);
    for pair in pairs.by_ref().take(count) {
        let (key, _) = pair?;
        if pattern.as_ref().is_none_or(|glob| glob_match(glob, &key)) {
            keys.push(Reply::Bulk(key.clone()));
        }
        last = Some(key);
    }
    let next = match (last, pairs.next()) {
        (Some(last), Some(_)) => {
            session.cursor_next += 1;
            let id = session.cursor_next;
            session.cursors.insert(id, last);
            if session.cursors.len() > CURSORS_MAX {
                session.cursors.pop_first();
            }
            id
        }
        _ => 0,
    };
    Ok(Reply::Array(vec![
        Reply::bulk(next.to_string()),
        Reply::Array(keys),
    ]))
}

/// One token of a glob pattern.
enum Glob {
    Star,
    Any,
    Byte(u8),
    Class { negate: bool, ranges: Vec<(u8, u8)> },
}

/// Redis's `stringmatchlen`: `*`, `?`, `[abc]`, `[^a-z]`, `\x`; matches
/// the whole of `text`.
fn glob_match(pattern: &[u8], text: &[u8]) -> bool {
    let tokens = glob_tokens(pattern);
    let one = |token: &Glob, byte: u8| match token {
        Glob::Star => false,
        Glob::Any => true,
        Glob::Byte(b) => *b == byte,
        Glob::Class { negate, ranges } => {
            ranges.iter().any(|&(lo, hi)| lo <= byte && byte <= hi) != *negate
        }
    };
    // Two pointers, going back to the last star on a mismatch: linear in
    // practice, never exponential.
    let (mut t, mut p) = (0, 0);
    let mut star: Option<(usize, usize)> = None;
    while t < text.len() {
        match tokens.get(p) {
            Some(Glob::Star) => {
                star = Some((p, t));
                p += 1;
            }
            Some(token) if one(token, text[t]) => {
                p += 1;
                t += 1;
            }
            _ => match star {
                Some((star_p, star_t)) => {
                    star = Some((star_p, star_t + 1));
                    p = star_p + 1;
                    t = star_t + 1;
                }
                None => return false,
            },
        }
    }
    tokens[p..].iter().all(|token| matches!(token, Glob::Star))
}

fn glob_tokens(pattern: &[u8]) -> Vec<Glob> {
    let mut tokens = Vec::new();
    let mut i = 0;
    while let Some(&byte) = pattern.get(i) {
        i += 1;
        tokens.push(match byte {
            b'*' => Glob::Star,
            b'?' => Glob::Any,
            b'\\' if i < pattern.len() => {
                i += 1;
                Glob::Byte(pattern[i - 1])
            }
            b'[' => {
                let negate = pattern.get(i) == Some(&b'^');
                i += usize::from(negate);
                let mut ranges = Vec::new();
                while let Some(&c) = pattern.get(i) {
                    i += 1;
                    match c {
                        b']' => break,
                        b'\\' if i < pattern.len() => {
                            ranges.push((pattern[i], pattern[i]));
                            i += 1;
                        }
                        _ if pattern.get(i) == Some(&b'-') && i + 1 < pattern.len() => {
                            let end = pattern[i + 1];
                            ranges.push((c.min(end), c.max(end)));
                            i += 2;
                        }
                        _ => ranges.push((c, c)),
                    }
                }
                Glob::Class { negate, ranges }
            }
            _ => Glob::Byte(byte),
        });
    }
    tokens
}

/// `INFO [section]`: chapter 10's statistics as Redis's `# Section` and
/// `key:value` lines. No section, `all`, `default` or `everything`: all.
fn info(stats: &DbStats, args: &[Bytes]) -> Reply {
    let wanted = args
        .get(1)
        .map(|s| String::from_utf8_lossy(s).to_ascii_lowercase());
    let all = wanted
        .as_deref()
        .is_none_or(|w| matches!(w, "all" | "default" | "everything"));
    let mut text = String::new();
    for (title, lines) in info_sections(stats) {
        if all || wanted.as_deref() == Some(title.to_ascii_lowercase().as_str()) {
            if !text.is_empty() {
                text.push_str("\r\n");
            }
            text.push_str(&format!("# {title}\r\n"));
            for (key, value) in lines {
                text.push_str(&format!("{key}:{value}\r\n"));
            }
        }
    }
    Reply::Bulk(Bytes::from(text))
}

fn info_sections(stats: &DbStats) -> Vec<(&'static str, Vec<(String, String)>)> {
    let kv = |key: &str, value: &dyn std::fmt::Display| (key.to_string(), value.to_string());
    let levels = stats
        .levels
        .iter()
        .enumerate()
        .map(|(level, (tables, bytes))| {
            (
                format!("level{level}"),
                format!("tables={tables},bytes={bytes}"),
            )
        })
        .collect();
    let mut cache = Vec::new();
    if let Some(c) = &stats.cache {
        cache = vec![
            kv("cache_hits", &c.hits),
            kv("cache_misses", &c.misses),
            kv("cache_inserts", &c.inserts),
            kv("cache_evictions", &c.evictions),
            kv("cache_bytes", &c.bytes),
            kv("cache_capacity_bytes", &c.capacity_bytes),
        ];
    }
    vec![
        (
            "Server",
            vec![
                kv("redis_version", &REDIS_VERSION),
                kv("lsm_workbook_version", &env!("CARGO_PKG_VERSION")),
                kv("redis_mode", &"standalone"),
            ],
        ),
        (
            "Memory",
            vec![
                kv("memtable_bytes", &stats.memtable_bytes),
                kv("frozen_memtables", &stats.frozen_memtables),
            ],
        ),
        (
            "Stats",
            vec![
                kv("last_seq", &stats.last_seq),
                kv("user_bytes", &stats.user_bytes),
                kv("wal_bytes", &stats.wal_bytes),
                kv("flush_bytes", &stats.flush_bytes),
                kv("compaction_bytes", &stats.compaction_bytes),
                kv("flushes", &stats.flushes),
                kv("compactions", &stats.compactions),
                kv("trivial_moves", &stats.trivial_moves),
                kv("gets", &stats.gets),
                kv("tables_read_by_gets", &stats.tables_read_by_gets),
                kv("slowed_writes", &stats.slowed_writes),
                kv("stopped_writes", &stats.stopped_writes),
                kv("stall_micros", &stats.stall_micros),
                kv("background_threads", &stats.background_threads),
            ],
        ),
        ("Levels", levels),
        ("Cache", cache),
    ]
}

/// `CONFIG GET pattern…`: the two parameters `redis-benchmark` asks for.
fn config_command(args: &[Bytes]) -> Reply {
    let sub = String::from_utf8_lossy(&args[1]).to_ascii_lowercase();
    if sub != "get" {
        return Reply::error(format!("ERR unknown subcommand '{sub}'. Try CONFIG HELP."));
    }
    if args.len() < 3 {
        return wrong_arity("config|get");
    }
    let mut found = Vec::new();
    for (param, value) in [("save", ""), ("appendonly", "no")] {
        if args[2..]
            .iter()
            .any(|glob| glob_match(&glob.to_ascii_lowercase(), param.as_bytes()))
        {
            found.push(Reply::bulk(param));
            found.push(Reply::bulk(value));
        }
    }
    Reply::Array(found)
}

/// `COMMAND`, `COMMAND DOCS`, `COMMAND COUNT`: empty, so `redis-cli`
/// starts without a command table.
fn command_command(args: &[Bytes]) -> Reply {
    let sub = args
        .get(1)
        .map(|s| String::from_utf8_lossy(s).to_ascii_lowercase());
    match sub.as_deref() {
        None | Some("docs" | "info") => Reply::Array(Vec::new()),
        Some("count") => Reply::Integer(0),
        Some(sub) => Reply::error(format!("ERR unknown subcommand '{sub}'. Try COMMAND HELP.")),
    }
}

/// `CLIENT SETNAME name`, `CLIENT SETINFO attr value`, `CLIENT GETNAME`.
fn client(session: &mut Session, args: &[Bytes]) -> Reply {
    let sub = String::from_utf8_lossy(&args[1]).to_ascii_lowercase();
    match (sub.as_str(), &args[2..]) {
        ("setname", [name]) => {
            if name.iter().any(|&b| !(b'!'..=b'~').contains(&b)) {
                return Reply::error(
                    "ERR Client names cannot contain spaces, newlines or special characters.",
                );
            }
            session.name = (!name.is_empty()).then(|| name.clone());
            Reply::ok()
        }
        ("setinfo", [_, _]) => Reply::ok(),
        ("getname", []) => session.name.clone().map_or(Reply::Nil, Reply::Bulk),
        ("setname" | "setinfo" | "getname", _) => wrong_arity(&format!("client|{sub}")),
        _ => Reply::error(format!("ERR unknown subcommand '{sub}'. Try CLIENT HELP.")),
    }
}

/// `HELLO [2 [AUTH user pass] [SETNAME name]]`: only RESP2 is spoken.
fn hello(config: &ServerConfig, session: &mut Session, args: &[Bytes]) -> Reply {
    if let Some(version) = args.get(1) {
        match parse_decimal(version) {
            Some(2) => {}
            Some(_) => {
                return Reply::error("NOPROTO sorry, this protocol version is not supported.");
            }
            None => return Reply::error("ERR Protocol version is not an integer or out of range"),
        }
    }
    let mut options = args.get(2..).unwrap_or_default();
    let mut name = None;
    while let Some(option) = options.first() {
        match (option.to_ascii_lowercase().as_slice(), options) {
            (b"auth", [_, user, pass, ..]) => {
                let reply = auth(config, session, &[user.clone(), pass.clone()]);
                if reply != Reply::ok() {
                    return reply;
                }
                options = &options[3..];
            }
            (b"setname", [_, new_name, ..]) => {
                name = Some(new_name.clone());
                options = &options[2..];
            }
            _ => return syntax_error(),
        }
    }
    if config.requirepass.is_some() && !session.authenticated {
        return Reply::error(
            "NOAUTH HELLO must be called with the client already authenticated, otherwise the \
             HELLO <proto> AUTH <user> <pass> option can be used to authenticate the client and \
             select the RESP protocol version at the same time",
        );
    }
    if name.is_some() {
        session.name = name;
    }
    let text = |s: &str| Reply::bulk(s);
    Reply::Array(vec![
        text("server"),
        text("redis"),
        text("version"),
        text(REDIS_VERSION),
        text("proto"),
        Reply::Integer(2),
        text("mode"),
        text("standalone"),
        text("role"),
        text("master"),
        text("modules"),
        Reply::Array(Vec::new()),
    ])
}

/// `AUTH password` or `AUTH default password`.
fn auth(config: &ServerConfig, session: &mut Session, args: &[Bytes]) -> Reply {
    let (user, password) = match args {
        [password] => (b"default".as_slice(), password),
        [user, password] => (user.as_ref(), password),
        _ => return syntax_error(),
    };
    let Some(expected) = &config.requirepass else {
        return Reply::error(
            "ERR AUTH <password> called without any password configured for the default user. \
             Are you sure your configuration is correct?",
        );
    };
    if user == b"default" && same_bytes(password, expected.as_bytes()) {
        session.authenticated = true;
        Reply::ok()
    } else {
        Reply::error("WRONGPASS invalid username-password pair or user is disabled.")
    }
}

/// Equal, in time that depends only on the lengths (a password must not
/// be guessable byte by byte from how fast it is refused).
fn same_bytes(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |diff, (x, y)| diff | (x ^ y)) == 0
}
// END SOLUTION
