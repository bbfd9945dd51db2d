//! The shape of the document's own entries (routes, services, plugins), as typed structs:
//! the loader checks each entry against them (types, required and unknown keys, with "did
//! you mean"), and `seam-config-schema` takes their JSON Schema, so both read one definition.

use std::borrow::Cow;

use schemars::{JsonSchema, Schema, SchemaGenerator, json_schema};
use serde::Deserialize;
use serde_json::{Map, Value};

use super::METHODS;

/// A route: the path it serves, its methods and middlewares, and the action that answers.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
#[allow(dead_code)] // read as a shape; the loader keeps each value with its position
pub struct RouteShape {
    /// Path served: static segments, `:param` placeholders, and a `*` wildcard (which may match nothing).
    #[schemars(regex(pattern = "^/"))]
    pub gateway_path: String,
    /// HTTP methods served; `ALL` or left out: every method.
    #[serde(default)]
    pub methods: Option<Vec<MethodName>>,
    /// Middlewares of this route, run after the global and service middlewares.
    #[serde(default)]
    pub middlewares: Option<Vec<String>>,
    /// The action that answers.
    pub action: String,
}

/// A service: routes served under a common base path, with middlewares of their own.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
#[allow(dead_code)] // read as a shape; the loader keeps each value with its position
pub struct ServiceShape {
    /// Joined in front of the path of every route the service lists.
    #[serde(default)]
    #[schemars(regex(pattern = "^/"))]
    pub gateway_base_path: Option<String>,
    /// Middlewares run before each listed route's own.
    #[serde(default)]
    pub middlewares: Option<Vec<String>>,
    /// Routes served through this service.
    #[serde(default)]
    pub routes: Option<Vec<String>>,
}

/// A plugin this document may use: `name: <plugin>`, or Seam's `path: /plugins/<plugin>.so`.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
#[schemars(extend("anyOf" = [{ "required": ["name"] }, { "required": ["path"] }]))]
#[allow(dead_code)] // read as a shape; the loader keeps each value with its position
pub struct PluginShape {
    /// A compiled-in plugin.
    #[serde(default)]
    pub name: Option<String>,
    /// Seam's form: `/plugins/<name>.so`; the file stem names the plugin.
    #[serde(default)]
    pub path: Option<String>,
    /// Plugin-level defaults (Seam's form): each key is a default for every component of the plugin that has it.
    #[serde(default)]
    pub config: Option<Map<String, Value>>,
}

/// An HTTP method of a route, in any case (the loader checks it against the known ones).
#[derive(Debug, Deserialize)]
#[serde(transparent)]
pub struct MethodName(pub String);

impl JsonSchema for MethodName {
    fn schema_name() -> Cow<'static, str> {
        "MethodName".into()
    }

    fn json_schema(_: &mut SchemaGenerator) -> Schema {
        let any_case = |m: &str| -> String {
            m.chars().map(|c| format!("[{}{}]", c.to_ascii_uppercase(), c.to_ascii_lowercase())).collect()
        };
        let alternatives: Vec<String> = METHODS.iter().map(|m| any_case(m)).collect();
        json_schema!({
            "type": "string",
            "description": "An HTTP method, in any case; `ALL` means every method.",
            "anyOf": [
                { "enum": METHODS },
                { "pattern": format!("^(?:{})$", alternatives.join("|")) }
            ]
        })
    }
}

/// A storage or action definition: `use` names the component, `config` sets it up.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
#[allow(dead_code)] // read as a shape; the loader keeps each value with its position
pub struct ComponentShape {
    /// The registered component this entry uses.
    #[serde(rename = "use")]
    pub uses: String,
    /// The component's settings; see the chosen component for its keys.
    #[serde(default)]
    pub config: Option<Value>,
}

/// A middleware definition: `use` names the component, `config` sets it up.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
#[allow(dead_code)] // read as a shape; the loader keeps each value with its position
pub struct MiddlewareShape {
    /// The registered component this entry uses.
    #[serde(rename = "use")]
    pub uses: String,
    /// The component's settings; see the chosen component for its keys.
    #[serde(default)]
    pub config: Option<Value>,
    /// Seam's documentation shows this key but Seam ignores it, and so does seam: list the middleware under `globalMiddlewares` to run it on every request.
    #[serde(default)]
    #[schemars(extend("deprecated" = true))]
    pub any_request: Option<bool>,
}
