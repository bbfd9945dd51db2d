//! From a [`Document`] to built components and a route plan, every problem reported at once.
//!
//! [`resolve`] reads top to bottom: the registry's own problems, `plugins:`, each component's
//! config, the references between sections, the route plan, `server:`; then it builds the
//! storages (each once), the middlewares and actions, pings the storages, and links each
//! planned route to its chain. With problems found before building, it still builds what
//! parsed, offline, so problems that only a build finds arrive in the same run.

mod components;
mod durations;
mod plugins;
mod references;
mod routes;
mod schema_walk;
mod storages;
mod underscores;

use std::collections::BTreeMap;
use std::sync::Arc;

use seam_core::pipeline::Pipeline;
use seam_core::registration;
use seam_core::{Action, BuildContext, Kind, Middleware, Storage};

use self::components::{ParsedComponent, place_all};
use self::plugins::Plugins;
pub use self::plugins::config_keys;
pub use self::routes::{Pattern, WILDCARD, join_paths, normalize, translate, translate_with};
use self::storages::Storages;
use crate::diagnostic::Diagnostic;
use crate::document::model::Document;
use crate::document::server::{ServerConfig, ServerPlan};

/// How to resolve.
#[derive(Clone, Copy, Debug, Default)]
pub struct Options {
    /// Build without contacting any server, and skip the storages' PING.
    pub offline: bool,
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
    /// Its component and whole config; a reload keeps the instance while this is unchanged.
    pub fingerprint: String,
}

/// One route as it is served: a route, possibly through a service.
#[derive(Clone)]
pub struct ServedRoute {
    /// The route's name.
    pub route: String,
    /// The service it is served through, if the document has services.
    pub service: Option<String>,
    /// The full gateway path as written (base path joined).
    pub path: String,
    /// The matchit patterns it claims (checked: they insert without conflict).
    pub patterns: Vec<Pattern>,
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
    /// What `server:` needs at run time, checked: parsed proxies, TLS certificates.
    pub server_plan: ServerPlan,
    /// Storages by name.
    pub storages: BTreeMap<String, BuiltStorage>,
    /// `globalMiddlewares`, built, in order: they run on every routed request (in each
    /// route's chain) and also on requests no route serves.
    pub globals: Vec<Arc<dyn Middleware>>,
    /// Middlewares by name, with the component they use.
    pub middlewares: BTreeMap<String, (&'static str, Arc<dyn Middleware>)>,
    /// Actions by name, with the component they use.
    pub actions: BTreeMap<String, (&'static str, Arc<dyn Action>)>,
    /// Served routes, sorted by path then route name.
    pub routes: Vec<ServedRoute>,
    /// The private default storages (in-process memory) of components without a `storage`,
    /// by component ("middleware `Sessions`"); a reload hands them to the new components.
    pub defaults: BTreeMap<String, Arc<dyn Storage>>,
    /// Warnings (the document works, but maybe not as meant).
    pub warnings: Vec<Diagnostic>,
}

impl Gateway {
    /// Stops every component: middlewares and actions flush what they buffer (each within
    /// `bound`), then storages close their connections. Returns what went wrong, one line
    /// each.
    pub async fn close(&self, bound: std::time::Duration) -> Vec<String> {
        let mut problems = Vec::new();
        let handlers = self.middlewares.iter().map(|(name, (_, m))| (name, Closing::Middleware(m.clone())));
        let actions = self.actions.iter().map(|(name, (_, a))| (name, Closing::Action(a.clone())));
        for (name, closing) in handlers.chain(actions) {
            let close = async {
                match closing {
                    Closing::Middleware(m) => m.close().await,
                    Closing::Action(a) => a.close().await,
                }
            };
            if tokio::time::timeout(bound, close).await.is_err() {
                problems.push(format!("closing `{name}` took longer than {bound:?}; given up"));
            }
        }
        for (name, storage) in &self.storages {
            if let Err(e) = storage.instance.close().await {
                problems.push(format!("closing storage `{name}` failed: {e}"));
            }
        }
        for (who, storage) in &self.defaults {
            if let Err(e) = storage.close().await {
                problems.push(format!("closing the default storage of {who} failed: {e}"));
            }
        }
        problems
    }
}

enum Closing {
    Middleware(Arc<dyn Middleware>),
    Action(Arc<dyn Action>),
}

fn has_errors(diags: &[Diagnostic]) -> bool {
    diags.iter().any(Diagnostic::is_error)
}

/// Validates `document`, builds every component, and links routes to their chains.
/// Returns every error found (and the warnings) when it cannot.
pub async fn resolve(document: &Document, options: Options) -> Result<Gateway, Vec<Diagnostic>> {
    build(document, options, &BTreeMap::new(), &BTreeMap::new()).await
}

/// Like [`resolve`], for a reload of the running graph `previous`: its storages whose
/// component and config are unchanged are kept (with their connections and local caches),
/// and so are the private default storages of its components (sessions, counters).
pub async fn resolve_reusing(
    document: &Document,
    options: Options,
    previous: &Gateway,
) -> Result<Gateway, Vec<Diagnostic>> {
    build(document, options, &previous.storages, &previous.defaults).await
}

async fn build(
    document: &Document,
    options: Options,
    previous: &BTreeMap<String, BuiltStorage>,
    previous_defaults: &BTreeMap<String, Arc<dyn Storage>>,
) -> Result<Gateway, Vec<Diagnostic>> {
    let mut diags: Vec<Diagnostic> = registration::duplicates().into_iter().map(Diagnostic::error).collect();
    let plugins = Plugins::check(document, &mut diags);
    let defs = Kind::ALL.into_iter().flat_map(|k| document.components(k).values());
    let underscores = document.server.underscores_in_headers;
    let parsed = components::parse_all(defs, &plugins, underscores, &mut diags);
    references::check_all(document, &mut diags);
    let plan = routes::plan(document, &mut diags);
    let server_plan = document.server.plan(document.server_node.as_ref(), &mut diags);
    diags.extend(underscores::underscored_proxy_header(&document.server, document.server_node.as_ref()));

    let offline = options.offline || has_errors(&diags);
    let storages = Storages::new(document, parsed.storages, offline).reusing(previous, previous_defaults);
    let built_storages = storages.build_all().await;
    let middlewares = build_each(parsed.middlewares, Kind::Middleware, &storages, offline, &mut diags).await;
    let actions = build_each(parsed.actions, Kind::Action, &storages, offline, &mut diags).await;
    diags.extend(storages.take_diagnostics());
    let users = storages.users();
    let defaults = storages.defaults();
    let storages: BTreeMap<String, BuiltStorage> = built_storages
        .into_iter()
        .map(|(name, (instance, component, fingerprint))| {
            let users = users.get(&name).cloned().unwrap_or_default();
            (name, BuiltStorage { component, instance, users, fingerprint })
        })
        .collect();

    let server_plan = match server_plan {
        Some(plan) if !has_errors(&diags) => plan,
        _ => {
            close_all(&storages).await;
            return Err(diags);
        }
    };
    if !options.offline {
        ping_all(document, &storages, &mut diags).await;
    }
    warn_unused(document, &storages, &mut diags);
    if has_errors(&diags) {
        close_all(&storages).await;
        return Err(diags);
    }
    let Some(routes) = plan.into_iter().map(|p| link(p, &middlewares, &actions)).collect() else {
        diags.push(Diagnostic::error("a route's middleware or action was not built, and no problem says why"));
        close_all(&storages).await;
        return Err(diags);
    };
    let globals = document
        .global_middlewares
        .iter()
        .filter_map(|reference| middlewares.get(&reference.name).map(|(_, m)| m.clone()))
        .collect();
    Ok(Gateway {
        server: document.server.clone(),
        server_plan,
        storages,
        globals,
        middlewares,
        actions,
        routes,
        defaults,
        warnings: diags,
    })
}

/// Builds each parsed middleware or action; those with problems are built only to find
/// more, and are left out.
async fn build_each<T: ?Sized>(
    parsed: Vec<ParsedComponent<'_, T>>,
    kind: Kind,
    storages: &Storages<'_>,
    offline: bool,
    diags: &mut Vec<Diagnostic>,
) -> BTreeMap<String, (&'static str, Arc<T>)> {
    let mut out = BTreeMap::new();
    for p in parsed {
        let Some(config) = &p.config else { continue };
        let cx = BuildContext::new(&p.def.name, kind, offline || p.broken, storages);
        match config.build(&cx).await {
            Ok(built) if !p.broken => {
                out.insert(p.def.name.clone(), (p.registration.name, built));
            }
            Ok(_) => {}
            Err(e) => diags.extend(place_all(&p, e.problems())),
        }
    }
    out
}

async fn close_all(storages: &BTreeMap<String, BuiltStorage>) {
    for storage in storages.values() {
        let _ = storage.instance.close().await;
    }
}

async fn ping_all(document: &Document, storages: &BTreeMap<String, BuiltStorage>, diags: &mut Vec<Diagnostic>) {
    for (name, storage) in storages {
        if let Err(e) = storage.instance.ping().await {
            let def = &document.storages[name];
            diags.push(
                Diagnostic::error(format!("storage `{name}` does not answer: {e}")).at(&def.name_loc).path(def.path()),
            );
        }
    }
}

fn warn_unused(document: &Document, storages: &BTreeMap<String, BuiltStorage>, diags: &mut Vec<Diagnostic>) {
    for (name, storage) in storages.iter().filter(|(_, s)| s.users.is_empty()) {
        let _ = storage;
        let def = &document.storages[name];
        diags.push(
            Diagnostic::warning(format!("storage `{name}` is defined but no component uses it"))
                .at(&def.name_loc)
                .path(def.path()),
        );
    }
}

/// A planned route with its chain of built middlewares and action; `None` when one of them
/// was not built (its problem is already reported).
fn link(
    planned: routes::PlannedRoute<'_>,
    middlewares: &BTreeMap<String, (&'static str, Arc<dyn Middleware>)>,
    actions: &BTreeMap<String, (&'static str, Arc<dyn Action>)>,
) -> Option<ServedRoute> {
    let chain = planned.middlewares.iter().map(|name| middlewares.get(name).map(|(_, m)| m.clone()));
    let chain = chain.collect::<Option<Vec<_>>>()?;
    let action = &planned.def.action.name;
    let (_, built_action) = actions.get(action)?;
    Some(ServedRoute {
        route: planned.def.name.clone(),
        service: planned.service.map(str::to_owned),
        path: planned.path,
        patterns: planned.patterns,
        methods: planned.methods,
        middlewares: planned.middlewares,
        action: action.clone(),
        pipeline: Pipeline::new(chain, built_action.clone()),
    })
}
