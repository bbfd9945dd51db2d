//! Typed deserialization of a [`Node`] whose errors point at the offending key or value.

use serde::de::DeserializeOwned;

use super::node::{Node, PathStep};
use crate::diagnostic::Diagnostic;
use crate::suggest;

/// A deserialization failure, with the path below the deserialized node where it happened.
#[derive(Debug)]
pub struct TypedError {
    /// Steps from the deserialized node to the failing one.
    pub path: Vec<PathStep>,
    /// serde's message.
    pub message: String,
}

impl TypedError {
    /// From serde_path_to_error's error.
    pub fn from_path_error(e: serde_path_to_error::Error<serde_json::Error>) -> Self {
        let path = e
            .path()
            .iter()
            .filter_map(|s| match s {
                serde_path_to_error::Segment::Map { key } => Some(PathStep::Key(key.clone())),
                serde_path_to_error::Segment::Seq { index } => Some(PathStep::Index(*index)),
                _ => None,
            })
            .collect();
        TypedError { path, message: e.into_inner().to_string() }
    }

    /// A diagnostic placed in `node` (the node that was deserialized), `doc_path` being
    /// that node's path in the document and `what` naming its owner for the message
    /// (e.g. "storage `Cache`").
    pub fn diagnose(&self, node: &Node, doc_path: &str, what: &str) -> Diagnostic {
        let message = strip_position(&self.message);
        let unknown = message.strip_prefix("unknown field `").and_then(|r| r.split_once('`'));
        let target = node.locate(&self.path, unknown.is_some());
        let full_path = join_path(doc_path, &self.path);
        match unknown {
            Some((field, expected)) => {
                let candidates = backticked(expected);
                let help = suggest::help_for(field, candidates.iter().map(String::as_str)).or_else(|| {
                    (!candidates.is_empty()).then(|| format!("expected one of {}", quote_list(&candidates)))
                });
                Diagnostic::error(format!("{what}: unknown config key `{field}`"))
                    .at(&target.loc)
                    .path(full_path)
                    .maybe_help(help)
            }
            None => Diagnostic::error(format!("{what}: {message}")).at(&target.loc).path(full_path),
        }
    }
}

/// Deserializes `node` into `T`, or a diagnostic at the failing place.
pub fn from_node<T: DeserializeOwned>(node: &Node, doc_path: &str, what: &str) -> Result<T, Diagnostic> {
    let json = node.to_json();
    serde_path_to_error::deserialize(json).map_err(|e| TypedError::from_path_error(e).diagnose(node, doc_path, what))
}

/// `base.key[3].other`.
pub fn join_path(base: &str, steps: &[PathStep]) -> String {
    let mut out = base.to_owned();
    for step in steps {
        match step {
            PathStep::Key(k) => {
                if !out.is_empty() {
                    out.push('.');
                }
                out.push_str(k);
            }
            PathStep::Index(i) => out.push_str(&format!("[{i}]")),
        }
    }
    out
}

fn strip_position(message: &str) -> &str {
    // serde_json appends " at line X column Y" for text input; values carry none, but be safe.
    match message.rfind(" at line ") {
        Some(i) if message[i..].contains(" column ") => &message[..i],
        _ => message,
    }
}

fn backticked(text: &str) -> Vec<String> {
    text.split('`').skip(1).step_by(2).map(str::to_owned).collect()
}

/// `` `a`, `b` or `c` ``.
pub fn quote_list(items: &[impl AsRef<str>]) -> String {
    let quoted: Vec<String> = items.iter().map(|i| format!("`{}`", i.as_ref())).collect();
    match quoted.len() {
        0 => String::from("nothing"),
        1 => quoted[0].clone(),
        n => format!("{} or {}", quoted[..n - 1].join(", "), quoted[n - 1]),
    }
}
