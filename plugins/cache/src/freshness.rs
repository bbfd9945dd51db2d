//! Freshness per RFC 9111 §4.2: the directives of `Cache-Control` (or of a targeted field,
//! RFC 9213), the freshness lifetime, and the current age of a stored response.

use std::time::SystemTime;

use http::{HeaderMap, HeaderName};

/// The greatest delta-seconds a cache keeps (RFC 9111 §1.2.2).
const DELTA_MAX: u64 = 2_147_483_648;

/// The directives of one `Cache-Control`-like field that a shared cache acts on.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Directives {
    /// `no-store` (§5.2.2.5).
    pub no_store: bool,
    /// `no-cache` (§5.2.2.4): stored, but revalidated before every use.
    pub no_cache: bool,
    /// `private` (§5.2.2.7): a shared cache never stores it.
    pub private: bool,
    /// `public` (§5.2.2.9).
    pub public: bool,
    /// `must-revalidate` (§5.2.2.2).
    pub must_revalidate: bool,
    /// `proxy-revalidate` (§5.2.2.8).
    pub proxy_revalidate: bool,
    /// `max-age` in seconds (§5.2.2.1); an invalid value is 0 (stale).
    pub max_age: Option<u64>,
    /// `s-maxage` in seconds (§5.2.2.10); an invalid value is 0 (stale).
    pub s_maxage: Option<u64>,
    /// `stale-while-revalidate` in seconds (RFC 5861 §3).
    pub stale_while_revalidate: Option<u64>,
    /// `stale-if-error` in seconds (RFC 5861 §4).
    pub stale_if_error: Option<u64>,
}

impl Directives {
    /// Whether a stale response may never be served without revalidating it: `must-revalidate`,
    /// `proxy-revalidate`, or `s-maxage` (which implies `proxy-revalidate`, §5.2.2.10), or
    /// `no-cache`.
    pub fn forbids_stale(&self) -> bool {
        self.must_revalidate || self.proxy_revalidate || self.s_maxage.is_some() || self.no_cache
    }
}

/// A delta-seconds argument (§1.2.2): digits only; too large is [`DELTA_MAX`].
fn delta_seconds(text: &str) -> Option<u64> {
    let text = text.trim().trim_matches('"');
    if text.is_empty() || !text.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    Some(text.parse::<u64>().unwrap_or(DELTA_MAX).min(DELTA_MAX))
}

/// The directives of every value of the field `name` (a list, possibly over several lines;
/// names case-insensitive, §5.2).
pub fn directives(headers: &HeaderMap, name: &HeaderName) -> Directives {
    let mut d = Directives::default();
    for value in headers.get_all(name).iter().filter_map(|v| v.to_str().ok()) {
        for directive in value.split(',') {
            let (key, arg) = match directive.split_once('=') {
                Some((k, a)) => (k.trim().to_ascii_lowercase(), Some(a)),
                None => (directive.trim().to_ascii_lowercase(), None),
            };
            // An argument that does not parse makes the response stale (§4.2.1).
            let seconds = || Some(arg.and_then(delta_seconds).unwrap_or(0));
            match key.as_str() {
                "no-store" => d.no_store = true,
                "no-cache" => d.no_cache = true,
                "private" => d.private = true,
                "public" => d.public = true,
                "must-revalidate" => d.must_revalidate = true,
                "proxy-revalidate" => d.proxy_revalidate = true,
                "max-age" => d.max_age = d.max_age.or_else(seconds),
                "s-maxage" => d.s_maxage = d.s_maxage.or_else(seconds),
                "stale-while-revalidate" => d.stale_while_revalidate = d.stale_while_revalidate.or_else(seconds),
                "stale-if-error" => d.stale_if_error = d.stale_if_error.or_else(seconds),
                _ => {}
            }
        }
    }
    d
}

/// The directives this cache acts on: those of the first targeted field present
/// (`CDN-Cache-Control`, `Surrogate-Control`, RFC 9213 §2.1), else `Cache-Control`'s.
pub fn effective(headers: &HeaderMap, targeted: &[HeaderName]) -> Directives {
    match targeted.iter().find(|name| headers.contains_key(*name)) {
        Some(name) => directives(headers, name),
        None => directives(headers, &http::header::CACHE_CONTROL),
    }
}

/// An HTTP-date in Unix milliseconds, if it parses (§5.6.7 of RFC 9110).
pub fn http_date(headers: &HeaderMap, name: &HeaderName) -> Option<u64> {
    let value = headers.get(name)?.to_str().ok()?;
    let time = httpdate::parse_http_date(value.trim()).ok()?;
    time.duration_since(SystemTime::UNIX_EPOCH).ok().map(|d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX))
}

/// The `Age` value in seconds: the first value of the first field; one that is not a
/// non-negative integer is ignored (§5.1, §1.2.2).
pub fn age(headers: &HeaderMap) -> Option<u64> {
    let first = headers.get(http::header::AGE)?.to_str().ok()?;
    delta_seconds(first.split(',').next()?)
}

/// Statuses a cache may store with heuristic freshness (§4.2.2; RFC 9110 §15.1), less 206
/// (ranges are not stored).
pub fn heuristically_cacheable(status: u16) -> bool {
    matches!(status, 200 | 203 | 204 | 300 | 301 | 308 | 404 | 405 | 410 | 414 | 501)
}

/// Whether the response has explicit freshness (§4.2.1).
pub fn explicit(d: &Directives, headers: &HeaderMap) -> bool {
    d.s_maxage.is_some() || d.max_age.is_some() || headers.contains_key(http::header::EXPIRES)
}

/// The freshness lifetime in milliseconds (§4.2.1): `s-maxage`, else `max-age`, else
/// `Expires` − `Date` (an `Expires` that does not parse is already expired), else `heuristic`
/// for a heuristically cacheable status; `None`: not storable for freshness.
pub fn lifetime(d: &Directives, headers: &HeaderMap, status: u16, response_ms: u64, heuristic_ms: u64) -> Option<u64> {
    if let Some(s) = d.s_maxage.or(d.max_age) {
        return Some(s.saturating_mul(1000));
    }
    if headers.contains_key(http::header::EXPIRES) {
        let Some(expires) = http_date(headers, &http::header::EXPIRES) else { return Some(0) };
        let date = http_date(headers, &http::header::DATE).unwrap_or(response_ms);
        return Some(expires.saturating_sub(date));
    }
    (heuristically_cacheable(status) && heuristic_ms > 0).then_some(heuristic_ms)
}

/// The corrected initial age in milliseconds (§4.2.3), from the response's `Age` and `Date`
/// and when the request was sent and the response received.
pub fn initial_age(headers: &HeaderMap, request_ms: u64, response_ms: u64) -> u64 {
    let date = http_date(headers, &http::header::DATE).unwrap_or(response_ms);
    let apparent_age = response_ms.saturating_sub(date);
    let response_delay = response_ms.saturating_sub(request_ms);
    let corrected_age_value = age(headers).unwrap_or(0).saturating_mul(1000).saturating_add(response_delay);
    apparent_age.max(corrected_age_value)
}

/// The current age in milliseconds (§4.2.3): the initial age plus the time in the cache.
pub fn current_age(initial_age_ms: u64, response_ms: u64, now_ms: u64) -> u64 {
    initial_age_ms.saturating_add(now_ms.saturating_sub(response_ms))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn headers(pairs: &[(&str, &str)]) -> HeaderMap {
        let mut h = HeaderMap::new();
        for (k, v) in pairs {
            h.append(HeaderName::from_bytes(k.as_bytes()).unwrap(), v.parse().unwrap());
        }
        h
    }

    fn date(ms: u64) -> String {
        httpdate::fmt_http_date(SystemTime::UNIX_EPOCH + std::time::Duration::from_millis(ms))
    }

    const NOW: u64 = 1_800_000_000_000;

    #[test]
    fn rfc9111_5_2_directives_parse_as_lists_case_insensitively() {
        let d = directives(
            &headers(&[("cache-control", "Public, MAX-AGE=60"), ("cache-control", "s-maxage=\"30\"")]),
            &http::header::CACHE_CONTROL,
        );
        assert_eq!((d.public, d.max_age, d.s_maxage), (true, Some(60), Some(30)));
        let invalid = directives(&headers(&[("cache-control", "max-age=abc")]), &http::header::CACHE_CONTROL);
        assert_eq!(invalid.max_age, Some(0), "§4.2.1: invalid freshness information is stale");
        let huge =
            directives(&headers(&[("cache-control", "max-age=99999999999999999999")]), &http::header::CACHE_CONTROL);
        assert_eq!(huge.max_age, Some(DELTA_MAX), "§1.2.2: too large is 2147483648");
    }

    #[test]
    fn rfc9111_4_2_1_lifetime_prefers_s_maxage_then_max_age_then_expires() {
        let h = headers(&[("cache-control", "max-age=60, s-maxage=10"), ("expires", &date(NOW + 3_600_000))]);
        let d = directives(&h, &http::header::CACHE_CONTROL);
        assert_eq!(lifetime(&d, &h, 200, NOW, 0), Some(10_000));
        let h = headers(&[("cache-control", "max-age=60"), ("expires", &date(NOW + 3_600_000))]);
        assert_eq!(lifetime(&directives(&h, &http::header::CACHE_CONTROL), &h, 200, NOW, 0), Some(60_000));
        let h = headers(&[("date", &date(NOW)), ("expires", &date(NOW + 120_000))]);
        assert_eq!(lifetime(&Directives::default(), &h, 200, NOW, 0), Some(120_000), "Expires - Date");
        let h = headers(&[("date", &date(NOW)), ("expires", &date(NOW - 1_000))]);
        assert_eq!(lifetime(&Directives::default(), &h, 200, NOW, 0), Some(0), "an Expires in the past");
        for bad in ["0", "yesterday", "-1"] {
            let h = headers(&[("expires", bad)]);
            assert_eq!(
                lifetime(&Directives::default(), &h, 200, NOW, 60_000),
                Some(0),
                "invalid Expires `{bad}` is stale"
            );
        }
    }

    #[test]
    fn rfc9111_4_2_2_heuristic_only_without_explicit_freshness_and_for_cacheable_statuses() {
        let none = HeaderMap::new();
        assert_eq!(lifetime(&Directives::default(), &none, 200, NOW, 60_000), Some(60_000));
        assert_eq!(lifetime(&Directives::default(), &none, 500, NOW, 60_000), None);
        assert_eq!(lifetime(&Directives::default(), &none, 200, NOW, 0), None, "heuristic turned off");
    }

    #[test]
    fn rfc9111_4_2_3_current_age_counts_age_date_delay_and_residence() {
        // Sent at NOW-2s, received at NOW, origin said Age: 7200.
        let h = headers(&[("age", "7200"), ("date", &date(NOW))]);
        assert_eq!(initial_age(&h, NOW - 2_000, NOW), 7_202_000);
        assert_eq!(current_age(7_202_000, NOW, NOW + 1_000), 7_203_000);
        // A Date in the past makes an apparent age.
        let h = headers(&[("date", &date(NOW - 30_000))]);
        assert_eq!(initial_age(&h, NOW, NOW), 30_000);
    }

    #[test]
    fn rfc9111_5_1_malformed_age_values_are_ignored_and_the_first_counts() {
        for (value, expected) in
            [("60", Some(60)), ("60, 120", Some(60)), ("-5", None), ("1.5", None), ("soon", None), ("", None)]
        {
            assert_eq!(age(&headers(&[("age", value)])), expected, "Age: {value}");
        }
        assert_eq!(age(&headers(&[("age", "10"), ("age", "99")])), Some(10), "the first of duplicated fields");
    }

    #[test]
    fn rfc9213_targeted_fields_win_over_cache_control() {
        let h = headers(&[("cache-control", "no-store"), ("cdn-cache-control", "max-age=30")]);
        let targeted = [HeaderName::from_static("cdn-cache-control"), HeaderName::from_static("surrogate-control")];
        let d = effective(&h, &targeted);
        assert_eq!((d.no_store, d.max_age), (false, Some(30)));
        assert!(effective(&h, &[]).no_store, "with no targeted field configured, Cache-Control rules");
    }
}
