//! The `Notifier` trait and `export_notifier!`: plugins that deliver alert notifications.

use crate::bindings::notifier::Guest;
use crate::export::{cargo_info, CargoPackage};
use crate::types::{Notification, PluginError, PluginInfo, Receipt};
use std::marker::PhantomData;

/// A plugin that delivers notifications (one alert or a group) to an outside system.
pub trait Notifier {
    /// What the plugin says about itself; see [`Collector::info`](crate::Collector::info).
    fn info(from_cargo: PluginInfo) -> PluginInfo {
        from_cargo
    }

    /// Delivers one notification. The host retries `Retryable` errors with the same
    /// `idempotency_key`, so pass it on to receivers that can deduplicate.
    fn deliver(notification: Notification) -> Result<Receipt, PluginError>;
}

#[doc(hidden)]
pub struct NotifierExport<T, P>(PhantomData<(T, P)>);

impl<T: Notifier, P: CargoPackage> Guest for NotifierExport<T, P> {
    fn info() -> PluginInfo {
        T::info(cargo_info::<P>())
    }

    fn deliver(notification: Notification) -> Result<Receipt, PluginError> {
        T::deliver(notification)
    }
}

/// Exports a [`Notifier`] implementation as the component's `notifier` world.
///
/// ```no_run
/// use vigia_sdk::{Notification, Notifier, PluginError, Receipt};
///
/// struct LogOnly;
///
/// impl Notifier for LogOnly {
///     fn deliver(n: Notification) -> Result<Receipt, PluginError> {
///         vigia_sdk::info!("{} alert(s) for {}", n.alerts.len(), n.channel);
///         Ok(Receipt { detail: "logged".into() })
///     }
/// }
///
/// vigia_sdk::export_notifier!(LogOnly);
/// ```
#[macro_export]
macro_rules! export_notifier {
    ($plugin:ty) => {
        $crate::__export_kind!($plugin, NotifierExport, notifier, __export_notifier_world);
    };
}
