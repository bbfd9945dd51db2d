//! Matching a request's method and path to a served route (Seam/Fiber path syntax on matchit).

use std::collections::HashMap;
use std::sync::Arc;

use http::Method;
use seam_config::resolver::{ServedRoute, WILDCARD, normalize};
use seam_core::extensions::{MatchedRoute, PathParams};
use seam_core::per_thread::PerThread;
use seam_core::pipeline::Pipeline;

/// One served route.
pub struct RouteEntry {
    /// Its chain.
    pub pipeline: Pipeline,
    /// Its name, service and gateway path as written (`/api/users/:id`): what requests it
    /// serves carry as [`MatchedRoute`], a copy per worker thread.
    pub matched: PerThread<MatchedRoute>,
    /// Its request counters and duration histogram.
    pub metrics: seam_core::metrics::RequestMetrics,
}

struct Claim {
    /// `None`: every method.
    method: Option<Method>,
    route: usize,
    /// A `*` route claiming its base path (`/api` for `/api/*`) yields to an exact route.
    weak: bool,
}

/// The routing table.
pub struct Router {
    matcher: matchit::Router<usize>,
    paths: Vec<Vec<Claim>>,
    routes: Vec<RouteEntry>,
    /// `server.caseSensitive`; when false, patterns are kept in lower case and paths are
    /// matched lower-cased (parameter values keep the case they were sent in).
    case_sensitive: bool,
    /// `server.strictRouting`: a trailing slash is part of the path.
    strict: bool,
}

/// A matchit pattern with its static text in lower case (parameter names untouched).
fn lower_static(pattern: &str) -> String {
    let mut out = String::with_capacity(pattern.len());
    let mut chars = pattern.chars().peekable();
    let mut in_param = false;
    while let Some(c) = chars.next() {
        match c {
            '{' if !in_param && chars.peek() == Some(&'{') => {
                out.push_str("{{");
                chars.next();
            }
            '}' if !in_param && chars.peek() == Some(&'}') => {
                out.push_str("}}");
                chars.next();
            }
            '{' => {
                in_param = true;
                out.push(c);
            }
            '}' => {
                in_param = false;
                out.push(c);
            }
            c if in_param => out.push(c),
            c => out.push(c.to_ascii_lowercase()),
        }
    }
    out
}

/// What a lookup found.
pub enum Lookup<'a> {
    /// A route, with the values of its parameters.
    Found(&'a RouteEntry, PathParams),
    /// The path exists for other methods (for `Allow`).
    MethodNotAllowed(String),
    /// No route has this path.
    NotFound,
}

impl Router {
    /// The table of `routes`, from the resolver's route plan (which already refused every
    /// path that cannot be served, with its position); an insertion failure here would be a
    /// bug in the plan, and is still an error, never a panic.
    pub fn build(routes: &[ServedRoute], case_sensitive: bool, strict: bool) -> Result<Router, String> {
        let mut router =
            Router { matcher: matchit::Router::new(), paths: Vec::new(), routes: Vec::new(), case_sensitive, strict };
        let mut by_pattern: HashMap<String, usize> = HashMap::new();
        let mut owner: HashMap<String, usize> = HashMap::new();
        for served in routes {
            let index = router.routes.len();
            router.routes.push(RouteEntry {
                pipeline: served.pipeline.clone(),
                matched: PerThread::new(
                    MatchedRoute {
                        name: served.route.as_str().into(),
                        service: served.service.as_deref().map(Into::into),
                        pattern: served.path.as_str().into(),
                    },
                    |m| MatchedRoute {
                        name: Arc::from(&*m.name),
                        service: m.service.as_deref().map(Arc::from),
                        pattern: Arc::from(&*m.pattern),
                    },
                ),
                metrics: seam_core::metrics::RequestMetrics::new(&served.route, served.service.as_deref()),
            });
            let methods: Vec<Option<Method>> = if served.methods.is_empty() {
                vec![None]
            } else {
                served.methods.iter().map(|m| Method::from_bytes(m.as_bytes()).ok()).collect()
            };
            for seam_config::resolver::Pattern { matchit: pattern, weak } in served.patterns.iter().cloned() {
                let pattern = if case_sensitive { pattern } else { lower_static(&pattern) };
                let slot = match by_pattern.get(&pattern) {
                    Some(&slot) => slot,
                    None => {
                        let slot = router.paths.len();
                        router.matcher.insert(pattern.clone(), slot).map_err(|e| {
                            let other = match &e {
                                matchit::InsertError::Conflict { with } => owner
                                    .get(with)
                                    .map(|&r| {
                                        let route = router.routes[r].matched.original();
                                        format!("route `{}` (`{}`)", route.name, route.pattern)
                                    })
                                    .unwrap_or_else(|| format!("`{with}`")),
                                _ => String::new(),
                            };
                            format!("route `{}` (`{}`) cannot be served: {e} {other}", served.route, served.path)
                        })?;
                        router.paths.push(Vec::new());
                        by_pattern.insert(pattern.clone(), slot);
                        owner.insert(pattern.clone(), index);
                        slot
                    }
                };
                for method in &methods {
                    let taken = router.paths[slot].iter().find(|c| {
                        !c.weak
                            && !weak
                            && c.route != index
                            && (c.method.is_none() || method.is_none() || c.method == *method)
                    });
                    if let Some(other) = taken {
                        let other = router.routes[other.route].matched.original();
                        return Err(format!(
                            "routes `{}` (`{}`) and `{}` (`{}`) differ only in letter case; with server.caseSensitive false (Seam's default) they are one path",
                            other.name, other.pattern, served.route, served.path
                        ));
                    }
                    router.paths[slot].push(Claim { method: method.clone(), route: index, weak });
                }
            }
        }
        Ok(router)
    }

    /// The route for `method` and `path`.
    pub fn lookup(&self, method: &Method, path: &str) -> Lookup<'_> {
        let original = if self.strict { path } else { normalize(path) };
        let lowered;
        let key = if self.case_sensitive || !original.bytes().any(|b| b.is_ascii_uppercase()) {
            original
        } else {
            lowered = original.to_ascii_lowercase();
            lowered.as_str()
        };
        let Ok(matched) = self.matcher.at(key) else { return Lookup::NotFound };
        // A parameter's value as sent: the same bytes of the original path (lower-casing
        // ASCII keeps every offset).
        let as_sent = |value: &str| {
            let start = value.as_ptr() as usize - key.as_ptr() as usize;
            original.get(start..start + value.len()).unwrap_or(value).to_owned()
        };
        let claims = &self.paths[*matched.value];
        let pick = |m: &Method| {
            let fits = |c: &&Claim| c.method.as_ref().is_none_or(|cm| cm == m);
            claims.iter().filter(fits).find(|c| !c.weak).or_else(|| claims.iter().find(|c| fits(c)))
        };
        let claim = pick(method).or_else(|| if method == Method::HEAD { pick(&Method::GET) } else { None });
        match claim {
            Some(claim) => {
                let params = matched
                    .params
                    .iter()
                    .map(|(k, v)| (if k == WILDCARD { "*".to_owned() } else { k.to_owned() }, as_sent(v)))
                    .chain(claim.weak.then(|| ("*".to_owned(), String::new())))
                    .collect();
                Lookup::Found(&self.routes[claim.route], PathParams(params))
            }
            None => {
                let mut allow: Vec<&str> = Vec::new();
                allow.extend(claims.iter().filter_map(|c| c.method.as_ref().map(Method::as_str)));
                if allow.contains(&"GET") {
                    allow.push("HEAD");
                }
                allow.sort_unstable();
                allow.dedup();
                Lookup::MethodNotAllowed(allow.join(", "))
            }
        }
    }

    /// How many routes it serves.
    pub fn route_count(&self) -> usize {
        self.routes.len()
    }
}
