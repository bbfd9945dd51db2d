//! Matching a request's method and path to a served route (Seam/Fiber path syntax on matchit).

use std::collections::HashMap;
use std::sync::Arc;

use http::Method;
use seam_registry::extensions::PathParams;
use seam_registry::pipeline::Pipeline;
use seam_registry::resolver::ServedRoute;

/// The name under which matchit captures a route's `*`.
const WILDCARD: &str = "seam_wildcard";

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

/// Without trailing slash (Fiber's non-strict routing), except the root.
fn normalize(path: &str) -> &str {
    let trimmed = path.trim_end_matches('/');
    if trimmed.is_empty() { "/" } else { trimmed }
}

/// Fiber's `/users/:id` and `/files/*` as matchit patterns; a trailing `*` also claims its
/// base path (weakly), because in Fiber `*` may match nothing.
fn translate(path: &str) -> Result<Vec<(String, bool)>, String> {
    let normalized = normalize(path);
    let mut out = String::new();
    let segments: Vec<&str> = normalized.split('/').skip(1).collect();
    let mut wildcard = false;
    for (i, segment) in segments.iter().enumerate() {
        out.push('/');
        if *segment == "*" {
            if i + 1 != segments.len() {
                return Err(format!("`{path}`: `*` is only supported as the last segment"));
            }
            wildcard = true;
            out.push_str(&format!("{{*{WILDCARD}}}"));
        } else if let Some(name) = segment.strip_prefix(':') {
            if name.is_empty() || !name.chars().all(|c| c.is_alphanumeric() || c == '_' || c == '-') {
                return Err(format!("`{path}`: `:{name}` is not a parameter seam supports (a whole segment `:name`)"));
            }
            out.push_str(&format!("{{{name}}}"));
        } else if segment.contains('*') || segment.contains(':') {
            return Err(format!(
                "`{path}`: `{segment}` mixes text and a parameter; use a whole segment `:name` or `*`"
            ));
        } else {
            out.push_str(&segment.replace('{', "{{").replace('}', "}}"));
        }
    }
    if out.is_empty() {
        out.push('/');
    }
    let mut patterns = vec![(out.clone(), false)];
    if wildcard {
        let base = out.trim_end_matches(&format!("/{{*{WILDCARD}}}")).to_owned();
        patterns.push((if base.is_empty() { "/".to_owned() } else { base }, true));
    }
    Ok(patterns)
}

impl Router {
    /// The table of `routes`; overlapping paths that matchit cannot tell apart are an error
    /// naming both routes.
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
            for (pattern, weak) in translate(&served.path)? {
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

#[cfg(test)]
mod tests {
    use super::translate;

    #[test]
    fn fiber_paths_translate() {
        assert_eq!(translate("/users/:id").unwrap(), [("/users/{id}".to_owned(), false)]);
        assert_eq!(
            translate("/api/*").unwrap(),
            [("/api/{*seam_wildcard}".to_owned(), false), ("/api".to_owned(), true)]
        );
        assert_eq!(translate("/*").unwrap(), [("/{*seam_wildcard}".to_owned(), false), ("/".to_owned(), true)]);
        assert_eq!(translate("/a/").unwrap(), [("/a".to_owned(), false)]);
        assert!(translate("/a/*/b").is_err());
        assert!(translate("/img-:id").is_err());
    }
}
