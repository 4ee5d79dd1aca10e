//! A small synchronous RESP2 client: the other side of the protocol, for
//! examples and tests. Not a general Redis client (no RESP3, no pooling):
//! [`Client::command`] sends one request and reads its reply;
//! [`Client::pipeline`] sends many and reads as many replies.

use std::io::{self, BufRead, BufReader, Read, Write};
use std::net::{TcpStream, ToSocketAddrs};
use std::time::Duration;

/// A reply as the client reads it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Value {
    /// `+OK`
    Simple(String),
    /// `-ERR …`
    Error(String),
    /// `:42`
    Integer(i64),
    /// `$3\r\nabc`
    Bulk(Vec<u8>),
    /// `$-1`
    Nil,
    /// `*N`
    Array(Vec<Value>),
    /// `*-1`
    NilArray,
}

impl Value {
    /// The bytes of a bulk string, if it is one.
    pub fn as_bytes(&self) -> Option<&[u8]> {
        match self {
            Value::Bulk(bytes) => Some(bytes),
            _ => None,
        }
    }
}

/// The largest bulk or array length the client believes (its own bound).
const LEN_MAX: i64 = 512 << 20;

/// One connection to a server.
pub struct Client {
    reader: BufReader<TcpStream>,
    writer: TcpStream,
}

impl Client {
    /// Connects, with `timeout` on reads and writes (so a test that waits
    /// for a reply that never comes fails instead of hanging).
    pub fn connect(addr: impl ToSocketAddrs, timeout: Duration) -> io::Result<Client> {
        let stream = TcpStream::connect(addr)?;
        stream.set_nodelay(true)?;
        stream.set_read_timeout(Some(timeout))?;
        stream.set_write_timeout(Some(timeout))?;
        Ok(Client {
            reader: BufReader::new(stream.try_clone()?),
            writer: stream,
        })
    }

    /// Sends one request and reads its reply.
    pub fn command(&mut self, args: &[&[u8]]) -> io::Result<Value> {
        let mut out = Vec::new();
        encode_request(args, &mut out);
        self.writer.write_all(&out)?;
        self.read_value()
    }

    /// Sends every request in one write, then reads one reply for each.
    pub fn pipeline(&mut self, requests: &[Vec<&[u8]>]) -> io::Result<Vec<Value>> {
        let mut out = Vec::new();
        for args in requests {
            encode_request(args, &mut out);
        }
        self.writer.write_all(&out)?;
        requests.iter().map(|_| self.read_value()).collect()
    }

    /// Sends raw bytes (for malformed input in tests).
    pub fn send_raw(&mut self, bytes: &[u8]) -> io::Result<()> {
        self.writer.write_all(bytes)
    }

    /// Reads one reply.
    pub fn read_value(&mut self) -> io::Result<Value> {
        let line = self.read_line()?;
        let (kind, rest) = line.split_first().ok_or_else(|| bad("an empty line"))?;
        let text = || String::from_utf8_lossy(rest).into_owned();
        match kind {
            b'+' => Ok(Value::Simple(text())),
            b'-' => Ok(Value::Error(text())),
            b':' => Ok(Value::Integer(number(rest)?)),
            b'$' => match number(rest)? {
                -1 => Ok(Value::Nil),
                len @ 0..=LEN_MAX => {
                    let mut bytes = vec![0u8; len as usize + 2];
                    self.reader.read_exact(&mut bytes)?;
                    if !bytes.ends_with(b"\r\n") {
                        return Err(bad("a bulk string not ended by \\r\\n"));
                    }
                    bytes.truncate(len as usize);
                    Ok(Value::Bulk(bytes))
                }
                _ => Err(bad("a bulk length out of range")),
            },
            b'*' => match number(rest)? {
                -1 => Ok(Value::NilArray),
                len @ 0..=LEN_MAX => (0..len)
                    .map(|_| self.read_value())
                    .collect::<io::Result<_>>()
                    .map(Value::Array),
                _ => Err(bad("an array length out of range")),
            },
            other => Err(bad(&format!("an unknown reply type {:?}", *other as char))),
        }
    }

    /// A line without its `\r\n`; end of stream is `UnexpectedEof`.
    fn read_line(&mut self) -> io::Result<Vec<u8>> {
        let mut line = Vec::new();
        self.reader.read_until(b'\n', &mut line)?;
        if !line.ends_with(b"\r\n") {
            return Err(io::Error::new(
                io::ErrorKind::UnexpectedEof,
                "the connection closed mid-reply",
            ));
        }
        line.truncate(line.len() - 2);
        Ok(line)
    }
}

/// `args` as a RESP array of bulk strings.
pub fn encode_request(args: &[&[u8]], out: &mut Vec<u8>) {
    out.extend_from_slice(format!("*{}\r\n", args.len()).as_bytes());
    for arg in args {
        out.extend_from_slice(format!("${}\r\n", arg.len()).as_bytes());
        out.extend_from_slice(arg);
        out.extend_from_slice(b"\r\n");
    }
}

fn number(text: &[u8]) -> io::Result<i64> {
    std::str::from_utf8(text)
        .ok()
        .and_then(|text| text.parse().ok())
        .ok_or_else(|| bad("a malformed number"))
}

fn bad(what: &str) -> io::Error {
    io::Error::new(
        io::ErrorKind::InvalidData,
        format!("the server sent {what}"),
    )
}
