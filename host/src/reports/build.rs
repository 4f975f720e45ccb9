//! Assembles a report document: which chapters a kind has (and Datasentinel's `sections`
//! narrowing them), which of them the caller's profile may read, and the cover data (subject,
//! window, filters). Each chapter's content is in `chapters`.

use super::outline::{chapters_of_kind, Chapter};
use super::parts::Shared;
use super::{chapters, file_stem, ReportError, ReportSpec, Sources};
use crate::plugins::document::{Document, Section};

/// The chapters the report will have: the kind's (narrowed by `sections` when given), minus
/// what the caller's profile may not read; nothing but the cover left is a 403.
fn plan(spec: &ReportSpec<'_>) -> Result<Vec<Chapter>, ReportError> {
    let of_kind = chapters_of_kind(spec.kind);
    let wanted: Vec<Chapter> = match spec.chapters.is_empty() {
        true => of_kind.to_vec(),
        false => spec.chapters.iter().copied().filter(|c| of_kind.contains(c) || *c == Chapter::General).collect(),
    };
    let readable: Vec<Chapter> = wanted.iter().copied().filter(|c| spec.settings_read || c.for_developers()).collect();
    if readable.iter().all(|c| *c == Chapter::General) && wanted.iter().any(|c| *c != Chapter::General) {
        return Err(ReportError::Forbidden);
    }
    Ok(readable)
}

pub(super) async fn document(src: &Sources<'_>, spec: &ReportSpec<'_>) -> Result<Document, ReportError> {
    let plan = plan(spec)?;
    let subject = subject(src);
    let mut sections: Vec<Section> = Vec::new();
    let shared = Shared::default();
    for (i, chapter) in plan.iter().enumerate() {
        let number = (i + 1).to_string();
        let mut part = chapters::chapter(src, spec, &shared, *chapter).await?;
        sections.push(Section { number: number.clone(), title: chapter.title().into(), level: 1, blocks: part.intro });
        for (j, mut s) in part.sections.drain(..).enumerate() {
            s.number = format!("{number}.{}", j + 1);
            sections.push(s);
        }
    }
    let q = spec.query;
    Ok(Document {
        title: spec.kind.title().into(),
        file_stem: file_stem(spec.kind, &subject, q.from, q.to, &spec.clock),
        subject,
        generated_at_ms: spec.generated_at_ms,
        from_ms: q.from,
        to_ms: q.to,
        time_zone: spec.clock.name.clone(),
        utc_offset_minutes: spec.clock.offset_minutes,
        filters: q.filters.iter().map(|f| format!("{} = {}", f.tag, f.value)).collect(),
        sections,
    })
}

/// The instance a report covers, or how many.
fn subject(src: &Sources<'_>) -> String {
    match src.selection.targets.as_slice() {
        [] => "no instance".into(),
        [one] => one.pg_instance.to_string(),
        many => format!("{} instances", many.len()),
    }
}
