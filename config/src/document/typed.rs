//! Typed deserialization of a [`Node`] whose errors point at the offending key or value.

use serde::de::DeserializeOwned;

use seam_core::{Problem, ProblemKind};

use super::node::{Node, PathStep};
use crate::diagnostic::Diagnostic;
use crate::suggest;

/// Deserializes `node` into `T`, or a diagnostic at the failing place; `doc_path` is the
/// node's path in the document and `what` names its owner for the message (`server`).
pub fn from_node<T: DeserializeOwned>(node: &Node, doc_path: &str, what: &str) -> Result<T, Diagnostic> {
    seam_core::component::deserialize(&node.to_json()).map_err(|problem| diagnose(&problem, node, doc_path, what))
}

/// Checks that `node` has the shape of `T` (an entry of the document's own sections); an
/// unknown key is an "unknown key" (not a config key).
pub fn check_shape<T: DeserializeOwned>(node: &Node, doc_path: &str, what: &str) -> Result<(), Diagnostic> {
    seam_core::component::deserialize::<T>(&node.to_json()).map(drop).map_err(|mut problem| {
        if let ProblemKind::UnknownKey(unknown) = &problem.kind {
            problem.message = format!("unknown key `{}`", unknown.key);
        }
        diagnose(&problem, node, doc_path, what)
    })
}

/// A problem found below `node` as a diagnostic at the key or value it is about: an
/// unknown key at the key, with "did you mean"; anything else at the deepest node written on
/// its path.
pub fn diagnose(problem: &Problem, node: &Node, doc_path: &str, what: &str) -> Diagnostic {
    let full_path = join_path(doc_path, &problem.path);
    let message = if problem.message.starts_with(what) {
        problem.message.clone()
    } else {
        format!("{what}: {}", problem.message)
    };
    match &problem.kind {
        ProblemKind::UnknownKey(unknown) => {
            let help = suggest::help_for(&unknown.key, unknown.expected.iter().map(String::as_str)).or_else(|| {
                (!unknown.expected.is_empty()).then(|| format!("expected one of {}", quote_list(&unknown.expected)))
            });
            Diagnostic::error(message).at(&node.locate(&problem.path, true).loc).path(full_path).maybe_help(help)
        }
        _ => Diagnostic::error(message)
            .at(&node.locate(&problem.path, false).loc)
            .path(full_path)
            .maybe_help(problem.help.clone())
            .secret(problem.secret),
    }
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

/// `` `a`, `b` or `c` ``.
pub fn quote_list(items: &[impl AsRef<str>]) -> String {
    let quoted: Vec<String> = items.iter().map(|i| format!("`{}`", i.as_ref())).collect();
    match quoted.len() {
        0 => String::from("nothing"),
        1 => quoted[0].clone(),
        n => format!("{} or {}", quoted[..n - 1].join(", "), quoted[n - 1]),
    }
}
