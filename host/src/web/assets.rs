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

const FILES: [Asset; 5] = [
    Asset {
        name: "vigia.js",
        content_type: "text/javascript; charset=utf-8",
        body: include_bytes!("../../assets/vigia.js"),
    },
    Asset {
        name: "vigia.css",
        content_type: "text/css; charset=utf-8",
        body: include_bytes!("../../assets/vigia.css"),
    },
    Asset {
        name: "uPlot.iife.min.js",
        content_type: "text/javascript; charset=utf-8",
        body: include_bytes!("../../assets/vendor/uPlot.iife.min.js"),
    },
    Asset {
        name: "uPlot.min.css",
        content_type: "text/css; charset=utf-8",
        body: include_bytes!("../../assets/vendor/uPlot.min.css"),
    },
    Asset {
        name: "uPlot.LICENSE",
        content_type: "text/plain; charset=utf-8",
        body: include_bytes!("../../assets/vendor/uPlot.LICENSE"),
    },
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
