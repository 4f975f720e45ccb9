//! The `Collector` trait and `export_collector!`: plugins that produce metric samples on an interval.

use crate::bindings::collector::Guest;
use crate::export::{cargo_info, CargoPackage};
use crate::types::{CollectContext, PluginError, PluginInfo, Sample};
use std::marker::PhantomData;

/// A plugin that collects metric samples each time the host schedules it.
pub trait Collector {
    /// What the plugin says about itself. `from_cargo` is built from the crate's Cargo metadata
    /// (package name without a `vigia-plugin-` prefix, version, description); its `id` must equal
    /// the manifest's `id`.
    fn info(from_cargo: PluginInfo) -> PluginInfo {
        from_cargo
    }

    /// Measures now. Return `PluginError`s for failures; a panic counts as a crash.
    fn collect(context: CollectContext) -> Result<Vec<Sample>, PluginError>;
}

#[doc(hidden)]
pub struct CollectorExport<T, P>(PhantomData<(T, P)>);

impl<T: Collector, P: CargoPackage> Guest for CollectorExport<T, P> {
    fn info() -> PluginInfo {
        T::info(cargo_info::<P>())
    }

    fn collect(context: CollectContext) -> Result<Vec<Sample>, PluginError> {
        T::collect(context)
    }
}

/// Exports a [`Collector`] implementation as the component's `collector` world.
///
/// ```no_run
/// use vigia_sdk::{CollectContext, Collector, PluginError, Sample};
///
/// struct Dice;
///
/// impl Collector for Dice {
///     fn collect(_: CollectContext) -> Result<Vec<Sample>, PluginError> {
///         Ok(vec![Sample::new("dice.roll", 4.0).label("sides", "6")])
///     }
/// }
///
/// vigia_sdk::export_collector!(Dice);
/// ```
#[macro_export]
macro_rules! export_collector {
    ($plugin:ty) => {
        $crate::__export_kind!($plugin, CollectorExport, collector, __export_collector_world);
    };
}
