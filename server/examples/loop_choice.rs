//! The measurement behind the server's network loop: a thread per
//! connection or tokio? Two PING servers that differ only in their loop
//! (`serve threads ADDR`, `serve tokio ADDR`), each run as a child process,
//! and a load generator that opens N connections, reads the child's RSS
//! from /proc, then has every connection send `PING\r\n` and wait for
//! `+PONG\r\n` (no pipelining, as `redis-benchmark -P 1`) for a few seconds.
//!
//! ```text
//! cargo run --release -p lsm-server --example loop_choice -- 50,2000 3
//! ```
//!
//! Linux only (RSS from /proc/PID/status). Binds 127.0.0.1 only.

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use tokio::io::{AsyncReadExt, AsyncWriteExt};

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    match args.first().map(String::as_str) {
        Some("serve") => serve(&args[1], &args[2]),
        _ => {
            let counts: Vec<usize> = args
                .first()
                .map(|list| list.split(',').filter_map(|n| n.parse().ok()).collect())
                .unwrap_or_else(|| vec![50, 2000]);
            let secs: u64 = args.get(1).and_then(|s| s.parse().ok()).unwrap_or(3);
            println!(
                "| loop | connections | RSS idle | RSS connected | per connection | PINGs/s |"
            );
            println!("|---|---|---|---|---|---|");
            for &count in &counts {
                for mode in ["threads", "tokio", "tokio-blocking"] {
                    measure(mode, count, Duration::from_secs(secs));
                }
            }
        }
    }
}

/// Counts the newlines in `bytes`: each ends one PING.
fn pings(bytes: &[u8]) -> usize {
    bytes.iter().filter(|&&b| b == b'\n').count()
}

fn serve(mode: &str, addr: &str) {
    let listener = TcpListener::bind(addr).unwrap();
    println!("{}", listener.local_addr().unwrap());
    std::io::stdout().flush().unwrap();
    match mode {
        "threads" => {
            for stream in listener.incoming() {
                let mut stream = stream.unwrap();
                std::thread::spawn(move || {
                    let mut buf = [0u8; 4096];
                    let mut out = Vec::new();
                    loop {
                        let n = match stream.read(&mut buf) {
                            Ok(0) | Err(_) => return,
                            Ok(n) => n,
                        };
                        out.clear();
                        for _ in 0..pings(&buf[..n]) {
                            out.extend_from_slice(b"+PONG\r\n");
                        }
                        if stream.write_all(&out).is_err() {
                            return;
                        }
                    }
                });
            }
        }
        _ => {
            // `tokio-blocking`: each batch's answers computed inside
            // `block_in_place`, as a blocking engine call would have to be.
            let blocking = mode == "tokio-blocking";
            let runtime = tokio::runtime::Builder::new_multi_thread()
                .worker_threads(2)
                .enable_all()
                .build()
                .unwrap();
            runtime.block_on(async move {
                listener.set_nonblocking(true).unwrap();
                let listener = tokio::net::TcpListener::from_std(listener).unwrap();
                loop {
                    let (mut stream, _) = listener.accept().await.unwrap();
                    tokio::spawn(async move {
                        let mut buf = [0u8; 4096];
                        let mut out = Vec::new();
                        loop {
                            let n = match stream.read(&mut buf).await {
                                Ok(0) | Err(_) => return,
                                Ok(n) => n,
                            };
                            let answer = |out: &mut Vec<u8>| {
                                out.clear();
                                for _ in 0..pings(&buf[..n]) {
                                    out.extend_from_slice(b"+PONG\r\n");
                                }
                            };
                            if blocking {
                                tokio::task::block_in_place(|| answer(&mut out));
                            } else {
                                answer(&mut out);
                            }
                            if stream.write_all(&out).await.is_err() {
                                return;
                            }
                        }
                    });
                }
            });
        }
    }
}

fn rss_kib(child: &Child) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{}/status", child.id())).unwrap();
    status
        .lines()
        .find_map(|line| line.strip_prefix("VmRSS:"))
        .and_then(|rest| rest.trim().trim_end_matches("kB").trim().parse().ok())
        .unwrap_or(0)
}

fn measure(mode: &str, count: usize, duration: Duration) {
    let exe = std::env::current_exe().unwrap();
    let mut child = Command::new(exe)
        .args(["serve", mode, "127.0.0.1:0"])
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let mut line = String::new();
    let mut stdout = child.stdout.take().unwrap();
    let mut byte = [0u8; 1];
    while stdout.read(&mut byte).unwrap() == 1 && byte[0] != b'\n' {
        line.push(byte[0] as char);
    }
    let addr: SocketAddr = line.trim().parse().unwrap();
    // Warm the server's allocator and runtime with one round trip.
    let mut probe = TcpStream::connect(addr).unwrap();
    probe.write_all(b"PING\r\n").unwrap();
    probe.read_exact(&mut [0u8; 7]).unwrap();
    std::thread::sleep(Duration::from_millis(200));
    let idle = rss_kib(&child);

    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    let done = Arc::new(AtomicBool::new(false));
    let total = Arc::new(AtomicU64::new(0));
    let (connected, rate) = runtime.block_on(async {
        let mut streams = Vec::with_capacity(count);
        for _ in 0..count {
            streams.push(tokio::net::TcpStream::connect(addr).await.unwrap());
        }
        // One round trip each: every connection has its thread or task.
        for stream in &mut streams {
            stream.write_all(b"PING\r\n").await.unwrap();
            stream.read_exact(&mut [0u8; 7]).await.unwrap();
        }
        tokio::time::sleep(Duration::from_millis(300)).await;
        let connected = rss_kib(&child);
        let start = Instant::now();
        let mut tasks = Vec::new();
        for mut stream in streams {
            let done = Arc::clone(&done);
            let total = Arc::clone(&total);
            tasks.push(tokio::spawn(async move {
                let mut reply = [0u8; 7];
                let mut n = 0;
                while !done.load(Ordering::Relaxed) {
                    stream.write_all(b"PING\r\n").await.unwrap();
                    stream.read_exact(&mut reply).await.unwrap();
                    n += 1;
                }
                total.fetch_add(n, Ordering::Relaxed);
            }));
        }
        tokio::time::sleep(duration).await;
        done.store(true, Ordering::Relaxed);
        for task in tasks {
            task.await.unwrap();
        }
        let rate = total.load(Ordering::Relaxed) as f64 / start.elapsed().as_secs_f64();
        (connected, rate)
    });
    child.kill().unwrap();
    child.wait().unwrap();
    let per = (connected.saturating_sub(idle)) as f64 / count as f64;
    println!("| {mode} | {count} | {idle} KiB | {connected} KiB | {per:.1} KiB | {rate:.0} |");
}
