//! The front door: no spelling of a path reaches an upstream resource without the
//! middlewares of the route that owns it.

mod support;

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use bytes::Bytes;
use http_body_util::Full;
use support::{Gateway, Upstream};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

/// The path as a lenient framework reads it: one round of percent-decoding, `\` as `/`,
/// `;...` stripped from each segment (Tomcat, Jetty), dot segments resolved, `//` merged, a
/// trailing `/` dropped.
fn framework_path(raw: &str) -> String {
    let decoded = percent_decode(raw).replace('\\', "/");
    let mut stack: Vec<&str> = Vec::new();
    for segment in decoded.split('/') {
        let segment = segment.split(';').next().unwrap_or("");
        match segment {
            "" | "." => {}
            ".." => {
                stack.pop();
            }
            s => stack.push(s),
        }
    }
    format!("/{}", stack.join("/"))
}

fn percent_decode(raw: &str) -> String {
    let bytes = raw.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%'
            && let Some(hex) = raw.get(i + 1..i + 3)
            && let Ok(b) = u8::from_str_radix(hex, 16)
        {
            out.push(b);
            i += 3;
            continue;
        }
        out.push(bytes[i]);
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// Sends `POST <target>` as raw bytes (so no client library normalizes it) and returns the
/// status code, 0 when the connection closed without an answer.
async fn raw_post(addr: std::net::SocketAddr, target: &[u8]) -> u16 {
    let mut stream = tokio::net::TcpStream::connect(addr).await.unwrap();
    let mut request = b"POST ".to_vec();
    request.extend_from_slice(target);
    request.extend_from_slice(b" HTTP/1.1\r\nhost: gw\r\ncontent-length: 0\r\nconnection: close\r\n\r\n");
    stream.write_all(&request).await.unwrap();
    let mut response = Vec::new();
    let _ = stream.read_to_end(&mut response).await;
    let text = String::from_utf8_lossy(&response);
    text.split(' ').nth(1).and_then(|code| code.parse().ok()).unwrap_or(0)
}

const HOSTILE: &[&str] = &[
    "//login",
    "///login",
    "/./login",
    "/././login",
    "/a/../login",
    "/a/b/../../login",
    "/a/./../login",
    "/a/%2e%2e/login",
    "/a/%2E%2E/login",
    "/a/.%2e/login",
    "/a/%2e./login",
    "/%2e/login",
    "/%6cogin",
    "/%6C%6F%67%69%6E",
    "/login/",
    "/login//",
    "/login/.",
    "/login/./",
    "/x/../login/",
    "/a/..%2flogin",
    "/a%2f..%2flogin",
    "/..%2flogin",
    "/a/..%2Flogin",
    "/a\\..\\login",
    "/a%5c..%5clogin",
    "/a/..%5Clogin",
    "/login;",
    "/login;jsessionid=1",
    "/a/..;/login",
    "/login;/",
    "/login%00",
    "/login%00.json",
    "/login%09",
    "/a/%252e%252e/login",
    "/..%252e/login",
    "/%2e%2e/login",
    "/../login",
    "/.%2e/login",
    "/login?x=1",
    "/LOGIN/../login",
];

#[tokio::test]
async fn no_spelling_of_a_limited_path_reaches_it_past_the_limit() {
    let hits = Arc::new(AtomicUsize::new(0));
    let counter = hits.clone();
    let upstream = Upstream::start(move |req: http::Request<hyper::body::Incoming>| {
        let counter = counter.clone();
        async move {
            if framework_path(req.uri().path()) == "/login" {
                counter.fetch_add(1, Ordering::SeqCst);
            }
            http::Response::new(Full::new(Bytes::from_static(b"ok")))
        }
    })
    .await;
    let gateway = Gateway::start(&format!(
        "server: {{ address: 127.0.0.1:0 }}
middlewares:
  Limit: {{ use: plugins.limiter.middlewares.LimiterMiddleware, config: {{ maxConnections: 2, expiration: 10m }} }}
actions:
  LoginUp: {{ use: plugins.httpfw.actions.HttpAction, config: {{ upstreamEndpoint: \"{up}/login\" }} }}
  Up: {{ use: plugins.httpfw.actions.HttpAction, config: {{ upstreamEndpoint: \"{up}\" }} }}
routes:
  Login: {{ gatewayPath: /login, methods: [POST], middlewares: [Limit], action: LoginUp }}
  Rest: {{ gatewayPath: \"/*\", action: Up }}
",
        up = upstream.url()
    ))
    .await;

    assert_eq!(raw_post(gateway.addr, b"/login").await, 200);
    assert_eq!(raw_post(gateway.addr, b"/login").await, 200);
    assert_eq!(raw_post(gateway.addr, b"/login").await, 429, "the limit is spent");
    let mut answers = Vec::new();
    for path in HOSTILE {
        let status = raw_post(gateway.addr, path.as_bytes()).await;
        answers.push(format!("{path} -> {status}"));
        assert!(
            matches!(status, 400 | 429 | 200 | 404),
            "{path}: unexpected status {status}; all so far: {answers:#?}"
        );
        assert_eq!(hits.load(Ordering::SeqCst), 2, "{path} reached /login past the limiter (status {status})");
    }
    // Raw bytes: a DEL and a `\` are refused; a unicode look-alike of `/` is another resource.
    assert_eq!(raw_post(gateway.addr, b"/log\x7fin").await, 400);
    assert_eq!(raw_post(gateway.addr, b"/login\\").await, 400);
    raw_post(gateway.addr, b"/\xe2\x88\x95login").await;
    assert_eq!(hits.load(Ordering::SeqCst), 2, "the limited resource was reached exactly as often as allowed");
}

#[tokio::test]
async fn the_canonical_path_is_what_the_upstream_receives_with_its_trailing_slash() {
    let upstream = Upstream::echo("up").await;
    let gateway = Gateway::start(&format!(
        "server: {{ address: 127.0.0.1:0 }}
actions:
  Up: {{ use: plugins.httpfw.actions.HttpAction, config: {{ upstreamEndpoint: \"{}/v1\" }} }}
routes:
  Api: {{ gatewayPath: \"/api/*\", action: Up }}
",
        upstream.url()
    ))
    .await;
    for (sent, forwarded) in [
        ("/api/users/", "/v1/users/"),
        ("/api//users/./7", "/v1/users/7"),
        ("/api/x/../users/%41?q=1", "/v1/users/A?q=1"),
        ("/api/a%20b", "/v1/a%20b"),
    ] {
        let (status, _, body) = support::get(&gateway.url(sent)).await;
        assert_eq!(status, 200, "{sent}");
        assert_eq!(support::json(&body)["uri"], forwarded, "{sent}");
    }
    let (status, _, _) = support::get(&gateway.url("/api/%2e%2e/%2e%2e/etc/passwd")).await;
    assert_eq!(status, 400, "a path above the root is refused");
}

async fn echo_gateway() -> (Upstream, Gateway) {
    let upstream = Upstream::echo("up").await;
    let gateway = Gateway::start(&format!(
        "server: {{ address: 127.0.0.1:0 }}
actions:
  Up: {{ use: plugins.httpfw.actions.HttpAction, config: {{ upstreamEndpoint: \"{up}\" }} }}
  Same: {{ use: plugins.httpfw.actions.HttpAction, config: {{ upstreamEndpoint: \"{up}\", preserveHost: true }} }}
routes:
  Plain: {{ gatewayPath: /plain, action: Up }}
  Preserved: {{ gatewayPath: /preserved, action: Same }}
",
        up = upstream.url()
    ))
    .await;
    (upstream, gateway)
}

#[tokio::test]
async fn http2_requests_forward_their_authority() {
    let (upstream, gateway) = echo_gateway().await;
    let client = hyper_util::client::legacy::Client::builder(hyper_util::rt::TokioExecutor::new())
        .http2_only(true)
        .build_http::<Full<Bytes>>();
    let authority = gateway.addr.to_string();
    for (path, host) in [("/plain", upstream.addr.to_string()), ("/preserved", authority.clone())] {
        let request = http::Request::get(gateway.url(path)).body(Full::default()).unwrap();
        let response = client.request(request).await.unwrap();
        assert_eq!(response.version(), http::Version::HTTP_2, "h2c by prior knowledge");
        let body = http_body_util::BodyExt::collect(response.into_body()).await.unwrap().to_bytes();
        let seen = support::json(&body);
        assert_eq!(seen["headers"]["x-forwarded-host"], authority.as_str(), "{path}: the client's :authority");
        assert_eq!(seen["headers"]["host"], host.as_str(), "{path}: Host");
    }
}

#[tokio::test]
async fn untrusted_clients_cannot_send_forwarded_headers_or_a_bad_host() {
    let (_upstream, gateway) = echo_gateway().await;
    let mut request = http::Request::get(gateway.url("/plain"));
    for name in [
        "forwarded",
        "x-forwarded-for",
        "x-forwarded-port",
        "x-forwarded-prefix",
        "x-forwarded-ssl",
        "x-forwarded-scheme",
        "x-real-ip",
        "x-original-url",
        "x-rewrite-url",
        "x-url-scheme",
    ] {
        request = request.header(name, "spoofed");
    }
    let (status, _, body) = support::send(request.body(Full::default()).unwrap()).await;
    assert_eq!(status, 200);
    let seen = support::json(&body);
    let spoofed: Vec<_> = seen["headers"].as_object().unwrap().iter().filter(|(_, v)| *v == "spoofed").collect();
    assert!(spoofed.is_empty(), "reached the upstream: {spoofed:?}");
    assert_eq!(seen["headers"]["x-forwarded-for"], "127.0.0.1", "the gateway's own value");

    for host in [&b"gw/x"[..], b"user@gw", b"gw:99999", b"gw x"] {
        let mut stream = tokio::net::TcpStream::connect(gateway.addr).await.unwrap();
        let mut raw = b"GET /plain HTTP/1.1\r\nhost: ".to_vec();
        raw.extend_from_slice(host);
        raw.extend_from_slice(b"\r\nconnection: close\r\n\r\n");
        stream.write_all(&raw).await.unwrap();
        let mut response = Vec::new();
        let _ = stream.read_to_end(&mut response).await;
        let text = String::from_utf8_lossy(&response);
        assert!(text.starts_with("HTTP/1.1 400"), "Host {:?}: {text}", String::from_utf8_lossy(host));
    }
}
