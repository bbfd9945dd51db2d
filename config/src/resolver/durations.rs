//! Go's rule for a bare integer duration (nanoseconds) surprises people who mean seconds:
//! `expiration: 30` is 30 ns. `seam check` warns where a component's duration key holds a
//! non-zero integer under a millisecond, found through the component's schema.

use schemars::generate::SchemaSettings;
use seam_core::PathStep;
use seam_core::registration::Registration;
use serde_json::{Map, Value};

use crate::diagnostic::Diagnostic;
use crate::document::model::ComponentDef;

/// Warnings for every duration of `def`'s config (as `json`) written as a tiny integer.
pub fn tiny_integer_durations(def: &ComponentDef, registration: &Registration, json: &Value) -> Vec<Diagnostic> {
    let Some(config) = &def.config else { return Vec::new() };
    let mut generator = SchemaSettings::draft07().into_generator();
    let schema = (registration.schema)(&mut generator).to_value();
    let definitions = generator.take_definitions(true);
    let mut found = Vec::new();
    walk(&schema, json, &definitions, &mut Vec::new(), &mut found, 0);
    found
        .into_iter()
        .map(|(path, n)| {
            let node = config.locate(&path, false);
            let dotted: Vec<String> = path
                .iter()
                .map(|s| match s {
                    PathStep::Key(k) => k.clone(),
                    PathStep::Index(i) => i.to_string(),
                })
                .collect();
            Diagnostic::warning(format!(
                "{}: `{n}` is {n} ns: a bare integer duration is nanoseconds, by Go's rule (Seam's too)",
                def.describe()
            ))
            .at(&node.loc)
            .path(format!("{}.config.{}", def.path(), dotted.join(".")))
            .help(format!("did you mean `{n}s`? write durations with a unit (`{n}s`, `{n}ms`, `{n}m`)"))
        })
        .collect()
}

fn is_duration(schema: &Value) -> bool {
    schema.get("$ref").and_then(Value::as_str).is_some_and(|r| r.ends_with("/Duration"))
}

fn walk(
    schema: &Value,
    value: &Value,
    definitions: &Map<String, Value>,
    path: &mut Vec<PathStep>,
    found: &mut Vec<(Vec<PathStep>, u64)>,
    depth: usize,
) {
    if depth > 32 {
        return;
    }
    if is_duration(schema) {
        if let Some(n) = value.as_u64().filter(|n| (1..1_000_000).contains(n)) {
            found.push((path.clone(), n));
        }
        return;
    }
    if let Some(name) = schema.get("$ref").and_then(Value::as_str).and_then(|r| r.rsplit('/').next())
        && let Some(resolved) = definitions.get(name)
    {
        return walk(resolved, value, definitions, path, found, depth + 1);
    }
    for key in ["anyOf", "oneOf", "allOf"] {
        for alternative in schema.get(key).and_then(Value::as_array).into_iter().flatten() {
            walk(alternative, value, definitions, path, found, depth + 1);
        }
    }
    match value {
        Value::Object(entries) => {
            let properties = schema.get("properties").and_then(Value::as_object);
            let additional = schema.get("additionalProperties").filter(|a| a.is_object());
            for (key, item) in entries {
                let Some(child) = properties.and_then(|p| p.get(key)).or(additional) else { continue };
                path.push(PathStep::Key(key.clone()));
                walk(child, item, definitions, path, found, depth + 1);
                path.pop();
            }
        }
        Value::Array(items) => {
            if let Some(child) = schema.get("items").filter(|i| i.is_object()) {
                for (i, item) in items.iter().enumerate() {
                    path.push(PathStep::Index(i));
                    walk(child, item, definitions, path, found, depth + 1);
                    path.pop();
                }
            }
        }
        _ => {}
    }
}
