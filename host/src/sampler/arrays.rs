//! One-dimensional PostgreSQL arrays read straight from a row's binary value (`array_send`'s
//! format), without copying: the ASH tick reads every session in one row of `array_agg` columns,
//! and its text elements are borrowed from the row until the session is built.

use sqlx::postgres::PgRow;
use sqlx::{Row, ValueRef};

/// Element type oids this reader is used with.
pub const INT4: u32 = 23;
pub const INT8: u32 = 20;
pub const TEXT: u32 = 25;

/// The elements of one array column, in order, each `None` for NULL.
#[derive(Debug, Clone)]
pub struct Elements<'r> {
    rest: &'r [u8],
    left: usize,
    elem_oid: u32,
}

fn bad(what: impl std::fmt::Display) -> sqlx::Error {
    sqlx::Error::Decode(format!("malformed array: {what}").into())
}

fn split<const N: usize>(bytes: &mut &[u8]) -> Result<[u8; N], sqlx::Error> {
    let (head, tail) = bytes.split_first_chunk::<N>().ok_or_else(|| bad("truncated"))?;
    *bytes = tail;
    Ok(*head)
}

impl<'r> Elements<'r> {
    /// Column `index` of `row`, an array of `elem_oid` elements; NULL reads as an empty array
    /// (what `array_agg` gives over no rows).
    pub fn of(row: &'r PgRow, index: usize, elem_oid: u32) -> Result<Elements<'r>, sqlx::Error> {
        let value = row.try_get_raw(index)?;
        if value.is_null() {
            return Ok(Elements { rest: &[], left: 0, elem_oid });
        }
        let bytes = value.as_bytes().map_err(sqlx::Error::Decode)?;
        Elements::parse(bytes, elem_oid)
    }

    /// Reads the header of an array in binary format: dimensions, null flag, element type, then
    /// one (length, lower bound) pair per dimension.
    pub fn parse(mut bytes: &'r [u8], elem_oid: u32) -> Result<Elements<'r>, sqlx::Error> {
        let ndim = i32::from_be_bytes(split(&mut bytes)?);
        let _has_null = split::<4>(&mut bytes)?;
        let oid = u32::from_be_bytes(split(&mut bytes)?);
        if oid != elem_oid {
            return Err(bad(format_args!("element type {oid}, expected {elem_oid}")));
        }
        let left = match ndim {
            0 => 0,
            1 => {
                let len = i32::from_be_bytes(split(&mut bytes)?);
                let _lower_bound = split::<4>(&mut bytes)?;
                usize::try_from(len).map_err(|_| bad("negative length"))?
            }
            n => return Err(bad(format_args!("{n} dimensions"))),
        };
        Ok(Elements { rest: bytes, left, elem_oid })
    }

    /// How many elements are left.
    pub fn len(&self) -> usize {
        self.left
    }

    pub fn is_empty(&self) -> bool {
        self.left == 0
    }

    /// The next element's bytes, `None` for NULL.
    fn next_raw(&mut self) -> Result<Option<&'r [u8]>, sqlx::Error> {
        if self.left == 0 {
            return Err(bad("fewer elements than expected"));
        }
        self.left -= 1;
        let len = i32::from_be_bytes(split(&mut self.rest)?);
        let Ok(len) = usize::try_from(len) else { return Ok(None) };
        if self.rest.len() < len {
            return Err(bad("truncated element"));
        }
        let (value, rest) = self.rest.split_at(len);
        self.rest = rest;
        Ok(Some(value))
    }

    pub fn opt_i32(&mut self) -> Result<Option<i32>, sqlx::Error> {
        debug_assert_eq!(self.elem_oid, INT4);
        match self.next_raw()? {
            None => Ok(None),
            Some(v) => Ok(Some(i32::from_be_bytes(v.try_into().map_err(|_| bad("int4 of another size"))?))),
        }
    }

    pub fn opt_i64(&mut self) -> Result<Option<i64>, sqlx::Error> {
        debug_assert_eq!(self.elem_oid, INT8);
        match self.next_raw()? {
            None => Ok(None),
            Some(v) => Ok(Some(i64::from_be_bytes(v.try_into().map_err(|_| bad("int8 of another size"))?))),
        }
    }

    pub fn opt_str(&mut self) -> Result<Option<&'r str>, sqlx::Error> {
        debug_assert_eq!(self.elem_oid, TEXT);
        match self.next_raw()? {
            None => Ok(None),
            Some(v) => Ok(Some(std::str::from_utf8(v).map_err(|e| sqlx::Error::Decode(e.into()))?)),
        }
    }

    /// A text element that is never NULL (the query coalesces it); NULL reads as empty.
    pub fn str(&mut self) -> Result<&'r str, sqlx::Error> {
        Ok(self.opt_str()?.unwrap_or_default())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// `array_send` of a one-dimensional array.
    fn array(oid: u32, elements: &[Option<&[u8]>]) -> Vec<u8> {
        let mut out = Vec::new();
        out.extend(1i32.to_be_bytes());
        out.extend(i32::from(elements.iter().any(Option::is_none)).to_be_bytes());
        out.extend(oid.to_be_bytes());
        out.extend((elements.len() as i32).to_be_bytes());
        out.extend(1i32.to_be_bytes());
        for e in elements {
            match e {
                Some(bytes) => {
                    out.extend((bytes.len() as i32).to_be_bytes());
                    out.extend(*bytes);
                }
                None => out.extend((-1i32).to_be_bytes()),
            }
        }
        out
    }

    #[test]
    fn reads_elements_and_nulls_in_order() {
        let bytes = array(TEXT, &[Some(b"active"), None, Some(b"")]);
        let mut e = Elements::parse(&bytes, TEXT).expect("parses");
        assert_eq!(e.len(), 3);
        assert_eq!(e.opt_str().expect("1st"), Some("active"));
        assert_eq!(e.opt_str().expect("2nd"), None);
        assert_eq!(e.str().expect("3rd"), "");
        assert!(e.is_empty());
        assert!(e.opt_str().is_err(), "past the end");

        let seven = 7i64.to_be_bytes();
        let bytes = array(INT8, &[Some(&seven), None]);
        let mut e = Elements::parse(&bytes, INT8).expect("parses");
        assert_eq!((e.opt_i64().expect("1st"), e.opt_i64().expect("2nd")), (Some(7), None));
        let pid = 42i32.to_be_bytes();
        assert_eq!(
            Elements::parse(&array(INT4, &[Some(&pid)]), INT4).expect("parses").opt_i32().expect("pid"),
            Some(42)
        );
    }

    #[test]
    fn an_empty_array_has_no_elements() {
        let mut bytes = Vec::new();
        for word in [0i32, 0, TEXT as i32] {
            bytes.extend(word.to_be_bytes());
        }
        assert!(Elements::parse(&bytes, TEXT).expect("parses").is_empty());
    }

    #[test]
    fn malformed_arrays_are_errors_not_panics() {
        let seven = 7i64.to_be_bytes();
        let good = array(INT8, &[Some(&seven)]);
        assert!(Elements::parse(&good, TEXT).is_err(), "another element type");
        for cut in 0..good.len() {
            // Every prefix either fails to parse or fails to read its element.
            let read = Elements::parse(&good[..cut], INT8).and_then(|mut e| e.opt_i64());
            assert!(read.is_err(), "prefix of {cut} bytes");
        }
        let short = array(INT8, &[Some(&[1, 2, 3])]);
        assert!(Elements::parse(&short, INT8).expect("header").opt_i64().is_err());
        let bad_utf8 = array(TEXT, &[Some(&[0xff, 0xfe])]);
        assert!(Elements::parse(&bad_utf8, TEXT).expect("header").opt_str().is_err());
        let mut two_dims = array(INT8, &[Some(&seven)]);
        two_dims[3] = 2;
        assert!(Elements::parse(&two_dims, INT8).is_err());
    }
}
