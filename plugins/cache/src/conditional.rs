//! Validators (RFC 9110 §8.8, §13.1) and stored-header updates (RFC 9111 §3.2, §4.3.4).

use http::header::{CONTENT_ENCODING, CONTENT_LENGTH, CONTENT_RANGE, CONTENT_TYPE, ETAG, LAST_MODIFIED};
use http::{HeaderMap, HeaderName, HeaderValue};

use crate::freshness::http_date;

/// An entity tag: whether it is weak, and its opaque part (quotes included).
fn entity_tag(text: &str) -> Option<(bool, &str)> {
    let text = text.trim();
    let (weak, opaque) = match text.strip_prefix("W/") {
        Some(rest) => (true, rest),
        None => (false, text),
    };
    (opaque.len() >= 2 && opaque.starts_with('"') && opaque.ends_with('"')).then_some((weak, opaque))
}

/// Weak comparison (RFC 9110 §8.8.3.2): the opaque parts are equal, weak or not.
pub fn weak_match(a: &str, b: &str) -> bool {
    matches!((entity_tag(a), entity_tag(b)), (Some((_, x)), Some((_, y))) if x == y)
}

/// Whether a client's conditional GET/HEAD is answered `304` by the stored response's
/// validators (RFC 9110 §13.1.2, §13.1.3, §13.2.2): `If-None-Match` (weak comparison, `*`
/// matches any), else `If-Modified-Since` against `Last-Modified`.
pub fn not_modified(request: &HeaderMap, stored: &HeaderMap) -> bool {
    let inm: Vec<&str> = request
        .get_all(http::header::IF_NONE_MATCH)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .map(str::trim)
        .filter(|v| !v.is_empty())
        .collect();
    if !inm.is_empty() {
        let Some(etag) = stored.get(ETAG).and_then(|v| v.to_str().ok()) else { return inm.contains(&"*") };
        return inm.iter().any(|tag| *tag == "*" || weak_match(tag, etag));
    }
    match (http_date(request, &http::header::IF_MODIFIED_SINCE), http_date(stored, &LAST_MODIFIED)) {
        (Some(since), Some(modified)) => modified <= since,
        _ => false,
    }
}

/// The validators of a stored response as conditional request headers (RFC 9111 §4.3.1):
/// `If-None-Match` from `ETag`, `If-Modified-Since` from `Last-Modified`; empty when it has
/// none.
pub fn conditional_headers(stored: &HeaderMap) -> Vec<(HeaderName, HeaderValue)> {
    let mut out = Vec::new();
    if let Some(etag) = stored.get(ETAG) {
        out.push((http::header::IF_NONE_MATCH, etag.clone()));
    }
    if let Some(modified) = stored.get(LAST_MODIFIED) {
        out.push((http::header::IF_MODIFIED_SINCE, modified.clone()));
    }
    out
}

/// The stored headers updated with a `304`'s (RFC 9111 §3.2, §4.3.4): every field the 304
/// carries replaces the stored one, except those that describe the stored content.
pub fn updated(stored: &HeaderMap, not_modified: &HeaderMap) -> HeaderMap {
    let kept = [CONTENT_LENGTH, CONTENT_ENCODING, CONTENT_TYPE, CONTENT_RANGE];
    let mut out = stored.clone();
    for name in not_modified.keys().filter(|n| !kept.contains(n)) {
        out.remove(name);
        for value in not_modified.get_all(name) {
            out.append(name.clone(), value.clone());
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn h(pairs: &[(&str, &str)]) -> HeaderMap {
        let mut m = HeaderMap::new();
        for (k, v) in pairs {
            m.append(HeaderName::from_bytes(k.as_bytes()).unwrap(), v.parse().unwrap());
        }
        m
    }

    /// Strong comparison (RFC 9110 §8.8.3.2), beside the weak one the cache uses.
    fn strong_match(a: &str, b: &str) -> bool {
        matches!((entity_tag(a), entity_tag(b)), (Some((false, x)), Some((false, y))) if x == y)
    }

    #[test]
    fn rfc9110_8_8_3_2_weak_and_strong_comparison() {
        for (a, b, strong, weak) in [
            (r#"W/"1""#, r#"W/"1""#, false, true),
            (r#"W/"1""#, r#""1""#, false, true),
            (r#"W/"1""#, r#"W/"2""#, false, false),
            (r#""1""#, r#""1""#, true, true),
        ] {
            assert_eq!((strong_match(a, b), weak_match(a, b)), (strong, weak), "{a} vs {b}");
        }
        assert!(!weak_match("1", "1"), "an unquoted tag is not a tag");
    }

    #[test]
    fn rfc9110_13_1_client_conditionals_against_a_stored_response() {
        let stored = h(&[("etag", r#""v2""#), ("last-modified", "Sun, 06 Nov 1994 08:49:37 GMT")]);
        assert!(not_modified(&h(&[("if-none-match", r#"W/"v1", "v2""#)]), &stored));
        assert!(not_modified(&h(&[("if-none-match", "*")]), &stored));
        assert!(!not_modified(&h(&[("if-none-match", r#""v1""#)]), &stored));
        // If-Modified-Since counts only without If-None-Match (§13.1.3).
        assert!(not_modified(&h(&[("if-modified-since", "Sun, 06 Nov 1994 08:49:37 GMT")]), &stored));
        assert!(!not_modified(&h(&[("if-modified-since", "Sat, 05 Nov 1994 08:49:37 GMT")]), &stored));
        assert!(!not_modified(
            &h(&[("if-none-match", r#""v1""#), ("if-modified-since", "Sun, 06 Nov 1994 08:49:37 GMT")]),
            &stored
        ));
    }

    #[test]
    fn rfc9111_3_2_a_304_updates_the_stored_headers_but_not_the_content_ones() {
        let stored = h(&[("etag", r#""v1""#), ("content-type", "text/plain"), ("content-length", "5"), ("x-a", "old")]);
        let fresh =
            h(&[("etag", r#""v1""#), ("cache-control", "max-age=60"), ("content-type", "text/html"), ("x-a", "new")]);
        let merged = updated(&stored, &fresh);
        assert_eq!(merged["x-a"], "new");
        assert_eq!(merged["cache-control"], "max-age=60");
        assert_eq!(merged["content-type"], "text/plain", "content metadata stays");
        assert_eq!(merged["content-length"], "5");
    }
}
