//! The JSON Schema of a whole seam document, assembled from the component registry.
//!
//! Each section's `use` is restricted to the registered names and aliases of its kind, and
//! `config` is validated by the chosen component's own schema (closed against unknown keys)
//! through `if`/`then` branches, which yaml-language-server understands for completion,
//! hover text and errors.

use schemars::generate::SchemaSettings;
use schemars::{JsonSchema, Schema};
use seam_config::document::ServerConfig;
use seam_config::document::server::{IGNORED_KEYS, ignored_key_note};
use seam_config::document::shape::{ComponentShape, MiddlewareShape, PluginShape, RouteShape, ServiceShape};
use seam_core::Kind;
use seam_core::registration::{self, Registration};
use serde_json::{Map, Value, json};

/// The `$schema` of the output: draft-07, the dialect yaml-language-server supports best.
pub const DIALECT: &str = "http://json-schema.org/draft-07/schema#";

fn references(description: &str) -> Value {
    json!({ "type": "array", "items": { "type": "string" }, "description": description })
}

/// Follows a `#/definitions/...` reference.
fn definition<'a>(schema: &'a Value, definitions: &'a Map<String, Value>) -> &'a Value {
    schema
        .get("$ref")
        .and_then(Value::as_str)
        .and_then(|r| r.strip_prefix("#/definitions/"))
        .and_then(|name| definitions.get(name))
        .unwrap_or(schema)
}

fn component_section(
    kind: Kind,
    regs: &[(&'static str, &'static Registration)],
    configs: &Map<String, Value>,
    definitions: &Map<String, Value>,
) -> Value {
    let names: Vec<&str> = regs.iter().map(|(n, _)| *n).collect();
    let descriptions: Vec<String> =
        regs.iter()
            .map(|(n, r)| {
                if *n == r.name {
                    r.description.to_owned()
                } else {
                    format!("Alias of `{}`. {}", r.name, r.description)
                }
            })
            .collect();
    // The entry's keys and their descriptions come from the loader's shape; `use` gets the
    // registered names, and `config` the chosen component's schema (the branches below).
    let mut entry = match kind {
        Kind::Middleware => config_schema(schemars::schema_for!(MiddlewareShape)),
        _ => config_schema(schemars::schema_for!(ComponentShape)),
    };
    let properties = &mut entry["properties"];
    properties["use"]["enum"] = json!(names);
    properties["use"]["markdownEnumDescriptions"] = json!(descriptions);
    properties["use"]["enumDescriptions"] = json!(descriptions);
    if let Some(config) = properties["config"].as_object_mut() {
        config.retain(|k, _| k == "description");
    }
    let branches: Vec<Value> = regs
        .iter()
        .map(|(name, r)| {
            let config = &configs[r.name];
            let required = definition(config, definitions)
                .get("required")
                .and_then(Value::as_array)
                .is_some_and(|a| !a.is_empty());
            let config = if required { config.clone() } else { json!({ "anyOf": [config, { "type": "null" }] }) };
            let mut then = json!({ "properties": { "config": config } });
            if required {
                then["required"] = json!(["config"]);
            }
            json!({ "if": { "properties": { "use": { "const": name } }, "required": ["use"] }, "then": then })
        })
        .collect();
    entry["description"] =
        json!(format!("A {} definition: `use` names the component, `config` sets it up.", kind.word()));
    if branches.is_empty() {
        // No component of this kind is compiled in: no `use` value is valid.
        entry["properties"]["use"] = json!({
            "type": "string",
            "description": format!("This build has no {} components.", kind.word()),
            "not": {},
        });
    } else {
        entry["allOf"] = Value::Array(branches);
    }
    json!({
        "description": format!("{}s by name; other entries refer to them by that name.", capitalize(kind.word())),
        "type": ["object", "null"],
        "additionalProperties": entry,
    })
}

fn capitalize(word: &str) -> String {
    let mut chars = word.chars();
    chars.next().map(|c| c.to_ascii_uppercase().to_string() + chars.as_str()).unwrap_or_default()
}

/// A generated schema as a JSON value for the document schema, without the `$schema` and
/// `title` of a standalone schema.
fn config_schema(schema: Schema) -> Value {
    let mut value = schema.to_value();
    if let Some(obj) = value.as_object_mut() {
        obj.remove("$schema");
        obj.remove("title");
    }
    value
}

/// `server:`: its typed keys, and Seam's ignored keys, deprecated (from the one list of them).
fn server_schema(schema: Schema) -> Value {
    let mut value = config_schema(schema);
    if let Some(properties) = value.get_mut("properties").and_then(Value::as_object_mut) {
        for (key, note) in IGNORED_KEYS {
            properties
                .insert((*key).to_owned(), json!({ "deprecated": true, "description": ignored_key_note(key, note) }));
        }
    }
    value
}

/// The document's JSON Schema, deterministic (sorted by component name).
pub fn document_schema() -> Value {
    let settings = SchemaSettings::draft07();
    let mut generator = settings.into_generator();
    let mut configs = Map::new();
    for reg in registration::all() {
        let schema = (reg.schema)(&mut generator);
        configs.insert(reg.name.to_owned(), config_schema(schema));
    }
    let server = server_schema(ServerConfig::json_schema(&mut generator));
    let route = config_schema(RouteShape::json_schema(&mut generator));
    let service = config_schema(ServiceShape::json_schema(&mut generator));
    let mut plugin = config_schema(PluginShape::json_schema(&mut generator));
    plugin["properties"]["name"]["enum"] = json!(registration::plugin_names());
    let definitions = generator.take_definitions(true);

    let names = registration::names();
    let of_kind = |kind: Kind| -> Vec<(&'static str, &'static Registration)> {
        names.iter().filter(|(_, r)| r.kind() == kind).copied().collect()
    };
    json!({
        "$schema": DIALECT,
        "$id": "https://seam.dev/schema/seam.schema.json",
        "title": "seam gateway document",
        "description": "A seam (and Seam-compatible) gateway configuration: storages, middlewares, actions, routes and services.",
        "type": "object",
        "additionalProperties": false,
        "properties": {
            "server": { "description": "How the gateway listens and serves.", "anyOf": [server, { "type": "null" }] },
            "plugins": {
                "description": "Plugins this document may use. Left out: every compiled-in plugin.",
                "type": ["array", "null"],
                "items": plugin
            },
            "storages": component_section(Kind::Storage, &of_kind(Kind::Storage), &configs, &definitions),
            "middlewares": component_section(Kind::Middleware, &of_kind(Kind::Middleware), &configs, &definitions),
            "globalMiddlewares": { "anyOf": [references("Middlewares run on every request, in this order, before service and route middlewares."), { "type": "null" }] },
            "actions": component_section(Kind::Action, &of_kind(Kind::Action), &configs, &definitions),
            "routes": {
                "description": "Routes by name.",
                "type": ["object", "null"],
                "additionalProperties": route
            },
            "services": {
                "description": "Services by name. When present, a route is served only through the services that list it.",
                "type": ["object", "null"],
                "additionalProperties": service
            }
        },
        "definitions": definitions,
    })
}

/// The schema as pretty JSON text with a final newline (the committed file's form).
pub fn document_schema_text() -> String {
    let mut text = serde_json::to_string_pretty(&document_schema()).expect("a JSON value serializes");
    text.push('\n');
    text
}
