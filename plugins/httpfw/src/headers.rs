//! Hop-by-hop headers (RFC 9110 §7.6.1) and `X-Forwarded-*`.

use http::header::{
    CONNECTION, HOST, HeaderName, HeaderValue, PROXY_AUTHENTICATE, PROXY_AUTHORIZATION, TE, TRAILER, TRANSFER_ENCODING,
    UPGRADE,
};
use http::{HeaderMap, Request};
use seam_core::extensions::Client;
use seam_core::net::{X_FORWARDED_FOR, X_FORWARDED_HOST, X_FORWARDED_PROTO};

const KEEP_ALIVE: HeaderName = HeaderName::from_static("keep-alive");
const PROXY_CONNECTION: HeaderName = HeaderName::from_static("proxy-connection");

/// The headers that never cross a proxy, whatever `Connection` says; `Connection` first
/// (bit 0 of `remove_hop_by_hop`'s set of those present).
pub(crate) const HOP_BY_HOP: [HeaderName; 9] = [
    CONNECTION,
    TE,
    TRAILER,
    TRANSFER_ENCODING,
    UPGRADE,
    KEEP_ALIVE,
    PROXY_CONNECTION,
    PROXY_AUTHENTICATE,
    PROXY_AUTHORIZATION,
];

/// Whether a field name as read from the wire (any case) is one of [`HOP_BY_HOP`].
pub(crate) fn is_hop_by_hop(name: &[u8]) -> bool {
    HOP_BY_HOP.iter().any(|hop| hop.as_str().len() == name.len() && name.eq_ignore_ascii_case(hop.as_str().as_bytes()))
}

/// Removes the hop-by-hop headers, including every header named by `Connection`.
pub fn remove_hop_by_hop(headers: &mut HeaderMap) {
    // One pass over the names finds which are present: most requests carry none, most
    // answers only `Connection: keep-alive`, and only those present are removed (each
    // removal hashes its name).
    let (mut present, mut close_header) = (0u16, false);
    for name in headers.keys() {
        match HOP_BY_HOP.iter().position(|hop| hop == name) {
            Some(i) => present |= 1 << i,
            None => close_header |= name.as_str() == "close",
        }
    }
    if present == 0 {
        return;
    }
    // The headers `Connection` names, looked up by their text (no name is built); the
    // values are reference-counted views, so cloning them copies nothing. Names among the
    // hop-by-hop ones go with them below, and `close` (the usual option) is looked up only
    // when a header has that name.
    let mut i = 0;
    let connection_present = present & 1 != 0 && !names_no_header(headers, close_header);
    while connection_present && let Some(value) = headers.get_all(CONNECTION).iter().nth(i).cloned() {
        for name in value.to_str().unwrap_or_default().split(',').map(str::trim) {
            let hop = HOP_BY_HOP.iter().any(|h| name.eq_ignore_ascii_case(h.as_str()));
            if !name.is_empty() && !hop && (close_header || !name.eq_ignore_ascii_case("close")) {
                headers.remove(name);
            }
        }
        i += 1;
    }
    // `Connection` itself goes last: removed while its values are read, it would hide the
    // later ones.
    for (i, name) in HOP_BY_HOP.iter().enumerate() {
        if present & (1 << i) != 0 {
            headers.remove(name);
        }
    }
}

/// Whether `Connection` is the usual one value, `keep-alive` or `close`, which names no
/// header to remove (`close` does when a header has that name): then its options need not
/// be split and looked up one by one.
fn names_no_header(headers: &HeaderMap, close_header: bool) -> bool {
    let mut values = headers.get_all(CONNECTION).iter();
    match (values.next(), values.next()) {
        (Some(only), None) => {
            let option = only.as_bytes().trim_ascii();
            option.eq_ignore_ascii_case(b"keep-alive") || (!close_header && option.eq_ignore_ascii_case(b"close"))
        }
        _ => false,
    }
}

/// Sets `X-Forwarded-For` (the peer appended), `X-Forwarded-Proto` and `X-Forwarded-Host`
/// (the client's `original_host`), and the `Host` the upstream sees. The host has already
/// removed forwarded headers that a client which is not a trusted proxy sent.
pub fn set_forwarded<B>(
    req: &mut Request<B>,
    original_host: Option<HeaderValue>,
    upstream_host: &HeaderValue,
    preserve_host: bool,
) {
    if let Some(peer) = req.extensions().get::<Client>().map(|c| c.addr) {
        let ip = peer.ip().to_canonical();
        let value = match req.headers().get(X_FORWARDED_FOR).and_then(|v| v.to_str().ok()) {
            Some(existing) if !existing.trim().is_empty() => HeaderValue::from_str(&format!("{existing}, {ip}")),
            _ => {
                // The usual case: the address alone, written on the stack and copied once.
                let mut buffer = [0u8; 64];
                let written = seam_core::net::write_ip(ip, &mut buffer);
                HeaderValue::from_bytes(&buffer[..written])
            }
        };
        if let Ok(value) = value {
            req.headers_mut().insert(X_FORWARDED_FOR, value);
        }
    }
    let scheme = req.extensions().get::<Client>().map_or("http", |c| c.scheme);
    if let http::header::Entry::Vacant(slot) = req.headers_mut().entry(X_FORWARDED_PROTO) {
        slot.insert(HeaderValue::from_static(scheme));
    }
    if let Some(host) = &original_host
        && let http::header::Entry::Vacant(slot) = req.headers_mut().entry(X_FORWARDED_HOST)
    {
        slot.insert(host.clone());
    }
    match (preserve_host, original_host) {
        (true, Some(host)) => {
            req.headers_mut().insert(HOST, host);
        }
        _ => {
            req.headers_mut().insert(HOST, upstream_host.clone());
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hop_by_hop_and_connection_named_headers_are_removed() {
        let mut h = HeaderMap::new();
        h.insert(CONNECTION, HeaderValue::from_static("keep-alive, x-secret-hop"));
        h.insert("keep-alive", HeaderValue::from_static("timeout=5"));
        h.insert("x-secret-hop", HeaderValue::from_static("1"));
        h.insert(TE, HeaderValue::from_static("trailers"));
        h.insert("x-kept", HeaderValue::from_static("1"));
        remove_hop_by_hop(&mut h);
        assert_eq!(h.len(), 1);
        assert!(h.contains_key("x-kept"));
    }

    #[test]
    fn connection_options_remove_the_headers_they_name_and_only_those() {
        // `close` and `keep-alive` are options, yet a header of that name still goes.
        let mut h = HeaderMap::new();
        h.append(CONNECTION, HeaderValue::from_static("close, Keep-Alive, X-Hop"));
        h.insert("close", HeaderValue::from_static("1"));
        h.insert("x-hop", HeaderValue::from_static("1"));
        h.insert("x-kept", HeaderValue::from_static("1"));
        remove_hop_by_hop(&mut h);
        assert_eq!(h.keys().collect::<Vec<_>>(), ["x-kept"]);
        // The usual answer: `Connection: keep-alive` alone, nothing else removed.
        let mut h = HeaderMap::new();
        h.insert(CONNECTION, HeaderValue::from_static("keep-alive"));
        h.insert("x-kept", HeaderValue::from_static("1"));
        h.insert(http::header::CONTENT_LENGTH, HeaderValue::from_static("3"));
        remove_hop_by_hop(&mut h);
        assert_eq!(h.len(), 2);
        assert!(h.contains_key("x-kept") && h.contains_key(http::header::CONTENT_LENGTH));
    }

    #[test]
    fn a_lone_close_or_keep_alive_still_removes_what_it_must() {
        for option in ["close", "Close", " keep-alive ", "Keep-Alive"] {
            let mut h = HeaderMap::new();
            h.insert(CONNECTION, HeaderValue::from_static(option));
            h.insert("keep-alive", HeaderValue::from_static("timeout=5"));
            h.insert("x-kept", HeaderValue::from_static("1"));
            remove_hop_by_hop(&mut h);
            assert_eq!(h.keys().collect::<Vec<_>>(), ["x-kept"], "{option:?}");
        }
        // `Connection: close` beside a header named `close`: that header goes too.
        let mut h = HeaderMap::new();
        h.insert(CONNECTION, HeaderValue::from_static("CLOSE"));
        h.insert("close", HeaderValue::from_static("1"));
        h.insert("x-kept", HeaderValue::from_static("1"));
        remove_hop_by_hop(&mut h);
        assert_eq!(h.keys().collect::<Vec<_>>(), ["x-kept"]);
        // Two `Connection` lines are read whole, not taken for the usual one.
        let mut h = HeaderMap::new();
        h.append(CONNECTION, HeaderValue::from_static("close"));
        h.append(CONNECTION, HeaderValue::from_static("x-hop"));
        h.insert("x-hop", HeaderValue::from_static("1"));
        h.insert("x-kept", HeaderValue::from_static("1"));
        remove_hop_by_hop(&mut h);
        assert_eq!(h.keys().collect::<Vec<_>>(), ["x-kept"]);
    }

    #[test]
    fn a_connection_header_naming_itself_hides_none_of_the_others() {
        let mut h = HeaderMap::new();
        h.append(CONNECTION, HeaderValue::from_static("Connection, x-first-hop"));
        h.append(CONNECTION, HeaderValue::from_static("x-second-hop"));
        h.insert("x-first-hop", HeaderValue::from_static("1"));
        h.insert("x-second-hop", HeaderValue::from_static("1"));
        h.insert("x-kept", HeaderValue::from_static("1"));
        remove_hop_by_hop(&mut h);
        assert_eq!(h.keys().collect::<Vec<_>>(), ["x-kept"]);
    }

    #[test]
    fn hop_by_hop_headers_go_without_a_connection_header() {
        for name in [
            "te",
            "trailer",
            "transfer-encoding",
            "upgrade",
            "keep-alive",
            "proxy-connection",
            "proxy-authenticate",
            "proxy-authorization",
        ] {
            let mut h = HeaderMap::new();
            h.insert(name, HeaderValue::from_static("x"));
            h.insert("x-kept", HeaderValue::from_static("1"));
            remove_hop_by_hop(&mut h);
            assert_eq!(h.keys().collect::<Vec<_>>(), ["x-kept"], "{name}");
        }
        let mut clean = HeaderMap::new();
        clean.insert("x-kept", HeaderValue::from_static("1"));
        clean.append("x-kept", HeaderValue::from_static("2"));
        remove_hop_by_hop(&mut clean);
        assert_eq!(clean.get_all("x-kept").iter().count(), 2);
    }
}
