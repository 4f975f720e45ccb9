//! What the status routes share (`services`, `incidents`, `maintenance`): pagination bounds,
//! the check that `service_ids` are the caller's tenant's, RFC 3339 timestamps named by field,
//! free-text bounds and the short form of a linked service.

use std::collections::{BTreeSet, HashMap};

use serde::Serialize;

use super::error::{ApiResult, AppError};
use super::AppContext;
use crate::store::{Link, ServiceRef};

/// Longest free text (descriptions, messages, root causes, postmortems), in characters.
pub const MAX_TEXT: usize = 5000;

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

/// `ids` without repeats, once every one is checked to be a service of the tenant; otherwise a
/// 400 naming the others (missing and another tenant's alike: nothing tells them apart).
pub async fn tenant_services(ctx: &AppContext, tenant_id: i64, ids: &[i64]) -> ApiResult<Vec<i64>> {
    let wanted: BTreeSet<i64> = ids.iter().copied().collect();
    let wanted: Vec<i64> = wanted.into_iter().collect();
    let found: BTreeSet<i64> = ctx.store.existing_service_ids(tenant_id, &wanted).await?.into_iter().collect();
    let unknown: Vec<String> = wanted.iter().filter(|id| !found.contains(id)).map(i64::to_string).collect();
    if !unknown.is_empty() {
        return Err(AppError::BadRequest(format!("service_ids: no service {}", unknown.join(", "))));
    }
    Ok(wanted)
}

/// An RFC 3339 timestamp as epoch milliseconds; a 400 naming `field` otherwise.
pub fn timestamp(field: &str, text: &str) -> ApiResult<i64> {
    chrono::DateTime::parse_from_rfc3339(text)
        .map(|t| t.timestamp_millis())
        .map_err(|e| AppError::BadRequest(format!("{field} {text:?} is not an RFC 3339 timestamp: {e}")))
}

/// A service an incident or a window is linked to.
#[derive(Serialize, Clone, utoipa::ToSchema)]
pub struct ServiceRefView {
    pub id: i64,
    pub slug: String,
    pub name: String,
}

/// The services linked to each of `owners` (incidents or windows), by owner id.
pub async fn linked(ctx: &AppContext, link: Link, owners: &[i64]) -> ApiResult<HashMap<i64, Vec<ServiceRefView>>> {
    let mut by_owner: HashMap<i64, Vec<ServiceRefView>> = HashMap::new();
    for ServiceRef { owner_id, id, slug, name } in ctx.store.linked_services(link, owners).await? {
        by_owner.entry(owner_id).or_default().push(ServiceRefView { id, slug, name });
    }
    Ok(by_owner)
}

#[cfg(test)]
mod tests {
    use super::*;

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
}
