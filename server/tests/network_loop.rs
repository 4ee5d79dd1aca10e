//! The network loop against the real binary on 127.0.0.1: requests,
//! pipelining, protocol errors, AUTH, concurrent connections, graceful
//! shutdown, and durability across SIGKILL.

mod support;

use std::time::Duration;

use lsm_server::client::{Client, Value};
use support::{Running, TIMEOUT};

fn bulk(bytes: &[u8]) -> Value {
    Value::Bulk(bytes.to_vec())
}

#[test]
fn set_then_get_round_trips_over_tcp() {
    let dir = tempfile::tempdir().unwrap();
    let server = Running::start(dir.path(), &[]);
    let mut client = server.client();
    assert_eq!(
        client.command(&[b"PING"]).unwrap(),
        Value::Simple("PONG".into()),
        "PING answers +PONG"
    );
    assert_eq!(
        client.command(&[b"SET", b"k", b"v"]).unwrap(),
        Value::Simple("OK".into()),
        "SET answers +OK"
    );
    assert_eq!(
        client.command(&[b"GET", b"k"]).unwrap(),
        bulk(b"v"),
        "GET reads what SET wrote"
    );
    assert_eq!(
        client.command(&[b"GET", b"absent"]).unwrap(),
        Value::Nil,
        "an absent key is the nil bulk"
    );
}

#[test]
fn pipelined_requests_are_answered_in_order() {
    let dir = tempfile::tempdir().unwrap();
    let server = Running::start(dir.path(), &[]);
    let mut client = server.client();
    let keys: Vec<String> = (0..500).map(|i| format!("key{i:03}")).collect();
    let mut requests: Vec<Vec<&[u8]>> = keys
        .iter()
        .map(|k| vec![&b"SET"[..], k.as_bytes(), k.as_bytes()])
        .collect();
    requests.extend(keys.iter().map(|k| vec![&b"GET"[..], k.as_bytes()]));
    let replies = client.pipeline(&requests).unwrap();
    assert_eq!(replies.len(), 1000, "one reply per pipelined request");
    for (i, key) in keys.iter().enumerate() {
        assert_eq!(
            replies[i],
            Value::Simple("OK".into()),
            "SET #{i} answered in its place"
        );
        assert_eq!(
            replies[500 + i],
            bulk(key.as_bytes()),
            "GET #{i} answered in its place, after its SET"
        );
    }
}

#[test]
fn a_request_split_across_writes_is_answered_once_complete() {
    let dir = tempfile::tempdir().unwrap();
    let server = Running::start(dir.path(), &[]);
    let mut client = server.client();
    let request = b"*3\r\n$3\r\nSET\r\n$1\r\na\r\n$5\r\nhello\r\n";
    for byte in request {
        client.send_raw(&[*byte]).unwrap();
        std::thread::sleep(Duration::from_millis(1));
    }
    assert_eq!(
        client.read_value().unwrap(),
        Value::Simple("OK".into()),
        "a request sent byte by byte is answered"
    );
    assert_eq!(
        client.command(&[b"GET", b"a"]).unwrap(),
        bulk(b"hello"),
        "and it was applied whole"
    );
}

#[test]
fn a_protocol_error_is_answered_then_the_connection_closes() {
    let dir = tempfile::tempdir().unwrap();
    let server = Running::start(dir.path(), &[]);
    let mut client = server.client();
    // An inline request longer than the 64 KiB limit, without a newline.
    client.send_raw(&vec![b'x'; 100 << 10]).unwrap();
    match client.read_value() {
        Ok(Value::Error(message)) => assert!(
            message.starts_with("ERR Protocol error"),
            "the error is Redis-shaped: {message}"
        ),
        other => panic!("an oversized request gets an error reply, got {other:?}"),
    }
    assert!(
        client.read_value().is_err(),
        "then the server closes the connection"
    );
    let mut fresh = server.client();
    assert_eq!(
        fresh.command(&[b"PING"]).unwrap(),
        Value::Simple("PONG".into()),
        "the server still serves others"
    );
}

#[test]
fn requirepass_refuses_commands_until_auth() {
    let dir = tempfile::tempdir().unwrap();
    let server = Running::start(dir.path(), &["--requirepass", "s3cret"]);
    let mut client = server.client();
    match client.command(&[b"GET", b"k"]).unwrap() {
        Value::Error(message) => {
            assert!(message.starts_with("NOAUTH"), "GET before AUTH: {message}")
        }
        other => panic!("GET before AUTH is refused, got {other:?}"),
    }
    match client.command(&[b"AUTH", b"wrong"]).unwrap() {
        Value::Error(message) => assert!(
            message.starts_with("WRONGPASS"),
            "a wrong password: {message}"
        ),
        other => panic!("a wrong password is refused, got {other:?}"),
    }
    assert_eq!(
        client.command(&[b"AUTH", b"s3cret"]).unwrap(),
        Value::Simple("OK".into()),
        "the right password"
    );
    assert_eq!(
        client.command(&[b"GET", b"k"]).unwrap(),
        Value::Nil,
        "then GET is served"
    );
}

#[test]
fn hundreds_of_concurrent_connections_each_see_their_own_writes() {
    let dir = tempfile::tempdir().unwrap();
    let server = Running::start(dir.path(), &[]);
    let addr = server.addr;
    let threads: Vec<_> = (0..300)
        .map(|c| {
            std::thread::spawn(move || {
                let mut client = Client::connect(addr, TIMEOUT).unwrap();
                for i in 0..20 {
                    let key = format!("c{c}-k{i}");
                    let value = format!("v{i}");
                    assert_eq!(
                        client
                            .command(&[b"SET", key.as_bytes(), value.as_bytes()])
                            .unwrap(),
                        Value::Simple("OK".into()),
                        "SET {key}"
                    );
                }
                client
            })
        })
        .collect();
    let mut clients: Vec<Client> = threads
        .into_iter()
        .map(|t| t.join().expect("a client thread"))
        .collect();
    // The model: every key holds its last value; read back by another connection.
    let reader = &mut clients[0];
    for c in 0..300 {
        for i in [0, 19] {
            let key = format!("c{c}-k{i}");
            assert_eq!(
                reader.command(&[b"GET", key.as_bytes()]).unwrap(),
                bulk(format!("v{i}").as_bytes()),
                "{key} after 300 concurrent writers"
            );
        }
    }
}

#[test]
fn sigterm_closes_the_database_cleanly_and_keeps_its_writes() {
    let dir = tempfile::tempdir().unwrap();
    let server = Running::start(dir.path(), &[]);
    let mut client = server.client();
    assert_eq!(
        client.command(&[b"SET", b"k", b"before"]).unwrap(),
        Value::Simple("OK".into()),
        "SET"
    );
    let idle = server.client();
    let (status, stderr) = server.stop("TERM");
    assert!(
        status.success(),
        "SIGTERM exits 0 (an idle connection does not hold it open): {status}; stderr: {stderr}"
    );
    assert!(
        stderr.contains("closed"),
        "it says it closed the database: {stderr}"
    );
    drop(idle);
    let server = Running::start(dir.path(), &[]);
    let mut client = server.client();
    assert_eq!(
        client.command(&[b"GET", b"k"]).unwrap(),
        bulk(b"before"),
        "the write survives a restart"
    );
    let (status, _) = server.stop("INT");
    assert!(status.success(), "SIGINT exits 0 too: {status}");
}

#[test]
fn every_acknowledged_write_survives_sigkill_under_load() {
    let dir = tempfile::tempdir().unwrap();
    let server = Running::start(dir.path(), &[]);
    let addr = server.addr;
    let writers: Vec<_> = (0..8)
        .map(|w| {
            std::thread::spawn(move || {
                let mut client = Client::connect(addr, TIMEOUT).unwrap();
                let mut acknowledged = 0u32;
                loop {
                    let key = format!("w{w}-{acknowledged}");
                    match client.command(&[b"SET", key.as_bytes(), b"x"]) {
                        Ok(Value::Simple(ok)) if ok == "OK" => acknowledged += 1,
                        _ => return acknowledged,
                    }
                }
            })
        })
        .collect();
    std::thread::sleep(Duration::from_millis(700));
    let (status, _) = server.stop("KILL");
    assert!(!status.success(), "SIGKILL kills");
    let counts: Vec<u32> = writers.into_iter().map(|t| t.join().unwrap()).collect();
    assert!(
        counts.iter().all(|&n| n > 0),
        "every writer got some writes acknowledged: {counts:?}"
    );
    let server = Running::start(dir.path(), &[]);
    let mut client = server.client();
    for (w, &count) in counts.iter().enumerate() {
        for i in [0, count / 2, count - 1] {
            let key = format!("w{w}-{i}");
            assert_eq!(
                client.command(&[b"GET", key.as_bytes()]).unwrap(),
                bulk(b"x"),
                "{key} was acknowledged before SIGKILL ({count} by writer {w})"
            );
        }
    }
}
