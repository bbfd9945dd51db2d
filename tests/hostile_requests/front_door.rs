//! The front door's middlewares under hostile requests: three chains built once, a request
//! made of whatever a client may send, and what must hold for every one of them. Shared by
//! the property test (`tests/hostile_requests.rs`) and the fuzz target
//! (`fuzz/fuzz_targets/front_door.rs`).
//!
//! - **web**: requestid, cors (`https://app.example.com` and `https://*.example.org`, with
//!   credentials), csrf (default keys, tokens in a storage);
//! - **basic**: basicauth with the one user `john:doe`;
//! - **jwt**: JWTValidationMiddleware with an HS256 key.
//!
//! Each chain ends in an action that answers `x-reached: 1`, so a check knows whether a
//! request got through. The values the generators pick from include the ones that open each
//! door (the CSRF token issued at build, `john:doe`, a valid JWT), so the checks see requests
//! pass as well as fail, and a door that opened for a wrong value would fail them.

use std::sync::Arc;

use base64::Engine;
use http::header::{
    ACCESS_CONTROL_ALLOW_CREDENTIALS, ACCESS_CONTROL_ALLOW_ORIGIN, ACCESS_CONTROL_REQUEST_METHOD, AUTHORIZATION,
    COOKIE, HOST, ORIGIN, REFERER, WWW_AUTHENTICATE,
};
use http::{HeaderName, HeaderValue, Method, StatusCode};
use seam_core::extensions::Client;
use seam_core::pipeline::Pipeline;
use seam_core::testing::Harness;
use seam_core::{Action, Body, Request, Response, async_trait};
use serde_json::json;

/// Stands for the CSRF token the door issued, in a generated value.
pub const CSRF_TOKEN: &str = "{csrf}";
/// Stands for the valid JWT, in a generated value.
pub const JWT: &str = "{jwt}";

/// Header names a hostile request is made of (besides random ones).
pub const NAMES: &[&str] = &[
    "origin",
    "access-control-request-method",
    "access-control-request-headers",
    "x-request-id",
    "x-csrf-token",
    "cookie",
    "authorization",
    "referer",
    "host",
    "content-type",
];

/// Header values a hostile request is made of (besides random and mangled ones).
pub const VALUES: &[&str] = &[
    "https://app.example.com",
    "HTTPS://APP.EXAMPLE.COM",
    "https://app.example.com/",
    "https://app.example.com.evil.com",
    "https://evil.com",
    "null",
    "https://api.example.org",
    "https://a.b.example.org",
    "https://.example.org",
    "https://example.org",
    "http://api.example.org",
    "https://api.example.org:8443",
    "POST",
    "GET",
    "x-custom, authorization",
    "req-123",
    "a b c",
    "csrf_={csrf}",
    "csrf_={csrf}; other=1",
    "csrf_=forged",
    "{csrf}",
    "forged",
    "Basic am9objpkb2U=",
    "basic am9objpkb2U=",
    "Basic  am9objpkb2U=",
    "Basic am9objpkb2U",
    "Basic am9objpkb2X=",
    "Basic am9objp3cm9uZw==",
    "Basic Og==",
    "Bearer {jwt}",
    "bearer {jwt}",
    "Bearer {jwt}x",
    "Bearer eyJhbGciOiJub25lIn0.eyJzdWIiOiJ4In0.",
    "Bearer a.b.c",
    "https://gateway.test/form",
    "gateway.test",
    "application/x-www-form-urlencoded",
    // Added later: new values go last, so the fuzz seeds' indices stay valid.
    "https://a.b,.example.org",
];

/// Methods a hostile request uses (besides a random token).
pub const METHODS: &[&str] = &["GET", "HEAD", "OPTIONS", "TRACE", "POST", "PUT", "PATCH", "DELETE"];

/// A request as a client may send it: nothing in it is checked yet.
#[derive(Clone, Debug)]
pub struct Hostile {
    pub method: Vec<u8>,
    pub target: Vec<u8>,
    pub headers: Vec<(Vec<u8>, Vec<u8>)>,
    /// Whether it came over HTTPS (`Client::scheme`).
    pub https: bool,
}

/// The three chains and the values that open them.
pub struct FrontDoor {
    web: Pipeline,
    basic: Pipeline,
    jwt: Pipeline,
    csrf_token: String,
    jwt_token: String,
}

/// Answers 200 with `x-reached: 1`.
struct Reached;

#[async_trait]
impl Action for Reached {
    async fn handle(&self, _req: Request) -> Response {
        let mut response = Response::new(Body::from("reached"));
        response.headers_mut().insert("x-reached", HeaderValue::from_static("1"));
        response
    }
}

impl FrontDoor {
    /// Builds the chains, then issues a CSRF token with a GET, as a browser would get one.
    pub async fn build() -> FrontDoor {
        let harness = Harness::new().storage("Tokens", seam_core::testing::MapStorage::default());
        let web = vec![
            harness.build::<seam_plugin_requestid::RequestIdMiddlewareConfig>(json!({})).await.unwrap(),
            harness
                .build::<seam_plugin_cors::CorsMiddlewareConfig>(json!({
                    "allowOrigins": "https://app.example.com, https://*.example.org",
                    "allowCredentials": true,
                }))
                .await
                .unwrap(),
            harness.build::<seam_plugin_csrf::CsrfMiddlewareConfig>(json!({ "storage": "Tokens" })).await.unwrap(),
        ];
        let basic = harness
            .build::<seam_plugin_basicauth::BasicAuthMiddlewareConfig>(json!({ "users": { "john": "doe" } }))
            .await
            .unwrap();
        let jwt = harness
            .build::<seam_plugin_jwt::JwtValidationMiddlewareConfig>(json!({ "signingKey": { "key": "front-door" } }))
            .await
            .unwrap();
        let web = Pipeline::new(web, Arc::new(Reached));
        let issued = web.run(http::Request::get("/").body(Body::empty()).unwrap()).await;
        let csrf_token = issued
            .headers()
            .get_all(http::header::SET_COOKIE)
            .iter()
            .find_map(|v| v.to_str().ok()?.strip_prefix("csrf_=")?.split(';').next().map(str::to_owned))
            .expect("a GET gets a CSRF cookie");
        let exp = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_secs() + 86_400;
        let jwt_token = jsonwebtoken::encode(
            &jsonwebtoken::Header::default(),
            &json!({ "sub": "john", "exp": exp }),
            &jsonwebtoken::EncodingKey::from_secret(b"front-door"),
        )
        .unwrap();
        FrontDoor {
            web,
            basic: Pipeline::new(vec![basic], Arc::new(Reached)),
            jwt: Pipeline::new(vec![jwt], Arc::new(Reached)),
            csrf_token,
            jwt_token,
        }
    }

    /// `value` with the placeholders replaced by the door's own token and JWT.
    pub fn fill(&self, value: &[u8]) -> Vec<u8> {
        let Ok(text) = std::str::from_utf8(value) else { return value.to_vec() };
        text.replace(CSRF_TOKEN, &self.csrf_token).replace(JWT, &self.jwt_token).into_bytes()
    }

    /// Sends `hostile` through the three chains and checks each answer; which of them (web,
    /// basic, jwt) let it through. Panics, naming the request, when a rule does not hold. A
    /// request `http` cannot represent (a method that is not a token, a target that is not a
    /// path) is `None`, as hyper would have refused it; a header it cannot hold is left out.
    pub async fn check(&self, hostile: &Hostile) -> Option<[bool; 3]> {
        let request = self.request(hostile)?;
        let web = self.web.run(copy(&request)).await;
        check_web(&request, &web, &self.csrf_token);
        let basic = self.basic.run(copy(&request)).await;
        check_basic(&request, &basic);
        let jwt = self.jwt.run(copy(&request)).await;
        check_jwt(&request, &jwt, &self.jwt_token);
        Some([reached(&web), reached(&basic), reached(&jwt)])
    }

    fn request(&self, hostile: &Hostile) -> Option<http::Request<()>> {
        let method = Method::from_bytes(&hostile.method).ok()?;
        let target = http::Uri::try_from(hostile.target.as_slice()).ok().filter(|u| u.path().starts_with('/'))?;
        let mut request = http::Request::builder().method(method).uri(target).body(()).ok()?;
        for (name, value) in &hostile.headers {
            let (Ok(name), Ok(value)) = (HeaderName::from_bytes(name), HeaderValue::from_bytes(&self.fill(value)))
            else {
                continue;
            };
            request.headers_mut().append(name, value);
        }
        request
            .extensions_mut()
            .insert(Client::new(([192, 0, 2, 1], 4000).into(), if hostile.https { "https" } else { "http" }));
        Some(request)
    }
}

/// A copy of `request` with an empty body, for one chain.
fn copy(request: &http::Request<()>) -> Request {
    let mut copy = http::Request::builder().method(request.method()).uri(request.uri()).body(Body::empty()).unwrap();
    *copy.headers_mut() = request.headers().clone();
    if let Some(client) = request.extensions().get::<Client>() {
        copy.extensions_mut().insert(*client);
    }
    copy
}

fn reached(response: &Response) -> bool {
    response.headers().contains_key("x-reached")
}

fn first(request: &http::Request<()>, name: impl http::header::AsHeaderName) -> Option<&HeaderValue> {
    request.headers().get(name)
}

/// The request-id rule of README: 1 to 128 characters of letters, digits and `-_.:+/=`.
fn sane_id(id: &[u8]) -> bool {
    (1..=128).contains(&id.len())
        && id.iter().all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.' | b':' | b'+' | b'/' | b'='))
}

/// Whether the CORS setup of the web chain allows `origin` (as sent, in any case).
fn origin_allowed(origin: &str) -> bool {
    let origin = origin.to_ascii_lowercase();
    if origin == "https://app.example.com" {
        return true;
    }
    let Some(sub) = origin.strip_prefix("https://").and_then(|o| o.strip_suffix(".example.org")) else {
        return false;
    };
    !sub.is_empty()
        && sub
            .split('.')
            .all(|label| !label.is_empty() && label.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-'))
}

fn check_web(request: &http::Request<()>, response: &Response, csrf_token: &str) {
    let status = response.status();
    let method = request.method();
    let origin = first(request, ORIGIN).filter(|o| !o.is_empty());
    let preflight =
        method == Method::OPTIONS && origin.is_some() && request.headers().contains_key(ACCESS_CONTROL_REQUEST_METHOD);
    assert!(
        [StatusCode::OK, StatusCode::NO_CONTENT, StatusCode::FORBIDDEN].contains(&status),
        "web: status {status} for {request:?}"
    );
    // The request id: always one, sane; the client's own when it was sane.
    let id = response.headers().get("x-request-id").unwrap_or_else(|| panic!("web: no X-Request-ID for {request:?}"));
    assert!(sane_id(id.as_bytes()), "web: X-Request-ID {id:?} for {request:?}");
    if let Some(sent) = first(request, "x-request-id").filter(|v| sane_id(v.as_bytes())) {
        assert_eq!(id, sent, "web: the client's sane id is kept");
    }
    // CORS: an origin is only ever echoed when it is allowed, and it is the one sent.
    if let Some(allowed) = response.headers().get(ACCESS_CONTROL_ALLOW_ORIGIN) {
        let sent = origin.unwrap_or_else(|| panic!("web: Allow-Origin {allowed:?} without an Origin: {request:?}"));
        assert_eq!(allowed, sent, "web: Allow-Origin is the Origin sent");
        assert!(origin_allowed(allowed.to_str().unwrap()), "web: Allow-Origin {allowed:?} for {request:?}");
        assert_eq!(
            response.headers().get(ACCESS_CONTROL_ALLOW_CREDENTIALS).map(HeaderValue::as_bytes),
            Some(&b"true"[..])
        );
    }
    if preflight {
        assert_eq!(status, StatusCode::NO_CONTENT, "web: a preflight is answered by CORS: {request:?}");
        assert!(!reached(response), "web: a preflight never reaches the action: {request:?}");
        return;
    }
    // CSRF: an unsafe request gets through only with the issued token in both places (and,
    // over HTTPS, a Referer of this host).
    let safe = [Method::GET, Method::HEAD, Method::OPTIONS, Method::TRACE].contains(method);
    if reached(response) && !safe {
        let header = first(request, "x-csrf-token").and_then(|v| v.to_str().ok());
        assert_eq!(header, Some(csrf_token), "web: {method} got through without the token: {request:?}");
        let cookie = request
            .headers()
            .get_all(COOKIE)
            .iter()
            .filter_map(|v| v.to_str().ok())
            .flat_map(|v| v.split(';'))
            .filter_map(|c| c.split_once('='))
            .find(|(name, _)| name.trim() == "csrf_")
            .map(|(_, value)| value.trim());
        assert_eq!(cookie, Some(csrf_token), "web: {method} got through without the cookie: {request:?}");
        if request.extensions().get::<Client>().is_some_and(Client::https) {
            let referer =
                first(request, REFERER).and_then(|v| v.to_str().ok()).and_then(|v| v.parse::<http::Uri>().ok());
            let host = first(request, HOST).and_then(|v| v.to_str().ok()).unwrap_or_default();
            let fits = referer.is_some_and(|r| {
                r.scheme_str().is_some_and(|s| s.eq_ignore_ascii_case("https"))
                    && r.authority().is_some_and(|a| a.as_str().eq_ignore_ascii_case(host))
            });
            assert!(fits, "web: {method} over HTTPS got through without a Referer of this host: {request:?}");
        }
    }
    if !reached(response) {
        assert_eq!(status, StatusCode::FORBIDDEN, "web: refused with {status}: {request:?}");
        assert!(!safe, "web: a safe request was refused: {request:?}");
    }
}

fn check_basic(request: &http::Request<()>, response: &Response) {
    if reached(response) {
        let value = first(request, AUTHORIZATION).and_then(|v| v.to_str().ok()).unwrap_or_default();
        let (scheme, encoded) = value.split_once(' ').unwrap_or_default();
        let decoded = base64::engine::general_purpose::STANDARD.decode(encoded.trim_start_matches(' '));
        assert!(
            scheme.eq_ignore_ascii_case("basic") && decoded.as_deref() == Ok(&b"john:doe"[..]),
            "basic: got through with {value:?}"
        );
    } else {
        assert_eq!(response.status(), StatusCode::UNAUTHORIZED, "basic: {request:?}");
        assert_eq!(
            response.headers().get(WWW_AUTHENTICATE).map(HeaderValue::as_bytes),
            Some(&b"Basic realm=\"Restricted\""[..]),
            "basic: the challenge, for {request:?}"
        );
    }
}

fn check_jwt(request: &http::Request<()>, response: &Response, jwt: &str) {
    if reached(response) {
        let value = first(request, AUTHORIZATION).and_then(|v| v.to_str().ok()).unwrap_or_default();
        let token = value.trim().split_once(' ').map(|(_, token)| token.trim());
        assert_eq!(token, Some(jwt), "jwt: got through with {value:?}");
    } else {
        assert_eq!(response.status(), StatusCode::UNAUTHORIZED, "jwt: {request:?}");
        let challenge = response.headers().get(WWW_AUTHENTICATE).and_then(|v| v.to_str().ok()).unwrap_or_default();
        assert!(challenge.starts_with("Bearer"), "jwt: the challenge {challenge:?}, for {request:?}");
    }
}

/// A hostile request from fuzzer bytes: the first byte picks the scheme and method, then
/// lines: the target, and `name:value` headers (at most 16). A name or value that is byte 1
/// then byte `k` is entry `k` of [`NAMES`] / [`VALUES`].
pub fn from_bytes(data: &[u8]) -> Option<Hostile> {
    let (&first, rest) = data.split_first()?;
    let method = match (first >> 1) as usize % (METHODS.len() + 1) {
        i if i < METHODS.len() => METHODS[i].as_bytes().to_vec(),
        _ => b"PROPFIND".to_vec(),
    };
    let mut lines = rest.split(|b| *b == b'\n');
    let target = lines.next()?.to_vec();
    let pick = |bytes: &[u8], pool: &[&str]| match bytes {
        [0x01, k, ..] => pool[*k as usize % pool.len()].as_bytes().to_vec(),
        _ => bytes.to_vec(),
    };
    let headers = lines
        .take(16)
        .filter_map(|line| {
            let split = line.iter().position(|b| *b == b':')?;
            Some((pick(&line[..split], NAMES), pick(&line[split + 1..], VALUES)))
        })
        .collect();
    Some(Hostile { method, target, headers, https: first & 1 == 1 })
}
