//! Compact encoding of ASH chunks: a minute of ticks of one instance as one deflated, columnar
//! batch of varints. Strings are global `activity_strings` ids; query ids go through a per-chunk
//! table (they are 64-bit hashes that would otherwise cost 9–10 bytes each). Columnar layout puts
//! equal values of consecutive ticks next to each other, which is what makes deflate effective.

use std::io::{Read, Write};

use flate2::read::DeflateDecoder;
use flate2::write::DeflateEncoder;
use flate2::Compression;

/// Format version written first in every chunk.
const VERSION: u8 = 1;
/// Refuse to inflate past this (a corrupt or hostile blob must not exhaust memory).
const MAX_INFLATED: u64 = 64 * 1024 * 1024;

/// One session sample with its strings interned (ids into `activity_strings`).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct AshRow {
    pub ts: i64,
    pub pid: i32,
    pub backend_start: i64,
    pub state: i64,
    pub wait_event_type: i64,
    pub wait_event: i64,
    pub blocking_pids: Vec<i32>,
    pub query_id: i64,
    pub database: i64,
    pub user: i64,
    pub application: i64,
    pub client: i64,
    pub backend_type: i64,
    pub command: i64,
    pub query_start: Option<i64>,
    pub xact_start: Option<i64>,
}

/// A chunk before encoding: tick timestamps (also ticks without sessions) and the rows, ordered
/// by tick.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct AshChunk {
    pub ticks: Vec<i64>,
    pub rows: Vec<AshRow>,
}

#[derive(Debug, thiserror::Error)]
pub enum CodecError {
    #[error("ASH chunk is truncated or corrupt")]
    Corrupt,
    #[error("ASH chunk format version {0} is not supported")]
    Version(u8),
}

impl AshChunk {
    pub fn start_ts(&self) -> i64 {
        self.ticks.first().copied().unwrap_or_default()
    }

    pub fn end_ts(&self) -> i64 {
        self.ticks.last().copied().unwrap_or_default()
    }

    /// Encodes and deflates the chunk.
    pub fn encode(&self) -> Vec<u8> {
        let start = self.start_ts();
        let mut out = Vec::with_capacity(64 + self.rows.len() * 24);
        put(&mut out, self.ticks.len() as u64);
        let mut prev = start;
        for &t in &self.ticks {
            put_signed(&mut out, t - prev);
            prev = t;
        }
        // Sessions per tick, so rows can be given their tick back.
        let mut per_tick = vec![0u64; self.ticks.len()];
        let mut tick = 0;
        for row in &self.rows {
            while tick + 1 < self.ticks.len() && self.ticks[tick] != row.ts {
                tick += 1;
            }
            per_tick[tick] += 1;
        }
        per_tick.iter().for_each(|&n| put(&mut out, n));
        let mut query_ids: Vec<i64> = Vec::new();
        let query_index: Vec<u64> = self
            .rows
            .iter()
            .map(|r| match query_ids.iter().position(|&q| q == r.query_id) {
                Some(i) => i as u64,
                None => {
                    query_ids.push(r.query_id);
                    (query_ids.len() - 1) as u64
                }
            })
            .collect();
        put(&mut out, query_ids.len() as u64);
        query_ids.iter().for_each(|&q| put_signed(&mut out, q));
        let rows = &self.rows;
        rows.iter().for_each(|r| put(&mut out, r.pid as u32 as u64));
        rows.iter().for_each(|r| put_signed(&mut out, r.backend_start - start));
        for column in [
            |r: &AshRow| r.state,
            |r: &AshRow| r.wait_event_type,
            |r: &AshRow| r.wait_event,
            |r: &AshRow| r.database,
            |r: &AshRow| r.user,
            |r: &AshRow| r.application,
            |r: &AshRow| r.client,
            |r: &AshRow| r.backend_type,
            |r: &AshRow| r.command,
        ] {
            rows.iter().for_each(|r| put(&mut out, column(r) as u64));
        }
        query_index.iter().for_each(|&i| put(&mut out, i));
        for column in [|r: &AshRow| r.query_start, |r: &AshRow| r.xact_start] {
            rows.iter().for_each(|r| put_optional(&mut out, column(r).map(|v| v - start)));
        }
        for r in rows {
            put(&mut out, r.blocking_pids.len() as u64);
            r.blocking_pids.iter().for_each(|&p| put(&mut out, p as u32 as u64));
        }
        let mut encoder = DeflateEncoder::new(Vec::with_capacity(out.len() / 4 + 16), Compression::default());
        encoder.write_all(&[VERSION]).and_then(|_| encoder.write_all(&out)).expect("writing to a Vec cannot fail");
        encoder.finish().expect("writing to a Vec cannot fail")
    }

    /// Inflates and decodes a chunk whose first tick is `start_ts`.
    pub fn decode(start_ts: i64, data: &[u8]) -> Result<AshChunk, CodecError> {
        let mut raw = Vec::new();
        DeflateDecoder::new(data).take(MAX_INFLATED).read_to_end(&mut raw).map_err(|_| CodecError::Corrupt)?;
        let (&version, body) = raw.split_first().ok_or(CodecError::Corrupt)?;
        if version != VERSION {
            return Err(CodecError::Version(version));
        }
        let mut r = Reader { buf: body, pos: 0 };
        let n_ticks = r.len()?;
        let mut ticks = Vec::with_capacity(n_ticks);
        let mut prev = start_ts;
        for _ in 0..n_ticks {
            prev += r.signed()?;
            ticks.push(prev);
        }
        let mut row_ts = Vec::new();
        for &t in &ticks {
            let n = r.len()?;
            row_ts.extend(std::iter::repeat_n(t, n));
        }
        let n = row_ts.len();
        let n_queries = r.len()?;
        let query_ids = (0..n_queries).map(|_| r.signed()).collect::<Result<Vec<_>, _>>()?;
        let mut rows: Vec<AshRow> = row_ts.into_iter().map(|ts| AshRow { ts, ..Default::default() }).collect();
        for row in rows.iter_mut() {
            row.pid = r.int()? as u32 as i32;
        }
        for row in rows.iter_mut() {
            row.backend_start = start_ts + r.signed()?;
        }
        let setters: [fn(&mut AshRow, i64); 9] = [
            |r, v| r.state = v,
            |r, v| r.wait_event_type = v,
            |r, v| r.wait_event = v,
            |r, v| r.database = v,
            |r, v| r.user = v,
            |r, v| r.application = v,
            |r, v| r.client = v,
            |r, v| r.backend_type = v,
            |r, v| r.command = v,
        ];
        for set in setters {
            for row in rows.iter_mut() {
                set(row, r.int()? as i64);
            }
        }
        for row in rows.iter_mut() {
            row.query_id = *query_ids.get(r.len()?).ok_or(CodecError::Corrupt)?;
        }
        for row in rows.iter_mut() {
            row.query_start = r.optional()?.map(|v| v + start_ts);
        }
        for row in rows.iter_mut() {
            row.xact_start = r.optional()?.map(|v| v + start_ts);
        }
        for row in rows.iter_mut() {
            let count = r.len()?;
            row.blocking_pids = (0..count).map(|_| r.int().map(|p| p as u32 as i32)).collect::<Result<_, _>>()?;
        }
        debug_assert_eq!(rows.len(), n);
        Ok(AshChunk { ticks, rows })
    }
}

fn put(out: &mut Vec<u8>, mut v: u64) {
    while v >= 0x80 {
        out.push((v as u8) | 0x80);
        v >>= 7;
    }
    out.push(v as u8);
}

fn put_signed(out: &mut Vec<u8>, v: i64) {
    put(out, ((v << 1) ^ (v >> 63)) as u64);
}

/// `None` is 0; `Some(v)` is zigzag(v) + 1.
fn put_optional(out: &mut Vec<u8>, v: Option<i64>) {
    match v {
        None => put(out, 0),
        Some(v) => put(out, (((v << 1) ^ (v >> 63)) as u64).wrapping_add(1)),
    }
}

struct Reader<'a> {
    buf: &'a [u8],
    pos: usize,
}

impl Reader<'_> {
    fn int(&mut self) -> Result<u64, CodecError> {
        let mut v: u64 = 0;
        for shift in (0..64).step_by(7) {
            let byte = *self.buf.get(self.pos).ok_or(CodecError::Corrupt)?;
            self.pos += 1;
            v |= u64::from(byte & 0x7f) << shift;
            if byte & 0x80 == 0 {
                return Ok(v);
            }
        }
        Err(CodecError::Corrupt)
    }

    /// A count, bounded by what is left (each element takes at least one byte).
    fn len(&mut self) -> Result<usize, CodecError> {
        let n = self.int()?;
        if n > (self.buf.len() - self.pos) as u64 + 1 {
            return Err(CodecError::Corrupt);
        }
        Ok(n as usize)
    }

    fn signed(&mut self) -> Result<i64, CodecError> {
        let v = self.int()?;
        Ok(((v >> 1) as i64) ^ -((v & 1) as i64))
    }

    fn optional(&mut self) -> Result<Option<i64>, CodecError> {
        match self.int()? {
            0 => Ok(None),
            v => {
                let v = v - 1;
                Ok(Some(((v >> 1) as i64) ^ -((v & 1) as i64)))
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn row(ts: i64, pid: i32, q: i64) -> AshRow {
        AshRow {
            ts,
            pid,
            backend_start: ts - 86_400_000,
            state: 1,
            wait_event_type: 2,
            wait_event: 3,
            blocking_pids: if pid % 2 == 0 { vec![pid + 1, 7] } else { vec![] },
            query_id: q,
            database: 4,
            user: 5,
            application: 6,
            client: 7,
            backend_type: 8,
            command: 9,
            query_start: Some(ts - 1500),
            xact_start: if pid % 3 == 0 { None } else { Some(ts - 3_000_000) },
        }
    }

    #[test]
    fn round_trip_keeps_every_field_and_empty_ticks() {
        let ticks: Vec<i64> = (0..60).map(|i| 1_700_000_000_000 + i * 1000).collect();
        let mut rows = Vec::new();
        for (i, &t) in ticks.iter().enumerate() {
            if i % 7 == 3 {
                continue; // a tick without sessions
            }
            for pid in 0..10 {
                rows.push(row(t, 4000 + pid, if pid < 5 { i64::MIN + pid as i64 } else { -42 }));
            }
        }
        let chunk = AshChunk { ticks, rows };
        let bytes = chunk.encode();
        let back = AshChunk::decode(chunk.start_ts(), &bytes).unwrap();
        assert_eq!(back, chunk);
        // 10 sessions × 51 ticks of steady sessions: well under 3 bytes a sample.
        assert!(bytes.len() < chunk.rows.len() * 3, "{} bytes for {} rows", bytes.len(), chunk.rows.len());
    }

    #[test]
    fn corrupt_input_is_an_error_not_a_panic() {
        let chunk = AshChunk { ticks: vec![5, 6], rows: vec![row(5, 1, 1), row(6, 2, 2)] };
        let bytes = chunk.encode();
        for cut in 0..bytes.len() {
            let _ = AshChunk::decode(5, &bytes[..cut]);
        }
        assert!(AshChunk::decode(5, b"not deflate at all").is_err());
        let mut raw = DeflateEncoder::new(Vec::new(), Compression::default());
        raw.write_all(&[9, 1, 2]).unwrap();
        assert!(matches!(AshChunk::decode(5, &raw.finish().unwrap()), Err(CodecError::Version(9))));
        let mut huge = DeflateEncoder::new(Vec::new(), Compression::default());
        huge.write_all(&[VERSION, 0xff, 0xff, 0xff, 0xff, 0x0f]).unwrap();
        assert!(AshChunk::decode(5, &huge.finish().unwrap()).is_err());
    }
}
