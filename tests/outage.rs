//! A Valkey that dies and comes back while requests flow: no panic, no hang; sessions and
//! limits answer 503 within commandTimeout, the cache falls through to the upstream,
//! readiness says 503, and everything returns after the restart without restarting seam.

mod support;

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use bytes::Bytes;
use http_body_util::Full;
use seam_testkit::Server;
use support::{Gateway, SERVER, Upstream, send};

fn doc(valkey: u16, upstream: &str) -> String {
    format!(
        "{SERVER}storages:
  Valkey: {{ use: plugins.valkey.storages.ValkeyStorage, config: {{ host: 127.0.0.1, port: {valkey}, commandTimeout: 500ms, connectTimeout: 500ms }} }}
middlewares:
  Sessions: {{ use: plugins.sessions.middlewares.SessionMiddleware, config: {{ storage: Valkey }} }}
  Limit: {{ use: plugins.limiter.middlewares.LimiterMiddleware, config: {{ storage: Valkey, maxConnections: 1000000 }} }}
  Cache: {{ use: plugins.cache.middlewares.CacheMiddleware, config: {{ storage: Valkey, localSize: 0 }} }}
actions:
  Up: {{ use: plugins.httpfw.actions.HttpAction, config: {{ upstreamEndpoint: \"{upstream}\" }} }}
routes:
  Session: {{ gatewayPath: /session/*, middlewares: [Sessions], action: Up }}
  Limited: {{ gatewayPath: /limited/*, middlewares: [Limit], action: Up }}
  Cached: {{ gatewayPath: /cached/*, middlewares: [Cache], action: Up }}
"
    )
}

async fn get(gateway: &Gateway, path: &str, cookie: Option<&str>) -> (u16, Duration) {
    let mut request = http::Request::get(gateway.url(path));
    if let Some(cookie) = cookie {
        request = request.header("cookie", cookie);
    }
    let started = Instant::now();
    let (status, _, _) = send(request.body(Full::<Bytes>::default()).unwrap()).await;
    (status.as_u16(), started.elapsed())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_valkey_that_dies_under_load_is_survived() {
    let mut valkey = Server::start();
    let upstream = Upstream::start(|req: http::Request<hyper::body::Incoming>| async move {
        let mut response = http::Response::new(Full::new(Bytes::from_static(b"ok")));
        if req.uri().path() == "/login" {
            response.headers_mut().insert("x-session-set", r#"{"user":"1"}"#.parse().unwrap());
        }
        response
    })
    .await;
    let gateway = Arc::new(Gateway::start(&doc(valkey.port(), &upstream.url())).await);
    let login = send(http::Request::get(gateway.url("/session/login")).body(Full::<Bytes>::default()).unwrap()).await;
    let cookie = login.1["set-cookie"].to_str().unwrap().split(';').next().unwrap().to_owned();
    for path in ["/limited/x", "/cached/x"] {
        assert_eq!(get(&gateway, path, None).await.0, 200, "{path} before the outage");
    }
    assert_eq!(get(&gateway, "/session/me", Some(&cookie)).await.0, 200);

    // Load in the background for the whole test: nothing may panic or hang.
    let running = Arc::new(AtomicBool::new(true));
    let load: Vec<_> = (0..4)
        .map(|i| {
            let (gateway, running, cookie) = (gateway.clone(), running.clone(), cookie.clone());
            tokio::spawn(async move {
                let paths = ["/session/me", "/limited/x", "/cached/x"];
                let mut worst = Duration::ZERO;
                let mut n = 0;
                while running.load(Ordering::Relaxed) {
                    let path = paths[(i + n) % paths.len()];
                    let (_, took) = get(&gateway, path, Some(&cookie)).await;
                    worst = worst.max(took);
                    n += 1;
                }
                worst
            })
        })
        .collect();

    tokio::time::sleep(Duration::from_millis(300)).await;
    valkey.kill();
    tokio::time::sleep(Duration::from_millis(300)).await;
    for (path, expected) in [("/session/me", 503), ("/limited/x", 503), ("/cached/x", 200)] {
        let (status, took) = get(&gateway, path, Some(&cookie)).await;
        assert_eq!(status, expected, "{path} while Valkey is down");
        assert!(took < Duration::from_secs(3), "{path} answered after {took:?} (commandTimeout 500ms)");
    }
    let (status, took) = get(&gateway, "/health/ready", None).await;
    assert_eq!(status, 503, "readiness while Valkey is down");
    assert!(took < Duration::from_secs(7), "readiness answered after {took:?}");

    valkey.restart();
    let deadline = Instant::now() + Duration::from_secs(15);
    loop {
        let mut all = Vec::new();
        for path in ["/limited/x", "/cached/x", "/health/ready"] {
            all.push(get(&gateway, path, None).await.0);
        }
        if all.iter().all(|s| *s == 200) {
            break;
        }
        assert!(Instant::now() < deadline, "service did not return after the restart: {all:?}");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    running.store(false, Ordering::Relaxed);
    for task in load {
        let worst = task.await.expect("a load task panicked");
        assert!(worst < Duration::from_secs(7), "a request took {worst:?} during the outage");
    }
}
