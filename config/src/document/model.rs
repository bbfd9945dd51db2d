//! The sections of a loaded document, with the position of every name and reference.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;

use super::node::Node;
use super::server::ServerConfig;
use crate::diagnostic::{Loc, SourceFile};
use seam_core::Kind;

/// A name written in the document, and where.
#[derive(Clone, Debug)]
pub struct Reference {
    /// The text.
    pub name: String,
    /// Where it is written.
    pub loc: Loc,
}

/// One entry of `plugins:`.
#[derive(Clone, Debug)]
pub struct PluginEntry {
    /// The plugin's name: `name:`, or the file stem of Seam's `path: /plugins/<name>.so`.
    pub name: String,
    /// Where the entry is.
    pub loc: Loc,
    /// Plugin-level `config:` (defaults for that plugin's components), if any.
    pub config: Option<Node>,
}

/// One entry of `storages:`, `middlewares:` or `actions:`.
#[derive(Clone, Debug)]
pub struct ComponentDef {
    /// The entry's name.
    pub name: String,
    /// The section it is defined in.
    pub kind: Kind,
    /// Where the name is written.
    pub name_loc: Loc,
    /// The `use:` value: a registered component name or alias.
    pub uses: Reference,
    /// The `config:` node, if present and not null.
    pub config: Option<Node>,
    /// Seam's `anyRequest: true` (ignored by Seam; seam warns).
    pub any_request: Option<Loc>,
}

impl ComponentDef {
    /// The document path of the entry: `storages.Cache`.
    pub fn path(&self) -> String {
        format!("{}.{}", self.kind.section(), self.name)
    }

    /// "storage `Cache`", for messages.
    pub fn describe(&self) -> String {
        format!("{} `{}`", self.kind.word(), self.name)
    }
}

/// One entry of `routes:`.
#[derive(Clone, Debug)]
pub struct RouteDef {
    /// The route's name.
    pub name: String,
    /// Where the name is written.
    pub name_loc: Loc,
    /// `gatewayPath`: `/api/v1/users/:id`, `/files/*`.
    pub gateway_path: Reference,
    /// `methods`, upper-cased; empty means every method.
    pub methods: Vec<Reference>,
    /// `middlewares`, in order.
    pub middlewares: Vec<Reference>,
    /// `action`.
    pub action: Reference,
}

/// One entry of `services:`.
#[derive(Clone, Debug)]
pub struct ServiceDef {
    /// The service's name.
    pub name: String,
    /// Where the name is written.
    pub name_loc: Loc,
    /// `gatewayBasePath`, joined in front of each listed route's path.
    pub gateway_base_path: Option<Reference>,
    /// `middlewares`, run before each route's own.
    pub middlewares: Vec<Reference>,
    /// `routes` served through this service.
    pub routes: Vec<Reference>,
}

/// A whole document, merged from its files.
#[derive(Debug, Default)]
pub struct Document {
    /// The files it was read from.
    pub files: Vec<Arc<SourceFile>>,
    /// `server:` (defaults when absent).
    pub server: ServerConfig,
    /// Where `server:` is, if written.
    pub server_node: Option<Node>,
    /// `plugins:`; `None` when the section is absent (every compiled-in plugin is available).
    pub plugins: Option<Vec<PluginEntry>>,
    /// `storages:` by name.
    pub storages: BTreeMap<String, ComponentDef>,
    /// `middlewares:` by name.
    pub middlewares: BTreeMap<String, ComponentDef>,
    /// `actions:` by name.
    pub actions: BTreeMap<String, ComponentDef>,
    /// `globalMiddlewares:`, in order.
    pub global_middlewares: Vec<Reference>,
    /// `routes:` by name.
    pub routes: BTreeMap<String, RouteDef>,
    /// `services:` by name; `None` when absent or empty (every route is served at its own path).
    pub services: Option<BTreeMap<String, ServiceDef>>,
    /// Names of entries left out because they have errors; references to them are not
    /// reported again.
    pub broken: BTreeSet<String>,
}

impl Document {
    /// The component section of `kind`.
    pub fn components(&self, kind: Kind) -> &BTreeMap<String, ComponentDef> {
        match kind {
            Kind::Storage => &self.storages,
            Kind::Middleware => &self.middlewares,
            Kind::Action => &self.actions,
        }
    }

    pub(crate) fn components_mut(&mut self, kind: Kind) -> &mut BTreeMap<String, ComponentDef> {
        match kind {
            Kind::Storage => &mut self.storages,
            Kind::Middleware => &mut self.middlewares,
            Kind::Action => &mut self.actions,
        }
    }

    /// Which kinds define `name` (a name may be reused across sections).
    pub fn kinds_defining(&self, name: &str) -> Vec<Kind> {
        Kind::ALL.into_iter().filter(|k| self.components(*k).contains_key(name)).collect()
    }
}
