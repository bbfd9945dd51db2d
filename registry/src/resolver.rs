//! From a [`Document`] to built components and served routes, every problem reported at once.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::sync::{Arc, Mutex};

use crate::build::{BuildContext, BuildError, DEFAULT_STORAGE, Shared};
use crate::diagnostic::{Diagnostic, Loc};
use crate::document::model::{ComponentDef, Document, Reference, RouteDef};
use crate::document::node::{Node, PathStep};
use crate::document::server::ServerConfig;
use crate::document::typed::{join_path, quote_list};
use crate::http_types::{Action, Middleware};
use crate::kind::Kind;
use crate::pipeline::Pipeline;
use crate::registration::{self, Component, ErasedConfig, Registration};
use crate::storage::Storage;
use crate::suggest;

/// How to resolve.
#[derive(Clone, Copy, Debug, Default)]
pub struct Options {
    /// Build without contacting any server, and skip the storages' PING.
    pub offline: bool,
    /// Only validate (configs and references); build nothing. Used when the document
    /// already has errors, to report every problem in one run.
    pub validate_only: bool,
}

/// A storage defined in the document, built.
#[derive(Clone)]
pub struct BuiltStorage {
    /// The registered component it uses (canonical name, even if `use:` gave an alias).
    pub component: &'static str,
    /// The shared instance.
    pub instance: Arc<dyn Storage>,
    /// The components that asked for it: "middleware `Sessions`".
    pub users: Vec<String>,
}

/// One route as it is served: a route, possibly through a service.
#[derive(Clone)]
pub struct ServedRoute {
    /// The route's name.
    pub route: String,
    /// The service it is served through, if the document has services.
    pub service: Option<String>,
    /// The full gateway path (base path joined).
    pub path: String,
    /// Upper-case methods; empty means every method.
    pub methods: Vec<String>,
    /// Middleware names in the order they run.
    pub middlewares: Vec<String>,
    /// The action's name.
    pub action: String,
    /// The built chain.
    pub pipeline: Pipeline,
}

/// Everything a document defines, built and linked.
pub struct Gateway {
    /// `server:`.
    pub server: ServerConfig,
    /// Storages by name.
    pub storages: BTreeMap<String, BuiltStorage>,
    /// Middlewares by name, with the component they use.
    pub middlewares: BTreeMap<String, (&'static str, Arc<dyn Middleware>)>,
    /// Actions by name, with the component they use.
    pub actions: BTreeMap<String, (&'static str, Arc<dyn Action>)>,
    /// Served routes, sorted by path then route name.
    pub routes: Vec<ServedRoute>,
    /// Warnings (the document works, but maybe not as meant).
    pub warnings: Vec<Diagnostic>,
}

struct Parsed<'d> {
    def: &'d ComponentDef,
    registration: &'static Registration,
    config: Box<dyn ErasedConfig>,
}

/// Validates `document`, builds every component, and links routes to their chains.
/// Returns every error found (and the warnings) when it cannot.
pub async fn resolve(document: &Document, options: Options) -> Result<Gateway, Vec<Diagnostic>> {
    let mut diags = Vec::new();
    for message in registration::duplicates() {
        diags.push(Diagnostic::error(message));
    }
    let allowed_plugins = check_plugins(document, &mut diags);
    let plugin_defaults = plugin_defaults(document);

    let mut parsed: BTreeMap<(Kind, String), Parsed<'_>> = BTreeMap::new();
    for kind in Kind::ALL {
        for def in document.components(kind).values() {
            if let Some(p) = parse_component(def, allowed_plugins.as_ref(), &plugin_defaults, &mut diags) {
                parsed.insert((kind, def.name.clone()), p);
            }
        }
    }

    for reference in &document.global_middlewares {
        check_reference(document, reference, Kind::Middleware, "`globalMiddlewares`", "globalMiddlewares", &mut diags);
    }
    for route in document.routes.values() {
        let what = format!("route `{}`", route.name);
        let path = format!("routes.{}", route.name);
        check_reference(document, &route.action, Kind::Action, &what, &format!("{path}.action"), &mut diags);
        for (i, m) in route.middlewares.iter().enumerate() {
            check_reference(document, m, Kind::Middleware, &what, &format!("{path}.middlewares[{i}]"), &mut diags);
        }
    }
    let mut routed = BTreeSet::new();
    for service in document.services.iter().flat_map(|s| s.values()) {
        let what = format!("service `{}`", service.name);
        let path = format!("services.{}", service.name);
        for (i, m) in service.middlewares.iter().enumerate() {
            check_reference(document, m, Kind::Middleware, &what, &format!("{path}.middlewares[{i}]"), &mut diags);
        }
        for (i, r) in service.routes.iter().enumerate() {
            routed.insert(r.name.clone());
            if !document.routes.contains_key(&r.name) && !document.broken.contains(&r.name) {
                let help = suggest::help_for(&r.name, document.routes.keys().map(String::as_str));
                diags.push(
                    Diagnostic::error(format!("{what} lists route `{}`, which is not defined in `routes:`", r.name))
                        .at(&r.loc)
                        .path(format!("{path}.routes[{i}]"))
                        .maybe_help(help),
                );
            }
        }
    }
    if document.services.is_some() {
        for route in document.routes.values().filter(|r| !routed.contains(&r.name)) {
            diags.push(
                Diagnostic::warning(format!("route `{}` is listed by no service, so it is not served", route.name))
                    .at(&route.name_loc)
                    .help("add it to a service's `routes:`"),
            );
        }
    }
    let plan = route_plan(document);
    check_conflicts(&plan, &mut diags);

    // With errors already found, still build what parsed (offline, so nothing is contacted):
    // a reference that only a component's build resolves is then reported in the same run.
    let invalid = options.validate_only || diags.iter().any(Diagnostic::is_error);

    // Build: storages first (each once), then middlewares and actions.
    let mut storage_configs = BTreeMap::new();
    let mut rest = Vec::new();
    for ((kind, name), p) in parsed {
        if kind == Kind::Storage {
            storage_configs.insert(name, p.config);
        } else {
            rest.push((kind, name, p.def, p.registration, p.config));
        }
    }
    let mut defined: BTreeMap<String, Vec<Kind>> = BTreeMap::new();
    for kind in Kind::ALL {
        for name in document.components(kind).keys() {
            defined.entry(name.clone()).or_default().push(kind);
        }
    }
    let failed: BTreeSet<String> = document
        .storages
        .keys()
        .filter(|n| !storage_configs.contains_key(*n))
        .chain(&document.broken)
        .cloned()
        .collect();
    let shared = Shared {
        offline: options.offline || invalid,
        storage_configs,
        failed,
        defined,
        built: Mutex::new(HashMap::new()),
        users: Mutex::new(BTreeMap::new()),
    };
    let root =
        |name: &str, kind: Kind| BuildContext { shared: &shared, name: name.to_owned(), kind, stack: Vec::new() };

    let mut storages = BTreeMap::new();
    for def in document.storages.values().filter(|d| shared.storage_configs.contains_key(&d.name)) {
        let already = shared.built.lock().expect("built lock").get(&def.name).cloned();
        let result = match already {
            Some(done) => done.map_err(|()| None),
            None => shared.build_storage(&def.name, vec![def.name.clone()]).await.map_err(Some),
        };
        match result {
            Ok(instance) => {
                let component = registration::find(&def.uses.name).map(|r| r.name).unwrap_or(DEFAULT_STORAGE);
                storages.insert(def.name.clone(), BuiltStorage { component, instance, users: Vec::new() });
            }
            Err(Some(e)) if !e.quiet => diags.push(build_diagnostic(def, &e)),
            Err(_) => {}
        }
    }
    let mut middlewares = BTreeMap::new();
    let mut actions = BTreeMap::new();
    for (kind, name, def, registration, config) in rest {
        match config.build(&root(&name, kind)).await {
            Ok(Component::Middleware(m)) => {
                middlewares.insert(name, (registration.name, m));
            }
            Ok(Component::Action(a)) => {
                actions.insert(name, (registration.name, a));
            }
            Ok(Component::Storage(_)) => diags.push(
                Diagnostic::error(format!("{} built a storage, not {}", def.describe(), kind.with_article()))
                    .at(&def.uses.loc),
            ),
            Err(e) if !e.quiet => diags.push(build_diagnostic(def, &e)),
            Err(_) => {}
        }
    }
    if invalid || diags.iter().any(Diagnostic::is_error) {
        for storage in storages.values() {
            let _ = storage.instance.close().await;
        }
        return Err(diags);
    }

    if !options.offline {
        for (name, storage) in &storages {
            if let Err(e) = storage.instance.ping().await {
                let def = &document.storages[name];
                diags.push(
                    Diagnostic::error(format!("storage `{name}` does not answer: {e}"))
                        .at(&def.name_loc)
                        .path(def.path()),
                );
            }
        }
    }

    let users = shared.users.lock().expect("users lock").clone();
    for (name, storage) in storages.iter_mut() {
        let mut who = users.get(name).cloned().unwrap_or_default();
        who.sort();
        who.dedup();
        if who.is_empty() {
            let def = &document.storages[name];
            diags.push(
                Diagnostic::warning(format!("storage `{name}` is defined but no component uses it"))
                    .at(&def.name_loc)
                    .path(def.path()),
            );
        }
        storage.users = who;
    }

    let mut routes = Vec::new();
    for planned in plan {
        let mut chain = Vec::new();
        for name in &planned.middlewares {
            chain.push(middlewares[name].1.clone());
        }
        let action = actions[&planned.action].1.clone();
        routes.push(ServedRoute {
            route: planned.route.to_owned(),
            service: planned.service.map(str::to_owned),
            path: planned.path,
            methods: planned.methods,
            middlewares: planned.middlewares,
            action: planned.action,
            pipeline: Pipeline::new(chain, action),
        });
    }

    if diags.iter().any(Diagnostic::is_error) {
        return Err(diags);
    }
    Ok(Gateway { server: document.server.clone(), storages, middlewares, actions, routes, warnings: diags })
}

fn build_diagnostic(def: &ComponentDef, e: &BuildError) -> Diagnostic {
    let config_ref = e.reference.as_deref().and_then(|r| def.config.as_ref().and_then(|c| c.find_string(r)));
    let loc = config_ref.map(|n| &n.loc).unwrap_or(&def.name_loc);
    let message = if e.message.contains(&format!("`{}`", def.name)) {
        e.message.clone()
    } else {
        format!("{}: {}", def.describe(), e.message)
    };
    Diagnostic::error(message).at(loc).path(def.path()).maybe_help(e.help.clone())
}

fn check_plugins(document: &Document, diags: &mut Vec<Diagnostic>) -> Option<BTreeSet<String>> {
    let entries = document.plugins.as_ref()?;
    let mut allowed: BTreeSet<String> = BTreeSet::new();
    // The embedded memory storage is always available, as Seam's built-in storage is.
    allowed.insert("memory".into());
    for entry in entries {
        match registration::plugin(&entry.name) {
            Some(plugin) => {
                allowed.insert(plugin.to_owned());
            }
            None => {
                let known = registration::plugin_names();
                let help = suggest::help_for(&entry.name, known.iter().copied())
                    .unwrap_or_else(|| format!("the plugins in this build are {}", quote_list(&known)));
                diags.push(
                    Diagnostic::error(format!("plugin `{}` is not compiled into this build", entry.name))
                        .at(&entry.loc)
                        .help(help),
                );
            }
        }
    }
    Some(allowed)
}

/// Plugin-level `config:` of `plugins:` entries (Seam's form), by canonical plugin name:
/// defaults for every component of that plugin, which a component's own `config` overrides.
fn plugin_defaults(document: &Document) -> BTreeMap<&'static str, serde_json::Map<String, serde_json::Value>> {
    let mut out: BTreeMap<&'static str, serde_json::Map<String, serde_json::Value>> = BTreeMap::new();
    for entry in document.plugins.iter().flatten() {
        if let (Some(plugin), Some(serde_json::Value::Object(config))) =
            (registration::plugin(&entry.name), entry.config.as_ref().map(Node::to_json))
        {
            out.entry(plugin).or_default().extend(config);
        }
    }
    out
}

fn parse_component<'d>(
    def: &'d ComponentDef,
    allowed_plugins: Option<&BTreeSet<String>>,
    plugin_defaults: &BTreeMap<&'static str, serde_json::Map<String, serde_json::Value>>,
    diags: &mut Vec<Diagnostic>,
) -> Option<Parsed<'d>> {
    let kind = def.kind;
    let uses = &def.uses;
    let Some(registration) = registration::find(&uses.name) else {
        let names = registration::names();
        let same_kind = names.iter().filter(|(_, r)| r.kind == kind).map(|(n, _)| *n);
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
                .path(format!("{}.use", def.path()))
                .help(help),
        );
        return None;
    };
    if registration.kind != kind {
        let same_kind: Vec<&str> =
            registration::names().into_iter().filter(|(_, r)| r.kind == kind).map(|(n, _)| n).collect();
        diags.push(
            Diagnostic::error(format!(
                "`{}` is {}; `{}` needs {}",
                uses.name,
                registration.kind.with_article(),
                kind.section(),
                kind.with_article()
            ))
            .at(&uses.loc)
            .path(format!("{}.use", def.path()))
            .maybe_help(suggest::help_for(&uses.name, same_kind.iter().copied())),
        );
        return None;
    }
    if let Some(allowed) = allowed_plugins
        && !allowed.contains(registration.plugin)
    {
        diags.push(
            Diagnostic::error(format!(
                "`{}` comes from plugin `{}`, which `plugins:` does not list",
                uses.name, registration.plugin
            ))
            .at(&uses.loc)
            .path(format!("{}.use", def.path()))
            .help(format!(
                "add `- name: {}` to `plugins:`, or remove `plugins:` to allow every plugin",
                registration.plugin
            )),
        );
    }
    if let Some(loc) = &def.any_request {
        diags.push(
            Diagnostic::warning(format!("{}: `anyRequest` has no effect (Seam ignores it too)", def.describe()))
                .at(loc)
                .path(format!("{}.anyRequest", def.path()))
                .help(format!("to run `{}` on every request, list it under `globalMiddlewares:`", def.name)),
        );
    }
    let config_path = format!("{}.config", def.path());
    let node = def.config.clone().unwrap_or_else(|| Node::null(def.uses.loc.clone()));
    let mut json = def.config.as_ref().map(Node::to_json).unwrap_or_else(|| serde_json::json!({}));
    if let (Some(defaults), serde_json::Value::Object(own)) = (plugin_defaults.get(registration.plugin), &mut json) {
        for (key, value) in defaults {
            own.entry(key.clone()).or_insert_with(|| value.clone());
        }
    }
    let config = match (registration.parse)(json) {
        Ok(config) => config,
        Err(e) => {
            diags.push(e.diagnose(&node, &config_path, &def.describe()));
            return None;
        }
    };
    if let Err(e) = config.validate() {
        let steps: Vec<PathStep> =
            e.field.iter().flat_map(|f| f.split('.')).map(|s| PathStep::Key(s.to_owned())).collect();
        // A key that is not written is reported at the component's name.
        let written = match steps.split_last() {
            Some((PathStep::Key(last), parents)) => node.locate(parents, false).get(last).is_some(),
            _ => true,
        };
        let target = node.locate(&steps, false);
        let loc: &Loc = if def.config.is_some() && written { &target.loc } else { &def.name_loc };
        diags.push(
            Diagnostic::error(format!("{}: {}", def.describe(), e.message))
                .at(loc)
                .path(join_path(&config_path, &steps))
                .maybe_help(e.help),
        );
        return None;
    }
    Some(Parsed { def, registration, config })
}

fn check_reference(
    document: &Document,
    reference: &Reference,
    expected: Kind,
    who: &str,
    path: &str,
    diags: &mut Vec<Diagnostic>,
) {
    if document.components(expected).contains_key(&reference.name) || document.broken.contains(&reference.name) {
        return;
    }
    let candidates = document.components(expected).keys().map(String::as_str);
    let help = suggest::help_for(&reference.name, candidates.clone());
    let message = match document.kinds_defining(&reference.name).first() {
        Some(kind) => {
            format!("`{}` is {}; {who} needs {} here", reference.name, kind.with_article(), expected.with_article())
        }
        None => format!(
            "{who} refers to {expected} `{}`, which is not defined in `{}:`",
            reference.name,
            expected.section()
        ),
    };
    let list: Vec<&str> = candidates.collect();
    let help = help.unwrap_or_else(|| {
        if list.is_empty() {
            format!("define it under `{}:`", expected.section())
        } else {
            format!("the {}s are {}", expected.word(), quote_list(&list))
        }
    });
    diags.push(Diagnostic::error(message).at(&reference.loc).path(path.to_owned()).help(help));
}

struct Planned<'d> {
    route: &'d str,
    route_def: &'d RouteDef,
    service: Option<&'d str>,
    path: String,
    methods: Vec<String>,
    middlewares: Vec<String>,
    action: String,
}

/// Joins a service's base path and a route's path the way Fiber groups do.
pub fn join_paths(base: &str, path: &str) -> String {
    let base = base.trim_end_matches('/');
    if base.is_empty() { path.to_owned() } else { format!("{base}{path}") }
}

fn route_plan(document: &Document) -> Vec<Planned<'_>> {
    let globals: Vec<String> = document.global_middlewares.iter().map(|r| r.name.clone()).collect();
    let methods = |route: &RouteDef| -> Vec<String> {
        let mut m: Vec<String> = route.methods.iter().map(|r| r.name.clone()).collect();
        if m.iter().any(|m| m == "ALL") {
            m.clear();
        }
        m.sort();
        m.dedup();
        m
    };
    let mut plan = Vec::new();
    match &document.services {
        None => {
            for route in document.routes.values() {
                let mut chain = globals.clone();
                chain.extend(route.middlewares.iter().map(|r| r.name.clone()));
                plan.push(Planned {
                    route: &route.name,
                    route_def: route,
                    service: None,
                    path: route.gateway_path.name.clone(),
                    methods: methods(route),
                    middlewares: chain,
                    action: route.action.name.clone(),
                });
            }
        }
        Some(services) => {
            for service in services.values() {
                for r in &service.routes {
                    let Some(route) = document.routes.get(&r.name) else { continue };
                    let mut chain = globals.clone();
                    chain.extend(service.middlewares.iter().map(|r| r.name.clone()));
                    chain.extend(route.middlewares.iter().map(|r| r.name.clone()));
                    let base = service.gateway_base_path.as_ref().map(|b| b.name.as_str()).unwrap_or("");
                    plan.push(Planned {
                        route: &route.name,
                        route_def: route,
                        service: Some(&service.name),
                        path: join_paths(base, &route.gateway_path.name),
                        methods: methods(route),
                        middlewares: chain,
                        action: route.action.name.clone(),
                    });
                }
            }
        }
    }
    plan.sort_by(|a, b| a.path.cmp(&b.path).then(a.route.cmp(b.route)).then(a.service.cmp(&b.service)));
    plan
}

/// The shape of a path for conflict checks: parameter names do not matter.
fn path_shape(path: &str) -> String {
    let trimmed = if path.len() > 1 { path.trim_end_matches('/') } else { path };
    trimmed.split('/').map(|seg| if seg.starts_with(':') { ":" } else { seg }).collect::<Vec<_>>().join("/")
}

fn check_conflicts(plan: &[Planned<'_>], diags: &mut Vec<Diagnostic>) {
    let mut seen: BTreeMap<String, Vec<&Planned<'_>>> = BTreeMap::new();
    for p in plan {
        let shape = path_shape(&p.path);
        let others = seen.entry(shape).or_default();
        for other in others.iter() {
            let overlap =
                p.methods.is_empty() || other.methods.is_empty() || p.methods.iter().any(|m| other.methods.contains(m));
            if overlap {
                let describe = |x: &Planned<'_>| match x.service {
                    Some(s) => format!("route `{}` (service `{s}`)", x.route),
                    None => format!("route `{}`", x.route),
                };
                diags.push(
                    Diagnostic::error(format!(
                        "{} and {} both claim `{}` for the same method",
                        describe(other),
                        describe(p),
                        p.path
                    ))
                    .at(&p.route_def.gateway_path.loc)
                    .related(format!("{} is defined here", describe(other)), &other.route_def.gateway_path.loc),
                );
                break;
            }
        }
        others.push(p);
    }
}
