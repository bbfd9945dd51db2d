//! Real HTTP over loopback: routing, services, chains, health, body limits, shutdown, TLS.

mod support;

use rustls_pki_types::pem::PemObject;

use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::Bytes;
use http::StatusCode;
use http_body_util::{BodyExt, Full, StreamBody};
use seam_core::{BuildContext, BuildError, Component, Middleware, Next, Request, Response, async_trait};
use support::{Gateway, SERVER, Upstream, get, json, send};

/// Appends its label to `x-trail` going in and to the response's `x-trail` coming out.
#[seam_core::component(name = "plugins.httptest.middlewares.TrailMiddleware")]
struct TrailConfig {
    label: String,
    #[serde(default)]
    answer: Option<u16>,
}

struct Trail(String, Option<u16>);

#[async_trait]
impl Middleware for Trail {
    async fn handle(&self, mut req: Request, next: Next) -> Response {
        if let Some(status) = self.1 {
            let mut early = Response::new(seam_core::Body::from("stopped early"));
            *early.status_mut() = StatusCode::from_u16(status).unwrap();
            return early;
        }
        let trail = req.headers().get("x-trail").map(|v| v.to_str().unwrap().to_owned()).unwrap_or_default();
        req.headers_mut().insert("x-trail", format!("{trail}{}>", self.0).parse().unwrap());
        let mut response = next.run(req).await;
        let out = response.headers().get("x-trail-out").map(|v| v.to_str().unwrap().to_owned()).unwrap_or_default();
        response.headers_mut().insert("x-trail-out", format!("{out}<{}", self.0).parse().unwrap());
        response
    }
}

#[async_trait]
impl Component for TrailConfig {
    type Output = dyn Middleware;

    async fn build(&self, _cx: &BuildContext<'_>) -> Result<Arc<dyn Middleware>, BuildError> {
        Ok(Arc::new(Trail(self.label.clone(), self.answer)))
    }
}

fn echo_action() -> &'static str {
    "actions:\n  Echo: { use: plugins.respond.actions.RespondAction, config: { echo: true } }\n  Me: { use: plugins.respond.actions.RespondAction, config: { body: me } }\n"
}

#[tokio::test]
async fn static_param_wildcard_precedence_404_and_405() {
    let doc = format!(
        "{SERVER}{}routes:
  User: {{ gatewayPath: /users/:id, methods: [GET], action: Echo }}
  Me: {{ gatewayPath: /users/me, methods: [GET], action: Me }}
  Files: {{ gatewayPath: /files/*, action: Echo }}
  Create: {{ gatewayPath: /users, methods: [POST, PUT], action: Echo }}
",
        echo_action()
    );
    let gw = Gateway::start(&doc).await;
    let (status, _, body) = get(&gw.url("/users/42")).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(json(&body)["params"]["id"], "42");
    assert_eq!(&get(&gw.url("/users/me")).await.2[..], b"me", "a static segment wins over a parameter");
    assert_eq!(&get(&gw.url("/users/me/")).await.2[..], b"me", "a trailing slash is ignored");
    for (path, rest) in [("/files", ""), ("/files/", ""), ("/files/a/b.txt", "a/b.txt")] {
        let (status, _, body) = get(&gw.url(path)).await;
        assert_eq!(status, StatusCode::OK, "{path}");
        assert_eq!(json(&body)["params"]["*"], rest, "{path}");
    }
    let (status, _, _) = get(&gw.url("/nothing/here")).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    let (status, headers, _) = get(&gw.url("/users")).await;
    assert_eq!(status, StatusCode::METHOD_NOT_ALLOWED);
    assert_eq!(headers["allow"], "POST, PUT");
    let head = send(http::Request::head(gw.url("/users/7")).body(Full::default()).unwrap()).await;
    assert_eq!(head.0, StatusCode::OK, "HEAD is served by a GET route");
}

#[tokio::test]
async fn services_base_paths_and_chain_order() {
    let doc = format!(
        "{SERVER}{}middlewares:
  G: {{ use: plugins.httptest.middlewares.TrailMiddleware, config: {{ label: g }} }}
  S: {{ use: plugins.httptest.middlewares.TrailMiddleware, config: {{ label: s }} }}
  R: {{ use: plugins.httptest.middlewares.TrailMiddleware, config: {{ label: r }} }}
  Stop: {{ use: plugins.httptest.middlewares.TrailMiddleware, config: {{ label: x, answer: 418 }} }}
globalMiddlewares: [G]
routes:
  Users: {{ gatewayPath: /users/:id, middlewares: [R], action: Echo }}
  Hidden: {{ gatewayPath: /hidden, action: Echo }}
  Teapot: {{ gatewayPath: /teapot, middlewares: [Stop], action: Echo }}
services:
  Api: {{ gatewayBasePath: /api, middlewares: [S], routes: [Users, Teapot] }}
  Admin: {{ gatewayBasePath: /admin/, routes: [Users] }}
",
        echo_action()
    );
    let gw = Gateway::start(&doc).await;
    let (status, headers, body) = get(&gw.url("/api/users/5")).await;
    assert_eq!(status, StatusCode::OK);
    let echoed = json(&body);
    assert_eq!(echoed["headers"]["x-trail"][0], "g>s>r>", "global, then service, then route middlewares");
    assert_eq!(headers["x-trail-out"], "<r<s<g", "and back out in reverse");
    assert_eq!(echoed["params"]["id"], "5");
    let (_, _, body) = get(&gw.url("/admin/users/6")).await;
    assert_eq!(json(&body)["headers"]["x-trail"][0], "g>r>", "a route listed by two services is served under both");
    assert_eq!(
        get(&gw.url("/users/5")).await.0,
        StatusCode::NOT_FOUND,
        "with services, a route is served only through them"
    );
    assert_eq!(get(&gw.url("/hidden")).await.0, StatusCode::NOT_FOUND, "a route in no service is not served");
    let (status, _, body) = get(&gw.url("/api/teapot")).await;
    assert_eq!((status, &body[..]), (StatusCode::IM_A_TEAPOT, &b"stopped early"[..]), "a middleware may answer early");
}

#[tokio::test]
async fn health_routes_skip_the_chain_and_readiness_follows_storages() {
    let mut valkey = seam_testkit::Server::start();
    let doc = format!(
        "{SERVER}{}middlewares:
  Stop: {{ use: plugins.httptest.middlewares.TrailMiddleware, config: {{ label: x, answer: 401 }} }}
globalMiddlewares: [Stop]
storages:
  Sessions: {{ use: plugins.valkey.storages.ValkeyStorage, config: {{ host: 127.0.0.1, port: {}, commandTimeout: 500ms, connectTimeout: 500ms }} }}
routes:
  R: {{ gatewayPath: /r, action: Echo }}
",
        echo_action(),
        valkey.port()
    );
    let gw = Gateway::start(&doc).await;
    assert_eq!(get(&gw.url("/r")).await.0, StatusCode::UNAUTHORIZED);
    assert_eq!(get(&gw.url("/health/live")).await.0, StatusCode::OK, "global middlewares do not run on health routes");
    assert_eq!(get(&gw.url("/health/ready")).await.0, StatusCode::OK);
    valkey.kill();
    let started = Instant::now();
    let (status, _, body) = get(&gw.url("/health/ready")).await;
    assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE);
    assert!(json(&body)["failing"]["Sessions"].is_string(), "{}", String::from_utf8_lossy(&body));
    assert!(started.elapsed() < Duration::from_secs(3));
    assert_eq!(get(&gw.url("/health/live")).await.0, StatusCode::OK);
}

#[tokio::test]
async fn body_limit_applies_to_sized_and_chunked_bodies() {
    let upstream = Upstream::echo("u").await;
    let doc = format!(
        "server:\n  address: 127.0.0.1:0\n  bodyLimit: 1000\nactions:\n  Fw: {{ use: plugins.httpfw.actions.HttpAction, config: {{ upstreamEndpoint: \"{}\" }} }}\nroutes:\n  R: {{ gatewayPath: /upload, action: Fw }}\n",
        upstream.url()
    );
    let gw = Gateway::start(&doc).await;
    let small = http::Request::post(gw.url("/upload")).body(Full::new(Bytes::from(vec![b'a'; 1000]))).unwrap();
    let (status, _, body) = send(small).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(json(&body)["bodySize"], 1000);
    let sized = http::Request::post(gw.url("/upload")).body(Full::new(Bytes::from(vec![b'a'; 1001]))).unwrap();
    assert_eq!(send(sized).await.0, StatusCode::PAYLOAD_TOO_LARGE);

    // Chunked: no Content-Length, 3 chunks of 600 bytes.
    let chunks = (0..3).map(|_| Ok::<_, std::io::Error>(hyper::body::Frame::data(Bytes::from(vec![b'b'; 600]))));
    let stream = StreamBody::new(futures_util::stream::iter(chunks));
    let client = hyper_util::client::legacy::Client::builder(hyper_util::rt::TokioExecutor::new())
        .build(hyper_util::client::legacy::connect::HttpConnector::new());
    let request = http::Request::post(gw.url("/upload")).body(stream).unwrap();
    let response = client.request(request).await.unwrap();
    assert_eq!(response.status(), StatusCode::PAYLOAD_TOO_LARGE);
}

#[tokio::test]
async fn graceful_shutdown_finishes_an_in_flight_request() {
    let slow = Upstream::start(|_req| async {
        tokio::time::sleep(Duration::from_millis(800)).await;
        http::Response::new(Full::new(Bytes::from_static(b"finished")))
    })
    .await;
    let doc = format!(
        "{SERVER}actions:\n  Fw: {{ use: plugins.httpfw.actions.HttpAction, config: {{ upstreamEndpoint: \"{}\" }} }}\nroutes:\n  R: {{ gatewayPath: /slow, action: Fw }}\n",
        slow.url()
    );
    let mut gw = Gateway::start(&doc).await;
    let url = gw.url("/slow");
    let in_flight = tokio::spawn(async move { get(&url).await });
    tokio::time::sleep(Duration::from_millis(200)).await;
    gw.stop();
    let (status, _, body) = in_flight.await.unwrap();
    assert_eq!((status, &body[..]), (StatusCode::OK, &b"finished"[..]));
    tokio::time::timeout(Duration::from_secs(5), gw.done.take().unwrap()).await.expect("the server stops").unwrap();
    assert!(tokio::net::TcpStream::connect(gw.addr).await.is_err(), "no longer accepting");
}

#[tokio::test]
async fn tls_with_http2_by_alpn() {
    let certs = seam_testkit::TestCerts::generate();
    let doc = format!(
        "server:\n  address: 127.0.0.1:0\n  tls: true\n  certFile: \"{}\"\n  keyFile: \"{}\"\n{}routes:\n  R: {{ gatewayPath: /r, action: Me }}\n",
        certs.server_cert().display(),
        certs.server_key().display(),
        echo_action()
    );
    let gw = Gateway::start(&doc).await;
    let _ = rustls::crypto::ring::default_provider().install_default();
    let mut roots = rustls::RootCertStore::empty();
    let ca = std::fs::read(certs.ca()).unwrap();
    for cert in rustls_pki_types::CertificateDer::pem_slice_iter(&ca) {
        roots.add(cert.unwrap()).unwrap();
    }
    let tls = rustls::ClientConfig::builder().with_root_certificates(roots).with_no_client_auth();
    let connector = hyper_rustls::HttpsConnectorBuilder::new()
        .with_tls_config(tls)
        .https_only()
        .enable_http1()
        .enable_http2()
        .build();
    let client = hyper_util::client::legacy::Client::builder(hyper_util::rt::TokioExecutor::new()).build(connector);
    let url = format!("https://localhost:{}/r", gw.addr.port());
    let response = client.request(http::Request::get(url).body(Full::<Bytes>::default()).unwrap()).await.unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    assert_eq!(response.version(), http::Version::HTTP_2, "HTTP/2 negotiated by ALPN");
    assert_eq!(&response.into_body().collect().await.unwrap().to_bytes()[..], b"me");

    let missing = format!(
        "server:\n  address: 127.0.0.1:0\n  tls: true\n  certFile: /nope/cert.pem\n  keyFile: /nope/key.pem\n{}",
        echo_action()
    );
    let loaded = seam_config::document::load_str("t.yaml", &missing);
    // Refused when the document is resolved (so by `seam check` too), at the key's line.
    let errors = seam_config::resolver::resolve(&loaded.document, Default::default()).await.err().expect("refused");
    assert_eq!(errors.len(), 1, "{errors:#?}");
    assert!(errors[0].message.contains("/nope/cert.pem"), "{}", errors[0].message);
    assert_eq!(errors[0].loc.as_ref().map(|l| l.line), Some(4));
}

/// An upstream that sends a line every 250 ms, six times.
async fn trickling_upstream() -> Upstream {
    Upstream::start(|_req| async {
        let chunks = futures_util::stream::unfold(0, |n| async move {
            if n == 6 {
                return None;
            }
            tokio::time::sleep(Duration::from_millis(250)).await;
            Some((Ok::<_, std::io::Error>(hyper::body::Frame::data(Bytes::from_static(b"tick\n"))), n + 1))
        });
        http::Response::new(StreamBody::new(Box::pin(chunks)))
    })
    .await
}

#[tokio::test]
async fn read_and_write_timeouts() {
    let upstream = Upstream::echo("u").await;
    let trickling = trickling_upstream().await;
    let trickle = trickling.url();
    let doc = format!(
        "server:\n  address: 127.0.0.1:0\n  readTimeout: 500ms\n  writeTimeout: 700ms\nactions:\n  Fw: {{ use: plugins.httpfw.actions.HttpAction, config: {{ upstreamEndpoint: \"{}\" }} }}\n  Trickle: {{ use: plugins.httpfw.actions.HttpAction, config: {{ upstreamEndpoint: \"{trickle}\" }} }}\nroutes:\n  R: {{ gatewayPath: /upload, action: Fw }}\n  T: {{ gatewayPath: /trickle, action: Trickle }}\n",
        upstream.url()
    );
    let gw = Gateway::start(&doc).await;
    // A body that trickles in past readTimeout: 408.
    let chunks = futures_util::stream::unfold(0, |n| async move {
        if n == 4 {
            return None;
        }
        tokio::time::sleep(Duration::from_millis(300)).await;
        Some((Ok::<_, std::io::Error>(hyper::body::Frame::data(Bytes::from_static(b"slow"))), n + 1))
    });
    let client = hyper_util::client::legacy::Client::builder(hyper_util::rt::TokioExecutor::new())
        .build(hyper_util::client::legacy::connect::HttpConnector::new());
    let request = http::Request::post(gw.url("/upload")).body(StreamBody::new(Box::pin(chunks))).unwrap();
    let response = client.request(request).await.unwrap();
    assert_eq!(response.status(), StatusCode::REQUEST_TIMEOUT);

    // A response still streaming after writeTimeout is cut off.
    let started = Instant::now();
    let response =
        support::client().request(http::Request::get(gw.url("/trickle")).body(Full::default()).unwrap()).await.unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    let result = response.into_body().collect().await;
    assert!(result.is_err(), "the body must be cut off, not complete");
    assert!(started.elapsed() < Duration::from_millis(1400), "{:?}", started.elapsed());
}

#[tokio::test]
async fn routes_match_whatever_the_case_unless_case_sensitive() {
    let routes = "actions:\n  Echo: { use: plugins.respond.actions.RespondAction, config: { echo: true } }\n\
                  routes:\n  Users: { gatewayPath: /Api/Users/:userId, action: Echo }\n";
    let gateway = Gateway::start(&format!("{SERVER}{routes}")).await;
    for path in ["/api/users/AbC", "/API/USERS/AbC", "/Api/Users/AbC/"] {
        let (status, _, body) = get(&gateway.url(path)).await;
        assert_eq!(status, 200, "{path}");
        let echo = json(&body);
        assert_eq!(echo["params"]["userId"], "AbC", "the parameter keeps its case ({path})");
        assert_eq!(echo["path"], path, "the path as sent");
    }
    let strict = Gateway::start(&format!("server:\n  address: 127.0.0.1:0\n  caseSensitive: true\n{routes}")).await;
    assert_eq!(get(&strict.url("/api/users/AbC")).await.0, 404);
    assert_eq!(get(&strict.url("/Api/Users/AbC")).await.0, 200);
}

#[tokio::test]
async fn strict_routing_tells_a_trailing_slash_apart() {
    let routes = "actions:\n  A: { use: plugins.respond.actions.RespondAction, config: { body: a } }\n\
                  \x20 B: { use: plugins.respond.actions.RespondAction, config: { body: b } }\n\
                  routes:\n  NoSlash: { gatewayPath: /a, action: A }\n  Slash: { gatewayPath: /a/, action: B }\n";
    let strict = Gateway::start(&format!("server:\n  address: 127.0.0.1:0\n  strictRouting: true\n{routes}")).await;
    assert_eq!(get(&strict.url("/a")).await.2, Bytes::from("a"));
    assert_eq!(get(&strict.url("/a/")).await.2, Bytes::from("b"));
    // Not strict (Seam's default): the two are one path, so the document is refused.
    let loaded = seam_config::document::load_str("seam.yaml", &format!("{SERVER}{routes}"));
    let refused =
        seam_config::resolver::resolve(&loaded.document, seam_config::resolver::Options { offline: true }).await;
    let message = refused.err().expect("a conflict").iter().map(ToString::to_string).collect::<String>();
    assert!(message.contains("both claim"), "{message}");
    let lenient = Gateway::start(&format!("{SERVER}actions:\n  A: {{ use: plugins.respond.actions.RespondAction, config: {{ body: a }} }}\nroutes:\n  NoSlash: {{ gatewayPath: /a, action: A }}\n")).await;
    assert_eq!(get(&lenient.url("/a/")).await.0, 200);
}

#[tokio::test]
async fn check_refuses_routes_that_differ_only_in_case_unless_case_sensitive() {
    seam::ensure_linked();
    let routes = "actions:\n  A: { use: plugins.respond.actions.RespondAction }\n\
                  routes:\n  Upper: { gatewayPath: /Users, action: A }\n  Lower: { gatewayPath: /users, action: A }\n";
    let loaded = seam_config::document::load_str("seam.yaml", &format!("{SERVER}{routes}"));
    let refused =
        seam_config::resolver::resolve(&loaded.document, seam_config::resolver::Options { offline: true }).await;
    let message =
        refused.err().expect("one path when case does not count").iter().map(ToString::to_string).collect::<String>();
    assert!(message.contains("both claim"), "{message}");
    let strict = format!("server:\n  address: 127.0.0.1:0\n  caseSensitive: true\n{routes}");
    let loaded = seam_config::document::load_str("seam.yaml", &strict);
    assert!(
        seam_config::resolver::resolve(&loaded.document, seam_config::resolver::Options { offline: true })
            .await
            .is_ok()
    );
}
