//! The JSON Schema of a whole seam document, assembled from the component registry.
//!
//! Each section's `use` is restricted to the registered names and aliases of its kind, and
//! `config` is validated by the chosen component's own schema (closed against unknown keys)
//! through `if`/`then` branches, which yaml-language-server understands for completion,
//! hover text and errors.

use schemars::generate::SchemaSettings;
use schemars::{JsonSchema, Schema};
use seam_config::document::server::{IGNORED_KEYS, ignored_key_note};
use seam_config::document::{METHODS, ServerConfig};
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
    let mut properties = json!({
        "use": {
            "description": format!("The registered {} component this entry uses.", kind.word()),
            "type": "string",
            "enum": names,
            "markdownEnumDescriptions": descriptions,
            "enumDescriptions": descriptions,
        },
        "config": { "description": "The component's settings; see the chosen component for its keys." },
    });
    if kind == Kind::Middleware {
        properties["anyRequest"] = json!({
            "type": "boolean",
            "deprecated": true,
            "description": "Seam's documentation shows this key but Seam ignores it, and so does seam: list the middleware under `globalMiddlewares` to run it on every request.",
        });
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
    let mut entry = json!({
        "type": "object",
        "description": format!("A {} definition: `use` names the component, `config` sets it up.", kind.word()),
        "required": ["use"],
        "additionalProperties": false,
        "properties": properties,
    });
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

/// A route method: any case of one of the loader's methods (the loader upper-cases them).
fn method_schema() -> Value {
    let any_case = |m: &str| -> String {
        m.chars().map(|c| format!("[{}{}]", c.to_ascii_uppercase(), c.to_ascii_lowercase())).collect()
    };
    let alternatives: Vec<String> = METHODS.iter().map(|m| any_case(m)).collect();
    json!({
        "type": "string",
        "anyOf": [
            { "enum": METHODS },
            { "pattern": format!("^(?:{})$", alternatives.join("|")) }
        ],
        "description": "An HTTP method, in any case; `ALL` means every method."
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
    let definitions = generator.take_definitions(true);

    let names = registration::names();
    let of_kind = |kind: Kind| -> Vec<(&'static str, &'static Registration)> {
        names.iter().filter(|(_, r)| r.kind() == kind).copied().collect()
    };
    let plugins = registration::plugin_names();
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
                "items": {
                    "type": "object",
                    "additionalProperties": false,
                    "properties": {
                        "name": { "type": "string", "enum": plugins, "description": "A compiled-in plugin." },
                        "path": { "type": "string", "description": "Seam's form: `/plugins/<name>.so`; the file stem names the plugin." },
                        "config": { "type": ["object", "null"], "description": "Plugin-level defaults (Seam's form)." }
                    },
                    "anyOf": [ { "required": ["name"] }, { "required": ["path"] } ]
                }
            },
            "storages": component_section(Kind::Storage, &of_kind(Kind::Storage), &configs, &definitions),
            "middlewares": component_section(Kind::Middleware, &of_kind(Kind::Middleware), &configs, &definitions),
            "globalMiddlewares": { "anyOf": [references("Middlewares run on every request, in this order, before service and route middlewares."), { "type": "null" }] },
            "actions": component_section(Kind::Action, &of_kind(Kind::Action), &configs, &definitions),
            "routes": {
                "description": "Routes by name.",
                "type": ["object", "null"],
                "additionalProperties": {
                    "type": "object",
                    "additionalProperties": false,
                    "required": ["gatewayPath", "action"],
                    "properties": {
                        "gatewayPath": { "type": "string", "pattern": "^/", "description": "Path served: static segments, `:param` placeholders, and a `*` wildcard (which may match nothing)." },
                        "methods": {
                            "description": "HTTP methods served; `ALL` or left out: every method.",
                            "type": ["array", "null"],
                            "items": method_schema()
                        },
                        "middlewares": { "anyOf": [references("Middlewares of this route, run after the global and service middlewares."), { "type": "null" }] },
                        "action": { "type": "string", "description": "The action that answers." }
                    }
                }
            },
            "services": {
                "description": "Services by name. When present, a route is served only through the services that list it.",
                "type": ["object", "null"],
                "additionalProperties": {
                    "type": "object",
                    "additionalProperties": false,
                    "properties": {
                        "gatewayBasePath": { "type": ["string", "null"], "pattern": "^/", "description": "Joined in front of the path of every route the service lists." },
                        "middlewares": { "anyOf": [references("Middlewares run before each listed route's own."), { "type": "null" }] },
                        "routes": { "anyOf": [references("Routes served through this service."), { "type": "null" }] }
                    }
                }
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
