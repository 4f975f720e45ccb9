//! The checks behind the string constraints the OpenAPI document declares, written once so the
//! document and the handlers agree: lengths count characters (as JSON Schema's `maxLength`
//! does), and "not blank" is the pattern `\S` (at least one character that is not whitespace).

use super::error::AppError;

/// A required free text: not blank, at most `max` characters. Declare it on the field as
/// `#[schema(min_length = 1, max_length = <max>, pattern = r"\S")]`.
pub fn check_text(field: &str, value: &str, max: usize) -> Result<(), AppError> {
    if value.trim().is_empty() || value.chars().count() > max {
        return Err(AppError::BadRequest(format!("{field} must be 1 to {max} characters, not blank")));
    }
    Ok(())
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
    fn integral_floats_become_integers_others_stay() {
        let mut v = serde_json::json!({"a": 5.0, "b": [1.5, 2.0], "c": "3.0", "d": 7});
        assert!(integral_floats_as_integers(&mut v));
        assert_eq!(v, serde_json::json!({"a": 5, "b": [1.5, 2], "c": "3.0", "d": 7}));
        assert!(!integral_floats_as_integers(&mut serde_json::json!({"x": 1e300})));
        let mut beyond: serde_json::Value = serde_json::from_str("[-9223372036854775809]").unwrap();
        assert!(!integral_floats_as_integers(&mut beyond), "an out-of-range integer stays refused");
    }
}
