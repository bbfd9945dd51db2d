//! From a component's definition to its deserialized config: the registered component it
//! uses, the plugin defaults it takes, and every problem of its `config:` placed in the
//! document.

use seam_core::component::{Build, Parsed};
use seam_core::registration::{self, Registration};
use seam_core::{Factory, PathStep, Problem, ProblemKind};

use super::plugins::{Inherited, Plugins};
use crate::diagnostic::Diagnostic;
use crate::document::model::ComponentDef;
use crate::document::node::Node;
use crate::document::typed::{diagnose, join_path, quote_list};
use crate::suggest;

/// A component whose `use:` names a registered component of the right kind.
pub struct ParsedComponent<'d, T: ?Sized> {
    /// Its definition in the document.
    pub def: &'d ComponentDef,
    /// The registered component it uses.
    pub registration: &'static Registration,
    /// The deserialized config, if it deserialized (perhaps with bad keys left out).
    pub config: Option<Box<dyn Build<T>>>,
    /// Whether its config has problems (already reported): it is built only to find more.
    pub broken: bool,
    /// Keys left out of the config to get past their problems.
    pub left_out: Vec<String>,
    /// Keys it takes from its plugin's `config:`.
    pub inherited: Vec<Inherited>,
    /// The component and its whole config (plugin defaults included): equal fingerprints
    /// build equal components, so a reload keeps a storage whose fingerprint is unchanged.
    pub fingerprint: String,
}

/// The parsed components of a document, by kind.
#[derive(Default)]
pub struct ParsedComponents<'d> {
    pub storages: Vec<ParsedComponent<'d, dyn seam_core::Storage>>,
    pub middlewares: Vec<ParsedComponent<'d, dyn seam_core::Middleware>>,
    pub actions: Vec<ParsedComponent<'d, dyn seam_core::Action>>,
}

/// Parses every component of `defs`; problems go to `diags`.
pub fn parse_all<'d>(
    defs: impl Iterator<Item = &'d ComponentDef>,
    plugins: &Plugins,
    underscores_in_headers: bool,
    diags: &mut Vec<Diagnostic>,
) -> ParsedComponents<'d> {
    let mut out = ParsedComponents::default();
    for def in defs {
        let Some(registration) = registration_of(def, plugins, diags) else { continue };
        if let Some(loc) = &def.any_request {
            diags.push(
                Diagnostic::warning(format!("{}: `anyRequest` has no effect (Seam ignores it too)", def.describe()))
                    .at(loc)
                    .path(format!("{}.anyRequest", def.path()))
                    .help(format!("to run `{}` on every request, list it under `globalMiddlewares:`", def.name)),
            );
        }
        let mut json = plugins.config_with_defaults(def, registration);
        substitute_deferred(def, registration, &mut json, diags);
        let schema = super::schema_walk::ConfigSchema::of(registration);
        diags.extend(super::durations::tiny_integer_durations(def, &schema, &json));
        if !underscores_in_headers {
            diags.extend(super::underscores::underscored_request_headers(def, &schema, &json));
        }
        let inherited = plugins.inherited(def, registration);
        let known = (registration, inherited, format!("{}\n{json}", registration.name));
        match registration.factory {
            Factory::Storage(parse) => out.storages.push(finish(def, known, parse(json), diags)),
            Factory::Middleware(parse) => out.middlewares.push(finish(def, known, parse(json), diags)),
            Factory::Action(parse) => out.actions.push(finish(def, known, parse(json), diags)),
        }
    }
    out
}

/// The loader left `${...}` in fields that some component of this kind takes as its own
/// template; for a component that does not, they are environment variables after all.
fn substitute_deferred(
    def: &ComponentDef,
    registration: &Registration,
    json: &mut serde_json::Value,
    diags: &mut Vec<Diagnostic>,
) {
    let deferred = crate::templates::fields_of_kind(registration.kind());
    if deferred.is_empty() {
        return;
    }
    let own = crate::templates::fields_of(registration);
    let Some(object) = json.as_object_mut() else { return };
    for field in deferred.difference(&own) {
        let Some(serde_json::Value::String(text)) = object.get_mut(field) else { continue };
        match crate::document::env::substitute(text) {
            Ok(value) => *text = value,
            Err(message) => {
                let at = def.config.as_ref().map(|c| c.locate(&[PathStep::Key(field.clone())], false).loc.clone());
                let diagnostic = Diagnostic::error(message).path(format!("{}.config.{field}", def.path()));
                diags.push(match at {
                    Some(loc) => diagnostic.at(&loc),
                    None => diagnostic,
                });
            }
        }
    }
}

fn finish<'d, T: ?Sized>(
    def: &'d ComponentDef,
    (registration, inherited, fingerprint): (&'static Registration, Vec<Inherited>, String),
    parsed: Parsed<T>,
    diags: &mut Vec<Diagnostic>,
) -> ParsedComponent<'d, T> {
    let broken = !parsed.problems.is_empty();
    diags.extend(parsed.problems.iter().map(|p| place_parsed(def, &inherited, p)));
    ParsedComponent {
        def,
        registration,
        config: parsed.config,
        broken,
        left_out: parsed.left_out,
        inherited,
        fingerprint,
    }
}

/// The registration `def` uses, when it exists, has the kind of its section, and comes from
/// a plugin the document allows.
fn registration_of(
    def: &ComponentDef,
    plugins: &Plugins,
    diags: &mut Vec<Diagnostic>,
) -> Option<&'static Registration> {
    let kind = def.kind;
    let uses = &def.uses;
    let use_path = format!("{}.use", def.path());
    let Some(registration) = registration::find(&uses.name) else {
        let names = registration::names();
        let same_kind = names.iter().filter(|(_, r)| r.kind() == kind).map(|(n, _)| *n);
        let help = suggest::help_for(&uses.name, same_kind.clone())
            .or_else(|| suggest::help_for(&uses.name, names.iter().map(|(n, _)| *n)))
            .unwrap_or_else(|| {
                let list: Vec<&str> = same_kind.collect();
                if list.is_empty() {
                    format!("this build has no {} components", kind.word())
                } else {
                    format!("the {}s in this build are {}", kind.word(), quote_list(&list))
                }
            });
        diags.push(
            Diagnostic::error(format!("{}: unknown component `{}`", def.describe(), uses.name))
                .at(&uses.loc)
                .path(use_path)
                .help(help),
        );
        return None;
    };
    if registration.kind() != kind {
        let same_kind: Vec<&str> =
            registration::names().into_iter().filter(|(_, r)| r.kind() == kind).map(|(n, _)| n).collect();
        diags.push(
            Diagnostic::error(format!(
                "`{}` is {}; `{}` needs {}",
                uses.name,
                registration.kind().with_article(),
                kind.section(),
                kind.with_article()
            ))
            .at(&uses.loc)
            .path(use_path)
            .maybe_help(suggest::help_for(&uses.name, same_kind.iter().copied())),
        );
        return None;
    }
    if !plugins.allows(registration) {
        diags.push(
            Diagnostic::error(format!(
                "`{}` comes from plugin `{}`, which `plugins:` does not list",
                uses.name, registration.plugin
            ))
            .at(&uses.loc)
            .path(use_path)
            .help(format!(
                "add `- name: {}` to `plugins:`, or remove `plugins:` to allow every plugin",
                registration.plugin
            )),
        );
    }
    Some(registration)
}

/// Problems of `def`'s build placed in the document; consequences of problems reported
/// elsewhere, and problems about keys left out (reported when they were left out), are dropped.
pub fn place_all<T: ?Sized>(component: &ParsedComponent<'_, T>, problems: &[Problem]) -> Vec<Diagnostic> {
    problems
        .iter()
        .filter(|p| !p.is_consequence())
        .filter(|p| !matches!(p.path.first(), Some(PathStep::Key(k)) if component.left_out.contains(k)))
        .map(|p| place(component.def, &component.inherited, p))
        .collect()
}

/// A deserialization problem: one about the config as a whole (a missing key) is placed at
/// the config, or at `use:` when there is no config.
fn place_parsed(def: &ComponentDef, inherited: &[Inherited], problem: &Problem) -> Diagnostic {
    let diagnostic = place(def, inherited, problem);
    match (&def.config, problem.path.is_empty()) {
        (Some(config), true) => diagnostic.at(&config.loc),
        (None, true) => diagnostic.at(&def.uses.loc),
        _ => diagnostic,
    }
}

/// One problem of `def`'s config as a diagnostic at the key, value or name it is about (in
/// the plugin's `config:` for a key `def` takes from there).
pub fn place(def: &ComponentDef, inherited: &[Inherited], problem: &Problem) -> Diagnostic {
    if let Some(PathStep::Key(first)) = problem.path.first()
        && let Some(source) = inherited.iter().find(|i| &i.key == first)
    {
        return diagnose(problem, &source.node, &source.path, &def.describe());
    }
    let null = Node::null(def.uses.loc.clone());
    let node = def.config.as_ref().unwrap_or(&null);
    let what = def.describe();
    let written = def.config.is_some() && written(node, &problem.path);
    if problem.kind != ProblemKind::Invalid || (written && !problem.path.is_empty()) {
        return diagnose(problem, node, &format!("{}.config", def.path()), &what);
    }
    // About the component as a whole, a name in its config, or a key that is not written.
    let referenced = problem.reference.as_deref().and_then(|r| def.config.as_ref().and_then(|c| c.find_string(r)));
    let loc = referenced.filter(|_| problem.path.is_empty()).map(|n| &n.loc).unwrap_or(&def.name_loc);
    let message = if problem.message.contains(&format!("`{}`", def.name)) {
        problem.message.clone()
    } else {
        format!("{what}: {}", problem.message)
    };
    Diagnostic::error(message)
        .at(loc)
        .path(join_path(&format!("{}.config", def.path()), &problem.path))
        .maybe_help(problem.help.clone())
        .secret(problem.secret)
}

fn written(node: &Node, path: &[PathStep]) -> bool {
    match path.split_last() {
        Some((PathStep::Key(last), parents)) => node.locate(parents, false).get(last).is_some(),
        _ => true,
    }
}
