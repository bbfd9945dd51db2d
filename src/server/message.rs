//! What RFC 9112 and RFC 9113 ask of a server about a request's head beyond what hyper's
//! parser checks: the head's size, one framing of the body, one host. A gateway that let an
//! ambiguous request through would read it one way while a proxy in front of it or the
//! upstream behind it reads it another (request smuggling, host confusion).

use http::header::{CONNECTION, HOST, TRANSFER_ENCODING};
use http::{HeaderMap, HeaderName, HeaderValue, StatusCode, Version};
use hyper::body::Incoming;
use seam_core::{Response, json_error};

/// Why a request's head is refused.
#[derive(Debug)]
pub struct Refused {
    status: StatusCode,
    detail: &'static str,
    /// The connection is closed after the answer: where the request's body ends is unknown.
    close: bool,
}

impl Refused {
    fn new(status: StatusCode, detail: &'static str) -> Self {
        Refused { status, detail, close: false }
    }

    /// The answer: `status` with a JSON error.
    pub fn response(&self) -> Response {
        let mut response = json_error(self.status, self.detail);
        if self.close {
            response.headers_mut().insert(CONNECTION, HeaderValue::from_static("close"));
        }
        response
    }
}

/// What a request's head may hold.
#[derive(Clone, Copy, Debug)]
pub struct HeadRules {
    /// `server.http1MaxHeaderSize`: hyper's read buffer is capped at it, but a head that
    /// completes in the read that crosses the cap still parses; [`check`] refuses those.
    pub http1_max_head: usize,
    /// `server.underscoresInHeaders`.
    pub underscores: bool,
}

/// Checks the head of `req`, drops headers with `_` in their names (unless allowed), and
/// makes its `Host` the one host it names.
pub fn check(req: &mut http::Request<Incoming>, rules: HeadRules) -> Result<(), Refused> {
    if req.version() <= Version::HTTP_11 {
        if head_size(req) > rules.http1_max_head {
            return Err(Refused::new(
                StatusCode::REQUEST_HEADER_FIELDS_TOO_LARGE,
                "the request's line and headers are larger than the server accepts",
            ));
        }
        framing(req)?;
    }
    if !rules.underscores {
        drop_underscored(req.headers_mut());
    }
    host(req)
}

/// Removes the headers whose names contain `_` (nginx's default): a CGI-style upstream reads
/// `X_Forwarded_For` as `X-Forwarded-For`, past every rule that strips or sets the latter.
fn drop_underscored(headers: &mut HeaderMap) {
    // Most requests have none, and an empty Vec allocates nothing.
    let underscored: Vec<HeaderName> = headers.keys().filter(|name| name.as_str().contains('_')).cloned().collect();
    for name in underscored {
        tracing::debug!("dropped the request header `{name}`: its name has `_` (server.underscoresInHeaders)");
        headers.remove(name);
    }
}

/// RFC 9112 §6.1: a transfer coding other than one `chunked` (`gzip, chunked`, `chunked,
/// chunked`, over one line or two) is not one seam can pass on as it was meant: 501, as the
/// RFC says, and the connection closed, since where its body ends is unknown. (A body framed
/// by both `Transfer-Encoding` and `Content-Length` hyper reads by the first alone, drops
/// the length, and closes the connection after answering, as the RFC allows.)
fn framing(req: &http::Request<Incoming>) -> Result<(), Refused> {
    let headers = req.headers();
    if !headers.contains_key(TRANSFER_ENCODING) {
        return Ok(());
    }
    let mut codings = headers
        .get_all(TRANSFER_ENCODING)
        .iter()
        .flat_map(|v| v.as_bytes().split(|b| *b == b','))
        .map(<[u8]>::trim_ascii)
        .filter(|coding| !coding.is_empty());
    match (codings.next(), codings.next()) {
        (Some(only), None) if only.eq_ignore_ascii_case(b"chunked") => Ok(()),
        _ => Err(Refused {
            status: StatusCode::NOT_IMPLEMENTED,
            detail: "the only transfer coding accepted is a single `chunked`",
            close: true,
        }),
    }
}

/// RFC 9112 §3.2 and §3.2.2, RFC 9113 §8.3.1: an HTTP/1.1 request has exactly one `Host`
/// (HTTP/1.0 at most one); a request whose target names its authority (HTTP/1.1's
/// absolute form, HTTP/2's `:authority`) is for that host — over HTTP/1.1 the `Host` line is
/// ignored for it, over HTTP/2 a `Host` that names another is malformed. Every request
/// leaves with a `Host` of `host[:port]`, which routing, caching and `X-Forwarded-Host` use.
fn host(req: &mut http::Request<Incoming>) -> Result<(), Refused> {
    let bad = |detail| Err(Refused::new(StatusCode::BAD_REQUEST, detail));
    let hosts = req.headers().get_all(HOST).iter().count();
    if hosts > 1 {
        return bad("the request has more than one Host header");
    }
    // The value is made from the target's bytes straight away (no copy in between).
    let authority = req.uri().authority().map(|a| HeaderValue::from_str(a.as_str()));
    match (authority, req.version()) {
        (Some(authority), version) => {
            let Ok(value) = authority else { return bad("the request's authority is not valid") };
            if version >= Version::HTTP_2
                && req.headers().get(HOST).is_some_and(|h| !h.as_bytes().eq_ignore_ascii_case(value.as_bytes()))
            {
                return bad("the Host header names another host than the request's :authority");
            }
            req.headers_mut().insert(HOST, value);
        }
        (None, Version::HTTP_11) if hosts == 0 => return bad("an HTTP/1.1 request needs a Host header"),
        (None, _) => {}
    }
    match req.headers().get(HOST) {
        Some(host) if !valid_host(host) => bad("the Host header is not `host[:port]`"),
        _ => Ok(()),
    }
}

/// The size of an HTTP/1.1 request's head as a client writes it with no extra whitespace:
/// the request line, each `name: value` line, and the blank line.
fn head_size(req: &http::Request<Incoming>) -> usize {
    let uri = req.uri();
    let target = uri.scheme_str().map_or(0, |s| s.len() + "://".len())
        + uri.authority().map_or(0, |a| a.as_str().len())
        + uri.path_and_query().map_or(0, |pq| pq.as_str().len());
    let line = req.method().as_str().len() + 1 + target + " HTTP/1.1\r\n".len();
    req.headers().iter().fold(line + 2, |size, (name, value)| size + name.as_str().len() + value.len() + 4)
}

/// `host[:port]`: a name, an IPv4 address or a bracketed IPv6 address, and a port; nothing
/// else (no user info, no path, no second host), so it can be used in keys and headers.
fn valid_host(value: &HeaderValue) -> bool {
    plain_host(value.as_bytes()) || parsed_host(value)
}

/// The usual `Host`, told without parsing: a name of letters, digits, `.` and `-`, and an
/// optional port of at most five digits that fits in 16 bits. Every value it takes
/// [`parsed_host`] takes too (a property test checks it); anything else goes there.
fn plain_host(bytes: &[u8]) -> bool {
    let name_end = bytes.iter().position(|&b| !(b.is_ascii_alphanumeric() || b == b'.' || b == b'-'));
    match name_end {
        None => !bytes.is_empty(),
        Some(0) => false,
        Some(colon) if bytes[colon] == b':' => {
            let port = &bytes[colon + 1..];
            (1..=5).contains(&port.len())
                && port.iter().all(u8::is_ascii_digit)
                && port.iter().fold(0u32, |n, &d| n * 10 + u32::from(d - b'0')) <= 65_535
        }
        Some(_) => false,
    }
}

/// `host[:port]` by `http`'s authority parser: IPv6 literals and whatever [`plain_host`]
/// does not tell at a glance.
fn parsed_host(value: &HeaderValue) -> bool {
    let Ok(text) = value.to_str() else { return false };
    if text.is_empty() || text.contains('@') {
        return false;
    }
    let Ok(authority) = text.parse::<http::uri::Authority>() else { return false };
    let port = match text.rfind(':') {
        Some(i) if !text[i..].contains(']') => Some(&text[i + 1..]),
        _ => None,
    };
    authority.as_str() == text && port.is_none_or(|p| p.parse::<u16>().is_ok())
}

#[cfg(test)]
mod tests {
    use http::HeaderValue;
    use proptest::prelude::*;

    use super::{parsed_host, plain_host, valid_host};

    #[test]
    fn hosts() {
        for good in ["example.com", "example.com:8080", "127.0.0.1", "[::1]:443", "a-b.example"] {
            assert!(valid_host(&HeaderValue::from_static(good)), "{good}");
        }
        for bad in ["", "user@example.com", "example.com/path", "example.com:99999", "a b", "example.com:x", "[::1"] {
            assert!(!valid_host(&HeaderValue::from_static(bad)), "{bad}");
        }
        // The shortcut takes the usual hosts, and leaves the rest to the parser.
        for usual in ["example.com", "example.com:8080", "127.0.0.1", "a-b.example", "localhost:65535"] {
            assert!(plain_host(usual.as_bytes()), "{usual}");
        }
        for other in ["[::1]:443", "example.com:65536", "example.com:", ":80", "example.com:080000"] {
            assert!(!plain_host(other.as_bytes()), "{other}");
        }
    }

    proptest! {
        /// Any `Host` value: never a panic, and one taken is `host[:port]` with nothing that
        /// could split a key, a URL or a header (no user info, path, query, space or control).
        #[test]
        fn a_host_taken_is_only_host_and_port(value in proptest::collection::vec(any::<u8>(), 0..40)) {
            let Ok(value) = HeaderValue::from_bytes(&value) else { return Ok(()) };
            if valid_host(&value) {
                let text = value.to_str().unwrap();
                prop_assert!(!text.is_empty());
                prop_assert!(!text.bytes().any(|b| b"@/?#\\ \t\"<>".contains(&b) || !(0x21..=0x7e).contains(&b)), "{text:?}");
                let authority: http::uri::Authority = text.parse().unwrap();
                prop_assert_eq!(authority.as_str(), text);
            }
        }

        /// The shortcut takes nothing the parser refuses, and takes the usual hosts itself.
        #[test]
        fn the_plain_host_shortcut_agrees_with_the_parser(value in "[a-zA-Z0-9.:\\[\\]@/ _-]{0,24}") {
            let header = HeaderValue::from_str(&value).unwrap();
            if plain_host(value.as_bytes()) {
                prop_assert!(parsed_host(&header), "{:?}", value);
            }
            prop_assert_eq!(valid_host(&header), parsed_host(&header), "{:?}", value);
        }

        /// `name[:port]`: taken exactly when the port fits in 16 bits.
        #[test]
        fn hosts_shaped_like_hosts(host in "[a-z0-9.-]{1,12}|\\[[0-9a-f:]{2,12}\\]", port in proptest::option::of(0u32..70_000)) {
            let text = match port {
                Some(port) => format!("{host}:{port}"),
                None => host.clone(),
            };
            let value = HeaderValue::from_str(&text).unwrap();
            // A name with a port that fits is taken; a port past 65535 never is.
            let fits = port.is_none_or(|p| p <= 65_535);
            if !host.starts_with('[') || !fits {
                prop_assert_eq!(valid_host(&value), fits, "{}", text);
            }
        }
    }
}
