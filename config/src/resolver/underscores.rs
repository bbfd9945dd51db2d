//! With `server.underscoresInHeaders` off (the default), request headers whose names hold a
//! `_` are dropped before any middleware runs, so a component told to read one (a limiter
//! keyed by `header:api_key`, a request id in `X_Request_ID`) would never see it. `seam
//! check` warns at the key. Components mark such keys in their schema with
//! [`REQUEST_HEADER`]: `"name"` for a header name, `"lookup"` for a `header:<Name>` lookup.

use serde_json::Value;

use super::schema_walk::{ConfigSchema, at_config_key};
use crate::diagnostic::Diagnostic;
use crate::document::model::ComponentDef;
use crate::document::node::Node;
use crate::document::server::ServerConfig;

/// The schema keyword marking a config key that names a request header the component reads:
/// `#[schemars(extend("x-seam-request-header" = "name"))]` (or `= "lookup"` for
/// `header:<Name>`, `cookie:<name>`, ... lookups).
const REQUEST_HEADER: &str = "x-seam-request-header";

/// The request header a marked key's `value` names, if it names one.
fn header_named<'v>(mark: &str, value: &'v str) -> Option<&'v str> {
    match mark {
        "name" => Some(value),
        _ => value.split_once(':').filter(|(source, _)| source.eq_ignore_ascii_case("header")).map(|(_, name)| name),
    }
}

/// The warning that `subject` reads `name`, which never arrives; `sender` is who would
/// have to send it for `underscoresInHeaders: true` to help.
fn never_arrives(subject: &str, name: &str, sender: &str) -> Diagnostic {
    Diagnostic::warning(format!(
        "{subject}: requests never carry `{name}`: headers with `_` in their names are dropped (server.underscoresInHeaders is off)"
    ))
    .help(format!(
        "did you mean `{}`? or set `server.underscoresInHeaders: true` if {sender} sends `{name}`",
        name.replace('_', "-")
    ))
}

/// Warnings for every request header with `_` in its name that `def`'s config reads.
pub fn underscored_request_headers(def: &ComponentDef, schema: &ConfigSchema, json: &Value) -> Vec<Diagnostic> {
    let Some(config) = &def.config else { return Vec::new() };
    let mut found = Vec::new();
    schema.walk(json, &mut |schema, value, path| {
        let Some(mark) = schema.get(REQUEST_HEADER).and_then(Value::as_str) else { return false };
        if let Some(name) = value.as_str().and_then(|v| header_named(mark, v)).filter(|n| n.contains('_')) {
            found.push((path.to_vec(), name.to_owned()));
        }
        true
    });
    found
        .into_iter()
        .map(|(path, name)| at_config_key(never_arrives(&def.describe(), &name, "the client"), def, config, &path))
        .collect()
}

/// The same warning for `server.proxyHeader`, read from every request.
pub fn underscored_proxy_header(server: &ServerConfig, node: Option<&Node>) -> Option<Diagnostic> {
    let name = &server.proxy_header;
    if server.underscores_in_headers || !name.contains('_') {
        return None;
    }
    let warning = never_arrives("server.proxyHeader", name, "the proxy in front").path("server.proxyHeader");
    Some(match node.and_then(|n| n.get("proxyHeader")) {
        Some(value) => warning.at(&value.loc),
        None => warning,
    })
}
