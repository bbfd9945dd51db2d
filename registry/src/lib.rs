//! seam's component registry.
//!
//! Components (storages, middlewares, actions) register themselves at compile time
//! with `#[derive(Storage)]`, `#[derive(Middleware)]` or `#[derive(Action)]` on their
//! config struct. The [`resolver`] builds them from a YAML [`document`] and injects
//! them into each other by name through a [`BuildContext`].

pub mod body;
pub mod build;
pub mod diagnostic;
pub mod document;
pub mod duration;
pub mod extensions;
pub mod http_types;
pub mod kind;
pub mod pipeline;
pub mod registration;
pub mod resolver;
pub mod secret;
pub mod storage;
pub mod suggest;
#[cfg(feature = "testing")]
pub mod testing;

pub use async_trait::async_trait;
pub use body::Body;
pub use build::{BuildAction, BuildContext, BuildError, BuildMiddleware, BuildStorage, ConfigError};
pub use diagnostic::{Diagnostic, Severity};
pub use duration::GoDuration;
pub use http_types::{Action, Middleware, Next, Request, Response, json_error, json_response, unix_ms};
pub use kind::Kind;
pub use registration::{Component, Registration};
pub use seam_registry_derive::{Action, Middleware, Storage};
pub use secret::Secret;
pub use storage::{Storage, StorageError};

/// Lets a plugin answer to another name in `plugins:` (Seam's plugin names):
/// `seam_registry::plugin_alias!("session" => "sessions");`
#[macro_export]
macro_rules! plugin_alias {
    ($alias:literal => $plugin:literal) => {
        $crate::__private::inventory::submit! {
            $crate::registration::PluginAlias { alias: $alias, plugin: $plugin }
        }
    };
}

/// Used by the code the derive macros emit; not a public API.
#[doc(hidden)]
pub mod __private {
    pub use crate::registration::{parse_action, parse_middleware, parse_storage, schema_of};
    pub use inventory;
}
