//! PLACEHOLDER until the RBAC branch lands: every principal sees the whole tenant.

use crate::auth::Principal;
use crate::store::{Instance, Store, StoreResult};

pub struct InstanceScope;

impl InstanceScope {
    pub async fn for_principal(_store: &Store, _principal: &Principal) -> StoreResult<InstanceScope> {
        Ok(InstanceScope)
    }

    pub fn unrestricted(&self) -> bool {
        true
    }

    pub fn allows(&self, _instance: &Instance) -> bool {
        true
    }
}

pub fn builtin_tags(instance: &Instance) -> Vec<(String, String)> {
    vec![
        ("pg_instance".into(), format!("{}@{}", instance.host, instance.name)),
        ("server".into(), instance.host.clone()),
        ("name".into(), instance.name.clone()),
    ]
}
