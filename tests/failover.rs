//! A Valkey primary dies under load: seam behind Sentinel keeps answering (503 only inside
//! the failover window, which is measured), follows the new primary without a restart, keeps
//! the sessions written with `waitReplicas: 1`, and the limiter's count goes on.

mod support;

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use seam_testkit::{MASTER_NAME, ValkeyCluster, ValkeySentinel};
use support::{Gateway, SERVER, Upstream, json, send};

/// `/login?user=N` logs user N in; anything else echoes what it received.
async fn app() -> Upstream {
    let echo = Arc::new(Upstream::echo("app").await);
    Upstream::start(move |req: http::Request<hyper::body::Incoming>| {
        let echo = echo.clone();
        async move {
            if req.uri().path() == "/login" {
                let user = req.uri().query().and_then(|q| q.strip_prefix("user=")).unwrap_or("0").to_owned();
                return http::Response::builder()
                    .header("x-session-set", format!(r#"{{"user_id":"{user}"}}"#))
                    .body(Full::new(Bytes::from_static(b"in")))
                    .unwrap();
            }
            let mut forwarded = http::Request::get(format!("{}{}", echo.url(), req.uri().path()));
            for (k, v) in req.headers() {
                forwarded = forwarded.header(k, v);
            }
            let response = support::client().request(forwarded.body(Full::default()).unwrap()).await.unwrap();
            http::Response::new(Full::new(response.into_body().collect().await.unwrap().to_bytes()))
        }
    })
    .await
}

fn document(topology: &str, upstream: &str) -> String {
    format!(
        "{SERVER}storages:\n  Durable: {{ use: plugins.valkey.storages.ValkeyStorage, config: {{ {topology}, prefix: \"fo:session:\", waitReplicas: 1, waitTimeout: 1s, commandTimeout: 2s, connectTimeout: 500ms }} }}\n  \
         Shared: {{ use: plugins.valkey.storages.ValkeyStorage, config: {{ {topology}, prefix: \"fo:count:\", commandTimeout: 500ms, connectTimeout: 500ms }} }}\n\
         middlewares:\n  Sessions: {{ use: plugins.sessions.middlewares.SessionMiddleware, config: {{ storage: Durable }} }}\n  \
         User: {{ use: plugins.sessions.middlewares.MapSessionToHeaderMiddleware, config: {{ headers: {{ X-User-Id: user_id }} }} }}\n  \
         Limit: {{ use: plugins.limiter.middlewares.LimiterMiddleware, config: {{ storage: Shared, maxConnections: 1000000, expiration: 300s }} }}\n\
         actions:\n  App: {{ use: plugins.httpfw.actions.HttpAction, config: {{ upstreamEndpoint: \"{upstream}/app\" }} }}\n  \
         LoginApp: {{ use: plugins.httpfw.actions.HttpAction, config: {{ upstreamEndpoint: \"{upstream}/login\" }} }}\n\
         routes:\n  Login: {{ gatewayPath: /login, middlewares: [Sessions], action: LoginApp }}\n  \
         Me: {{ gatewayPath: /me, middlewares: [Sessions, User], action: App }}\n  \
         Limited: {{ gatewayPath: /limited, middlewares: [Limit], action: App }}\n"
    )
}

async fn login(gw: &Gateway, user: usize) -> String {
    let (status, headers, _) =
        send(http::Request::post(gw.url(&format!("/login?user={user}"))).body(Full::default()).unwrap()).await;
    assert_eq!(status, 200, "login {user}");
    let cookie =
        headers.get_all("set-cookie").iter().map(|v| v.to_str().unwrap()).find(|c| c.starts_with("session_id="));
    cookie.expect("a session cookie").split(';').next().unwrap().to_owned()
}

async fn user_of(gw: &Gateway, cookie: &str) -> Option<String> {
    let request = http::Request::get(gw.url("/me")).header("cookie", cookie).body(Full::default()).unwrap();
    let (status, _, body) = send(request).await;
    assert_eq!(status, 200);
    json(&body)["headers"]["x-user-id"].as_str().map(str::to_owned)
}

/// What the client loop saw: when, and which status.
type Seen = Arc<Mutex<Vec<(Instant, u16)>>>;

/// Requests `/limited` until `stop`, recording every answer.
fn client_loop(url: String, seen: Seen, stop: Arc<std::sync::atomic::AtomicBool>) -> tokio::task::JoinHandle<()> {
    tokio::spawn(async move {
        while !stop.load(std::sync::atomic::Ordering::Relaxed) {
            let (status, _, _) = send(http::Request::get(&url).body(Full::default()).unwrap()).await;
            seen.lock().unwrap().push((Instant::now(), status.as_u16()));
            tokio::time::sleep(Duration::from_millis(2)).await;
        }
    })
}

/// From the kill: how long until the first failure, the failure window, and whether the
/// last 2 s were all 200.
fn window(seen: &[(Instant, u16)], killed: Instant) -> (Option<Duration>, Duration) {
    let failures: Vec<Instant> = seen.iter().filter(|(_, s)| *s != 200).map(|(t, _)| *t).collect();
    match (failures.first(), failures.last()) {
        (Some(first), Some(last)) => (Some(first.saturating_duration_since(killed)), last.duration_since(*first)),
        _ => (None, Duration::ZERO),
    }
}

/// What a failover did to the traffic.
struct Outcome {
    /// Statuses the client loop saw.
    statuses: std::collections::BTreeSet<u16>,
    /// From the first failed request to the last.
    failing: Duration,
    /// Requests the limiter let through.
    allowed: usize,
}

/// Logs 20 users in, runs the client loop, calls `kill`, and waits until `promoted` says the
/// topology has a new primary and seam has answered 200 for 2 s; then checks the sessions.
async fn failover(gw: &Gateway, what: &str, kill: impl FnOnce(), promoted: impl Fn() -> bool) -> Outcome {
    let mut cookies = Vec::new();
    for user in 0..20 {
        cookies.push((user, login(gw, user).await));
    }
    let seen: Seen = Arc::default();
    let stop = Arc::new(std::sync::atomic::AtomicBool::new(false));
    let looping = client_loop(gw.url("/limited"), seen.clone(), stop.clone());
    tokio::time::sleep(Duration::from_millis(500)).await;
    let killed = Instant::now();
    kill();
    let deadline = killed + Duration::from_secs(40);
    loop {
        tokio::time::sleep(Duration::from_millis(100)).await;
        let recent_ok = {
            let seen = seen.lock().unwrap();
            let since = Instant::now() - Duration::from_secs(2);
            let recent: Vec<u16> = seen.iter().filter(|(t, _)| *t > since).map(|(_, s)| *s).collect();
            !recent.is_empty() && recent.iter().all(|s| *s == 200)
        };
        if recent_ok && promoted() && killed.elapsed() > Duration::from_secs(3) {
            break;
        }
        if Instant::now() >= deadline {
            let seen = seen.lock().unwrap();
            let last: Vec<u16> = seen.iter().rev().take(5).map(|(_, s)| *s).collect();
            panic!("{what}: seam did not answer 200 again within 40 s of the kill (last statuses {last:?})");
        }
    }
    stop.store(true, std::sync::atomic::Ordering::Relaxed);
    looping.await.unwrap();
    let seen = seen.lock().unwrap().clone();
    let (first_failure, failing) = window(&seen, killed);
    eprintln!(
        "{what}: {} requests, first 503 {first_failure:?} after the kill, 503s for {failing:?} ({} of them)",
        seen.len(),
        seen.iter().filter(|(_, s)| *s == 503).count()
    );
    // Sessions written with waitReplicas: 1 before the kill are all there.
    for (user, cookie) in &cookies {
        assert_eq!(
            user_of(gw, cookie).await.as_deref(),
            Some(user.to_string().as_str()),
            "{what}: session of user {user}"
        );
    }
    Outcome {
        statuses: seen.iter().map(|(_, s)| *s).collect(),
        failing,
        allowed: seen.iter().filter(|(_, s)| *s == 200).count(),
    }
}

/// The sum of the limiter's counters on `server`.
fn counted(server: &seam_testkit::Server) -> i64 {
    let mut c = server.client();
    let keys: Vec<String> = redis::cmd("KEYS").arg("fo:count:*").query(&mut c).unwrap();
    keys.iter().filter_map(|k| redis::cmd("GET").arg(k).query::<String>(&mut c).ok()?.parse::<i64>().ok()).sum()
}

/// A primary, two replicas and three sentinels, and a gateway whose storages find the
/// primary through them; with the primary's port (the upstream must outlive the gateway).
async fn behind_sentinels() -> (Arc<Mutex<ValkeySentinel>>, Gateway, Upstream, u16) {
    let topology = ValkeySentinel::start();
    let sentinels: Vec<String> = topology.sentinel_addresses().iter().map(|a| format!("\"{a}\"")).collect();
    let primary = topology.primary.port();
    let upstream = app().await;
    let config = format!("sentinels: [{}], masterName: {MASTER_NAME}", sentinels.join(", "));
    let gw = Gateway::start(&document(&config, &upstream.url())).await;
    (Arc::new(Mutex::new(topology)), gw, upstream, primary)
}

/// A 3-master, 3-replica cluster and a gateway on it; with the index of the master that
/// holds the limiter's key (one request counted there).
async fn behind_cluster() -> (Arc<Mutex<ValkeyCluster>>, Gateway, Upstream, usize) {
    let cluster = ValkeyCluster::start_with_replicas();
    let nodes: Vec<String> = cluster.addresses().iter().map(|a| format!("\"{a}\"")).collect();
    let upstream = app().await;
    let gw = Gateway::start(&document(&format!("nodes: [{}]", nodes.join(", ")), &upstream.url())).await;
    let (status, _, _) = send(http::Request::get(gw.url("/limited")).body(Full::default()).unwrap()).await;
    assert_eq!(status, 200);
    let victim =
        (0..cluster.nodes.len()).find(|&i| counted(&cluster.nodes[i]) > 0).expect("a master holds the counter");
    (Arc::new(Mutex::new(cluster)), gw, upstream, victim)
}

/// The limiter's count over the cluster after `victim`'s replica took over its slots: the
/// promoted replica and the other masters (the count moves to a new key, maybe in another
/// slot, when the run crosses a window's boundary).
fn counted_in_cluster(cluster: &ValkeyCluster, victim: usize) -> i64 {
    let others: i64 = (0..cluster.nodes.len()).filter(|&i| i != victim).map(|i| counted(&cluster.nodes[i])).sum();
    counted(&cluster.replicas[victim]) + others
}

/// Whether the replica of master `victim` has become a master.
fn replica_promoted(cluster: &Arc<Mutex<ValkeyCluster>>, victim: usize) -> impl Fn() -> bool + use<> {
    let cluster = cluster.clone();
    move || {
        let c = cluster.lock().unwrap();
        let info: String =
            redis::cmd("INFO").arg("replication").query(&mut c.replicas[victim].client()).unwrap_or_default();
        info.contains("role:master")
    }
}

/// Whether the sentinels name a primary other than the one on `old`.
fn primary_moved(topology: &Arc<Mutex<ValkeySentinel>>, old: u16) -> impl Fn() -> bool + use<> {
    let topology = topology.clone();
    move || topology.lock().unwrap().primary_port().is_some_and(|p| p != old)
}

/// Only 200 and 503 were answered, and the 503s lasted less than `bound`.
fn only_brief_503s(outcome: &Outcome, bound: Duration) {
    assert!(outcome.statuses.iter().all(|s| *s == 200 || *s == 503), "only 200 and 503: {:?}", outcome.statuses);
    assert!(outcome.failing < bound, "503s for {:?}", outcome.failing);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sentinel_failover_under_load() {
    let (topology, gw, _upstream, old_primary) = behind_sentinels().await;
    let killer = topology.clone();
    let kill = move || killer.lock().unwrap().primary.kill();
    let outcome = failover(&gw, "sentinel failover", kill, primary_moved(&topology, old_primary)).await;
    only_brief_503s(&outcome, Duration::from_secs(15));
    // The limiter's count went on on the new primary.
    let topology = topology.lock().unwrap();
    let new_primary = topology.current_primary().expect("a primary");
    assert_ne!(new_primary.port(), old_primary, "a replica was promoted");
    let counted = counted(new_primary);
    let over_admitted = outcome.allowed as i64 - counted;
    eprintln!(
        "limiter: {} allowed, {counted} counted on the new primary (over-admission {over_admitted})",
        outcome.allowed
    );
    assert!(counted > 0, "the count went on");
    assert!(over_admitted.abs() <= 5, "{} allowed but {counted} counted", outcome.allowed);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cluster_failover_under_load() {
    // The master that owns the limiter's key is the one killed.
    let (cluster, gw, _upstream, victim) = behind_cluster().await;
    let killer = cluster.clone();
    let kill = move || killer.lock().unwrap().nodes[victim].kill();
    let outcome = failover(&gw, "cluster failover", kill, replica_promoted(&cluster, victim)).await;
    only_brief_503s(&outcome, Duration::from_secs(20));
    let counted = counted_in_cluster(&cluster.lock().unwrap(), victim);
    let over_admitted = outcome.allowed as i64 + 1 - counted;
    eprintln!(
        "limiter: {} allowed, {counted} counted on the promoted replica and the other masters (over-admission {over_admitted})",
        outcome.allowed + 1
    );
    assert!(counted > 0, "the count went on");
    assert!(over_admitted.abs() <= 5, "{} allowed but {counted} counted", outcome.allowed + 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sentinel_switchover_under_load() {
    // SENTINEL FAILOVER: the old primary lives on as a replica and answers writes READONLY.
    let (topology, gw, _upstream, old_primary) = behind_sentinels().await;
    let switcher = topology.clone();
    let switch = move || {
        let t = switcher.lock().unwrap();
        redis::cmd("SENTINEL").arg("FAILOVER").arg(MASTER_NAME).query::<()>(&mut t.sentinels[0].client()).unwrap();
    };
    let outcome = failover(&gw, "sentinel switchover", switch, primary_moved(&topology, old_primary)).await;
    only_brief_503s(&outcome, Duration::from_secs(15));
    let topology = topology.lock().unwrap();
    let counted = counted(topology.current_primary().expect("a primary"));
    let over_admitted = outcome.allowed as i64 - counted;
    eprintln!(
        "limiter: {} allowed, {counted} counted on the new primary (over-admission {over_admitted}: the increments \
         the old primary took between the promotion and the sentinels' announcement)",
        outcome.allowed
    );
    // Sentinel sees the promotion by polling INFO every second: what the old primary took
    // meanwhile is lost (asynchronous replication). Bounded by the requests of 2 s.
    assert!(counted > 0, "the count went on");
    assert!(
        over_admitted >= 0 && over_admitted <= outcome.allowed as i64 / 2,
        "{} allowed but {counted} counted",
        outcome.allowed
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cluster_manual_failover_under_load() {
    // CLUSTER FAILOVER on a replica: the slots move, the old master answers MOVED.
    let (cluster, gw, _upstream, victim) = behind_cluster().await;
    let switcher = cluster.clone();
    let switch = move || {
        let c = switcher.lock().unwrap();
        redis::cmd("CLUSTER").arg("FAILOVER").query::<()>(&mut c.replicas[victim].client()).unwrap();
    };
    let outcome = failover(&gw, "cluster manual failover", switch, replica_promoted(&cluster, victim)).await;
    only_brief_503s(&outcome, Duration::from_secs(15));
    let counted = counted_in_cluster(&cluster.lock().unwrap(), victim);
    eprintln!(
        "limiter: {} allowed, {counted} counted on the promoted replica and the other masters",
        outcome.allowed + 1
    );
    assert!((outcome.allowed as i64 + 1 - counted).abs() <= 5, "{} allowed but {counted} counted", outcome.allowed + 1);
}

#[test]
fn seam_check_names_the_primary_the_sentinels_gave() {
    let topology = ValkeySentinel::start();
    let sentinels: Vec<String> = topology.sentinel_addresses().iter().map(|a| format!("\"{a}\"")).collect();
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("seam.yaml");
    let document = format!(
        "storages:\n  Shared: {{ use: plugins.valkey.storages.ValkeyStorage, config: {{ sentinels: [{}], masterName: {MASTER_NAME} }} }}\n",
        sentinels.join(", ")
    );
    std::fs::write(&path, document).unwrap();
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_seam"))
        .args(["check", path.to_str().unwrap()])
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{stdout}{}", String::from_utf8_lossy(&out.stderr));
    let expected = format!("connected to primary 127.0.0.1:{} of `{MASTER_NAME}`", topology.primary.port());
    assert!(stdout.contains(&expected), "{stdout}");
}
