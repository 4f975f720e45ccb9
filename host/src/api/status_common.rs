//! What the status routes share (`services`, `incidents`, `maintenance`): the check that
//! `service_ids` are the caller's tenant's and the short form of a linked service. (Pagination,
//! timestamps and text bounds are every route's: `validate.rs`.)

use std::collections::{BTreeSet, HashMap};

use serde::Serialize;

use super::error::{ApiResult, AppError};
use super::AppContext;
use crate::store::{Link, ServiceRef};

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
