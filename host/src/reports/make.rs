//! Making one report, from an order to a rendered file: the renderer is found before any work,
//! the reader's roles narrow the instances, the document is built and rendered. The API (on
//! demand) and the schedule runner (`runner`) both come through here, so a scheduled report reads
//! exactly what its owner would get by asking.

use super::{document, pick_renderer, render, render_json, Chapter, ReportClock, ReportError, ReportKind, ReportSpec};
use super::{Sources, JSON_FORMAT};
use crate::activity::FreshAsh;
use crate::auth::{Principal, Scope, ScopeSet};
use crate::plugins::document::Document;
use crate::plugins::{PluginHost, Rendered};
use crate::rbac::InstanceScope;
use crate::store::Store;
use crate::workload::{Query, Selection};

/// Whom a report is made for: their tenant, the user whose roles narrow the instances, and
/// whether their profile reads settings-level data (the developer profile does not).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Reader {
    pub tenant_id: i64,
    pub user_id: i64,
    pub settings_read: bool,
}

impl Reader {
    /// A reader holding `scopes` (a caller's, or a schedule owner's as stored now).
    pub fn new(tenant_id: i64, user_id: i64, scopes: ScopeSet) -> Reader {
        Reader { tenant_id, user_id, settings_read: scopes.allows(Scope::SettingsRead) }
    }
}

impl From<&Principal> for Reader {
    fn from(p: &Principal) -> Reader {
        Reader::new(p.tenant_id, p.user_id, p.scopes)
    }
}

/// What to make.
pub struct Order {
    pub kind: ReportKind,
    /// Datasentinel's `sections` (empty: all the kind has).
    pub chapters: Vec<Chapter>,
    /// `pdf`, `html`, `csv`, … or `json` (the document itself, written by the host).
    pub format: String,
    /// The reporter plugin (default: the one named like the format).
    pub renderer: Option<String>,
    pub query: Query,
    pub clock: ReportClock,
    pub generated_at_ms: i64,
}

/// What a report is made with.
#[derive(Clone, Copy)]
pub struct Workshop<'a> {
    pub store: &'a Store,
    pub fresh: &'a FreshAsh,
    /// `None` when the plugin runtime is not running: only `json` can be made.
    pub plugins: Option<&'a PluginHost>,
}

/// A made report: its document (for the mail's summary) and the rendered file.
pub struct Made {
    pub document: Document,
    pub rendered: Rendered,
}

/// Builds and renders `order` for `reader`.
pub async fn make(w: Workshop<'_>, reader: Reader, order: &Order) -> Result<Made, ReportError> {
    // The reporter is found first: a wrong format costs no query.
    let renderer = match (order.format.as_str(), order.renderer.as_deref()) {
        (JSON_FORMAT, None) => None,
        (format, named) => {
            let plugins = w.plugins.ok_or(ReportError::Unavailable)?;
            Some((plugins, pick_renderer(plugins, format, named)?))
        }
    };
    let scope = InstanceScope::for_user(w.store, reader.tenant_id, reader.user_id).await?;
    let selection = Selection::new(w.store.list_instances(reader.tenant_id).await?, &scope, &order.query);
    let spec = ReportSpec {
        kind: order.kind,
        query: &order.query,
        chapters: order.chapters.clone(),
        clock: order.clock.clone(),
        settings_read: reader.settings_read,
        generated_at_ms: order.generated_at_ms,
    };
    let sources = Sources { store: w.store, fresh: w.fresh, tenant_id: reader.tenant_id, selection: &selection };
    let document = document(&sources, &spec).await?;
    let rendered = match renderer {
        None => render_json(&document)?,
        Some((plugins, id)) => render(plugins, &id, &document, &order.format).await?,
    };
    Ok(Made { document, rendered })
}

/// One line saying what a mailed report is: "Workload report of X, <from> to <to> (<zone>)."
pub fn summary(d: &Document) -> String {
    let time = |ms| super::local_time(ms, d.utc_offset_minutes);
    format!("{} of {}, {} to {} ({}).", d.title, d.subject, time(d.from_ms), time(d.to_ms), d.time_zone)
}
