//! Raw wit-bindgen bindings for `vigia:plugin`; plugin authors use the friendlier items in the crate root.
//!
//! The `types` and `host` interfaces are generated once (from the `plugin-base` world) and shared by
//! the three kind worlds through `with:`, so a `Sample` is the same Rust type for every kind.
//! Paths are spelled `::vigia_sdk::…` because the export macros expand inside the plugin's crate.

#![allow(missing_docs, clippy::too_many_arguments)]

wit_bindgen::generate!({
    path: "../wit",
    world: "plugin-base",
    generate_all,
    generate_unused_types: true,
    additional_derives: [PartialEq],
    runtime_path: "::vigia_sdk::__private::wit_bindgen::rt",
});

/// Generates one kind world with the shared interfaces and a public export macro.
macro_rules! kind_world {
    ($world:literal, $module:literal, $macro_name:literal) => {
        wit_bindgen::generate!({
            path: "../wit",
            world: $world,
            with: {
                "vigia:plugin/types@0.1.1": ::vigia_sdk::bindings::vigia::plugin::types,
                "vigia:plugin/host@0.1.1": ::vigia_sdk::bindings::vigia::plugin::host,
            },
            pub_export_macro: true,
            export_macro_name: $macro_name,
            default_bindings_module: $module,
            runtime_path: "::vigia_sdk::__private::wit_bindgen::rt",
        });
    };
}

pub mod collector {
    kind_world!("collector", "::vigia_sdk::bindings::collector", "__export_collector_world");
}

pub mod notifier {
    kind_world!("notifier", "::vigia_sdk::bindings::notifier", "__export_notifier_world");
}

pub mod reporter {
    kind_world!("reporter", "::vigia_sdk::bindings::reporter", "__export_reporter_world");
}

pub mod document_reporter {
    kind_world!("document-reporter", "::vigia_sdk::bindings::document_reporter", "__export_document_reporter_world");
}
