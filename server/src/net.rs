//! The network loop: a thread per connection, blocking sockets.
//!
//! **Why threads, not tokio** — measured with `examples/loop_choice.rs`
//! (a PING echo server each way, 2 cores shared with the load generator,
//! `cargo run --release -p lsm-server --example loop_choice -- 50,2000,10000 4`):
//!
//! | loop | connections | RSS per connection | PINGs/s |
//! |---|---|---|---|
//! | threads | 50 | 14.9 KiB | 108,000–119,000 |
//! | tokio, 2 workers | 50 | 5.0 KiB | 110,000–137,000 |
//! | tokio + `block_in_place` | 50 | 5.7 KiB | 53,000 |
//! | threads | 2,000 | 13.6 KiB | 80,000–97,000 |
//! | tokio, 2 workers | 2,000 | 4.8 KiB | 82,000–94,000 |
//! | tokio + `block_in_place` | 2,000 | 5.0 KiB | 58,000 |
//! | threads | 10,000 | 13.6 KiB (138 MiB) | 86,000 |
//! | tokio, 2 workers | 10,000 | 4.8 KiB (51 MiB) | 69,000 |
//!
//! Both loops hold 10,000 connections and their throughput is the same
//! within the run-to-run noise; tokio's tasks take a third of a thread's
//! memory, which at "thousands of connections" is tens of MiB, not a
//! limit. What decides is the engine: `Db` is synchronous and a call may
//! block — a write stall (chapter 10) waits for compaction, a cache miss
//! reads a file. On a 2-worker tokio runtime two stalled writers would
//! stop every other connection; keeping them off the workers
//! (`block_in_place`) halves the throughput. A thread per connection
//! blocks only the connection whose request waits, and the loop stays
//! plain blocking code that a learner can read next to chapter 11.
//!
//! Per connection: bytes go into the chapter's `RequestReader`; every
//! complete request is answered with `execute`, in order (pipelining);
//! the replies of one read are written together. A protocol error is
//! answered `-ERR Protocol error: …` and the connection closed.
//!
//! Shutdown ([`Handle::shutdown`]): the accept loop stops (woken by a
//! connection to itself), every open connection's read side is shut, so
//! each thread answers the requests it has read, writes, and ends;
//! [`Server::run`] returns once all have ended (a connection whose client
//! stops reading is cut after [`DRAIN_TIMEOUT`]).

use std::collections::HashMap;
use std::io::{self, Read, Write};
use std::net::{Shutdown, SocketAddr, TcpListener, TcpStream};
use std::panic::{self, AssertUnwindSafe};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use bytes::Bytes;
use lsm_workbook::ch07_engine::Db;

use crate::chapter::{Limits, Outcome, Reply, RequestReader, ServerConfig, Session, execute};

/// How long shutdown waits for connections to finish before cutting them.
pub const DRAIN_TIMEOUT: Duration = Duration::from_secs(10);
/// Bytes read from a socket at a time.
const READ_CHUNK_BYTES: usize = 16 << 10;
/// Replies are written once they reach this many bytes, even mid-batch,
/// so a long pipeline of large values does not pile up in memory.
const WRITE_FLUSH_BYTES: usize = 64 << 10;

/// The open connections, so that shutdown can reach them.
#[derive(Default)]
struct Connections {
    streams: Mutex<HashMap<u64, TcpStream>>,
    stopping: AtomicBool,
}

impl Connections {
    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<u64, TcpStream>> {
        self.streams.lock().unwrap_or_else(PoisonError::into_inner)
    }

    fn shut_all(&self, how: Shutdown) {
        for stream in self.lock().values() {
            let _ = stream.shutdown(how);
        }
    }
}

/// A bound server, not yet accepting.
pub struct Server {
    listener: TcpListener,
    db: Arc<Db>,
    config: Arc<ServerConfig>,
    limits: Limits,
    connections: Arc<Connections>,
}

/// Stops a running [`Server`] from another thread.
#[derive(Clone)]
pub struct Handle {
    addr: SocketAddr,
    connections: Arc<Connections>,
}

impl Handle {
    /// Stops accepting and shuts the read side of every connection: each
    /// answers what it has read, then ends. Idempotent.
    pub fn shutdown(&self) {
        if self.connections.stopping.swap(true, Ordering::SeqCst) {
            return;
        }
        // Wake the accept loop, which then sees `stopping`.
        let _ = TcpStream::connect_timeout(&self.addr, Duration::from_secs(1));
        self.connections.shut_all(Shutdown::Read);
    }
}

impl Server {
    /// Binds `addr` (`127.0.0.1:0` for an ephemeral port).
    pub fn bind(
        addr: SocketAddr,
        db: Arc<Db>,
        config: ServerConfig,
        limits: Limits,
    ) -> io::Result<Server> {
        Ok(Server {
            listener: TcpListener::bind(addr)?,
            db,
            config: Arc::new(config),
            limits,
            connections: Arc::default(),
        })
    }

    /// The address it listens on.
    pub fn local_addr(&self) -> io::Result<SocketAddr> {
        self.listener.local_addr()
    }

    /// What stops it.
    pub fn handle(&self) -> io::Result<Handle> {
        let mut addr = self.local_addr()?;
        if addr.ip().is_unspecified() {
            addr.set_ip(std::net::Ipv4Addr::LOCALHOST.into());
        }
        Ok(Handle {
            addr,
            connections: Arc::clone(&self.connections),
        })
    }

    /// Accepts connections until [`Handle::shutdown`], then waits for the
    /// open ones to end.
    pub fn run(self) -> io::Result<()> {
        let mut threads: Vec<JoinHandle<()>> = Vec::new();
        let mut next_id = 0u64;
        for stream in self.listener.incoming() {
            if self.connections.stopping.load(Ordering::SeqCst) {
                break;
            }
            let stream = match stream {
                Ok(stream) => stream,
                // Out of file descriptors, or a connection reset before
                // accept: wait a moment rather than spin.
                Err(error) => {
                    eprintln!("lsm-server: accept: {error}");
                    std::thread::sleep(Duration::from_millis(10));
                    continue;
                }
            };
            threads.retain(|thread| !thread.is_finished());
            next_id += 1;
            if let Some(thread) = self.start(next_id, stream) {
                threads.push(thread);
            }
        }
        let deadline = Instant::now() + DRAIN_TIMEOUT;
        while threads.iter().any(|thread| !thread.is_finished()) && Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(5));
        }
        self.connections.shut_all(Shutdown::Both);
        for thread in threads {
            let _ = thread.join();
        }
        Ok(())
    }

    /// Registers `stream` and starts its thread (none once stopping).
    fn start(&self, id: u64, stream: TcpStream) -> Option<JoinHandle<()>> {
        let registered = stream.try_clone().ok()?;
        {
            // Checked under the lock shutdown takes: a connection is
            // either seen by `shut_all` or refused here.
            let mut streams = self.connections.lock();
            if self.connections.stopping.load(Ordering::SeqCst) {
                return None;
            }
            streams.insert(id, registered);
        }
        let db = Arc::clone(&self.db);
        let config = Arc::clone(&self.config);
        let limits = self.limits;
        let connections = Arc::clone(&self.connections);
        let spawned = std::thread::Builder::new()
            .name(format!("conn-{id}"))
            .spawn(move || {
                let _ = serve(stream, &db, &config, limits);
                connections.lock().remove(&id);
            });
        match spawned {
            Ok(thread) => Some(thread),
            Err(error) => {
                eprintln!("lsm-server: cannot start a connection thread: {error}");
                self.connections.lock().remove(&id);
                None
            }
        }
    }
}

/// One connection, until the client closes it, `QUIT`, a protocol error
/// or shutdown.
fn serve(mut stream: TcpStream, db: &Db, config: &ServerConfig, limits: Limits) -> io::Result<()> {
    stream.set_nodelay(true)?;
    let mut reader = RequestReader::new(limits);
    let mut session = Session::new();
    let mut chunk = vec![0u8; READ_CHUNK_BYTES];
    let mut out = Vec::new();
    loop {
        let n = match stream.read(&mut chunk) {
            Ok(0) => return Ok(()),
            Ok(n) => n,
            Err(error) if error.kind() == io::ErrorKind::Interrupted => continue,
            Err(error) => return Err(error),
        };
        let open = match reader.feed(&chunk[..n]) {
            Ok(()) => answer(&mut stream, &mut reader, db, config, &mut session, &mut out)?,
            Err(error) => {
                Reply::error(format!("ERR {error}")).encode(&mut out);
                false
            }
        };
        stream.write_all(&out)?;
        out.clear();
        if !open {
            return stream.shutdown(Shutdown::Both);
        }
    }
}

/// Answers every complete request `reader` holds into `out` (written
/// early past [`WRITE_FLUSH_BYTES`]); `false` if the connection must close.
fn answer(
    stream: &mut TcpStream,
    reader: &mut RequestReader,
    db: &Db,
    config: &ServerConfig,
    session: &mut Session,
    out: &mut Vec<u8>,
) -> io::Result<bool> {
    loop {
        let args: Vec<Bytes> = match reader.next() {
            Ok(Some(args)) => args,
            Ok(None) => return Ok(true),
            Err(error) => {
                Reply::error(format!("ERR {error}")).encode(out);
                return Ok(false);
            }
        };
        match guarded(|| execute(db, config, session, args)) {
            Ok(Outcome::Reply(reply)) => reply.encode(out),
            Ok(Outcome::Close(reply)) => {
                reply.encode(out);
                return Ok(false);
            }
            // A `todo!()` of an unfinished chapter (or a bug): the client
            // hears why, and the session, perhaps half-updated, ends.
            Err(why) => {
                Reply::error(format!("ERR {why}")).encode(out);
                return Ok(false);
            }
        }
        if out.len() >= WRITE_FLUSH_BYTES {
            stream.write_all(out)?;
            out.clear();
        }
    }
}

/// `f`'s result, or its panic's message on one line.
fn guarded<T>(f: impl FnOnce() -> T) -> Result<T, String> {
    panic::catch_unwind(AssertUnwindSafe(f)).map_err(|payload| {
        let message = panic_message(payload.as_ref());
        format!("internal error: {}", message.replace(['\r', '\n'], " "))
    })
}

/// The text a panic was raised with (`panic!`'s and `todo!`'s are a
/// `String` or a `&str`).
pub fn panic_message(payload: &(dyn std::any::Any + Send)) -> &str {
    match (
        payload.downcast_ref::<String>(),
        payload.downcast_ref::<&str>(),
    ) {
        (Some(message), _) => message.as_str(),
        (None, Some(message)) => message,
        (None, None) => "(no message)",
    }
}
