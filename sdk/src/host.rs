//! Host services every plugin may call: configuration, logging and plugin-scoped state.

use crate::bindings::vigia::plugin::host;
use crate::types::{LogLevel, PluginError};
use serde::de::DeserializeOwned;

/// The plugin's configuration as the host hands it over: a JSON object, defaults merged, secrets decrypted.
pub fn raw_config() -> String {
    host::config()
}

/// Parses the configuration into `T`; a mismatch is a permanent error since retrying will not fix it.
pub fn config<T: DeserializeOwned>() -> Result<T, PluginError> {
    serde_json::from_str(&raw_config()).map_err(|e| PluginError::permanent(format_args!("invalid config: {e}")))
}

/// Records a structured log line; the host adds the plugin id.
pub fn log(level: LogLevel, message: &str, fields: &[(&str, &str)]) {
    let fields: Vec<(String, String)> = fields.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect();
    host::log(level, message, &fields);
}

/// Plugin-scoped key/value state that survives calls and restarts.
pub mod state {
    use crate::bindings::vigia::plugin::host;

    /// The value stored under `key`, if any.
    pub fn get(key: &str) -> Option<Vec<u8>> {
        host::state_get(key)
    }

    /// Stores `value` under `key`, replacing any previous value.
    pub fn set(key: &str, value: &[u8]) {
        host::state_set(key, value)
    }

    /// Forgets `key`.
    pub fn delete(key: &str) {
        host::state_delete(key)
    }
}

/// Logs a `format!`-style message at the given level: `log_at!(LogLevel::Warn, "slow: {ms} ms")`.
#[macro_export]
macro_rules! log_at {
    ($level:expr, $($arg:tt)+) => {
        $crate::log($level, &::std::format!($($arg)+), &[])
    };
}

/// Logs a `format!`-style message at trace level.
#[macro_export]
macro_rules! trace { ($($arg:tt)+) => { $crate::log_at!($crate::LogLevel::Trace, $($arg)+) }; }
/// Logs a `format!`-style message at debug level.
#[macro_export]
macro_rules! debug { ($($arg:tt)+) => { $crate::log_at!($crate::LogLevel::Debug, $($arg)+) }; }
/// Logs a `format!`-style message at info level.
#[macro_export]
macro_rules! info { ($($arg:tt)+) => { $crate::log_at!($crate::LogLevel::Info, $($arg)+) }; }
/// Logs a `format!`-style message at warn level.
#[macro_export]
macro_rules! warn { ($($arg:tt)+) => { $crate::log_at!($crate::LogLevel::Warn, $($arg)+) }; }
/// Logs a `format!`-style message at error level.
#[macro_export]
macro_rules! error { ($($arg:tt)+) => { $crate::log_at!($crate::LogLevel::Error, $($arg)+) }; }
