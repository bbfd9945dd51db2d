//! `plugins:`: which plugins a document may use, and the plugin-level `config:` (Seam's
//! form), a default for each component of the plugin that has the key.

use std::collections::{BTreeMap, BTreeSet};

use seam_core::registration::{self, Registration};
use serde_json::{Map, Value};

use crate::diagnostic::Diagnostic;
use crate::document::model::{ComponentDef, Document};
use crate::document::node::Node;
use crate::document::typed::quote_list;
use crate::suggest;

/// What `plugins:` allows and sets.
pub struct Plugins {
    /// `None`: every compiled-in plugin (no `plugins:` section).
    allowed: Option<BTreeSet<&'static str>>,
    /// Plugin-level config keys by canonical plugin name.
    defaults: BTreeMap<&'static str, Map<String, Value>>,
    /// The plugin-level `config:` nodes by canonical plugin name, with their document path.
    sources: BTreeMap<&'static str, Vec<(String, Node)>>,
}

/// A key of a component's config that it takes from its plugin's `config:` under
/// `plugins:`: problems with it are reported there.
#[derive(Clone, Debug)]
pub struct Inherited {
    /// The key.
    pub key: String,
    /// The plugin-level `config:` that sets it.
    pub node: Node,
    /// That `config:`'s path in the document (`plugins[0].config`).
    pub path: String,
}

impl Plugins {
    /// Reads `plugins:`; unknown plugins and plugin-level keys no component of the plugin
    /// has are reported in `diags`.
    pub fn check(document: &Document, diags: &mut Vec<Diagnostic>) -> Plugins {
        let Some(entries) = document.plugins.as_ref() else {
            return Plugins { allowed: None, defaults: BTreeMap::new(), sources: BTreeMap::new() };
        };
        let mut allowed = BTreeSet::new();
        // The default storage is always available, as Seam's built-in storage is.
        allowed.extend(registration::default_storage().map(|r| r.plugin));
        let mut defaults: BTreeMap<&'static str, Map<String, Value>> = BTreeMap::new();
        let mut sources: BTreeMap<&'static str, Vec<(String, Node)>> = BTreeMap::new();
        for (index, entry) in entries.iter().enumerate() {
            let Some(plugin) = registration::plugin(&entry.name) else {
                let known = registration::plugin_names();
                let help = suggest::help_for(&entry.name, known.iter().copied())
                    .unwrap_or_else(|| format!("the plugins in this build are {}", quote_list(&known)));
                diags.push(
                    Diagnostic::error(format!("plugin `{}` is not compiled into this build", entry.name))
                        .at(&entry.loc)
                        .help(help),
                );
                continue;
            };
            allowed.insert(plugin);
            if let Some(config) = &entry.config {
                defaults.entry(plugin).or_default().extend(plugin_level_keys(plugin, config, diags));
                sources.entry(plugin).or_default().push((format!("plugins[{index}].config"), config.clone()));
            }
        }
        Plugins { allowed: Some(allowed), defaults, sources }
    }

    /// Whether the document may use `registration`'s component.
    pub fn allows(&self, registration: &Registration) -> bool {
        self.allowed.as_ref().is_none_or(|a| a.contains(registration.plugin))
    }

    /// `def`'s `config:` as JSON, with the plugin-level keys it has and does not set itself.
    pub fn config_with_defaults(&self, def: &ComponentDef, registration: &Registration) -> Value {
        let mut json = def.config.as_ref().map(Node::to_json).unwrap_or_else(|| Value::Object(Map::new()));
        if let (Some(defaults), Value::Object(own)) = (self.defaults.get(registration.plugin), &mut json) {
            let keys = config_keys(registration);
            for (key, value) in defaults.iter().filter(|(k, _)| keys.contains(*k)) {
                own.entry(key.clone()).or_insert_with(|| value.clone());
            }
        }
        json
    }
}

impl Plugins {
    /// The keys `def` takes from its plugin's `config:` (the last entry setting each wins).
    pub fn inherited(&self, def: &ComponentDef, registration: &Registration) -> Vec<Inherited> {
        let Some(sources) = self.sources.get(registration.plugin) else { return Vec::new() };
        let own = |key: &str| def.config.as_ref().is_some_and(|c| c.get(key).is_some());
        config_keys(registration)
            .into_iter()
            .filter(|key| !own(key))
            .filter_map(|key| {
                let (path, node) = sources.iter().rev().find(|(_, node)| node.get(&key).is_some())?;
                Some(Inherited { key, node: node.clone(), path: path.clone() })
            })
            .collect()
    }
}

/// The keys of a plugin-level `config:` that some component of `plugin` has; the others are
/// reported at their own line.
fn plugin_level_keys(plugin: &str, config: &Node, diags: &mut Vec<Diagnostic>) -> Map<String, Value> {
    let mut out = Map::new();
    let Some(entries) = config.as_map() else {
        diags.push(
            Diagnostic::error(format!(
                "the `config` of plugin `{plugin}` must be a mapping, found {}",
                config.type_name()
            ))
            .at(&config.loc),
        );
        return out;
    };
    let components: Vec<&Registration> = registration::all().iter().copied().filter(|r| r.plugin == plugin).collect();
    let known: BTreeSet<String> = components.iter().flat_map(|r| config_keys(r)).collect();
    for (key, value) in entries {
        let name = key.as_str().unwrap_or_default();
        if known.contains(name) {
            out.insert(name.to_owned(), value.to_json());
            continue;
        }
        let help = suggest::help_for(name, known.iter().map(String::as_str)).unwrap_or_else(|| {
            let list: Vec<&str> = known.iter().map(String::as_str).collect();
            format!("the keys of plugin `{plugin}`'s components are {}", quote_list(&list))
        });
        diags.push(
            Diagnostic::error(format!("plugin `{plugin}` has no component with the config key `{name}`"))
                .at(&key.loc)
                .help(help),
        );
    }
    out
}

/// The top-level keys of a component's `config:`, from its schema.
pub fn config_keys(registration: &Registration) -> BTreeSet<String> {
    crate::templates::config_properties(registration).into_iter().map(|(k, _)| k).collect()
}
