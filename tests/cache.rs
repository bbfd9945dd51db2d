//! CacheMiddleware over real HTTP to a counting upstream, on memory and on a real Valkey.

mod support;

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use bytes::Bytes;
use http::StatusCode;
use http_body_util::Full;
use seam_testkit::Server;
use support::{Gateway, SERVER, Upstream, send};

/// Answers by path, counting every request it serves.
async fn counting_upstream(count: Arc<AtomicUsize>) -> Upstream {
    Upstream::start(move |req: http::Request<hyper::body::Incoming>| {
        let count = count.clone();
        async move {
            let n = count.fetch_add(1, Ordering::SeqCst) + 1;
            let mut builder = http::Response::builder();
            let body: Bytes = match req.uri().path() {
                "/nostore" => {
                    builder = builder.header("cache-control", "no-store");
                    Bytes::from(format!("n{n}"))
                }
                "/private" => {
                    builder = builder.header("cache-control", "private, max-age=60");
                    Bytes::from(format!("n{n}"))
                }
                "/cookie" => {
                    builder = builder.header("set-cookie", "a=b");
                    Bytes::from(format!("n{n}"))
                }
                "/big" => Bytes::from(vec![b'x'; 2000]),
                "/error" => {
                    builder = builder.status(500);
                    Bytes::from(format!("n{n}"))
                }
                "/slow" => {
                    tokio::time::sleep(Duration::from_millis(300)).await;
                    Bytes::from(format!("n{n}"))
                }
                "/lang" => {
                    let lang = req
                        .headers()
                        .get("accept-language")
                        .map(|v| v.to_str().unwrap().to_owned())
                        .unwrap_or_default();
                    Bytes::from(format!("{lang}:{n}"))
                }
                _ => Bytes::from(format!("n{n}")),
            };
            builder.body(Full::new(body)).unwrap()
        }
    })
    .await
}

fn doc(storage: &str, config: &str, upstream: &str) -> String {
    format!(
        "{SERVER}{storage}middlewares:\n  Cache: {{ use: plugins.cache.middlewares.CacheMiddleware, config: {{ storage: Store, {config} }} }}\nactions:\n  App: {{ use: plugins.httpfw.actions.HttpAction, config: {{ upstreamEndpoint: \"{upstream}\" }} }}\nroutes:\n  All: {{ gatewayPath: /*, middlewares: [Cache], action: App }}\n"
    )
}

const MEMORY: &str = "storages:\n  Store: { use: plugins.memory.storages.MemoryStorage }\n";

fn valkey_storage(port: u16) -> String {
    format!(
        "storages:\n  Store: {{ use: plugins.valkey.storages.ValkeyStorage, config: {{ host: 127.0.0.1, port: {port}, prefix: \"cache:\", commandTimeout: 500ms, connectTimeout: 500ms }} }}\n"
    )
}

async fn get(gw: &Gateway, path: &str, headers: &[(&str, &str)]) -> (StatusCode, String, String, Option<String>) {
    let mut builder = http::Request::get(gw.url(path));
    for (k, v) in headers {
        builder = builder.header(*k, *v);
    }
    let (status, h, body) = send(builder.body(Full::default()).unwrap()).await;
    let x_cache = h.get("x-cache").map(|v| v.to_str().unwrap().to_owned()).unwrap_or_default();
    (status, x_cache, String::from_utf8_lossy(&body).into_owned(), h.get("age").map(|v| v.to_str().unwrap().to_owned()))
}

#[tokio::test]
async fn hits_misses_expiry_and_what_is_never_stored() {
    let count = Arc::new(AtomicUsize::new(0));
    let up = counting_upstream(count.clone()).await;
    let gw =
        Gateway::start(&doc(MEMORY, "expiration: 1s, maxBodySize: 1000, keyHeaders: [Accept-Language]", &up.url()))
            .await;

    let (_, x, body, _) = get(&gw, "/plain", &[]).await;
    assert_eq!((x.as_str(), body.as_str()), ("MISS", "n1"));
    let (_, x, body, age) = get(&gw, "/plain", &[]).await;
    assert_eq!((x.as_str(), body.as_str()), ("HIT", "n1"));
    assert_eq!(age.as_deref(), Some("0"));
    assert_eq!(count.load(Ordering::SeqCst), 1);

    // The query is part of the key.
    assert_eq!(get(&gw, "/plain?a=1", &[]).await.1, "MISS");
    assert_eq!(get(&gw, "/plain?a=2", &[]).await.1, "MISS");
    assert_eq!(get(&gw, "/plain?a=1", &[]).await.1, "HIT");
    // keyHeaders select the variant, as Vary does: one variant per URI is kept, and a request
    // is answered only by the variant of its own values.
    assert!(get(&gw, "/lang", &[("accept-language", "en")]).await.2.starts_with("en:"));
    assert_eq!(get(&gw, "/lang", &[("accept-language", "en")]).await.1, "HIT");
    assert!(get(&gw, "/lang", &[("accept-language", "fr")]).await.2.starts_with("fr:"));
    let (_, x, body, _) = get(&gw, "/lang", &[("accept-language", "en")]).await;
    assert!(body.starts_with("en:"), "never another language's variant: {x} {body}");

    for path in ["/nostore", "/private", "/cookie", "/error"] {
        get(&gw, path, &[]).await;
        let (_, x, _, _) = get(&gw, path, &[]).await;
        assert_eq!(x, "MISS", "{path} must never be stored");
    }
    let (_, x, _, _) = get(&gw, "/plain", &[("authorization", "Bearer t")]).await;
    assert_eq!(x, "MISS", "a request with Authorization is not served from or stored in the cache");
    let before = count.load(Ordering::SeqCst);
    get(&gw, "/auth-only", &[("authorization", "Bearer t")]).await;
    get(&gw, "/auth-only", &[]).await;
    assert_eq!(count.load(Ordering::SeqCst), before + 2, "the authorized response was not stored");

    let (_, x, body, _) = get(&gw, "/big", &[]).await;
    assert_eq!((x.as_str(), body.len()), ("MISS", 2000), "a larger body passes through whole");
    assert_eq!(get(&gw, "/big", &[]).await.1, "MISS", "and is not stored");

    tokio::time::sleep(Duration::from_millis(1300)).await;
    let (_, x, body, _) = get(&gw, "/plain", &[]).await;
    assert_eq!(x, "MISS", "expired after 1 s");
    assert_ne!(body, "n1");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_misses_reach_the_upstream_once() {
    let count = Arc::new(AtomicUsize::new(0));
    let up = counting_upstream(count.clone()).await;
    let gw = Arc::new(Gateway::start(&doc(MEMORY, "expiration: 30s", &up.url())).await);
    let tasks: Vec<_> = (0..100)
        .map(|_| {
            let gw = gw.clone();
            tokio::spawn(async move { get(&gw, "/slow", &[]).await })
        })
        .collect();
    for t in tasks {
        let (status, _, body, _) = t.await.unwrap();
        assert_eq!((status, body.as_str()), (StatusCode::OK, "n1"));
    }
    assert_eq!(count.load(Ordering::SeqCst), 1, "100 concurrent identical GETs, one upstream request");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_cache_filled_through_one_instance_serves_another_and_valkey_down_is_a_miss() {
    let mut valkey = Server::start();
    let count = Arc::new(AtomicUsize::new(0));
    let up = counting_upstream(count.clone()).await;
    let text = doc(&valkey_storage(valkey.port()), "expiration: 30s", &up.url());
    let a = Gateway::start(&text).await;
    let b = Gateway::start(&text).await;
    // Behind a load balancer both instances see the same Host (it is part of the key).
    let host = [("host", "api.example")];
    assert_eq!(get(&a, "/shared", &host).await.1, "MISS");
    let (_, x, body, _) = get(&b, "/shared", &host).await;
    assert_eq!((x.as_str(), body.as_str()), ("HIT", "n1"));

    valkey.kill();
    let (status, x, _, _) = get(&a, "/other", &host).await;
    assert_eq!((status, x.as_str()), (StatusCode::OK, "MISS"), "a cache never fails a request");
    assert_eq!(count.load(Ordering::SeqCst), 2);
    // An entry already copied into the process (it cannot change before it expires) still hits.
    assert_eq!(get(&a, "/shared", &host).await.1, "HIT");
}

/// The issue's case: the cache in front of a session middleware whose id travels in a header.
/// A login answer carries the new id; it must never be handed to the next anonymous client,
/// and an answer built from session-mapped headers must never be stored.
#[tokio::test]
async fn a_cache_in_front_of_header_sessions_never_hands_one_session_to_another_client() {
    let upstream = Upstream::start(|req: http::Request<hyper::body::Incoming>| async move {
        let user = req.headers().get("x-user-id").map(|v| v.to_str().unwrap().to_owned()).unwrap_or_default();
        let mut builder = http::Response::builder();
        if req.uri().path() == "/login" {
            builder = builder.header("x-session-set", r#"{"user_id":"42"}"#);
        }
        builder.body(Full::new(Bytes::from(format!("user={user}")))).unwrap()
    })
    .await;
    let gateway = Gateway::start(&format!(
        "{SERVER}
middlewares:
  Cache: {{ use: plugins.cache.middlewares.CacheMiddleware }}
  Sessions: {{ use: plugins.sessions.middlewares.SessionMiddleware, config: {{ keyLookup: 'header:X-Session-Id' }} }}
  Map: {{ use: plugins.sessions.middlewares.MapSessionToHeaderMiddleware, config: {{ headers: {{ X-User-Id: user_id }} }} }}
actions:
  Up: {{ use: plugins.httpfw.actions.HttpAction, config: {{ upstreamEndpoint: \"{}\" }} }}
routes:
  All: {{ gatewayPath: \"/*\", middlewares: [Cache, Sessions, Map], action: Up }}
",
        upstream.url()
    ))
    .await;
    let get = |path: &str, session: Option<&str>| {
        let mut request = http::Request::get(gateway.url(path));
        if let Some(id) = session {
            request = request.header("x-session-id", id);
        }
        request.body(Full::<Bytes>::default()).unwrap()
    };
    let (status, headers, _) = send(get("/login", None)).await;
    assert_eq!(status, StatusCode::OK);
    let first = headers["x-session-id"].to_str().unwrap().to_owned();
    let (_, headers, _) = send(get("/login", None)).await;
    let second = headers.get("x-session-id").map(|v| v.to_str().unwrap().to_owned());
    assert_ne!(second.as_deref(), Some(first.as_str()), "the next anonymous client got the first client's session");

    let (_, _, body) = send(get("/me", Some(&first))).await;
    assert_eq!(&body[..], b"user=42");
    let (_, headers, body) = send(get("/me", None)).await;
    assert_eq!(&body[..], b"user=", "an answer built from a session is not served to another client");
    assert_eq!(headers["x-cache"], "MISS");
}

/// RFC 9111 §4.4 across instances: with the shared tier on a ValkeyStorage with
/// `clientCache` (and no in-process tier of the cache's own), an invalidation made through
/// one instance reaches every other within milliseconds, through Valkey's invalidation
/// pushes, while hits stay local.
#[tokio::test]
async fn an_invalidation_through_one_instance_reaches_another_within_milliseconds() {
    let valkey = Server::shared();
    let count = Arc::new(AtomicUsize::new(0));
    let up = counting_upstream(count.clone()).await;
    let prefix = seam_testkit::unique_prefix("cache-cc");
    let storage = format!(
        "storages:\n  Store: {{ use: plugins.valkey.storages.ValkeyStorage, config: {{ host: 127.0.0.1, port: {}, prefix: \"{prefix}\", clientCache: {{ maxEntries: 1000, ttl: 60s }} }} }}\n",
        valkey.port()
    );
    let text = doc(&storage, "expiration: 60s, localSize: 0", &up.url());
    let (a, b) = (Gateway::start(&text).await, Gateway::start(&text).await);
    let host = [("host", "api.example")];
    assert_eq!(get(&a, "/items", &host).await.1, "MISS");
    assert_eq!(get(&b, "/items", &host).await.2, "n1");
    // Let the invalidation connections come up and B's copy settle.
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert_eq!(get(&b, "/items", &host).await.2, "n1");
    let post = http::Request::post(a.url("/items")).header("host", "api.example").body(Full::default()).unwrap();
    assert_eq!(send(post).await.0, StatusCode::OK);
    let started = std::time::Instant::now();
    loop {
        let (_, x, body, _) = get(&b, "/items", &host).await;
        if x == "MISS" {
            assert_ne!(body, "n1");
            break;
        }
        assert!(started.elapsed() < Duration::from_secs(2), "B still serves the old list");
    }
    let took = started.elapsed();
    assert!(took < Duration::from_millis(50), "B saw the invalidation after {took:?}");
}
