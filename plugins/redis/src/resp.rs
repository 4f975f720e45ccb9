//! The sliver of RESP (Redis serialization protocol) the collector needs: encode a command, read one reply.

use std::io::{self, BufRead};

/// A reply from the server; arrays are not needed for AUTH and INFO.
#[derive(Debug, PartialEq)]
pub enum Reply {
    Simple(String),
    Error(String),
    Integer(i64),
    /// `None` is the RESP null bulk string.
    Bulk(Option<Vec<u8>>),
}

/// Encodes a command as a RESP array of bulk strings (binary-safe, so passwords need no escaping).
pub fn encode_command(args: &[&str]) -> Vec<u8> {
    let mut out = format!("*{}\r\n", args.len()).into_bytes();
    for arg in args {
        out.extend_from_slice(format!("${}\r\n", arg.len()).as_bytes());
        out.extend_from_slice(arg.as_bytes());
        out.extend_from_slice(b"\r\n");
    }
    out
}

/// Guards against a hostile or confused server announcing a huge bulk string.
const MAX_BULK_BYTES: usize = 16 << 20;

pub fn read_reply(reader: &mut impl BufRead) -> io::Result<Reply> {
    let line = read_line(reader)?;
    let (kind, rest) = line.split_at(1);
    match kind {
        "+" => Ok(Reply::Simple(rest.to_owned())),
        "-" => Ok(Reply::Error(rest.to_owned())),
        ":" => rest.parse().map(Reply::Integer).map_err(|_| invalid(&line)),
        "$" => read_bulk(reader, rest.parse().map_err(|_| invalid(&line))?),
        _ => Err(invalid(&line)),
    }
}

fn read_bulk(reader: &mut impl BufRead, len: i64) -> io::Result<Reply> {
    if len < 0 {
        return Ok(Reply::Bulk(None));
    }
    let len = usize::try_from(len).unwrap_or(usize::MAX);
    if len > MAX_BULK_BYTES {
        return Err(io::Error::new(io::ErrorKind::InvalidData, format!("bulk reply of {len} bytes is too large")));
    }
    let mut data = vec![0; len + 2];
    reader.read_exact(&mut data)?;
    if !data.ends_with(b"\r\n") {
        return Err(io::Error::new(io::ErrorKind::InvalidData, "bulk reply not terminated by CRLF"));
    }
    data.truncate(len);
    Ok(Reply::Bulk(Some(data)))
}

fn read_line(reader: &mut impl BufRead) -> io::Result<String> {
    let mut line = String::new();
    reader.read_line(&mut line)?;
    if !line.ends_with("\r\n") || line.len() < 3 {
        return Err(if line.is_empty() { io::ErrorKind::UnexpectedEof.into() } else { invalid(&line) });
    }
    line.truncate(line.len() - 2);
    Ok(line)
}

fn invalid(line: &str) -> io::Error {
    io::Error::new(io::ErrorKind::InvalidData, format!("unexpected RESP line {line:?}"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Cursor;

    fn parse(bytes: &[u8]) -> io::Result<Reply> {
        read_reply(&mut Cursor::new(bytes))
    }

    #[test]
    fn encodes_commands_as_bulk_string_arrays() {
        assert_eq!(encode_command(&["AUTH", "p w"]), b"*2\r\n$4\r\nAUTH\r\n$3\r\np w\r\n");
    }

    #[test]
    fn reads_each_reply_kind() {
        assert_eq!(parse(b"+OK\r\n").unwrap(), Reply::Simple("OK".into()));
        assert_eq!(parse(b"-WRONGPASS bad\r\n").unwrap(), Reply::Error("WRONGPASS bad".into()));
        assert_eq!(parse(b":42\r\n").unwrap(), Reply::Integer(42));
        assert_eq!(parse(b"$5\r\nab\r\nc\r\n").unwrap(), Reply::Bulk(Some(b"ab\r\nc".to_vec())));
        assert_eq!(parse(b"$-1\r\n").unwrap(), Reply::Bulk(None));
    }

    #[test]
    fn rejects_truncated_and_oversized_replies() {
        assert_eq!(parse(b"").unwrap_err().kind(), io::ErrorKind::UnexpectedEof);
        assert!(parse(b"$10\r\nshort\r\n").is_err());
        assert!(parse(b"$999999999\r\n").is_err());
        assert!(parse(b"?what\r\n").is_err());
    }
}
