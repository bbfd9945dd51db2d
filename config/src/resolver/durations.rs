//! Go's rule for a bare integer duration (nanoseconds) surprises people who mean seconds:
//! `expiration: 30` is 30 ns. `seam check` warns where a component's duration key holds a
//! non-zero integer under a millisecond, found through the component's schema.

use serde_json::Value;

use super::schema_walk::{ConfigSchema, at_config_key};
use crate::diagnostic::Diagnostic;
use crate::document::model::ComponentDef;

/// Warnings for every duration of `def`'s config (as `json`) written as a tiny integer.
pub fn tiny_integer_durations(def: &ComponentDef, schema: &ConfigSchema, json: &Value) -> Vec<Diagnostic> {
    let Some(config) = &def.config else { return Vec::new() };
    let mut found = Vec::new();
    schema.walk(json, &mut |schema, value, path| {
        if !is_duration(schema) {
            return false;
        }
        if let Some(n) = value.as_u64().filter(|n| (1..1_000_000).contains(n)) {
            found.push((path.to_vec(), n));
        }
        true
    });
    found
        .into_iter()
        .map(|(path, n)| {
            let warning = Diagnostic::warning(format!(
                "{}: `{n}` is {n} ns: a bare integer duration is nanoseconds, by Go's rule (Seam's too)",
                def.describe()
            ))
            .help(format!("did you mean `{n}s`? write durations with a unit (`{n}s`, `{n}ms`, `{n}m`)"));
            at_config_key(warning, def, config, &path)
        })
        .collect()
}

fn is_duration(schema: &Value) -> bool {
    schema.get("$ref").and_then(Value::as_str).is_some_and(|r| r.ends_with("/Duration"))
}
