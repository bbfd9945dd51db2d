//! Operating a running gateway: the Prometheus metrics (scraped and parsed with a parser
//! crate, exact counts), hot reload under load (SIGHUP and `--watch`), a failed reload, and
//! the access log (every line written, none of them holding a request).

mod support;

use std::collections::BTreeSet;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use prometheus_parse::{Sample, Scrape, Value};
use seam_testkit::Server as Valkey;
use support::{SeamProcess, Upstream, get};

/// `server:` lines for metrics on a free port, and that port.
fn metrics_lines() -> (String, u16) {
    let port = seam_testkit::free_port();
    (format!("  metrics: {{ address: \"127.0.0.1:{port}\", path: /metrics }}\n"), port)
}

async fn scrape(port: u16) -> Vec<Sample> {
    let (status, headers, body) = get(&format!("http://127.0.0.1:{port}/metrics")).await;
    assert_eq!(status, 200);
    assert!(headers["content-type"].to_str().unwrap().starts_with("application/openmetrics-text"));
    let text = String::from_utf8(body.to_vec()).unwrap();
    let lines = text.lines().map(|l| Ok(l.to_owned()));
    Scrape::parse(lines).expect("a parsable exposition").samples
}

/// The value of `name` with exactly these labels among its own (others may exist).
fn value(samples: &[Sample], name: &str, labels: &[(&str, &str)]) -> Option<f64> {
    samples.iter().filter(|s| s.metric == name).find(|s| labels.iter().all(|(k, v)| s.labels.get(k) == Some(*v))).map(
        |s| match &s.value {
            Value::Counter(v) | Value::Gauge(v) | Value::Untyped(v) => *v,
            Value::Histogram(buckets) => buckets.last().map_or(0.0, |b| b.count),
            Value::Summary(_) => f64::NAN,
        },
    )
}

fn count(samples: &[Sample], name: &str, labels: &[(&str, &str)]) -> f64 {
    value(samples, name, labels).unwrap_or(0.0)
}

#[tokio::test]
async fn a_known_mix_of_requests_is_counted_exactly_per_route_and_status() {
    let upstream = Upstream::echo("users").await;
    let closed = format!("http://127.0.0.1:{}", seam_testkit::free_port());
    let (metrics, port) = metrics_lines();
    let body = format!(
        "{metrics}actions:\n  Users: {{ use: plugins.httpfw.actions.HttpAction, config: {{ upstreamEndpoint: \"{}\" }} }}\n  \
         Down: {{ use: plugins.httpfw.actions.HttpAction, config: {{ upstreamEndpoint: \"{closed}\" }} }}\n\
         routes:\n  Users: {{ gatewayPath: /users/:id, methods: [GET], action: Users }}\n  Broken: {{ gatewayPath: /broken, action: Down }}\n",
        upstream.url()
    );
    let seam = SeamProcess::start(&body).await;
    for i in 0..3 {
        assert_eq!(get(&seam.url(&format!("/users/{i}"))).await.0, 200);
    }
    for _ in 0..2 {
        assert_eq!(get(&seam.url("/nowhere")).await.0, 404);
    }
    let post = http::Request::post(seam.url("/users/1")).body(Full::new(Bytes::new())).unwrap();
    assert_eq!(support::send(post).await.0, 405);
    assert_eq!(get(&seam.url("/broken")).await.0, 502);

    let samples = scrape(port).await;
    let requests = "seam_http_requests_total";
    assert_eq!(count(&samples, requests, &[("route", "Users"), ("method", "GET"), ("status", "200")]), 3.0);
    assert_eq!(count(&samples, requests, &[("route", ""), ("method", "GET"), ("status", "404")]), 2.0);
    assert_eq!(count(&samples, requests, &[("route", ""), ("method", "POST"), ("status", "405")]), 1.0);
    assert_eq!(count(&samples, requests, &[("route", "Broken"), ("method", "GET"), ("status", "502")]), 1.0);
    let total: f64 =
        samples.iter().filter(|s| s.metric == requests).map(|s| count(std::slice::from_ref(s), requests, &[])).sum();
    assert_eq!(total, 7.0, "nothing else was counted");
    assert_eq!(count(&samples, "seam_http_request_duration_seconds_count", &[("route", "Users")]), 3.0);
    let upstream_url = upstream.url();
    let users = [("action", "Users"), ("endpoint", upstream_url.as_str())];
    assert_eq!(count(&samples, "seam_upstream_request_duration_seconds_count", &users), 3.0);
    let down = [("action", "Down"), ("endpoint", closed.as_str()), ("kind", "connect")];
    assert_eq!(count(&samples, "seam_upstream_errors_total", &down), 1.0);
    // A connection held open is counted, and uncounted once it closes.
    let held = tokio::net::TcpStream::connect(("127.0.0.1", seam.port)).await.unwrap();
    let open = |samples: &[Sample]| count(samples, "seam_open_connections", &[("protocol", "http")]);
    let deadline = Instant::now() + Duration::from_secs(10);
    while open(&scrape(port).await) < 1.0 {
        assert!(Instant::now() < deadline, "the open connection is never counted");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let with_held = open(&scrape(port).await);
    drop(held);
    while open(&scrape(port).await) >= with_held {
        assert!(Instant::now() < deadline, "the closed connection is still counted");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let build = samples.iter().find(|s| s.metric == "seam_build_info").expect("seam_build_info");
    assert!(build.labels.get("plugins").unwrap().contains("httpfw"));
    // Not on the public port.
    assert_eq!(get(&seam.url("/metrics")).await.0, 404);
    // The ready route says where they are.
    let (_, _, ready) = get(&seam.url("/health/ready")).await;
    assert_eq!(support::json(&ready)["metrics"], format!("http://127.0.0.1:{port}/metrics"));
}

#[tokio::test]
async fn storage_errors_are_counted_while_valkey_is_down() {
    let mut valkey = Valkey::start();
    let (metrics, port) = metrics_lines();
    let body = format!(
        "{metrics}storages:\n  Shared: {{ use: plugins.valkey.storages.ValkeyStorage, config: {{ host: 127.0.0.1, port: {}, prefix: \"{}\", commandTimeout: 500ms, connectTimeout: 500ms }} }}\n\
         middlewares:\n  Limit: {{ use: plugins.limiter.middlewares.LimiterMiddleware, config: {{ storage: Shared, maxConnections: 1000, expiration: 60s }} }}\n\
         actions:\n  Ok: {{ use: plugins.respond.actions.RespondAction }}\n\
         routes:\n  R: {{ gatewayPath: /r, middlewares: [Limit], action: Ok }}\n",
        valkey.port(),
        seam_testkit::unique_prefix("metrics")
    );
    let seam = SeamProcess::start(&body).await;
    for _ in 0..4 {
        assert_eq!(get(&seam.url("/r")).await.0, 200);
    }
    let samples = scrape(port).await;
    assert_eq!(
        count(&samples, "seam_storage_operations_total", &[("storage", "Shared"), ("op", "incr"), ("outcome", "ok")]),
        4.0
    );
    assert_eq!(count(&samples, "seam_limiter_requests_total", &[("middleware", "Limit"), ("outcome", "allowed")]), 4.0);
    assert_eq!(count(&samples, "seam_storage_up", &[("storage", "Shared")]), 1.0);

    valkey.kill();
    for _ in 0..3 {
        assert_eq!(get(&seam.url("/r")).await.0, 503);
    }
    let samples = scrape(port).await;
    let errors = [("storage", "Shared"), ("op", "incr"), ("outcome", "error")];
    assert_eq!(count(&samples, "seam_storage_operations_total", &errors), 3.0);
    assert_eq!(
        count(&samples, "seam_limiter_requests_total", &[("middleware", "Limit"), ("outcome", "unavailable")]),
        3.0
    );
    assert_eq!(count(&samples, "seam_storage_up", &[("storage", "Shared")]), 0.0);
}

/// A document with the stable route, route `R{n}`, a limiter on a Valkey storage (unchanged
/// across reloads) and a responder whose header changes with `n`.
fn reloadable(valkey: u16, prefix: &str, metrics: &str, n: usize) -> String {
    format!(
        "{metrics}storages:\n  Shared: {{ use: plugins.valkey.storages.ValkeyStorage, config: {{ host: 127.0.0.1, port: {valkey}, prefix: \"{prefix}\" }} }}\n\
         middlewares:\n  Limit: {{ use: plugins.limiter.middlewares.LimiterMiddleware, config: {{ storage: Shared, maxConnections: 1000000, expiration: 60s }} }}\n\
         actions:\n  Ok: {{ use: plugins.respond.actions.RespondAction, config: {{ headers: {{ X-Generation: \"{n}\" }} }} }}\n\
         routes:\n  Stable: {{ gatewayPath: /stable, middlewares: [Limit], action: Ok }}\n  R{n}: {{ gatewayPath: /r{n}, action: Ok }}\n"
    )
}

/// The ids of the clients connected to `valkey`, but the asking one.
fn client_ids(valkey: &Valkey) -> BTreeSet<u64> {
    let mut connection = valkey.client();
    let own: u64 = redis::cmd("CLIENT").arg("ID").query(&mut connection).unwrap();
    let list: String = redis::cmd("CLIENT").arg("LIST").arg("TYPE").arg("normal").query(&mut connection).unwrap();
    list.lines()
        .filter_map(|line| line.split(' ').find_map(|f| f.strip_prefix("id=")).and_then(|id| id.parse().ok()))
        .filter(|id| *id != own)
        .collect()
}

async fn reloads_done(port: u16, result: &str, expected: f64) {
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let samples = scrape(port).await;
        let done = count(&samples, "seam_config_reloads_total", &[("result", result)]);
        if done >= expected {
            assert_eq!(done, expected, "more reloads than asked for");
            return;
        }
        assert!(Instant::now() < deadline, "reload {expected} ({result}) not done in time");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// Requests `/stable` in a loop on keep-alive connections until told to stop; every
/// answer must be a 200.
fn load(url: String, stop: Arc<AtomicBool>, served: Arc<AtomicU64>) -> tokio::task::JoinHandle<Vec<String>> {
    tokio::spawn(async move {
        let client = support::client();
        let mut failures = Vec::new();
        while !stop.load(Ordering::Relaxed) {
            let request = http::Request::get(&url).body(Full::new(Bytes::new())).unwrap();
            match client.request(request).await {
                Ok(response) if response.status() == 200 => {
                    let _ = response.into_body().collect().await;
                    served.fetch_add(1, Ordering::Relaxed);
                }
                Ok(response) => failures.push(format!("status {}", response.status())),
                Err(e) => failures.push(format!("error: {e:?}")),
            }
        }
        failures
    })
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn twenty_reloads_under_load_drop_no_request_and_keep_the_unchanged_storage_connection() {
    let valkey = Valkey::start();
    let prefix = seam_testkit::unique_prefix("reload");
    let (metrics, port) = metrics_lines();
    let seam =
        SeamProcess::start_with(&reloadable(valkey.port(), &prefix, &metrics, 0), &["--workers", "2"], &[]).await;
    assert_eq!(get(&seam.url("/stable")).await.0, 200);
    let before = client_ids(&valkey);
    assert!(!before.is_empty(), "the storage is connected");

    let (stop, served) = (Arc::new(AtomicBool::new(false)), Arc::new(AtomicU64::new(0)));
    let loops: Vec<_> = (0..4).map(|_| load(seam.url("/stable"), stop.clone(), served.clone())).collect();
    for n in 1..=20 {
        seam.rewrite(&reloadable(valkey.port(), &prefix, &metrics, n));
        seam.signal("HUP");
        reloads_done(port, "success", n as f64).await;
        let (status, headers, _) = get(&seam.url(&format!("/r{n}"))).await;
        assert_eq!(status, 200, "route R{n} is served once its reload is done");
        assert_eq!(headers["x-generation"], n.to_string(), "the changed action answers");
        assert_eq!(get(&seam.url(&format!("/r{}", n - 1))).await.0, 404, "route R{} is gone", n - 1);
    }
    stop.store(true, Ordering::Relaxed);
    for task in loops {
        let failures = task.await.unwrap();
        assert!(failures.is_empty(), "requests failed during reloads: {failures:?}");
    }
    assert!(served.load(Ordering::Relaxed) > 100, "the load ran: {}", served.load(Ordering::Relaxed));
    assert_eq!(client_ids(&valkey), before, "the unchanged storage kept its Valkey connection");

    // A broken document: the old graph keeps serving, and the error is counted.
    seam.rewrite("routes:\n  Bad: { gatewayPath: /bad, action: Missing }\n");
    seam.signal("HUP");
    reloads_done(port, "error", 1.0).await;
    assert_eq!(get(&seam.url("/r20")).await.0, 200, "the previous graph still serves");
    assert_eq!(get(&seam.url("/stable")).await.0, 200);
}

#[tokio::test]
async fn watch_reloads_after_an_atomic_save() {
    let (metrics, port) = metrics_lines();
    let doc = |route: &str| {
        format!(
            "{metrics}actions:\n  Ok: {{ use: plugins.respond.actions.RespondAction }}\nroutes:\n  R: {{ gatewayPath: {route}, action: Ok }}\n"
        )
    };
    let seam = SeamProcess::start_with(&doc("/before"), &["--watch"], &[]).await;
    assert_eq!(get(&seam.url("/before")).await.0, 200);
    seam.rewrite(&doc("/after"));
    reloads_done(port, "success", 1.0).await;
    assert_eq!(get(&seam.url("/after")).await.0, 200);
    assert_eq!(get(&seam.url("/before")).await.0, 404);
}

fn cache_document(valkey: u16, prefix: &str, upstream: &str) -> String {
    cache_document_for(valkey, prefix, upstream, "[GET]")
}

fn cache_document_for(valkey: u16, prefix: &str, upstream: &str, methods: &str) -> String {
    format!(
        "storages:\n  Shared: {{ use: plugins.valkey.storages.ValkeyStorage, config: {{ host: 127.0.0.1, port: {valkey}, prefix: \"{prefix}\" }} }}\n\
         middlewares:\n  Pages: {{ use: plugins.cache.middlewares.CacheMiddleware, config: {{ storage: Shared, localSize: 1048576, localMaxAge: 60s }} }}\n\
         actions:\n  Origin: {{ use: plugins.httpfw.actions.HttpAction, config: {{ upstreamEndpoint: \"{upstream}\" }} }}\n\
         routes:\n  Site: {{ gatewayPath: /*, methods: {methods}, middlewares: [Pages], action: Origin }}\n"
    )
}

/// `X-Cache` of a GET of `url` with `Host: site.test` (every instance keys the same host).
async fn x_cache(url: &str) -> String {
    let request = http::Request::get(url).header("host", "site.test").body(Full::new(Bytes::new())).unwrap();
    let (status, headers, _) = support::send(request).await;
    assert_eq!(status, 200);
    headers.get("x-cache").map(|v| v.to_str().unwrap().to_owned()).unwrap_or_default()
}

/// Requests `url` until it is a miss; how long that took.
async fn until_miss(url: &str, bound: Duration) -> Duration {
    let started = Instant::now();
    loop {
        if x_cache(url).await == "MISS" {
            return started.elapsed();
        }
        assert!(started.elapsed() < bound, "{url} still served from the cache after {bound:?}");
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
}

fn purge(config: &std::path::Path, args: &[&str]) -> String {
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_seam"))
        .args(["cache", "purge", "Pages", "-c", config.to_str().unwrap()])
        .args(args)
        .output()
        .unwrap();
    assert!(out.status.success(), "purge failed: {}", String::from_utf8_lossy(&out.stderr));
    String::from_utf8(out.stdout).unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_purge_reaches_the_shared_storage_and_the_local_copies_of_every_instance() {
    let valkey = Valkey::start();
    let prefix = seam_testkit::unique_prefix("purge");
    let origin = Upstream::start(|_req| async {
        http::Response::builder().header("cache-control", "max-age=600").body(Full::new(Bytes::from("page"))).unwrap()
    })
    .await;
    let body = cache_document(valkey.port(), &prefix, &origin.url());
    let (a, b) = (SeamProcess::start(&body).await, SeamProcess::start(&body).await);
    for page in ["/page", "/page/2", "/other"] {
        assert_eq!(x_cache(&a.url(page)).await, "MISS");
        assert_eq!(x_cache(&a.url(page)).await, "HIT");
        assert_eq!(x_cache(&b.url(page)).await, "HIT", "the second instance hits the shared entry");
        assert_eq!(x_cache(&b.url(page)).await, "HIT");
    }

    let said = purge(&a.config_path(), &["--path", "/page"]);
    assert!(said.contains("purged 2 entries under `/page`"), "{said}");
    // The local copies (kept up to 60 s) follow the announcement.
    let bound = Duration::from_secs(2);
    let (took_a, took_b) = (until_miss(&a.url("/page"), bound).await, until_miss(&b.url("/page/2"), bound).await);
    assert_eq!(x_cache(&b.url("/other")).await, "HIT", "entries outside the path stay");
    eprintln!("instances followed the purge within {took_a:?} and {took_b:?}");

    let said = purge(&b.config_path(), &["--all"]);
    assert!(said.contains("purged 3 entries of cache `Pages`"), "{said}");
    until_miss(&a.url("/other"), bound).await;
    until_miss(&b.url("/page"), bound).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rfc9111_4_4_an_invalidation_reaches_the_local_copies_of_every_instance_at_once() {
    let valkey = Valkey::start();
    let prefix = seam_testkit::unique_prefix("invalidate");
    let origin = Upstream::start(|req| async move {
        let status = if req.method() == http::Method::GET { 200 } else { 204 };
        http::Response::builder()
            .status(status)
            .header("cache-control", "max-age=600")
            .body(Full::new(Bytes::from("items")))
            .unwrap()
    })
    .await;
    // In-process copies are kept up to 60 s: only the announcement can make them go sooner.
    let body = cache_document_for(valkey.port(), &prefix, &origin.url(), "[GET, POST]");
    let (a, b) = (SeamProcess::start(&body).await, SeamProcess::start(&body).await);
    for page in ["/items", "/other"] {
        assert_eq!(x_cache(&a.url(page)).await, "MISS");
        assert_eq!(x_cache(&b.url(page)).await, "HIT", "the second instance keeps a copy of the shared entry");
    }

    let post = http::Request::post(a.url("/items")).header("host", "site.test").body(Full::new(Bytes::new())).unwrap();
    assert_eq!(support::send(post).await.0, 204);
    let took = until_miss(&b.url("/items"), Duration::from_secs(2)).await;
    eprintln!("the other instance followed the invalidation within {took:?}");
    assert_eq!(x_cache(&b.url("/other")).await, "HIT", "other entries stay");
}

#[test]
fn purge_names_what_is_wrong() {
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("seam.yaml");
    std::fs::write(
        &config,
        "middlewares:\n  Pages: { use: plugins.cache.middlewares.CacheMiddleware }\nactions:\n  Ok: { use: plugins.respond.actions.RespondAction }\nroutes:\n  R: { gatewayPath: /r, middlewares: [Pages], action: Ok }\n",
    )
    .unwrap();
    let run = |args: &[&str]| {
        let out = std::process::Command::new(env!("CARGO_BIN_EXE_seam"))
            .args(["cache", "purge"])
            .args(args)
            .args(["-c", config.to_str().unwrap()])
            .output()
            .unwrap();
        (out.status.success(), String::from_utf8_lossy(&out.stderr).into_owned())
    };
    let (ok, stderr) = run(&["Pagse", "--all"]);
    assert!(!ok && stderr.contains("did you mean `Pages`"), "{stderr}");
    let (ok, stderr) = run(&["Pages", "--all"]);
    assert!(!ok && stderr.contains("has no `storage`"), "{stderr}");
    let (ok, stderr) = run(&["Pages"]);
    assert!(!ok && stderr.contains("--path"), "{stderr}");
}

#[tokio::test]
async fn a_components_private_memory_storage_survives_a_reload() {
    let (metrics, port) = metrics_lines();
    let doc = |extra: &str| {
        format!(
            "{metrics}middlewares:\n  Limit: {{ use: plugins.limiter.middlewares.LimiterMiddleware, config: {{ maxConnections: 3, expiration: 60s }} }}\n\
             actions:\n  Ok: {{ use: plugins.respond.actions.RespondAction }}\n\
             routes:\n  R: {{ gatewayPath: /r, middlewares: [Limit], action: Ok }}\n{extra}"
        )
    };
    let seam = SeamProcess::start(&doc("")).await;
    for _ in 0..3 {
        assert_eq!(get(&seam.url("/r")).await.0, 200);
    }
    seam.rewrite(&doc("  Added: { gatewayPath: /added, action: Ok }\n"));
    seam.signal("HUP");
    reloads_done(port, "success", 1.0).await;
    assert_eq!(get(&seam.url("/added")).await.0, 200);
    assert_eq!(get(&seam.url("/r")).await.0, 429, "the limiter's counts (in its own memory storage) were kept");
}

#[test]
fn check_refuses_a_metrics_listener_run_could_not_open() {
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("seam.yaml");
    let check = |metrics: &str| {
        std::fs::write(&config, format!("server:\n  address: 127.0.0.1:8090\n  metrics: {metrics}\n")).unwrap();
        let out = std::process::Command::new(env!("CARGO_BIN_EXE_seam"))
            .args(["check", "--offline", config.to_str().unwrap()])
            .output()
            .unwrap();
        (out.status.success(), String::from_utf8_lossy(&out.stderr).into_owned())
    };
    let (ok, stderr) = check("{ address: localhost }");
    assert!(!ok && stderr.contains("server.metrics.address `localhost` has no `:port`"), "{stderr}");
    assert!(stderr.contains("seam.yaml:3:23"), "{stderr}");
    let (ok, stderr) = check("{ address: \"127.0.0.1:8090\" }");
    assert!(!ok && stderr.contains("is the gateway's own address"), "{stderr}");
    let (ok, stderr) = check("{ path: metrics }");
    assert!(!ok && stderr.contains("must start with `/`"), "{stderr}");
    assert!(check("{}").0, "the defaults are fine");
}

const RESPOND: &str = "actions:\n  Me: { use: plugins.respond.actions.RespondAction, config: { body: me } }\nroutes:\n  R: { gatewayPath: \"/*\", action: Me }\n";

fn access_lines(log: &str) -> Vec<&str> {
    log.lines().filter(|line| line.contains("seam::access")).collect()
}

#[tokio::test]
async fn the_access_log_has_one_line_per_request_written_while_serving_and_all_by_exit() {
    let dir = tempfile::tempdir().unwrap();
    let log_path = dir.path().join("stderr.log");
    let log_file = std::fs::File::create(&log_path).unwrap();
    let env = [("RUST_LOG", "info".to_owned())];
    let mut seam = SeamProcess::start_logging(RESPOND, &[], &env, log_file.into()).await;
    for i in 0..200 {
        assert_eq!(get(&seam.url(&format!("/line/{i}"))).await.0, 200);
    }
    // Written while the gateway serves (its writer takes the lines every 10 ms), not only at exit.
    let deadline = Instant::now() + Duration::from_secs(5);
    while access_lines(&std::fs::read_to_string(&log_path).unwrap()).is_empty() {
        assert!(Instant::now() < deadline, "no access line within 5 s");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    seam.terminate(Duration::from_secs(15)).await;
    let log = std::fs::read_to_string(&log_path).unwrap();
    let lines = access_lines(&log);
    assert_eq!(lines.len(), 200, "{log}");
    for i in 0..200 {
        let path = format!("path=\"/line/{i}\"");
        assert!(lines.iter().any(|l| l.contains(&path) && l.contains("status=200")), "no line for /line/{i}: {log}");
    }
}

#[tokio::test]
async fn a_log_nobody_reads_holds_neither_requests_nor_the_shutdown() {
    // stderr is a pipe the test never reads: it is full after a few hundred lines.
    let env = [("RUST_LOG", "info".to_owned())];
    let mut seam = SeamProcess::start_logging(RESPOND, &["--workers", "1"], &env, std::process::Stdio::piped()).await;
    for _ in 0..3000 {
        let answered = tokio::time::timeout(Duration::from_secs(5), get(&seam.url("/x"))).await;
        assert_eq!(answered.expect("answered within 5 s while the log is not read").0, 200);
    }
    let took = seam.terminate(Duration::from_secs(15)).await;
    assert!(took < Duration::from_secs(8), "exited {took:?} after SIGTERM");
}
