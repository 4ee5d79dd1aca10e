//! Chapter 11 — the server: the engine behind the Redis protocol (RESP2),
//! so `redis-cli`, `redis-benchmark` and any Redis client library talk to
//! it.
//!
//! ```text
//!   socket bytes ─► RequestReader::feed ─► next ─► [GET, a] ─► execute ─► Reply ─► encode ─► socket
//!                   (bounded buffer)       │ parse_request              │ Session: AUTH, MULTI queue,
//!                                          │ (array or inline)          │ SCAN cursors
//!                                          └ None: read more            └ Db: get, write_with, scan
//! ```
//!
//! This module is everything between the bytes and the engine, with no
//! network code: the server (`server/`, the `lsm-server` binary, provided)
//! reads a socket, feeds a [`RequestReader`], runs each request with
//! [`execute`] and writes back the encoded [`Reply`]. Because nothing here
//! touches a socket, every byte stream and every command can be tested
//! directly, split at every point.
//!
//! You write: [`parse_request`] (task 1, `resp.rs`); [`RequestReader`]'s
//! `new`, `feed`, `next` and `buffered_len`, and [`Reply::encode`] (task 2,
//! `resp.rs`, `reply.rs`); [`execute`] and the commands (task 3, `commands.rs`).
//! Book: "11. The server".
//!
//! Invariants: bytes from a client never cause a panic, and never an
//! allocation larger than the bytes received justify (a declared length is
//! checked against [`Limits`], never reserved); a request split anywhere
//! across reads parses as if it came at once; replies are byte-for-byte
//! what Redis sends; `EXEC` is one atomic batch.

pub mod commands;
pub mod reply;
pub mod resp;

pub use commands::{Outcome, ServerConfig, Session, execute};
pub use reply::Reply;
pub use resp::{Limits, Parsed, ProtocolError, RequestReader, parse_decimal, parse_request};
