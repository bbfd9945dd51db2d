//! seam's core: what a plugin depends on, and nothing else.
//!
//! The three kinds of components ([`Kind`]), the traits they implement at runtime
//! ([`Storage`], [`Middleware`], [`Action`]), the one trait their configs implement
//! ([`Component`]), the [`BuildContext`] through which a component asks for storages by
//! name, the registry of compiled-in components, the streaming [`Body`], the request
//! extensions components share, and the errors. It knows nothing about YAML: documents are
//! read by `seam-config`.
//!
//! A component is a config struct with one attribute:
//!
//! ```ignore
//! /// Keeps values in a HashMap.
//! #[seam_core::component(name = "plugins.example.storages.HashMapStorage")]
//! pub struct HashMapStorageConfig { pub initial_capacity: usize }
//!
//! #[async_trait]
//! impl Component for HashMapStorageConfig {
//!     type Output = dyn Storage;
//!     async fn build(&self, cx: &BuildContext<'_>) -> Result<Arc<dyn Storage>, BuildError> { .. }
//! }
//! ```

pub mod body;
pub mod build;
#[cfg(feature = "client")]
pub mod client;
pub mod component;
pub mod duration;
pub mod error;
pub mod extensions;
pub mod handler;
pub mod interned;
pub mod kind;
pub mod log_sink;
pub mod metrics;
pub mod net;
pub mod per_thread;
pub mod pipeline;
pub mod registration;
pub mod secret;
pub mod step;
pub mod storage;
#[cfg(feature = "testing")]
pub mod testing;

pub use async_trait::async_trait;
pub use body::Body;
pub use build::{BuildContext, StorageSource};
pub use bytes::Bytes;
pub use component::{Build, Component, Factory};
pub use duration::GoDuration;
pub use error::{BuildError, PathStep, Problem, ProblemKind, Problems, UnknownKey};
pub use handler::{Action, Middleware, Next, Request, Responding, Response, json_error, json_response, unix_ms};
pub use kind::Kind;
pub use registration::Registration;
pub use seam_macros::component;
pub use secret::Secret;
pub use step::{Carry, Step};
pub use storage::{Capabilities, Capability, Storage, StorageError};

/// Lets a plugin answer to another name in `plugins:` (Seam's plugin names):
/// `seam_core::plugin_alias!("session" => "sessions");`
#[macro_export]
macro_rules! plugin_alias {
    ($alias:literal => $plugin:literal) => {
        $crate::__private::inventory::submit! {
            $crate::registration::PluginAlias { alias: $alias, plugin: $plugin }
        }
    };
}

/// Used by the code `#[component]` emits; not a public API.
#[doc(hidden)]
pub mod __private {
    pub use crate::component::parse;
    pub use inventory;
    pub use schemars;
    pub use serde;

    /// The schema of `T`, registered in `generator`'s definitions.
    pub fn schema_of<T: schemars::JsonSchema>(generator: &mut schemars::SchemaGenerator) -> schemars::Schema {
        generator.subschema_for::<T>()
    }
}
