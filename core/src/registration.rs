//! Registrations: the static description of every compiled-in component, collected with
//! `inventory` and always walked sorted by name.

use std::collections::BTreeMap;
use std::sync::OnceLock;

use schemars::{Schema, SchemaGenerator};

use crate::component::Factory;
use crate::kind::Kind;

/// A compiled-in component, emitted by `#[seam_core::component]` and collected with
/// `inventory`.
pub struct Registration {
    /// The dotted name: `plugins.<plugin>.<kind>s.<Type>`.
    pub name: &'static str,
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
    /// Deserializes its `config:` and builds it; typed by kind.
    pub factory: Factory,
    /// The storage a component gets when it names none (one per build: the memory storage).
    pub default_storage: bool,
}

impl Registration {
    /// Storage, middleware or action.
    pub fn kind(&self) -> Kind {
        self.factory.kind()
    }
}

impl std::fmt::Debug for Registration {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Registration")
            .field("name", &self.name)
            .field("kind", &self.kind())
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

/// The storage a component gets when it names none: the registration that says it is the
/// default (the memory plugin's), if it is compiled in.
pub fn default_storage() -> Option<&'static Registration> {
    all().iter().copied().find(|r| r.default_storage && r.kind() == Kind::Storage)
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

/// Problems of the registry itself, each message naming both registrations: names or
/// aliases claimed twice, and more than one default storage.
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
    let defaults: Vec<&&Registration> = all().iter().filter(|r| r.default_storage).collect();
    if let [first, second, ..] = defaults.as_slice() {
        out.push(format!(
            "two storages say they are the default storage: `{}` ({}) and `{}` ({})",
            first.name, first.defined_in, second.name, second.defined_in
        ));
    }
    out
}
