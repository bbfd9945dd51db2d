//! Config fields that are templates of their component (a logger's `format` with Fiber's
//! `${status}` tags): the loader leaves `${...}` in them to the component instead of reading
//! it as an environment variable. A component declares such a field in its schema with
//! `#[schemars(extend("x-seam-template" = true))]`; the schema shows the mark to editors.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::OnceLock;

use schemars::generate::SchemaSettings;
use seam_core::Kind;
use seam_core::registration::{self, Registration};
use serde_json::Value;

/// The mark in a property's schema.
pub const MARK: &str = "x-seam-template";

/// The top-level properties of `registration`'s config schema, by key.
pub fn config_properties(registration: &Registration) -> serde_json::Map<String, Value> {
    let mut generator = SchemaSettings::draft07().into_generator();
    let schema = (registration.schema)(&mut generator).to_value();
    let definitions = generator.take_definitions(true);
    let resolved = schema
        .get("$ref")
        .and_then(Value::as_str)
        .and_then(|r| r.rsplit('/').next())
        .and_then(|name| definitions.get(name))
        .unwrap_or(&schema);
    resolved.get("properties").and_then(Value::as_object).cloned().unwrap_or_default()
}

/// The template fields of `registration`'s config.
pub fn fields_of(registration: &Registration) -> BTreeSet<String> {
    config_properties(registration)
        .into_iter()
        .filter(|(_, s)| s.get(MARK) == Some(&Value::Bool(true)))
        .map(|(k, _)| k)
        .collect()
}

/// Every field name that some registered component of `kind` declares a template: the
/// loader keeps `${...}` in `<section>.<name>.config.<field>` for these, and the resolver
/// substitutes them after all for components that do not declare the field.
pub fn fields_of_kind(kind: Kind) -> &'static BTreeSet<String> {
    static BY_KIND: OnceLock<BTreeMap<Kind, BTreeSet<String>>> = OnceLock::new();
    static EMPTY: BTreeSet<String> = BTreeSet::new();
    BY_KIND
        .get_or_init(|| {
            let mut by_kind: BTreeMap<Kind, BTreeSet<String>> = BTreeMap::new();
            for registration in registration::all() {
                by_kind.entry(registration.kind()).or_default().extend(fields_of(registration));
            }
            by_kind
        })
        .get(&kind)
        .unwrap_or(&EMPTY)
}

/// The kind of a top-level section name (`middlewares` → middleware).
pub fn kind_of_section(section: &str) -> Option<Kind> {
    Kind::ALL.into_iter().find(|k| k.section() == section)
}
