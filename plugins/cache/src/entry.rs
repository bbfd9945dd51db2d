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
}

/// `len(meta) as u32 BE | meta JSON | body`.
pub fn encode(status: StatusCode, headers: &HeaderMap, body: &Bytes, stored_ms: u64) -> Bytes {
    let meta = Meta {
        status: status.as_u16(),
        headers: headers
            .iter()
            .filter_map(|(k, v)| v.to_str().ok().map(|v| (k.as_str().to_owned(), v.to_owned())))
            .collect(),
        stored_ms,
    };
    let meta = serde_json::to_vec(&meta).unwrap_or_default();
    let mut out = BytesMut::with_capacity(4 + meta.len() + body.len());
    out.put_u32(meta.len() as u32);
    out.put_slice(&meta);
    out.put_slice(body);
    out.freeze()
}

/// The stored response, if `bytes` is one.
pub fn decode(bytes: &Bytes) -> Option<(StatusCode, HeaderMap, Bytes, u64)> {
    let len = u32::from_be_bytes(bytes.get(..4)?.try_into().ok()?) as usize;
    let meta: Meta = serde_json::from_slice(bytes.get(4..4 + len)?).ok()?;
    let mut headers = HeaderMap::new();
    for (k, v) in meta.headers {
        headers.append(HeaderName::from_bytes(k.as_bytes()).ok()?, HeaderValue::from_str(&v).ok()?);
    }
    Some((StatusCode::from_u16(meta.status).ok()?, headers, bytes.slice(4 + len..), meta.stored_ms))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip() {
        let mut h = HeaderMap::new();
        h.insert("content-type", HeaderValue::from_static("text/plain"));
        let body = Bytes::from_static(b"\x00binary\xff");
        let (status, headers, got, at) = decode(&encode(StatusCode::NOT_FOUND, &h, &body, 7)).unwrap();
        assert_eq!((status, at, &got[..]), (StatusCode::NOT_FOUND, 7, &body[..]));
        assert_eq!(headers["content-type"], "text/plain");
        assert!(decode(&Bytes::from_static(b"xx")).is_none());
    }
}
