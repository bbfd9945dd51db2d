//! Matching a request's method and path to a served route (Seam/Fiber path syntax on matchit).

use std::collections::HashMap;
use std::sync::Arc;

use http::Method;
use seam_config::resolver::{ServedRoute, WILDCARD, normalize};
use seam_core::extensions::PathParams;
use seam_core::pipeline::Pipeline;

/// One served route.
pub struct RouteEntry {
    /// The route's name.
    pub name: Arc<str>,
    /// The service it is served through.
    pub service: Option<Arc<str>>,
    /// Its full gateway path as written (`/api/users/:id`).
    pub pattern: Arc<str>,
    /// Its chain.
    pub pipeline: Pipeline,
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
    pub fn build(routes: &[ServedRoute]) -> Result<Router, String> {
        let mut router = Router { matcher: matchit::Router::new(), paths: Vec::new(), routes: Vec::new() };
        let mut by_pattern: HashMap<String, usize> = HashMap::new();
        let mut owner: HashMap<String, usize> = HashMap::new();
        for served in routes {
            let index = router.routes.len();
            router.routes.push(RouteEntry {
                name: served.route.as_str().into(),
                service: served.service.as_deref().map(Into::into),
                pattern: served.path.as_str().into(),
                pipeline: served.pipeline.clone(),
            });
            let methods: Vec<Option<Method>> = if served.methods.is_empty() {
                vec![None]
            } else {
                served.methods.iter().map(|m| Method::from_bytes(m.as_bytes()).ok()).collect()
            };
            for seam_config::resolver::Pattern { matchit: pattern, weak } in served.patterns.iter().cloned() {
                let slot = match by_pattern.get(&pattern) {
                    Some(&slot) => slot,
                    None => {
                        let slot = router.paths.len();
                        router.matcher.insert(pattern.clone(), slot).map_err(|e| {
                            let other = match &e {
                                matchit::InsertError::Conflict { with } => owner
                                    .get(with)
                                    .map(|&r| {
                                        format!("route `{}` (`{}`)", router.routes[r].name, router.routes[r].pattern)
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
                    router.paths[slot].push(Claim { method: method.clone(), route: index, weak });
                }
            }
        }
        Ok(router)
    }

    /// The route for `method` and `path`.
    pub fn lookup(&self, method: &Method, path: &str) -> Lookup<'_> {
        let Ok(matched) = self.matcher.at(normalize(path)) else { return Lookup::NotFound };
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
                    .map(|(k, v)| (if k == WILDCARD { "*".to_owned() } else { k.to_owned() }, v.to_owned()))
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
