//! The checks behind the string constraints the OpenAPI document declares, written once so the
//! document and the handlers agree: lengths count characters (as JSON Schema's `maxLength`
//! does), and "not blank" is the pattern `\S` (at least one character that is not whitespace).

use super::error::{ApiResult, AppError};

/// Longest free text (descriptions, messages, root causes, postmortems), in characters.
pub const MAX_TEXT: usize = 5000;

/// A required free text: not blank, at most `max` characters. Declare it on the field as
/// `#[schema(min_length = 1, max_length = <max>, pattern = r"\S")]`.
pub fn check_text(field: &str, value: &str, max: usize) -> Result<(), AppError> {
    if value.trim().is_empty() || value.chars().count() > max {
        return Err(AppError::BadRequest(format!("{field} must be 1 to {max} characters, not blank")));
    }
    Ok(())
}

/// `limit` (default `default`, 1 to `max`) and `offset` (default 0, not negative).
pub fn page(limit: Option<i64>, offset: Option<i64>, default: i64, max: i64) -> ApiResult<(i64, i64)> {
    let limit = limit.unwrap_or(default);
    let offset = offset.unwrap_or(0);
    if !(1..=max).contains(&limit) || offset < 0 {
        return Err(AppError::BadRequest(format!("limit must be 1 to {max} and offset not negative")));
    }
    Ok((limit, offset))
}

/// An optional free text of at most `max` characters (blank allowed).
pub fn check_len(field: &str, value: Option<&str>, max: usize) -> ApiResult<()> {
    match value {
        Some(v) if v.chars().count() > max => {
            Err(AppError::BadRequest(format!("{field} is longer than {max} characters")))
        }
        _ => Ok(()),
    }
}

/// An RFC 3339 timestamp as epoch milliseconds; a 400 naming `field` otherwise.
pub fn timestamp(field: &str, text: &str) -> ApiResult<i64> {
    chrono::DateTime::parse_from_rfc3339(text)
        .map(|t| t.timestamp_millis())
        .map_err(|e| AppError::BadRequest(format!("{field} {text:?} is not an RFC 3339 timestamp: {e}")))
}

/// JSON has one number type: to JSON Schema (and to clients generated from our document) `5.0`
/// is the integer 5, which serde refuses for an integer field. Rewrites every integral float
/// below 2^53 in magnitude (where every integer is exact, so the value cannot be the rounding of
/// an out-of-range integer literal such as `-9223372036854775809`) as that integer; the caller
/// retries with the result.
const EXACT_INTEGERS: f64 = 9_007_199_254_740_992.0;

pub fn integral_floats_as_integers(value: &mut serde_json::Value) -> bool {
    use serde_json::Value;
    match value {
        Value::Number(n) if n.is_f64() => match n.as_f64() {
            Some(f) if f.fract() == 0.0 && f.abs() < EXACT_INTEGERS => {
                *value = Value::from(f as i64);
                true
            }
            _ => false,
        },
        Value::Array(items) => items.iter_mut().fold(false, |changed, v| integral_floats_as_integers(v) | changed),
        Value::Object(fields) => fields.values_mut().fold(false, |changed, v| integral_floats_as_integers(v) | changed),
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn text_is_counted_in_characters_and_must_not_be_blank() {
        assert!(check_text("name", "é".repeat(10).as_str(), 10).is_ok());
        assert!(check_text("name", &"é".repeat(11), 10).is_err());
        assert!(check_text("name", " \t", 10).unwrap_err().to_string().contains("name must be 1 to 10"));
    }

    #[test]
    fn bounds_and_timestamps_name_what_is_wrong() {
        assert_eq!(page(None, None, 100, 200).unwrap(), (100, 0));
        assert_eq!(page(Some(200), Some(5), 100, 200).unwrap(), (200, 5));
        for (limit, offset) in [(Some(0), None), (Some(201), None), (None, Some(-1))] {
            let e = page(limit, offset, 100, 200).unwrap_err().to_string();
            assert_eq!(e, "limit must be 1 to 200 and offset not negative");
        }
        assert_eq!(timestamp("scheduled_start", "2026-06-01T02:00:00Z").unwrap(), 1_780_279_200_000);
        let e = timestamp("scheduled_end", "tomorrow").unwrap_err().to_string();
        assert!(e.starts_with("scheduled_end \"tomorrow\" is not an RFC 3339 timestamp"), "{e}");
        assert!(check_len("description", Some("é".repeat(5).as_str()), 5).is_ok());
        assert!(check_len("description", Some("é".repeat(6).as_str()), 5).is_err());
    }

    #[test]
    fn integral_floats_become_integers_others_stay() {
        let mut v = serde_json::json!({"a": 5.0, "b": [1.5, 2.0], "c": "3.0", "d": 7});
        assert!(integral_floats_as_integers(&mut v));
        assert_eq!(v, serde_json::json!({"a": 5, "b": [1.5, 2], "c": "3.0", "d": 7}));
        assert!(!integral_floats_as_integers(&mut serde_json::json!({"x": 1e300})));
        let mut beyond: serde_json::Value = serde_json::from_str("[-9223372036854775809]").unwrap();
        assert!(!integral_floats_as_integers(&mut beyond), "an out-of-range integer stays refused");
    }
}
