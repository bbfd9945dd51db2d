//! The route plan: every served route with its full path (a service's base path joined),
//! methods, chain, and the matchit patterns its Fiber path becomes. Built once, by the
//! resolver, so `seam check` refuses every path `seam run` would; the host only inserts the
//! patterns into its router.

use std::collections::{HashMap, HashSet};

use crate::diagnostic::{Diagnostic, Loc};
use crate::document::model::{Document, RouteDef};

/// The name under which matchit captures a route's `*`.
pub const WILDCARD: &str = "seam_wildcard";

/// One path pattern a route is served at, in matchit syntax.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Pattern {
    /// `/users/{id}`, `/files/{*seam_wildcard}`.
    pub matchit: String,
    /// A `*` route's claim of its base path (`/api` for `/api/*`, since in Fiber `*` may
    /// match nothing): it yields to an exact route there.
    pub weak: bool,
}

/// One route as it will be served.
pub struct PlannedRoute<'d> {
    /// The route's definition.
    pub def: &'d RouteDef,
    /// The service it is served through, if the document has services.
    pub service: Option<&'d str>,
    /// The full gateway path as written (base path joined).
    pub path: String,
    /// Upper-case methods; empty means every method.
    pub methods: Vec<String>,
    /// Middleware names in the order they run.
    pub middlewares: Vec<String>,
    /// The patterns it claims.
    pub patterns: Vec<Pattern>,
}

impl PlannedRoute<'_> {
    fn describe(&self) -> String {
        match self.service {
            Some(s) => format!("route `{}` (service `{s}`)", self.def.name),
            None => format!("route `{}`", self.def.name),
        }
    }

    fn loc(&self) -> &Loc {
        &self.def.gateway_path.loc
    }
}

/// The plan of `document`'s served routes, sorted by path then route name; paths that cannot
/// be served and routes that claim the same path and method are reported in `diags`.
pub fn plan<'d>(document: &'d Document, diags: &mut Vec<Diagnostic>) -> Vec<PlannedRoute<'d>> {
    let globals = document.global_middlewares.iter().map(|r| r.name.clone());
    let strict = document.server.strict_routing;
    let case_sensitive = document.server.case_sensitive;
    let mut plan = Vec::new();
    let mut add = |route: &'d RouteDef, service: Option<&'d str>, base: &str, service_chain: &[String]| {
        let path = join_paths(base, &route.gateway_path.name);
        let patterns = match translate_with(&path, strict) {
            Ok(patterns) => patterns,
            Err(why) => {
                diags.push(
                    Diagnostic::error(format!("route `{}`: `{path}` cannot be served: {why}", route.name))
                        .at(&route.gateway_path.loc)
                        .path(format!("routes.{}.gatewayPath", route.name))
                        .help("seam serves static segments, whole-segment `:name` parameters and a final `*`"),
                );
                return;
            }
        };
        let middlewares = globals
            .clone()
            .chain(service_chain.iter().cloned())
            .chain(route.middlewares.iter().map(|r| r.name.clone()))
            .collect();
        plan.push(PlannedRoute { def: route, service, path, methods: methods(route), middlewares, patterns });
    };
    match &document.services {
        None => document.routes.values().for_each(|route| add(route, None, "", &[])),
        Some(services) => {
            for service in services.values() {
                let base = service.gateway_base_path.as_ref().map(|b| b.name.as_str()).unwrap_or("");
                let chain: Vec<String> = service.middlewares.iter().map(|r| r.name.clone()).collect();
                for r in &service.routes {
                    if let Some(route) = document.routes.get(&r.name) {
                        add(route, Some(&service.name), base, &chain);
                    }
                }
            }
        }
    }
    plan.sort_by(|a, b| a.path.cmp(&b.path).then(a.def.name.cmp(&b.def.name)).then(a.service.cmp(&b.service)));
    check_conflicts(&plan, Matching { strict, case_sensitive }, diags);
    plan
}

/// Joins a service's base path and a route's path the way Fiber groups do.
pub fn join_paths(base: &str, path: &str) -> String {
    let base = base.trim_end_matches('/');
    if base.is_empty() { path.to_owned() } else { format!("{base}{path}") }
}

fn methods(route: &RouteDef) -> Vec<String> {
    let mut m: Vec<String> = route.methods.iter().map(|r| r.name.clone()).collect();
    if m.iter().any(|m| m == "ALL") {
        m.clear();
    }
    m.sort();
    m.dedup();
    m
}

/// Without trailing slash (Fiber's non-strict routing), except the root.
pub fn normalize(path: &str) -> &str {
    let trimmed = path.trim_end_matches('/');
    if trimmed.is_empty() { "/" } else { trimmed }
}

/// Fiber's `/users/:id` and `/files/*` as matchit patterns; a trailing `*` also claims its
/// base path (weakly), because in Fiber `*` may match nothing.
pub fn translate(path: &str) -> Result<Vec<Pattern>, String> {
    translate_with(path, false)
}

/// Like [`translate`]; with `strict` (`server.strictRouting`), a trailing slash is kept, so
/// `/a` and `/a/` are different routes.
pub fn translate_with(path: &str, strict: bool) -> Result<Vec<Pattern>, String> {
    let normalized = if strict { path } else { normalize(path) };
    let mut out = String::with_capacity(normalized.len() + 16);
    let segments: Vec<&str> = normalized.split('/').skip(1).collect();
    let mut wildcard = false;
    for (i, segment) in segments.iter().enumerate() {
        out.push('/');
        if *segment == "*" {
            if i + 1 != segments.len() {
                return Err("`*` is only supported as the last segment".into());
            }
            wildcard = true;
            out.push_str("{*");
            out.push_str(WILDCARD);
            out.push('}');
        } else if let Some(name) = segment.strip_prefix(':') {
            if name.is_empty() || !name.chars().all(|c| c.is_alphanumeric() || c == '_' || c == '-') {
                return Err(format!("`:{name}` is not a parameter seam supports (a whole segment `:name`)"));
            }
            out.push('{');
            out.push_str(name);
            out.push('}');
        } else if segment.contains('*') || segment.contains(':') {
            return Err(format!("`{segment}` mixes text and a parameter; use a whole segment `:name` or `*`"));
        } else if segment.contains(['{', '}']) {
            out.push_str(&segment.replace('{', "{{").replace('}', "}}"));
        } else {
            out.push_str(segment);
        }
    }
    if out.is_empty() {
        out.push('/');
    }
    let mut patterns = vec![Pattern { matchit: out.clone(), weak: false }];
    if wildcard {
        let base = out.trim_end_matches(&format!("/{{*{WILDCARD}}}")).to_owned();
        patterns.push(Pattern { matchit: if base.is_empty() { "/".to_owned() } else { base }, weak: true });
    }
    Ok(patterns)
}

/// Two routes for the same path and method, and paths the router cannot tell apart.
/// How the host will match paths (`server.strictRouting`, `server.caseSensitive`), so that
/// `check` refuses the paths `run` cannot tell apart.
#[derive(Clone, Copy)]
struct Matching {
    strict: bool,
    case_sensitive: bool,
}

fn check_conflicts(plan: &[PlannedRoute<'_>], matching: Matching, diags: &mut Vec<Diagnostic>) {
    let mut by_shape: HashMap<String, Vec<&PlannedRoute<'_>>> = HashMap::with_capacity(plan.len());
    let mut reported: HashSet<String> = HashSet::new();
    for p in plan {
        let shape = path_shape(&p.path, matching);
        let others = by_shape.entry(shape.clone()).or_default();
        let overlapping = others.iter().find(|other| {
            p.methods.is_empty() || other.methods.is_empty() || p.methods.iter().any(|m| other.methods.contains(m))
        });
        if let Some(other) = overlapping {
            diags.push(
                Diagnostic::error(format!(
                    "{} and {} both claim `{}` for the same method",
                    other.describe(),
                    p.describe(),
                    p.path
                ))
                .at(p.loc())
                .related(format!("{} is defined here", other.describe()), other.loc()),
            );
            reported.insert(shape);
        }
        others.push(p);
    }
    // What the host's router will do with these patterns, done here first (routes already
    // reported above are not reported again).
    let mut router = matchit::Router::new();
    let mut owner: HashMap<&str, &PlannedRoute<'_>> = HashMap::with_capacity(plan.len());
    for p in plan {
        if !reported.is_empty() && reported.contains(&path_shape(&p.path, matching)) {
            continue;
        }
        for pattern in &p.patterns {
            if owner.contains_key(pattern.matchit.as_str()) {
                continue;
            }
            if let Err(e) = router.insert(pattern.matchit.as_str(), ()) {
                let other = match &e {
                    matchit::InsertError::Conflict { with } => owner.get(with.as_str()).copied(),
                    _ => None,
                };
                let mut d =
                    Diagnostic::error(format!("{}: `{}` cannot be served: {e}", p.describe(), p.path)).at(p.loc());
                if let Some(other) = other {
                    d = d.related(format!("it conflicts with {} (`{}`)", other.describe(), other.path), other.loc());
                }
                diags.push(d);
                break;
            }
            owner.insert(pattern.matchit.as_str(), p);
        }
    }
}

/// The shape of a path for conflict checks: parameter names do not matter.
fn path_shape(path: &str, matching: Matching) -> String {
    let trimmed = if path.len() > 1 && !matching.strict { path.trim_end_matches('/') } else { path };
    trimmed
        .split('/')
        .map(|seg| match seg {
            _ if seg.starts_with(':') => ":".to_owned(),
            _ if matching.case_sensitive => seg.to_owned(),
            _ => seg.to_ascii_lowercase(),
        })
        .collect::<Vec<_>>()
        .join("/")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn patterns(path: &str) -> Vec<(String, bool)> {
        translate(path).unwrap().into_iter().map(|p| (p.matchit, p.weak)).collect()
    }

    #[test]
    fn fiber_paths_translate() {
        assert_eq!(patterns("/users/:id"), [("/users/{id}".to_owned(), false)]);
        assert_eq!(patterns("/api/*"), [("/api/{*seam_wildcard}".to_owned(), false), ("/api".to_owned(), true)]);
        assert_eq!(patterns("/*"), [("/{*seam_wildcard}".to_owned(), false), ("/".to_owned(), true)]);
        assert_eq!(patterns("/a/"), [("/a".to_owned(), false)]);
        assert!(translate("/a/*/b").is_err());
        assert!(translate("/img-:id").is_err());
    }
}
