//! Plumbing shared by the `export_*!` macros: default plugin info from Cargo metadata.

use crate::types::PluginInfo;

/// Cargo metadata of the plugin crate, captured by the export macro (`env!` must expand in that crate).
#[doc(hidden)]
pub trait CargoPackage {
    const NAME: &'static str;
    const VERSION: &'static str;
    const DESCRIPTION: &'static str;
}

/// Package names may carry a `vigia-plugin-` prefix (to stay unique in a workspace); plugin ids do not.
const PACKAGE_PREFIX: &str = "vigia-plugin-";

/// The info a plugin reports unless its trait impl overrides `info`.
#[doc(hidden)]
pub fn cargo_info<P: CargoPackage>() -> PluginInfo {
    PluginInfo {
        id: P::NAME.strip_prefix(PACKAGE_PREFIX).unwrap_or(P::NAME).to_string(),
        version: P::VERSION.to_string(),
        description: P::DESCRIPTION.to_string(),
    }
}

/// Expands to the component exports of one kind: `$adapter<$plugin, Package>` implements the world's `Guest`.
#[doc(hidden)]
#[macro_export]
macro_rules! __export_kind {
    ($plugin:ty, $adapter:ident, $world:ident, $world_macro:ident) => {
        const _: () = {
            struct __VigiaPackage;
            impl $crate::__private::CargoPackage for __VigiaPackage {
                const NAME: &'static str = ::core::env!("CARGO_PKG_NAME");
                const VERSION: &'static str = ::core::env!("CARGO_PKG_VERSION");
                const DESCRIPTION: &'static str = ::core::env!("CARGO_PKG_DESCRIPTION");
            }
            type __VigiaExport = $crate::__private::$adapter<$plugin, __VigiaPackage>;
    $crate::bindings::$world::$world_macro!(__VigiaExport with_types_in $crate::bindings::$world);
        };
    };
}
