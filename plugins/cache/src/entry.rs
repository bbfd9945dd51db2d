//! A stored response: status, headers, body, and when it was stored.

use bytes::{BufMut, Bytes, BytesMut};
use http::{HeaderMap, HeaderName, HeaderValue, StatusCode};
use serde::{Deserialize, Serialize};

/// What is kept for one cached response.
#[derive(Debug, Serialize, Deserialize)]
pub struct Meta {
    /// The status code.
    pub status: u16,
    /// Headers, in order (names lower-case).
    pub headers: Vec<(String, String)>,
    /// When it was stored (unix ms), for `Age`.
    pub stored_ms: u64,
    /// When it expires (unix ms).
    #[serde(default)]
    pub expires_ms: u64,
    /// The request headers the response's `Vary` names, with the values of the request it
    /// answered: it answers only requests with the same values.
    #[serde(default)]
    pub vary: Vec<(String, Option<String>)>,
    /// Stored with `Cache-Control: public`: it may answer requests with `Authorization`.
    #[serde(default)]
    pub public: bool,
    /// Freshness: see [`Freshness`].
    #[serde(default)]
    pub freshness: Freshness,
}

/// How fresh a stored response is, from the origin's headers when it was received (RFC 9111
/// §4.2), and what it allows once stale.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Freshness {
    /// The corrected initial age when received (§4.2.3), in ms.
    pub initial_age_ms: u64,
    /// The freshness lifetime (§4.2.1), in ms.
    pub lifetime_ms: u64,
    /// `no-cache`: revalidate before every use.
    pub no_cache: bool,
    /// `must-revalidate`, `proxy-revalidate`, `s-maxage` or `no-cache`: never served stale.
    pub forbids_stale: bool,
    /// `stale-while-revalidate` window, in ms.
    pub stale_while_revalidate_ms: u64,
    /// `stale-if-error` window, in ms.
    pub stale_if_error_ms: u64,
}

/// `len(meta) as u32 BE | meta JSON | body`.
pub fn encode(entry: &Decoded) -> Bytes {
    let meta = Meta {
        status: entry.status.as_u16(),
        headers: entry
            .headers
            .iter()
            .filter_map(|(k, v)| v.to_str().ok().map(|v| (k.as_str().to_owned(), v.to_owned())))
            .collect(),
        stored_ms: entry.stored_ms,
        expires_ms: entry.expires_ms,
        vary: entry.vary.clone(),
        public: entry.public,
        freshness: entry.freshness,
    };
    let body = &entry.body;
    let meta = serde_json::to_vec(&meta).unwrap_or_default();
    let mut out = BytesMut::with_capacity(4 + meta.len() + body.len());
    out.put_u32(meta.len() as u32);
    out.put_slice(&meta);
    out.put_slice(body);
    out.freeze()
}

/// A decoded entry.
pub struct Decoded {
    /// Status.
    pub status: StatusCode,
    /// Headers.
    pub headers: HeaderMap,
    /// Body.
    pub body: Bytes,
    /// When it was stored (unix ms).
    pub stored_ms: u64,
    /// When it expires (unix ms; 0 when unknown).
    pub expires_ms: u64,
    /// `Vary` names with the values they had.
    pub vary: Vec<(String, Option<String>)>,
    /// Stored with `Cache-Control: public`.
    pub public: bool,
    /// Freshness when received.
    pub freshness: Freshness,
}

/// The stored response, if `bytes` is one.
pub fn decode(bytes: &Bytes) -> Option<Decoded> {
    let len = u32::from_be_bytes(bytes.get(..4)?.try_into().ok()?) as usize;
    let meta: Meta = serde_json::from_slice(bytes.get(4..4 + len)?).ok()?;
    let mut headers = HeaderMap::new();
    for (k, v) in meta.headers {
        headers.append(HeaderName::from_bytes(k.as_bytes()).ok()?, HeaderValue::from_str(&v).ok()?);
    }
    Some(Decoded {
        status: StatusCode::from_u16(meta.status).ok()?,
        headers,
        body: bytes.slice(4 + len..),
        stored_ms: meta.stored_ms,
        expires_ms: meta.expires_ms,
        vary: meta.vary,
        public: meta.public,
        freshness: meta.freshness,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip() {
        let mut h = HeaderMap::new();
        h.insert("content-type", HeaderValue::from_static("text/plain"));
        let body = Bytes::from_static(b"\x00binary\xff");
        let entry = Decoded {
            status: StatusCode::NOT_FOUND,
            headers: h,
            body: body.clone(),
            stored_ms: 7,
            expires_ms: 9,
            vary: vec![("accept-language".into(), Some("de".into()))],
            public: true,
            freshness: Freshness { lifetime_ms: 60_000, stale_if_error_ms: 5, ..Freshness::default() },
        };
        let d = decode(&encode(&entry)).unwrap();
        assert_eq!((d.status, d.stored_ms, d.expires_ms, &d.body[..]), (StatusCode::NOT_FOUND, 7, 9, &body[..]));
        assert_eq!((d.vary, d.public, d.freshness), (entry.vary, true, entry.freshness));
        assert_eq!(d.headers["content-type"], "text/plain");
        assert!(decode(&Bytes::from_static(b"xx")).is_none());
    }
}
