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
    // TODO(ch11): your session's state (authenticated, the MULTI queue and whether it failed, the client's name, SCAN cursors) — book §11.4, task 3
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

/// Runs one request (`args[0]` is the command) for `session` on `db`.
///
/// Order of checks, as Redis: the command must exist and have the right
/// number of arguments; then, with [`ServerConfig::requirepass`], the
/// session must have authenticated (`AUTH`, `HELLO` and `QUIT` excepted);
/// then inside `MULTI` every command but `EXEC`, `DISCARD`, `MULTI` and
/// `QUIT` is queued (`+QUEUED`). A refused command inside `MULTI` makes
/// `EXEC` discard the transaction.
pub fn execute(db: &Db, config: &ServerConfig, session: &mut Session, args: Vec<Bytes>) -> Outcome {
    let _ = (db, config, session, args);
    todo!("ch11: check, queue inside MULTI, or run the command — book §11.4, task 3")
}
