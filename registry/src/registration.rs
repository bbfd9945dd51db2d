//! Registrations: the static description of every compiled-in component.

use std::collections::BTreeMap;
use std::sync::{Arc, OnceLock};

use async_trait::async_trait;
use schemars::{JsonSchema, Schema, SchemaGenerator};

use crate::build::{BuildAction, BuildContext, BuildError, BuildMiddleware, BuildStorage, ConfigError};
use crate::document::typed::TypedError;
use crate::http_types::{Action, Middleware};
use crate::kind::Kind;
use crate::storage::Storage;

/// A built component.
#[derive(Clone)]
pub enum Component {
    /// A storage instance, shared by every component that names it.
    Storage(Arc<dyn Storage>),
    /// A middleware instance.
    Middleware(Arc<dyn Middleware>),
    /// An action instance.
    Action(Arc<dyn Action>),
}

/// A component's config, deserialized and type-erased, ready to validate and build.
#[async_trait]
pub trait ErasedConfig: Send + Sync {
    /// Checks the config beyond its types.
    fn validate(&self) -> Result<(), ConfigError>;
    /// Builds the component.
    async fn build(&self, cx: &BuildContext<'_>) -> Result<Component, BuildError>;
}

/// A compiled-in component, emitted by `#[derive(Storage)]`, `#[derive(Middleware)]` or
/// `#[derive(Action)]` and collected with `inventory`.
pub struct Registration {
    /// The dotted name: `plugins.<plugin>.<kind>s.<Type>`.
    pub name: &'static str,
    /// Storage, middleware or action.
    pub kind: Kind,
    /// The plugin (second segment of the name).
    pub plugin: &'static str,
    /// Other names `use:` accepts for it (e.g. Seam's names).
    pub aliases: &'static [&'static str],
    /// One line: the first paragraph of the config struct's doc comment.
    pub description: &'static str,
    /// The Rust module that registered it (to tell duplicates apart).
    pub defined_in: &'static str,
    /// The JSON Schema of its `config:`.
    pub schema: fn(&mut SchemaGenerator) -> Schema,
    /// Deserializes its `config:`.
    pub parse: fn(serde_json::Value) -> Result<Box<dyn ErasedConfig>, TypedError>,
}

impl std::fmt::Debug for Registration {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Registration")
            .field("name", &self.name)
            .field("kind", &self.kind)
            .field("plugin", &self.plugin)
            .field("aliases", &self.aliases)
            .finish_non_exhaustive()
    }
}

inventory::collect!(Registration);

/// Every registration, sorted by name (inventory's order is not stable).
pub fn all() -> &'static [&'static Registration] {
    static SORTED: OnceLock<Vec<&'static Registration>> = OnceLock::new();
    SORTED.get_or_init(|| {
        let mut regs: Vec<&'static Registration> = inventory::iter::<Registration>.into_iter().collect();
        regs.sort_by(|a, b| a.name.cmp(b.name).then(a.defined_in.cmp(b.defined_in)));
        regs
    })
}

/// The registration called `name`, by its name or one of its aliases.
pub fn find(name: &str) -> Option<&'static Registration> {
    all().iter().copied().find(|r| r.name == name || r.aliases.contains(&name))
}

/// Every name and alias `use:` accepts, with its registration, sorted.
pub fn names() -> Vec<(&'static str, &'static Registration)> {
    let mut out: Vec<_> = all()
        .iter()
        .flat_map(|r| std::iter::once(r.name).chain(r.aliases.iter().copied()).map(move |n| (n, *r)))
        .collect();
    out.sort_by_key(|(n, _)| *n);
    out
}

/// The plugins that registered at least one component, sorted.
pub fn plugins() -> Vec<&'static str> {
    let mut out: Vec<_> = all().iter().map(|r| r.plugin).collect();
    out.sort();
    out.dedup();
    out
}

/// Another name a plugin answers to in `plugins:` (e.g. Seam's `session` for `sessions`).
/// Submit one with [`plugin_alias!`](crate::plugin_alias).
#[derive(Debug)]
pub struct PluginAlias {
    /// The other name.
    pub alias: &'static str,
    /// The plugin it stands for.
    pub plugin: &'static str,
}

inventory::collect!(PluginAlias);

/// The plugin called `name`, by its own name or an alias, if it is compiled in.
pub fn plugin(name: &str) -> Option<&'static str> {
    let plugins = plugins();
    if let Some(found) = plugins.iter().find(|p| **p == name) {
        return Some(found);
    }
    inventory::iter::<PluginAlias>
        .into_iter()
        .find(|a| a.alias == name && plugins.contains(&a.plugin))
        .map(|a| a.plugin)
}

/// Every name `plugins:` accepts: plugin names and their aliases, sorted.
pub fn plugin_names() -> Vec<&'static str> {
    let plugins = plugins();
    let mut out = plugins.clone();
    out.extend(inventory::iter::<PluginAlias>.into_iter().filter(|a| plugins.contains(&a.plugin)).map(|a| a.alias));
    out.sort();
    out.dedup();
    out
}

/// Names or aliases claimed twice, each message naming both registrations.
pub fn duplicates() -> Vec<String> {
    let mut seen: BTreeMap<&str, &Registration> = BTreeMap::new();
    let mut out = Vec::new();
    for reg in all() {
        for name in std::iter::once(reg.name).chain(reg.aliases.iter().copied()) {
            if let Some(first) = seen.insert(name, reg) {
                out.push(format!(
                    "component name `{name}` is registered twice: by `{}` ({}) and by `{}` ({})",
                    first.name, first.defined_in, reg.name, reg.defined_in
                ));
            }
        }
    }
    out
}

/// The schema of `T`, registered in `generator`'s definitions.
pub fn schema_of<T: JsonSchema>(generator: &mut SchemaGenerator) -> Schema {
    generator.subschema_for::<T>()
}

fn deserialize<T: serde::de::DeserializeOwned>(value: serde_json::Value) -> Result<T, TypedError> {
    serde_path_to_error::deserialize(value).map_err(TypedError::from_path_error)
}

/// A typed config behind [`ErasedConfig`], one wrapper per kind.
macro_rules! erased {
    ($wrapper:ident, $build:ident, $variant:ident) => {
        struct $wrapper<T>(T);

        #[async_trait]
        impl<T: $build> ErasedConfig for $wrapper<T> {
            fn validate(&self) -> Result<(), ConfigError> {
                self.0.validate()
            }
            async fn build(&self, cx: &BuildContext<'_>) -> Result<Component, BuildError> {
                self.0.build(cx).await.map(Component::$variant)
            }
        }
    };
}

erased!(StorageConfig, BuildStorage, Storage);
erased!(MiddlewareConfig, BuildMiddleware, Middleware);
erased!(ActionConfig, BuildAction, Action);

/// Deserializes a storage's config (used by `#[derive(Storage)]`).
pub fn parse_storage<T: BuildStorage>(value: serde_json::Value) -> Result<Box<dyn ErasedConfig>, TypedError> {
    Ok(Box::new(StorageConfig(deserialize::<T>(value)?)))
}

/// Deserializes a middleware's config (used by `#[derive(Middleware)]`).
pub fn parse_middleware<T: BuildMiddleware>(value: serde_json::Value) -> Result<Box<dyn ErasedConfig>, TypedError> {
    Ok(Box::new(MiddlewareConfig(deserialize::<T>(value)?)))
}

/// Deserializes an action's config (used by `#[derive(Action)]`).
pub fn parse_action<T: BuildAction>(value: serde_json::Value) -> Result<Box<dyn ErasedConfig>, TypedError> {
    Ok(Box::new(ActionConfig(deserialize::<T>(value)?)))
}
