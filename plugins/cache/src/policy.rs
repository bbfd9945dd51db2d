//! What may be stored, and for how long.

use std::time::Duration;

use http::{HeaderMap, StatusCode};

/// Statuses that are stored (the cacheable-by-default ones of RFC 9110 that a gateway sees).
pub fn cacheable_status(status: StatusCode) -> bool {
    matches!(status.as_u16(), 200 | 203 | 204 | 301 | 404 | 410)
}

/// The TTL for a response, or `None` when it must not be stored: `Cache-Control: no-store`,
/// `private` or `no-cache`, or a `Set-Cookie`. `max-age` / `s-maxage` shorten `default`.
pub fn ttl(headers: &HeaderMap, default: Duration) -> Option<Duration> {
    if headers.contains_key(http::header::SET_COOKIE) {
        return None;
    }
    let mut ttl = default;
    for value in headers.get_all(http::header::CACHE_CONTROL) {
        let Ok(text) = value.to_str() else { return None };
        for directive in text.split(',').map(|d| d.trim().to_ascii_lowercase()) {
            let (name, arg) = directive
                .split_once('=')
                .map(|(n, a)| (n.trim().to_owned(), Some(a.trim().trim_matches('"').to_owned())))
                .unwrap_or((directive.clone(), None));
            match name.as_str() {
                "no-store" | "private" | "no-cache" => return None,
                "max-age" | "s-maxage" => {
                    let secs: u64 = arg.as_deref().and_then(|a| a.parse().ok())?;
                    ttl = ttl.min(Duration::from_secs(secs));
                }
                _ => {}
            }
        }
    }
    (!ttl.is_zero()).then_some(ttl)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn h(cc: &str) -> HeaderMap {
        let mut m = HeaderMap::new();
        m.insert(http::header::CACHE_CONTROL, cc.parse().unwrap());
        m
    }

    #[test]
    fn cache_control() {
        let d = Duration::from_secs(60);
        assert_eq!(ttl(&HeaderMap::new(), d), Some(d));
        assert_eq!(ttl(&h("public, max-age=10"), d), Some(Duration::from_secs(10)));
        assert_eq!(ttl(&h("s-maxage=600"), d), Some(d), "never longer than expiration");
        assert_eq!(ttl(&h("no-store"), d), None);
        assert_eq!(ttl(&h("Private"), d), None);
        assert_eq!(ttl(&h("no-cache"), d), None);
        assert_eq!(ttl(&h("max-age=0"), d), None);
        let mut cookie = HeaderMap::new();
        cookie.insert(http::header::SET_COOKIE, "a=b".parse().unwrap());
        assert_eq!(ttl(&cookie, d), None);
    }
}
