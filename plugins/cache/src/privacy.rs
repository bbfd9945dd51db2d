//! Which requests and responses a shared cache may serve and store, so that it never answers
//! one user with another user's response (Varnish's built-in rules, RFC 9111 §3.5 and §4.1).

use http::header::{AUTHORIZATION, CACHE_CONTROL, COOKIE, SET_COOKIE, VARY};
use http::{HeaderMap, HeaderName};
use seam_core::extensions::{PerClient, SessionHeaders};
use seam_core::{Request, Response};

/// What a request's credentials allow.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Access {
    /// No credential, or one that is part of the key: served and stored normally.
    Shared,
    /// `Authorization` that is not part of the key: only entries stored `public` are served,
    /// and only `public` responses are stored.
    PublicOnly,
    /// A `Cookie` that is not part of the key: neither served from nor stored in the cache.
    Bypass,
}

/// What `req`'s credentials allow, given the headers that are part of the key and whether
/// `cacheAuthorized` is set.
pub fn access(req: &Request, key_headers: &[HeaderName], cache_authorized: bool) -> Access {
    let keyed = |name: &HeaderName| key_headers.contains(name);
    if req.headers().contains_key(COOKIE) && !keyed(&COOKIE) {
        Access::Bypass
    } else if req.headers().contains_key(AUTHORIZATION) && !keyed(&AUTHORIZATION) && !cache_authorized {
        Access::PublicOnly
    } else {
        Access::Shared
    }
}

/// Whether `Cache-Control` says `public`.
pub fn is_public(headers: &HeaderMap) -> bool {
    headers
        .get_all(CACHE_CONTROL)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .any(|d| d.trim().eq_ignore_ascii_case("public"))
}

/// The request headers named by the response's `Vary`, lower-case and sorted; `None` for
/// `Vary: *` (never stored).
pub fn vary_names(headers: &HeaderMap) -> Option<Vec<String>> {
    let mut names = Vec::new();
    for value in headers.get_all(VARY) {
        let text = value.to_str().ok()?;
        for name in text.split(',').map(|n| n.trim().to_ascii_lowercase()).filter(|n| !n.is_empty()) {
            if name == "*" {
                return None;
            }
            names.push(name);
        }
    }
    names.sort();
    names.dedup();
    Some(names)
}

/// The values a request's `headers` have for the `Vary` names (several values joined as they
/// were sent).
pub fn vary_values(headers: &HeaderMap, names: &[String]) -> Vec<(String, Option<String>)> {
    names
        .iter()
        .map(|name| {
            let values: Vec<&str> = headers.get_all(name.as_str()).iter().filter_map(|v| v.to_str().ok()).collect();
            (name.clone(), (!values.is_empty()).then(|| values.join(", ")))
        })
        .collect()
}

/// Whether `response` was made for one client: it sets a cookie, carries a session control
/// header (`session` names them when a session middleware runs before the cache), or a
/// session middleware marked it.
pub fn per_client(response: &Response, session: Option<&SessionHeaders>) -> bool {
    let headers = response.headers();
    response.extensions().get::<PerClient>().is_some()
        || headers.contains_key(SET_COOKIE)
        || headers.contains_key("x-session-set")
        || headers.contains_key("x-session-destroy")
        || session.is_some_and(|s| s.0.iter().any(|name| headers.contains_key(name)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn vary() {
        let mut h = HeaderMap::new();
        h.append(VARY, "Accept-Language, cookie".parse().unwrap());
        h.append(VARY, "accept-language".parse().unwrap());
        assert_eq!(vary_names(&h), Some(vec!["accept-language".to_owned(), "cookie".to_owned()]));
        h.append(VARY, "*".parse().unwrap());
        assert_eq!(vary_names(&h), None);
    }
}
