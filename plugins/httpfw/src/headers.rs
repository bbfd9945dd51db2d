//! Hop-by-hop headers (RFC 9110 §7.6.1) and `X-Forwarded-*`.

use http::header::{CONNECTION, HOST, HeaderName, HeaderValue, TE, TRAILER, TRANSFER_ENCODING, UPGRADE};
use http::{HeaderMap, Request};
use seam_core::extensions::{ClientAddr, RequestScheme};

const HOP_BY_HOP: [&str; 4] = ["keep-alive", "proxy-connection", "proxy-authenticate", "proxy-authorization"];

/// Removes the hop-by-hop headers, including every header named by `Connection`.
pub fn remove_hop_by_hop(headers: &mut HeaderMap) {
    let named: Vec<HeaderName> = headers
        .get_all(CONNECTION)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .filter_map(|name| HeaderName::from_bytes(name.trim().as_bytes()).ok())
        .collect();
    for name in named {
        headers.remove(name);
    }
    for name in [CONNECTION, TE, TRAILER, TRANSFER_ENCODING, UPGRADE] {
        headers.remove(name);
    }
    for name in HOP_BY_HOP {
        headers.remove(name);
    }
}

/// Sets `X-Forwarded-For` (the peer appended), `X-Forwarded-Proto` and `X-Forwarded-Host`
/// (the client's `original_host`), and the `Host` the upstream sees. The host has already
/// removed forwarded headers that a client which is not a trusted proxy sent.
pub fn set_forwarded<B>(
    req: &mut Request<B>,
    original_host: Option<HeaderValue>,
    upstream_host: &str,
    preserve_host: bool,
) {
    if let Some(ClientAddr(peer)) = req.extensions().get::<ClientAddr>().copied() {
        let ip = peer.ip().to_canonical().to_string();
        let value = match req.headers().get("x-forwarded-for").and_then(|v| v.to_str().ok()) {
            Some(existing) if !existing.trim().is_empty() => format!("{existing}, {ip}"),
            _ => ip,
        };
        if let Ok(value) = HeaderValue::from_str(&value) {
            req.headers_mut().insert("x-forwarded-for", value);
        }
    }
    if !req.headers().contains_key("x-forwarded-proto") {
        let scheme = req.extensions().get::<RequestScheme>().map(|s| s.0).unwrap_or("http");
        req.headers_mut().insert("x-forwarded-proto", HeaderValue::from_static(scheme));
    }
    if let Some(host) = &original_host
        && !req.headers().contains_key("x-forwarded-host")
    {
        req.headers_mut().insert("x-forwarded-host", host.clone());
    }
    match (preserve_host, original_host) {
        (true, Some(host)) => {
            req.headers_mut().insert(HOST, host);
        }
        _ => {
            if let Ok(value) = HeaderValue::from_str(upstream_host) {
                req.headers_mut().insert(HOST, value);
            }
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
}
