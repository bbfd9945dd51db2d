//! Ambiguous requests (RFC 9112 §3.2, §6.1; RFC 9113 §8.3.1): a body framed two ways, an
//! unknown transfer coding, two hosts or none, a target naming another host. Each is sent
//! raw to a gateway in front of an upstream that records what reaches it; nothing ambiguous
//! reaches it, and a request smuggled behind a refused one is never served. Headers with `_`
//! in their names, which CGI-style upstreams read as their `-` spelling, are dropped.

mod support;

use std::sync::{Arc, Mutex};
use std::time::Duration;

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper::body::Incoming;
use support::{Gateway, Upstream};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

/// What the upstream received: method, path, `X-Forwarded-Host`, body.
type Seen = Arc<Mutex<Vec<(String, String, String, Bytes)>>>;

async fn recording() -> (Upstream, Seen) {
    let seen: Seen = Arc::default();
    let log = seen.clone();
    let upstream = Upstream::start(move |req: http::Request<Incoming>| {
        let log = log.clone();
        async move {
            let (parts, body) = req.into_parts();
            let body = body.collect().await.map(|b| b.to_bytes()).unwrap_or_default();
            let forwarded_host = parts.headers.get("x-forwarded-host").map_or("", |v| v.to_str().unwrap()).to_owned();
            log.lock().unwrap().push((parts.method.to_string(), parts.uri.path().to_owned(), forwarded_host, body));
            http::Response::new(Full::new(Bytes::from_static(b"ok")))
        }
    })
    .await;
    (upstream, seen)
}

/// A gateway proxying every path to `upstream`, with `server_keys` added to `server:`.
async fn gateway(upstream: &Upstream, server_keys: &str) -> Gateway {
    Gateway::start(&format!(
        "server: {{ address: 127.0.0.1:0{server_keys} }}\nactions:\n  Up: {{ use: plugins.httpfw.actions.HttpAction, config: {{ upstreamEndpoint: \"{}\" }} }}\nroutes:\n  All: {{ gatewayPath: /*, action: Up }}\n",
        upstream.url()
    ))
    .await
}

/// Sends `raw` and reads until the gateway closes or goes quiet for half a second: the answers,
/// and whether it closed.
async fn exchange(gateway: &Gateway, raw: &[u8]) -> (String, bool) {
    let mut stream = TcpStream::connect(gateway.addr).await.unwrap();
    stream.write_all(raw).await.unwrap();
    let mut read = Vec::new();
    let mut buf = [0u8; 4096];
    loop {
        match tokio::time::timeout(Duration::from_millis(500), stream.read(&mut buf)).await {
            Ok(Ok(0)) | Ok(Err(_)) => return (String::from_utf8_lossy(&read).into_owned(), true),
            Ok(Ok(n)) => read.extend_from_slice(&buf[..n]),
            Err(_) => return (String::from_utf8_lossy(&read).into_owned(), false),
        }
    }
}

const SMUGGLED: &str = "GET /smuggled HTTP/1.1\r\nhost: gw\r\n\r\n";

#[tokio::test]
async fn a_body_framed_two_ways_never_lets_a_request_through_behind_it() {
    let (upstream, seen) = recording().await;
    let gateway = gateway(&upstream, "").await;
    // Transfer-Encoding and Content-Length, in either order: read as chunked, answered, and
    // the connection closed, as RFC 9112 §6.1 allows; two lengths: refused.
    for (raw, statuses) in [
        (
            format!(
                "POST /a HTTP/1.1\r\nhost: gw\r\ncontent-length: 5\r\ntransfer-encoding: chunked\r\n\r\n0\r\n\r\n{SMUGGLED}"
            ),
            ["200", "400"],
        ),
        (
            format!(
                "POST /a HTTP/1.1\r\nhost: gw\r\ntransfer-encoding: chunked\r\ncontent-length: 5\r\n\r\n0\r\n\r\n{SMUGGLED}"
            ),
            ["200", "400"],
        ),
        (
            format!("POST /a HTTP/1.1\r\nhost: gw\r\ncontent-length: 5\r\ncontent-length: 6\r\n\r\nhello!{SMUGGLED}"),
            ["400", "400"],
        ),
    ] {
        let (answer, closed) = exchange(&gateway, raw.as_bytes()).await;
        assert!(statuses.iter().any(|s| answer.starts_with(&format!("HTTP/1.1 {s}"))), "{raw:?}: {answer}");
        assert_eq!(answer.matches("HTTP/1.1 ").count(), 1, "one answer, nothing after it: {answer}");
        assert!(closed, "the connection is closed after it: {raw:?}");
    }
    let seen = seen.lock().unwrap();
    assert!(seen.iter().all(|s| s.1 == "/a" && s.3.is_empty()), "only /a, with its empty chunked body: {seen:?}");
    assert!(seen.len() <= 2, "{seen:?}");
}

#[tokio::test]
async fn a_transfer_coding_other_than_one_chunked_is_not_served() {
    let (upstream, seen) = recording().await;
    let gateway = gateway(&upstream, "").await;
    for coding in ["gzip, chunked", "chunked, chunked", "xchunked", "chunked, identity", "identity"] {
        let raw = format!("POST /a HTTP/1.1\r\nhost: gw\r\ntransfer-encoding: {coding}\r\n\r\n0\r\n\r\n{SMUGGLED}");
        let (answer, closed) = exchange(&gateway, raw.as_bytes()).await;
        assert!(answer.starts_with("HTTP/1.1 501") || answer.starts_with("HTTP/1.1 400"), "{coding}: {answer}");
        assert_eq!(answer.matches("HTTP/1.1 ").count(), 1, "{coding}: {answer}");
        assert!(closed, "{coding}: the connection is closed");
    }
    // Two header lines that add up to `chunked, chunked`.
    let raw = format!(
        "POST /a HTTP/1.1\r\nhost: gw\r\ntransfer-encoding: chunked\r\ntransfer-encoding: chunked\r\n\r\n0\r\n\r\n{SMUGGLED}"
    );
    let (answer, closed) = exchange(&gateway, raw.as_bytes()).await;
    assert!(answer.starts_with("HTTP/1.1 501") && closed, "{answer}");
    assert!(seen.lock().unwrap().is_empty(), "nothing reached the upstream: {:?}", seen.lock().unwrap());

    // One `chunked`, in any case and spacing, is served, and so is the request after it.
    let raw =
        format!("POST /a HTTP/1.1\r\nhost: gw\r\ntransfer-encoding:  Chunked \r\n\r\n3\r\nabc\r\n0\r\n\r\n{SMUGGLED}");
    let (answer, _) = exchange(&gateway, raw.as_bytes()).await;
    assert_eq!(answer.matches("HTTP/1.1 200").count(), 2, "{answer}");
    let seen = seen.lock().unwrap();
    assert_eq!(seen[0].1, "/a");
    assert_eq!(seen[0].3, Bytes::from_static(b"abc"));
    assert_eq!(seen[1].1, "/smuggled", "a pipelined request is routed by the gateway like any other");
}

#[tokio::test]
async fn a_request_has_one_host() {
    let (upstream, seen) = recording().await;
    let gateway = gateway(&upstream, "").await;
    for raw in [
        "GET /a HTTP/1.1\r\nhost: gw\r\nhost: evil\r\nconnection: close\r\n\r\n",
        "GET /a HTTP/1.1\r\nhost: gw\r\nhost: gw\r\nconnection: close\r\n\r\n",
        "GET /a HTTP/1.1\r\nconnection: close\r\n\r\n",
        "GET /a HTTP/1.1\r\nhost: gw/x\r\nconnection: close\r\n\r\n",
        "GET /a HTTP/1.1\r\nhost: user@gw\r\nconnection: close\r\n\r\n",
    ] {
        let (answer, _) = exchange(&gateway, raw.as_bytes()).await;
        assert!(answer.starts_with("HTTP/1.1 400"), "{raw:?}: {answer}");
    }
    assert!(seen.lock().unwrap().is_empty(), "{:?}", seen.lock().unwrap());
    // HTTP/1.0 may leave it out.
    let (answer, _) = exchange(&gateway, b"GET /old HTTP/1.0\r\n\r\n").await;
    assert!(answer.starts_with("HTTP/1.0 200") || answer.starts_with("HTTP/1.1 200"), "{answer}");
}

#[tokio::test]
async fn a_target_in_absolute_form_is_for_the_host_it_names() {
    let (upstream, seen) = recording().await;
    let gateway = gateway(&upstream, "").await;
    let (answer, _) =
        exchange(&gateway, b"GET http://Other.Example:8080/a?q=1 HTTP/1.1\r\nhost: gw\r\nconnection: close\r\n\r\n")
            .await;
    assert!(answer.starts_with("HTTP/1.1 200"), "{answer}");
    let seen = seen.lock().unwrap();
    assert_eq!(seen.len(), 1);
    assert_eq!(seen[0].1, "/a", "the path of the target");
    assert_eq!(seen[0].2, "Other.Example:8080", "its host, not the Host line (RFC 9112 §3.2.2)");
}

#[tokio::test]
async fn over_http2_a_host_header_naming_another_host_than_the_authority_is_refused() {
    let (upstream, seen) = recording().await;
    let gateway = gateway(&upstream, "").await;
    let stream = TcpStream::connect(gateway.addr).await.unwrap();
    let (mut h2, connection) = h2::client::handshake(stream).await.unwrap();
    tokio::spawn(connection);
    for (host, status) in [(Some("evil.example"), 400), (Some("GW.example"), 200), (None, 200)] {
        let mut request = http::Request::get("http://gw.example/a").body(()).unwrap();
        if let Some(host) = host {
            request.headers_mut().insert("host", host.parse().unwrap());
        }
        h2 = h2.ready().await.unwrap();
        let (response, _) = h2.send_request(request, true).unwrap();
        assert_eq!(response.await.unwrap().status(), status, "Host {host:?} with :authority gw.example");
    }
    assert_eq!(seen.lock().unwrap().len(), 2);
    assert!(seen.lock().unwrap().iter().all(|s| s.2 == "gw.example"), "{:?}", seen.lock().unwrap());
}

#[tokio::test]
async fn headers_with_underscores_are_dropped_unless_allowed() {
    let upstream = Upstream::echo("up").await;
    for (allowed, expect_kept) in [(false, false), (true, true)] {
        let gateway = gateway(&upstream, &format!(", underscoresInHeaders: {allowed}")).await;
        let request = http::Request::get(gateway.url("/a"))
            .header("x_forwarded_for", "6.6.6.6")
            .header("X_User_Id", "admin")
            .header("x-kept", "1")
            .body(Full::default())
            .unwrap();
        let (status, _, body) = support::send(request).await;
        assert_eq!(status, 200);
        let headers = &support::json(&body)["headers"];
        assert_eq!(headers["x-kept"], "1");
        // A CGI-style upstream would read these as X-Forwarded-For and X-User-Id.
        assert_eq!(headers.get("x_forwarded_for").is_some(), expect_kept, "underscoresInHeaders: {allowed}: {headers}");
        assert_eq!(headers.get("x_user_id").is_some(), expect_kept, "underscoresInHeaders: {allowed}: {headers}");
    }
}

/// Warnings of `seam check` for `doc` (resolved offline).
async fn warnings(doc: &str) -> Vec<String> {
    seam::ensure_linked();
    let loaded = seam_config::document::load_str("seam.yaml", doc);
    assert!(!loaded.has_errors(), "{doc}");
    let options = seam_config::resolver::Options { offline: true };
    match seam_config::resolver::resolve(&loaded.document, options).await {
        Ok(gateway) => gateway.warnings.iter().map(ToString::to_string).collect(),
        Err(diagnostics) => panic!("{diagnostics:?}"),
    }
}

#[tokio::test]
async fn seam_check_warns_of_underscored_headers_a_component_would_never_see() {
    let doc = |server: &str| {
        format!(
            "server: {{ address: 127.0.0.1:0{server} }}\n\
storages:\n  Mem: {{ use: plugins.memory.storages.MemoryStorage }}\n\
middlewares:\n  Id:\n    use: plugins.requestid.middlewares.RequestIdMiddleware\n    config: {{ headerName: X_Request_ID }}\n  \
Limit:\n    use: plugins.limiter.middlewares.LimiterMiddleware\n    config: {{ storage: Mem, keyBy: \"header:api_key\" }}\n  \
Fine:\n    use: plugins.limiter.middlewares.LimiterMiddleware\n    config: {{ storage: Mem, keyBy: \"session:user_id\" }}\n\
actions:\n  A: {{ use: plugins.respond.actions.RespondAction }}\n\
routes:\n  R: {{ gatewayPath: /x, middlewares: [Id, Limit, Fine], action: A }}\n"
        )
    };
    let found = warnings(&doc(", proxyHeader: X_Real_IP")).await;
    let about = |name: &str| found.iter().find(|w| w.contains(&format!("`{name}`"))).cloned();
    let id = about("X_Request_ID").unwrap_or_else(|| panic!("requestid's headerName: {found:?}"));
    assert!(id.contains("seam.yaml:7:") && id.contains("did you mean `X-Request-ID`?"), "{id}");
    let limit = about("api_key").unwrap_or_else(|| panic!("the limiter's keyBy: {found:?}"));
    assert!(limit.contains("seam.yaml:10:") && limit.contains("underscoresInHeaders"), "{limit}");
    let proxy = about("X_Real_IP").unwrap_or_else(|| panic!("server.proxyHeader: {found:?}"));
    assert!(proxy.contains("seam.yaml:1:"), "{proxy}");
    assert!(about("user_id").is_none(), "a session key is not a header: {found:?}");
    let allowed = warnings(&doc(", proxyHeader: X_Real_IP, underscoresInHeaders: true")).await;
    assert!(allowed.iter().all(|w| !w.contains("underscoresInHeaders")), "{allowed:?}");
}
