//! The one trait a component's config implements, and the typed factories the registry
//! keeps for each kind.

use std::sync::Arc;

use async_trait::async_trait;
use schemars::JsonSchema;
use serde::de::DeserializeOwned;

use crate::build::BuildContext;
use crate::error::{BuildError, PathStep, Problem, ProblemKind, UnknownKey};
use crate::handler::{Action, Middleware};
use crate::kind::Kind;
use crate::storage::Storage;

/// A component's config: what a document's `config:` deserializes into, and the factory of
/// the runtime component. `#[seam_core::component(name = "...")]` on the struct derives the
/// rest (deserialization, schema, registration); the struct implements this trait.
///
/// `build` checks the config (report every problem at once with [`crate::Problems`]) and
/// builds the component. With [`BuildContext::offline`] it must not contact any server:
/// `seam check --offline` and documents with errors build offline, to report every problem
/// in one run.
#[diagnostic::on_unimplemented(
    message = "`{Self}` is a component config but does not implement `seam_core::Component`",
    label = "`Component` is not implemented for `{Self}`",
    note = "add `#[async_trait] impl Component for {Self} {{ type Output = dyn Storage; async fn build(&self, cx: &BuildContext<'_>) -> Result<Arc<dyn Storage>, BuildError> {{ .. }} }}` (or `dyn Middleware`, `dyn Action`)"
)]
#[async_trait]
pub trait Component: DeserializeOwned + JsonSchema + Send + Sync + 'static {
    /// What it builds: `dyn Storage`, `dyn Middleware` or `dyn Action`.
    type Output: ?Sized + Send + Sync + 'static;

    /// Checks the config and builds the component.
    async fn build(&self, cx: &BuildContext<'_>) -> Result<Arc<Self::Output>, BuildError>;
}

/// What a component builds: `dyn Storage`, `dyn Middleware` or `dyn Action`, and its kind.
pub trait Built: Send + Sync + 'static {
    /// The kind of component that builds it.
    const KIND: Kind;
}

impl Built for dyn Storage {
    const KIND: Kind = Kind::Storage;
}

impl Built for dyn Middleware {
    const KIND: Kind = Kind::Middleware;
}

impl Built for dyn Action {
    const KIND: Kind = Kind::Action;
}

/// A deserialized config, ready to build a `T` (the erased form of [`Component`]).
#[async_trait]
pub trait Build<T: ?Sized>: Send + Sync {
    /// Checks the config and builds the component.
    async fn build(&self, cx: &BuildContext<'_>) -> Result<Arc<T>, BuildError>;
}

#[async_trait]
impl<C: Component> Build<C::Output> for C {
    async fn build(&self, cx: &BuildContext<'_>) -> Result<Arc<C::Output>, BuildError> {
        Component::build(self, cx).await
    }
}

/// What deserializing a component's `config:` gave.
pub struct Parsed<T: ?Sized> {
    /// The config, when it deserialized; with [`Parsed::problems`], a config with the
    /// offending keys left out (build it only to find more problems, never to serve).
    pub config: Option<Box<dyn Build<T>>>,
    /// Every problem deserialization found.
    pub problems: Vec<Problem>,
    /// Top-level keys left out to get past a problem; problems the build reports about
    /// them are consequences.
    pub left_out: Vec<String>,
}

/// Deserializes a component's config from its JSON form.
pub type ParseFn<T> = fn(serde_json::Value) -> Parsed<T>;

/// A registered component's factory, typed by kind: a storage factory can only build a
/// storage.
#[derive(Clone, Copy)]
pub enum Factory {
    /// Builds a storage.
    Storage(ParseFn<dyn Storage>),
    /// Builds a middleware.
    Middleware(ParseFn<dyn Middleware>),
    /// Builds an action.
    Action(ParseFn<dyn Action>),
}

impl Factory {
    /// The kind of component it builds.
    pub fn kind(&self) -> Kind {
        match self {
            Factory::Storage(_) => Kind::Storage,
            Factory::Middleware(_) => Kind::Middleware,
            Factory::Action(_) => Kind::Action,
        }
    }
}

/// How many problems one config reports before deserialization gives up.
const MAX_PROBLEMS: usize = 32;

/// Deserializes `C` from `value`, reporting every unknown key and wrongly typed value it
/// can: after a problem at a top-level key, that key is left out and deserialization tries
/// again (serde itself stops at the first problem).
pub fn parse<C, T>(mut value: serde_json::Value) -> Parsed<T>
where
    C: Component<Output = T> + Build<T>,
    T: ?Sized,
{
    let mut problems = Vec::new();
    let mut left_out = Vec::new();
    loop {
        match deserialize::<C>(&value) {
            Ok(config) => return Parsed { config: Some(Box::new(config)), problems, left_out },
            Err(mut problem) => {
                problem.secret = secret_at::<C>(&problem.path);
                let top = match problem.path.first() {
                    Some(PathStep::Key(k)) => Some(k.clone()),
                    _ => None,
                };
                let missing = problem.message.starts_with("missing field");
                let removable = top.as_ref().filter(|k| value.get(k.as_str()).is_some() && !left_out.contains(k));
                let retry = match (removable, &mut value) {
                    (Some(key), serde_json::Value::Object(map)) if !missing => {
                        map.remove(key.as_str());
                        left_out.push(key.clone());
                        true
                    }
                    _ => false,
                };
                // A key left out may now be reported missing: that is the same problem again.
                let repeated = missing && left_out.iter().any(|k| problem.message.contains(&format!("`{k}`")));
                if !repeated {
                    problems.push(problem);
                }
                if !retry || problems.len() >= MAX_PROBLEMS {
                    return Parsed { config: None, problems, left_out };
                }
            }
        }
    }
}

/// Whether `path` in `C`'s config leads through a secret (a schema marked `writeOnly`, as
/// [`crate::Secret`]'s is): a problem there must not show the value written.
fn secret_at<C: JsonSchema>(path: &[PathStep]) -> bool {
    let root = schemars::SchemaGenerator::default().into_root_schema_for::<C>().to_value();
    let empty = serde_json::Map::new();
    let defs = root.get("$defs").and_then(serde_json::Value::as_object).unwrap_or(&empty);
    // A node and the alternatives it stands for (`$ref`, `anyOf`, `oneOf`, `allOf`).
    fn expand<'a>(
        node: &'a serde_json::Value,
        defs: &'a serde_json::Map<String, serde_json::Value>,
        out: &mut Vec<&'a serde_json::Value>,
    ) {
        if out.len() > 64 {
            return;
        }
        out.push(node);
        if let Some(target) = node.get("$ref").and_then(serde_json::Value::as_str).and_then(|r| r.rsplit('/').next())
            && let Some(def) = defs.get(target)
        {
            expand(def, defs, out);
        }
        for key in ["anyOf", "oneOf", "allOf"] {
            for member in node.get(key).and_then(serde_json::Value::as_array).into_iter().flatten() {
                expand(member, defs, out);
            }
        }
    }
    let mut nodes = Vec::new();
    expand(&root, defs, &mut nodes);
    for step in path {
        if nodes.iter().any(|n| n.get("writeOnly") == Some(&serde_json::Value::Bool(true))) {
            return true;
        }
        let next: Vec<&serde_json::Value> = nodes
            .iter()
            .filter_map(|n| match step {
                PathStep::Key(k) => n.get("properties").and_then(|p| p.get(k.as_str())),
                PathStep::Index(_) => n.get("items"),
            })
            .collect();
        nodes = Vec::new();
        for n in next {
            expand(n, defs, &mut nodes);
        }
    }
    nodes.iter().any(|n| n.get("writeOnly") == Some(&serde_json::Value::Bool(true)))
}

/// Deserializes `T` from `value`, or the first problem with its path (unknown keys
/// recognized as [`ProblemKind::UnknownKey`]).
pub fn deserialize<T: DeserializeOwned>(value: &serde_json::Value) -> Result<T, Problem> {
    serde_path_to_error::deserialize(value).map_err(problem_of)
}

/// One [`Problem`] from serde's error, with its path, unknown keys recognized.
fn problem_of(e: serde_path_to_error::Error<serde_json::Error>) -> Problem {
    let path: Vec<PathStep> = e
        .path()
        .iter()
        .filter_map(|s| match s {
            serde_path_to_error::Segment::Map { key } => Some(PathStep::Key(key.clone())),
            serde_path_to_error::Segment::Seq { index } => Some(PathStep::Index(*index)),
            _ => None,
        })
        .collect();
    let message = e.into_inner().to_string();
    let message = strip_position(&message).to_owned();
    // serde's only form for it: "unknown field `x`, expected one of `a`, `b`" (or "expected `a`").
    let unknown = message.strip_prefix("unknown field `").and_then(|r| r.split_once('`'));
    match unknown {
        Some((key, expected)) => {
            let expected: Vec<String> = expected.split('`').skip(1).step_by(2).map(str::to_owned).collect();
            let key = key.to_owned();
            let mut path = path;
            if path.last() != Some(&PathStep::Key(key.clone())) {
                path.push(PathStep::Key(key.clone()));
            }
            Problem {
                path,
                message: format!("unknown config key `{key}`"),
                kind: ProblemKind::UnknownKey(Box::new(UnknownKey { key, expected })),
                ..Problem::new("")
            }
        }
        None => Problem { path, ..Problem::new(message) },
    }
}

fn strip_position(message: &str) -> &str {
    // serde_json appends " at line X column Y" for text input; values carry none, but be safe.
    match message.rfind(" at line ") {
        Some(i) if message[i..].contains(" column ") => &message[..i],
        _ => message,
    }
}
