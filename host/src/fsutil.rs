//! Small filesystem helpers shared by modules that must not depend on each other (the server's
//! TLS key and the secret key both need an owner-only file).

use std::io::Write;
use std::path::Path;

/// Writes a file readable by its owner only (mode 0600 on Unix), replacing what was there.
pub fn write_private(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    #[cfg(unix)]
    use std::os::unix::fs::OpenOptionsExt;
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create(true).truncate(true);
    #[cfg(unix)]
    options.mode(0o600);
    options.open(path)?.write_all(bytes)
}
