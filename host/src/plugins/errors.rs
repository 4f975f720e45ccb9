//! Why a plugin call or a plugin management operation failed, precise enough for the API to map
//! each case to a clear status and for the scheduler to decide whether to retry.

use super::types::ErrorKind;

/// A failed `collect` / `deliver` / `render`.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum InvokeError {
    #[error("plugin {0} is not installed")]
    NotFound(String),
    #[error("plugin {0} is disabled")]
    Disabled(String),
    /// The plugin has no loaded version (its manifest or component is broken).
    #[error("plugin {id} failed to load: {error}")]
    Failed { id: String, error: String },
    /// The plugin is of another kind than the call needs (e.g. `deliver` on a collector).
    #[error("plugin {id} is a {actual}, not a {wanted}")]
    WrongKind { id: String, actual: &'static str, wanted: &'static str },
    /// The call ran past `limits.timeout_ms` and was killed.
    #[error("plugin call exceeded its {timeout_ms} ms deadline")]
    Timeout { timeout_ms: u64 },
    /// The guest crashed (panic, `unreachable`, bad memory access…). `stderr` is what it printed.
    #[error("plugin trapped: {message}{}", if stderr.is_empty() { String::new() } else { format!("; stderr: {stderr}") })]
    Trap { message: String, stderr: String },
    /// Memory (or another quota such as state size) ran out.
    #[error("plugin hit a resource limit: {0}")]
    ResourceLimit(String),
    /// The returned value was larger than the host accepts.
    #[error("plugin output of {bytes} bytes exceeds the {limit}-byte limit")]
    OutputTooLarge { bytes: usize, limit: usize },
    /// The plugin itself reported an error (WIT `plugin-error`).
    #[error("plugin error ({kind:?}): {message}")]
    Plugin { kind: ErrorKind, message: String },
    /// A host service the plugin used (state storage) failed; retrying may help.
    #[error("{0}")]
    HostUnavailable(String),
}

impl InvokeError {
    /// Stable machine-readable code for API bodies and metrics labels.
    pub fn code(&self) -> &'static str {
        match self {
            InvokeError::NotFound(_) => "not_found",
            InvokeError::Disabled(_) => "disabled",
            InvokeError::Failed { .. } => "failed",
            InvokeError::WrongKind { .. } => "wrong_kind",
            InvokeError::Timeout { .. } => "timeout",
            InvokeError::Trap { .. } => "trap",
            InvokeError::ResourceLimit(_) => "resource_limit",
            InvokeError::OutputTooLarge { .. } => "output_too_large",
            InvokeError::Plugin { .. } => "plugin_error",
            InvokeError::HostUnavailable(_) => "host_unavailable",
        }
    }

    /// Whether the same call may succeed later (the scheduler's retry decision).
    pub fn is_retryable(&self) -> bool {
        match self {
            InvokeError::Timeout { .. } | InvokeError::HostUnavailable(_) | InvokeError::Trap { .. } => true,
            InvokeError::Plugin { kind, .. } => *kind == ErrorKind::Retryable,
            _ => false,
        }
    }
}

/// A failed management operation (config, enable, install, remove).
#[derive(Debug, thiserror::Error)]
pub enum PluginError {
    #[error("plugin {0} is not installed")]
    NotFound(String),
    /// The input is unacceptable: bad bundle, bad manifest, config not matching the schema…
    #[error("{0}")]
    Invalid(String),
    #[error("storage: {0}")]
    Storage(String),
    #[error("i/o: {0}")]
    Io(#[from] std::io::Error),
}
