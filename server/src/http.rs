//! The HTTP/JSON API (`--http ADDR`, off by default), for the clients that
//! speak HTTP rather than RESP; axum 0.8 on a small tokio runtime of its
//! own, next to the RESP loop, on the same `Db`:
//!
//! | request | answer |
//! |---|---|
//! | `GET /keys/{key}` | 200 and the value's bytes (`application/octet-stream`), or 404 |
//! | `PUT /keys/{key}` | the body is the value (at most [`MAX_VALUE_BYTES`]): 204 |
//! | `DELETE /keys/{key}` | 204 (also when the key was absent, as a `Db::delete`) |
//! | `GET /keys?prefix=P&limit=N` | 200, `{"keys":[{"key":…,"value":…}…],"truncated":bool}`: the first N (default [`LIST_DEFAULT`], at most [`LIST_MAX`]) keys starting with P, in order |
//! | `GET /stats` | 200, chapter 10's `DbStats` as a JSON object |
//!
//! A key is one path segment, percent-decoded (`/keys/a%2Fb` is `a/b`).
//! In the JSON list keys and values are strings, with bytes that are not
//! UTF-8 replaced by U+FFFD: fetch such a value with `GET /keys/{key}`.
//! An engine error is 500 with `{"error": "…"}`.
//!
//! `Db` is synchronous and may block (a write stall, a cache miss): each
//! call runs on tokio's blocking pool (`spawn_blocking`), never on the
//! runtime's two workers (see `net.rs` for why the RESP loop uses threads).

use std::collections::HashMap;
use std::future::Future;
use std::sync::Arc;

use axum::Router;
use axum::body::Bytes;
use axum::extract::{DefaultBodyLimit, Path, Query, State};
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use lsm_workbook::ch07_engine::{Db, DbStats};
use serde_json::{Value, json};

/// The largest value a `PUT` takes (RESP's default bulk limit).
pub const MAX_VALUE_BYTES: usize = 8 << 20;
/// Keys a prefix listing returns without `limit`.
pub const LIST_DEFAULT: usize = 100;
/// The most keys one prefix listing returns.
pub const LIST_MAX: usize = 1000;

/// The API's routes on `db`.
pub fn router(db: Arc<Db>) -> Router {
    Router::new()
        .route("/keys/{key}", get(get_key).put(put_key).delete(delete_key))
        .route("/keys", get(list_keys))
        .route("/stats", get(stats))
        .layer(DefaultBodyLimit::max(MAX_VALUE_BYTES))
        .with_state(db)
}

/// Serves the API on `listener` until `shutdown` completes, then lets the
/// requests in flight finish. Blocks: run it on a thread of its own. The
/// runtime (and with it every clone of `db`) is gone when this returns.
pub fn serve(
    listener: std::net::TcpListener,
    db: Arc<Db>,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()?;
    runtime.block_on(async move {
        listener.set_nonblocking(true)?;
        let listener = tokio::net::TcpListener::from_std(listener)?;
        axum::serve(listener, router(db))
            .with_graceful_shutdown(shutdown)
            .await
    })
}

/// An answer: a status and a JSON body, or the raw bytes of a value.
enum Answer {
    Json(StatusCode, Value),
    Value(Bytes),
    NoContent,
}

impl IntoResponse for Answer {
    fn into_response(self) -> Response {
        match self {
            Answer::Json(status, value) => (status, axum::Json(value)).into_response(),
            Answer::Value(bytes) => (
                StatusCode::OK,
                [(header::CONTENT_TYPE, "application/octet-stream")],
                bytes,
            )
                .into_response(),
            Answer::NoContent => StatusCode::NO_CONTENT.into_response(),
        }
    }
}

fn error(status: StatusCode, message: impl std::fmt::Display) -> Answer {
    Answer::Json(status, json!({ "error": message.to_string() }))
}

/// Runs `f` on the blocking pool; an engine error or a panic (a `todo!()`
/// of an unfinished chapter names it) is a 500.
async fn blocking<T: Send + 'static>(
    db: Arc<Db>,
    f: impl FnOnce(&Db) -> lsm_workbook::Result<T> + Send + 'static,
) -> Result<T, Answer> {
    match tokio::task::spawn_blocking(move || f(&db)).await {
        Ok(Ok(value)) => Ok(value),
        Ok(Err(e)) => Err(error(StatusCode::INTERNAL_SERVER_ERROR, e)),
        Err(join) => Err(error(
            StatusCode::INTERNAL_SERVER_ERROR,
            match join.try_into_panic() {
                Ok(payload) => panic_message(payload.as_ref()),
                Err(join) => join.to_string(),
            },
        )),
    }
}

fn panic_message(payload: &(dyn std::any::Any + Send)) -> String {
    match (
        payload.downcast_ref::<String>(),
        payload.downcast_ref::<&str>(),
    ) {
        (Some(message), _) => format!("the engine panicked: {message}"),
        (None, Some(message)) => format!("the engine panicked: {message}"),
        (None, None) => "the engine panicked".to_string(),
    }
}

async fn get_key(State(db): State<Arc<Db>>, Path(key): Path<String>) -> Answer {
    match blocking(db, move |db| db.get(key.as_bytes())).await {
        Ok(Some(value)) => Answer::Value(value),
        Ok(None) => error(StatusCode::NOT_FOUND, "no such key"),
        Err(answer) => answer,
    }
}

async fn put_key(State(db): State<Arc<Db>>, Path(key): Path<String>, body: Bytes) -> Answer {
    match blocking(db, move |db| db.put(key.into_bytes(), body)).await {
        Ok(()) => Answer::NoContent,
        Err(answer) => answer,
    }
}

async fn delete_key(State(db): State<Arc<Db>>, Path(key): Path<String>) -> Answer {
    match blocking(db, move |db| db.delete(key.into_bytes())).await {
        Ok(()) => Answer::NoContent,
        Err(answer) => answer,
    }
}

async fn list_keys(
    State(db): State<Arc<Db>>,
    Query(query): Query<HashMap<String, String>>,
) -> Answer {
    let prefix = query.get("prefix").cloned().unwrap_or_default();
    let limit = match query.get("limit").map(|n| n.parse::<usize>()) {
        None => LIST_DEFAULT,
        Some(Ok(n)) if (1..=LIST_MAX).contains(&n) => n,
        Some(_) => {
            return error(
                StatusCode::BAD_REQUEST,
                format!("limit must be a number from 1 to {LIST_MAX}"),
            );
        }
    };
    let listed = blocking(db, move |db| {
        let prefix = prefix.into_bytes();
        let mut pairs = Vec::new();
        let mut truncated = false;
        for pair in db.scan(prefix.as_slice()..) {
            let (key, value) = pair?;
            if !key.starts_with(&prefix) {
                break;
            }
            if pairs.len() == limit {
                truncated = true;
                break;
            }
            pairs.push((key, value));
        }
        Ok((pairs, truncated))
    })
    .await;
    match listed {
        Ok((pairs, truncated)) => {
            let keys: Vec<Value> = pairs
                .iter()
                .map(|(key, value)| {
                    json!({
                        "key": String::from_utf8_lossy(key),
                        "value": String::from_utf8_lossy(value),
                    })
                })
                .collect();
            Answer::Json(
                StatusCode::OK,
                json!({ "keys": keys, "truncated": truncated }),
            )
        }
        Err(answer) => answer,
    }
}

async fn stats(State(db): State<Arc<Db>>) -> Answer {
    match blocking(db, |db| Ok(db.stats())).await {
        Ok(stats) => Answer::Json(StatusCode::OK, stats_json(&stats)),
        Err(answer) => answer,
    }
}

/// Every field of `DbStats`, and its three amplifications (`null` before
/// the first write or read).
pub fn stats_json(stats: &DbStats) -> Value {
    let levels: Vec<Value> = stats
        .levels
        .iter()
        .map(|(tables, bytes)| json!({ "tables": tables, "bytes": bytes }))
        .collect();
    let cache = stats.cache.as_ref().map(|c| {
        json!({
            "hits": c.hits,
            "misses": c.misses,
            "inserts": c.inserts,
            "evictions": c.evictions,
            "bytes": c.bytes,
            "capacity_bytes": c.capacity_bytes,
        })
    });
    json!({
        "levels": levels,
        "memtable_bytes": stats.memtable_bytes,
        "frozen_memtables": stats.frozen_memtables,
        "last_seq": stats.last_seq,
        "user_bytes": stats.user_bytes,
        "wal_bytes": stats.wal_bytes,
        "flush_bytes": stats.flush_bytes,
        "compaction_bytes": stats.compaction_bytes,
        "compaction_bytes_by_level": stats.compaction_bytes_by_level,
        "compactions": stats.compactions,
        "trivial_moves": stats.trivial_moves,
        "flushes": stats.flushes,
        "gets": stats.gets,
        "tables_read_by_gets": stats.tables_read_by_gets,
        "level_entries": stats.level_entries,
        "flush_micros": stats.flush_micros,
        "compaction_micros": stats.compaction_micros,
        "slowed_writes": stats.slowed_writes,
        "stopped_writes": stats.stopped_writes,
        "stall_micros": stats.stall_micros,
        "background_threads": stats.background_threads,
        "cache": cache,
        "write_amplification": stats.write_amplification(),
        "read_amplification": stats.read_amplification(),
        "space_amplification_estimate": stats.space_amplification_estimate(),
    })
}
