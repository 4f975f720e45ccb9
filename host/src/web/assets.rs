//! The dashboard's static files, embedded in the binary (no CDN: the host works offline) and
//! served with a strong `ETag` and a day of caching. uPlot is vendored unmodified with its
//! licence in `host/assets/vendor/`; `vigia.js` and `vigia.css` are ours.

use std::sync::LazyLock;

use axum::extract::Path;
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use sha2::{Digest, Sha256};

use crate::api::AppError;

struct Asset {
    name: &'static str,
    content_type: &'static str,
    body: &'static [u8],
}

/// One embedded file: its directory under `host/assets/`, its name (its URL), its type.
macro_rules! asset {
    ($dir:literal, $name:literal, $content_type:literal) => {
        Asset { name: $name, content_type: $content_type, body: include_bytes!(concat!("../../assets/", $dir, $name)) }
    };
}

const FILES: [Asset; 5] = [
    asset!("", "vigia.js", "text/javascript; charset=utf-8"),
    asset!("", "vigia.css", "text/css; charset=utf-8"),
    asset!("vendor/", "uPlot.iife.min.js", "text/javascript; charset=utf-8"),
    asset!("vendor/", "uPlot.min.css", "text/css; charset=utf-8"),
    asset!("vendor/", "uPlot.LICENSE", "text/plain; charset=utf-8"),
];

/// Each file's `ETag`, computed once.
static TAGS: LazyLock<Vec<String>> =
    LazyLock::new(|| FILES.iter().map(|f| format!("\"{}\"", hex::encode(&Sha256::digest(f.body)[..12]))).collect());

/// The version tag pages put in asset URLs (`?v=…`), so a new binary's files are fetched anew
/// although browsers keep the old ones a day.
pub fn version() -> &'static str {
    static VERSION: LazyLock<String> = LazyLock::new(|| {
        let mut hasher = Sha256::new();
        FILES.iter().for_each(|f| hasher.update(f.body));
        hex::encode(&hasher.finalize()[..6])
    });
    &VERSION
}

/// `GET /assets/{file}`.
pub async fn serve(Path(file): Path<String>, headers: HeaderMap) -> Response {
    let Some(i) = FILES.iter().position(|f| f.name == file) else {
        return AppError::NotFound(format!("no asset named {file:?}")).into_response();
    };
    let tag = &TAGS[i];
    let cache = [(header::CACHE_CONTROL, "public, max-age=86400"), (header::ETAG, tag.as_str())];
    if headers.get(header::IF_NONE_MATCH).and_then(|v| v.to_str().ok()) == Some(tag.as_str()) {
        return (StatusCode::NOT_MODIFIED, cache).into_response();
    }
    (cache, [(header::CONTENT_TYPE, FILES[i].content_type)], FILES[i].body).into_response()
}
