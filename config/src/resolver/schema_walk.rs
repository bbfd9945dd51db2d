//! A component's config, walked beside its JSON Schema: the checks of `seam check` that
//! depend on what a key *is* (a duration, a request header a component reads) find those
//! keys through the schema the component declares, not through a list of plugins.

use schemars::generate::SchemaSettings;
use seam_core::PathStep;
use seam_core::registration::Registration;
use serde_json::{Map, Value};

use crate::diagnostic::Diagnostic;
use crate::document::model::ComponentDef;
use crate::document::node::Node;

/// A component's config schema, with the definitions its `$ref`s point to.
pub struct ConfigSchema {
    schema: Value,
    definitions: Map<String, Value>,
}

impl ConfigSchema {
    /// The schema `registration` declares for its config.
    pub fn of(registration: &Registration) -> Self {
        let mut generator = SchemaSettings::draft07().into_generator();
        let schema = (registration.schema)(&mut generator).to_value();
        let definitions = generator.take_definitions(true);
        ConfigSchema { schema, definitions }
    }

    /// Calls `visit(schema, value, path)` on every value of `json` with the schema that
    /// describes it, outermost first; a `true` answer stops the walk below that value.
    pub fn walk(&self, json: &Value, visit: &mut dyn FnMut(&Value, &Value, &[PathStep]) -> bool) {
        self.walk_at(&self.schema, json, &mut Vec::new(), visit, 0);
    }

    fn walk_at(
        &self,
        schema: &Value,
        value: &Value,
        path: &mut Vec<PathStep>,
        visit: &mut dyn FnMut(&Value, &Value, &[PathStep]) -> bool,
        depth: usize,
    ) {
        if depth > 32 || visit(schema, value, path) {
            return;
        }
        if let Some(name) = schema.get("$ref").and_then(Value::as_str).and_then(|r| r.rsplit('/').next())
            && let Some(resolved) = self.definitions.get(name)
        {
            return self.walk_at(resolved, value, path, visit, depth + 1);
        }
        for key in ["anyOf", "oneOf", "allOf"] {
            for alternative in schema.get(key).and_then(Value::as_array).into_iter().flatten() {
                self.walk_at(alternative, value, path, visit, depth + 1);
            }
        }
        match value {
            Value::Object(entries) => {
                let properties = schema.get("properties").and_then(Value::as_object);
                let additional = schema.get("additionalProperties").filter(|a| a.is_object());
                for (key, item) in entries {
                    let Some(child) = properties.and_then(|p| p.get(key)).or(additional) else { continue };
                    path.push(PathStep::Key(key.clone()));
                    self.walk_at(child, item, path, visit, depth + 1);
                    path.pop();
                }
            }
            Value::Array(items) => {
                if let Some(child) = schema.get("items").filter(|i| i.is_object()) {
                    for (i, item) in items.iter().enumerate() {
                        path.push(PathStep::Index(i));
                        self.walk_at(child, item, path, visit, depth + 1);
                        path.pop();
                    }
                }
            }
            _ => {}
        }
    }
}

/// `diagnostic`, placed at the key `path` of `def`'s config: its `file:line:column` and its
/// dotted path (`middlewares.Limit.config.expiration`).
pub fn at_config_key(diagnostic: Diagnostic, def: &ComponentDef, config: &Node, path: &[PathStep]) -> Diagnostic {
    diagnostic.at(&config.locate(path, false).loc).path(config_path(def, path))
}

fn config_path(def: &ComponentDef, path: &[PathStep]) -> String {
    let dotted: Vec<String> = path
        .iter()
        .map(|s| match s {
            PathStep::Key(k) => k.clone(),
            PathStep::Index(i) => i.to_string(),
        })
        .collect();
    format!("{}.config.{}", def.path(), dotted.join("."))
}
