//! Build identity of this binary, stamped by `build.rs`.

pub const VERSION: &str = env!("CARGO_PKG_VERSION");
pub const GIT_COMMIT: &str = env!("VIGIA_GIT_COMMIT");
pub const BUILD_TIME: &str = env!("VIGIA_BUILD_TIME");
