//! Sessions end to end: real HTTP through the gateway to a test upstream, sessions in a real
//! Valkey (the seed's configuration).

mod support;

use std::time::Duration;

use bytes::Bytes;
use http::StatusCode;
use http_body_util::Full;
use redis::Commands;
use seam_testkit::{MASTER_NAME, Server, ValkeyCluster, ValkeySentinel};
use support::{Gateway, SERVER, Upstream, json, send};

/// The upstream: `/login` logs user 42 in, `/logout` out, `/broken` sends a bad
/// `X-Session-Set`; anything else echoes what it received.
async fn auth_upstream() -> Upstream {
    // The echo upstream lives as long as the handler that forwards to it.
    let echo = std::sync::Arc::new(Upstream::echo("app").await);
    Upstream::start(move |req: http::Request<hyper::body::Incoming>| {
        let echo = echo.clone();
        async move {
            let path = req.uri().path().to_owned();
            let reply = |header: Option<(&str, &str)>| {
                let mut builder = http::Response::builder();
                if let Some((k, v)) = header {
                    builder = builder.header(k, v);
                }
                builder.body(Full::new(Bytes::from_static(b"ok"))).unwrap()
            };
            match path.as_str() {
                "/login" => reply(Some(("x-session-set", r#"{"user_id":"42","role":"admin","level":7}"#))),
                "/logout" => reply(Some(("x-session-destroy", "true"))),
                "/broken" => reply(Some(("x-session-set", "{not json"))),
                _ => {
                    let mut forwarded =
                        http::Request::builder().method(req.method()).uri(format!("{}{path}", echo.url()));
                    for (k, v) in req.headers() {
                        forwarded = forwarded.header(k, v);
                    }
                    let client = support::client();
                    let response = client.request(forwarded.body(Full::default()).unwrap()).await.unwrap();
                    let body = http_body_util::BodyExt::collect(response.into_body()).await.unwrap().to_bytes();
                    http::Response::new(Full::new(body))
                }
            }
        }
    })
    .await
}

fn seed_doc(valkey_port: u16, upstream: &str, extra: &str) -> String {
    format!(
        "{SERVER}storages:
  ValkeySessionStorage:
    use: plugins.valkey.storages.ValkeyStorage
    config:
      prefix: \"session_\"
      host: 127.0.0.1
      port: {valkey_port}
      commandTimeout: 500ms
      connectTimeout: 500ms
middlewares:
  SessionMiddleware:
    use: plugins.session.middlewares.LoadSessionMiddleware
    config:
      storage: ValkeySessionStorage
      disableSessionForward: true
{extra}
  UserHeaders:
    use: plugins.sessions.middlewares.MapSessionToHeaderMiddleware
    config:
      headers: {{ X-User-Id: user_id, X-Role: role, X-Level: level }}
actions:
  App: {{ use: plugins.httpfw.actions.HttpAction, config: {{ upstreamEndpoint: \"{upstream}\" }} }}
routes:
  All: {{ gatewayPath: /*, middlewares: [SessionMiddleware, UserHeaders], action: App }}
"
    )
}

fn request(gw: &Gateway, method: &str, path: &str, cookie: Option<&str>) -> http::Request<Full<Bytes>> {
    let mut builder = http::Request::builder().method(method).uri(gw.url(path));
    if let Some(cookie) = cookie {
        builder = builder.header("cookie", cookie);
    }
    builder.body(Full::default()).unwrap()
}

fn session_cookie(headers: &http::HeaderMap) -> Option<String> {
    headers.get_all("set-cookie").iter().map(|v| v.to_str().unwrap().to_owned()).find(|c| c.starts_with("session_id="))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn login_dashboard_logout_through_the_gateway() {
    let valkey = Server::start();
    let upstream = auth_upstream().await;
    let gw = Gateway::start(&seed_doc(valkey.port(), &upstream.url(), "")).await;
    let mut raw = valkey.client();

    // Anonymous requests store nothing and set no cookie.
    let (status, headers, _) = send(request(&gw, "GET", "/home", None)).await;
    assert_eq!(status, StatusCode::OK);
    assert!(session_cookie(&headers).is_none());
    assert_eq!(raw.keys::<_, Vec<String>>("session_*").unwrap().len(), 0, "an empty session writes nothing");

    // Login: the upstream answers X-Session-Set.
    let (status, headers, _) = send(request(&gw, "POST", "/login", None)).await;
    assert_eq!(status, StatusCode::OK);
    assert!(headers.get("x-session-set").is_none(), "the client never sees X-Session-Set");
    let set_cookie = session_cookie(&headers).expect("a session cookie");
    for part in ["HttpOnly", "SameSite=Lax", "Path=/", "Max-Age=7200"] {
        assert!(set_cookie.contains(part), "{set_cookie} lacks {part}");
    }
    let id = set_cookie.trim_start_matches("session_id=").split(';').next().unwrap().to_owned();
    assert_eq!(id.len(), 43);
    let key = format!("session_{id}");
    let ttl: i64 = raw.ttl(&key).unwrap();
    assert!((7100..=7200).contains(&ttl), "TTL {ttl}");
    let stored: String = raw.get(&key).unwrap();
    assert!(stored.contains("\"user_id\":\"42\""), "{stored}");

    // Dashboard with the cookie: the upstream gets the mapped headers and no session cookie.
    let cookie = format!("session_id={id}; theme=dark");
    let request_with_spoof = {
        let mut r = request(&gw, "GET", "/dashboard", Some(&cookie));
        r.headers_mut().insert("x-user-id", "1".parse().unwrap());
        r
    };
    let (_, _, body) = send(request_with_spoof).await;
    let seen = &json(&body)["headers"];
    assert_eq!(seen["x-user-id"], "42", "the session's value, never the client's");
    assert_eq!(seen["x-role"], "admin");
    assert_eq!(seen["x-level"], "7", "numbers as text");
    assert_eq!(seen["cookie"], "theme=dark", "the session cookie is not forwarded, other cookies are");

    // Logout: the key is gone and the cookie expired.
    let (_, headers, _) = send(request(&gw, "POST", "/logout", Some(&cookie))).await;
    assert!(headers.get("x-session-destroy").is_none());
    let expired = session_cookie(&headers).expect("an expiring cookie");
    assert!(expired.contains("Max-Age=0") && expired.contains("Path=/"), "{expired}");
    assert!(!raw.exists::<_, bool>(&key).unwrap());

    // The old cookie now gets an empty session.
    let (_, _, body) = send(request(&gw, "GET", "/dashboard", Some(&cookie))).await;
    assert!(json(&body)["headers"].get("x-user-id").is_none());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn forged_ids_spoofed_headers_and_bad_session_set() {
    let valkey = Server::start();
    let upstream = auth_upstream().await;
    let gw = Gateway::start(&seed_doc(valkey.port(), &upstream.url(), "")).await;
    // A random well-formed id that was never issued is not adopted.
    let forged = "A".repeat(43);
    let (_, headers, _) = send(request(&gw, "POST", "/login", Some(&format!("session_id={forged}")))).await;
    let issued = session_cookie(&headers).unwrap();
    assert!(!issued.contains(&forged), "a forged id must never be adopted: {issued}");
    // A malformed id is ignored before any storage call.
    let (status, _, _) = send(request(&gw, "GET", "/x", Some("session_id=../../etc"))).await;
    assert_eq!(status, StatusCode::OK);
    // A malformed X-Session-Set is stripped, not applied, and the response still delivered.
    let (status, headers, _) = send(request(&gw, "GET", "/broken", None)).await;
    assert_eq!(status, StatusCode::OK);
    assert!(headers.get("x-session-set").is_none());
    assert!(session_cookie(&headers).is_none());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn auto_renew_rotates_the_id_and_kills_the_old_one() {
    let valkey = Server::start();
    let upstream = auth_upstream().await;
    let gw = Gateway::start(&seed_doc(valkey.port(), &upstream.url(), "      autoRenewAfter: 1s")).await;
    let (_, headers, _) = send(request(&gw, "POST", "/login", None)).await;
    let first =
        session_cookie(&headers).unwrap().trim_start_matches("session_id=").split(';').next().unwrap().to_owned();
    tokio::time::sleep(Duration::from_millis(1300)).await;
    let (_, headers, body) = send(request(&gw, "GET", "/me", Some(&format!("session_id={first}")))).await;
    assert_eq!(json(&body)["headers"]["x-user-id"], "42", "the data moved with the session");
    let second = session_cookie(&headers).expect("a renewed cookie");
    assert!(!second.contains(&first));
    let mut raw = valkey.client();
    assert!(!raw.exists::<_, bool>(format!("session_{first}")).unwrap(), "the old id is dead");
    let (_, _, body) = send(request(&gw, "GET", "/me", Some(&format!("session_id={first}")))).await;
    assert!(json(&body)["headers"].get("x-user-id").is_none(), "the old id no longer loads");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_seam_processes_share_sessions_through_one_valkey() {
    let valkey = Server::start();
    let upstream = auth_upstream().await;
    let body = seed_doc(valkey.port(), &upstream.url(), "").replacen(SERVER, "", 1);
    let (a, b) = (support::SeamProcess::start(&body).await, support::SeamProcess::start(&body).await);
    let login = http::Request::post(a.url("/login")).body(Full::default()).unwrap();
    let (_, headers, _) = send(login).await;
    let cookie = session_cookie(&headers).unwrap().split(';').next().unwrap().to_owned();
    let me = http::Request::get(b.url("/me")).header("cookie", &cookie).body(Full::default()).unwrap();
    let (_, _, body) = send(me).await;
    assert_eq!(
        json(&body)["headers"]["x-user-id"],
        "42",
        "a session created through one process works through the other"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn valkey_down_is_503_fail_open_passes_and_sessions_return_after_restart() {
    let mut valkey = Server::start();
    let upstream = auth_upstream().await;
    let closed = Gateway::start(&seed_doc(valkey.port(), &upstream.url(), "")).await;
    let open = Gateway::start(&seed_doc(valkey.port(), &upstream.url(), "      failOpen: true")).await;
    let (_, headers, _) = send(request(&closed, "POST", "/login", None)).await;
    let cookie = session_cookie(&headers).unwrap().split(';').next().unwrap().to_owned();

    valkey.kill();
    let started = std::time::Instant::now();
    let (status, _, body) = send(request(&closed, "GET", "/me", Some(&cookie))).await;
    assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE, "{}", String::from_utf8_lossy(&body));
    assert!(started.elapsed() < Duration::from_secs(3), "within commandTimeout");
    let (status, _, _) = send(request(&closed, "POST", "/login", None)).await;
    assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE, "a session write is never silently lost");
    let (status, _, body) = send(request(&open, "GET", "/me", Some(&cookie))).await;
    assert_eq!(status, StatusCode::OK, "failOpen lets the request through");
    assert!(json(&body)["headers"].get("x-user-id").is_none());

    valkey.restart();
    let deadline = std::time::Instant::now() + Duration::from_secs(20);
    loop {
        let (status, headers, _) = send(request(&closed, "POST", "/login", None)).await;
        if status == StatusCode::OK && session_cookie(&headers).is_some() {
            break;
        }
        assert!(std::time::Instant::now() < deadline, "sessions did not come back after the restart");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

#[tokio::test]
async fn header_lookup_cookie_session_only_and_memory_fallback() {
    let upstream = auth_upstream().await;
    let doc = format!(
        "{SERVER}middlewares:
  ByHeader: {{ use: plugins.sessions.middlewares.SessionMiddleware, config: {{ keyLookup: \"header:X-Session-Id\" }} }}
  SessionOnly: {{ use: plugins.sessions.middlewares.SessionMiddleware, config: {{ cookieSessionOnly: true }} }}
  Map: {{ use: plugins.sessions.middlewares.MapSessionToHeaderMiddleware, config: {{ headers: {{ X-User-Id: user_id }} }} }}
actions:
  App: {{ use: plugins.httpfw.actions.HttpAction, config: {{ upstreamEndpoint: \"{}\" }} }}
routes:
  H: {{ gatewayPath: /h/*, middlewares: [ByHeader, Map], action: App }}
  S: {{ gatewayPath: /s/*, middlewares: [SessionOnly], action: App }}
",
        upstream.url()
    );
    let gw = Gateway::start(&doc).await;
    let (_, headers, _) = send(http::Request::post(gw.url("/h/login")).body(Full::default()).unwrap()).await;
    let id = headers.get("x-session-id").expect("the id comes back in the header").to_str().unwrap().to_owned();
    let me = http::Request::get(gw.url("/h/me")).header("x-session-id", &id).body(Full::default()).unwrap();
    let (_, _, body) = send(me).await;
    assert_eq!(json(&body)["headers"]["x-user-id"], "42", "the memory fallback keeps the session in this process");

    let (_, headers, _) = send(http::Request::post(gw.url("/s/login")).body(Full::default()).unwrap()).await;
    let cookie = session_cookie(&headers).unwrap();
    assert!(!cookie.contains("Max-Age") && !cookie.contains("Expires"), "{cookie}");
}

#[tokio::test]
async fn plugin_level_config_gives_defaults_that_components_override() {
    let upstream = auth_upstream().await;
    let doc = format!(
        "{SERVER}plugins:
  - path: /plugins/httpfw.so
  - path: /plugins/session.so
    config: {{ cookieSecure: true, cookieSameSite: Strict, cookieExpiration: 1h }}
middlewares:
  Defaults: {{ use: plugins.session.middlewares.LoadSessionMiddleware }}
  Overridden: {{ use: plugins.session.middlewares.LoadSessionMiddleware, config: {{ cookieSameSite: Lax }} }}
actions:
  App: {{ use: plugins.httpfw.actions.HttpAction, config: {{ upstreamEndpoint: \"{}\" }} }}
routes:
  D: {{ gatewayPath: /d/*, middlewares: [Defaults], action: App }}
  O: {{ gatewayPath: /o/*, middlewares: [Overridden], action: App }}
",
        upstream.url()
    );
    let gw = Gateway::start(&doc).await;
    let (_, headers, _) = send(http::Request::post(gw.url("/d/login")).body(Full::default()).unwrap()).await;
    let cookie = session_cookie(&headers).unwrap();
    assert!(
        cookie.contains("Secure") && cookie.contains("SameSite=Strict") && cookie.contains("Max-Age=3600"),
        "{cookie}"
    );
    let (_, headers, _) = send(http::Request::post(gw.url("/o/login")).body(Full::default()).unwrap()).await;
    let cookie = session_cookie(&headers).unwrap();
    assert!(cookie.contains("Secure") && cookie.contains("SameSite=Lax"), "{cookie}");
}

fn session_id(headers: &http::HeaderMap) -> String {
    session_cookie(headers).unwrap().trim_start_matches("session_id=").split(';').next().unwrap().to_owned()
}

/// Sessions sealed with AES-256-GCM in a real Valkey: not plaintext there, keys rotate
/// without logging anyone out, a tampered value or one moved to another id is no session.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sessions_are_encrypted_at_rest_and_keys_rotate() {
    use base64::Engine;
    let key = |byte: u8| base64::engine::general_purpose::STANDARD.encode([byte; 32]);
    let valkey = Server::start();
    let upstream = auth_upstream().await;
    let mut raw = valkey.client();
    let with_keys = |keys: &str| seed_doc(valkey.port(), &upstream.url(), &format!("      encryptionKeys: [{keys}]"));

    let gw = Gateway::start(&with_keys(&key(1))).await;
    let (_, headers, _) = send(request(&gw, "POST", "/login", None)).await;
    let id = session_id(&headers);
    let stored: Vec<u8> = raw.get(format!("session_{id}")).unwrap();
    for plain in [&b"user_id"[..], b"42", b"admin", b"created"] {
        assert!(
            !stored.windows(plain.len()).any(|w| w == plain),
            "plaintext in Valkey: {}",
            String::from_utf8_lossy(plain)
        );
    }
    let (_, _, body) = send(request(&gw, "GET", "/me", Some(&format!("session_id={id}")))).await;
    assert_eq!(json(&body)["headers"]["x-user-id"], "42");
    drop(gw);

    // A new key first, the old one still listed: the session still opens.
    let gw = Gateway::start(&with_keys(&format!("{}, {}", key(2), key(1)))).await;
    let (_, _, body) = send(request(&gw, "GET", "/me", Some(&format!("session_id={id}")))).await;
    assert_eq!(json(&body)["headers"]["x-user-id"], "42", "rotation keeps sessions");

    // Moved to another id, or tampered with: no session, never a 500.
    let (_, headers, _) = send(request(&gw, "POST", "/login", None)).await;
    let other = session_id(&headers);
    let _: () = raw.set(format!("session_{other}"), stored.clone()).unwrap();
    let (status, _, body) = send(request(&gw, "GET", "/me", Some(&format!("session_id={other}")))).await;
    assert_eq!(status, StatusCode::OK);
    assert!(json(&body)["headers"].get("x-user-id").is_none(), "a value moved to another id does not open");
    let mut tampered = stored;
    let last = tampered.len() - 1;
    tampered[last] ^= 0x01;
    let _: () = raw.set(format!("session_{id}"), tampered).unwrap();
    let (status, _, body) = send(request(&gw, "GET", "/me", Some(&format!("session_id={id}")))).await;
    assert_eq!(status, StatusCode::OK);
    assert!(json(&body)["headers"].get("x-user-id").is_none(), "a tampered value is no session");
}

#[test]
fn a_key_of_the_wrong_length_is_refused_by_check_at_its_line() {
    let doc = "middlewares:
  S:
    use: plugins.sessions.middlewares.SessionMiddleware
    config:
      encryptionKeys:
        - c2hvcnQ=
";
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("keys.yaml");
    std::fs::write(&path, doc).unwrap();
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_seam"))
        .args(["check", "--offline"])
        .arg(&path)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("an encryption key must be 256 bits (32 bytes); this one has 5"), "{stderr}");
    assert!(stderr.contains(&format!("{}:6:11", path.display())), "{stderr}");
    assert!(!stderr.contains("c2hvcnQ"), "the key is never printed: {stderr}");
}

/// The bound within which a logout on one instance is seen by another with `clientCache`,
/// stated in README (loopback).
const LOGOUT_SEEN_WITHIN: Duration = Duration::from_millis(50);

/// Two seam processes whose session storage has `clientCache` at `address` (YAML lines of
/// the storage's config: `host`/`port`, `nodes`, or `sentinels`): 200 logins on A, each read through B
/// (then answered from B's copy), then a logout on A. B answers anonymously within the
/// bound, and never with the destroyed session after it.
async fn logouts_on_one_instance_are_seen_by_the_other(address: &str) {
    let upstream = auth_upstream().await;
    let doc = seed_doc(0, &upstream.url(), "").replacen(SERVER, "", 1).replacen(
        "      host: 127.0.0.1\n      port: 0\n",
        &format!("{address}      clientCache: {{ maxEntries: 10000, ttl: 5m }}\n"),
        1,
    );
    assert!(doc.contains("clientCache"), "{doc}");
    let a = support::SeamProcess::start(&doc).await;
    let (b, b_metrics) = support::SeamProcess::start_with_metrics(&doc).await;
    let user_on_b = |cookie: &str| {
        let me = http::Request::get(b.url("/me")).header("cookie", cookie).body(Full::default()).unwrap();
        async move {
            let (status, _, body) = send(me).await;
            assert_eq!(status, StatusCode::OK);
            json(&body)["headers"].get("x-user-id").cloned()
        }
    };
    let mut slowest = Duration::ZERO;
    for round in 0..200 {
        let login = http::Request::post(a.url("/login")).body(Full::default()).unwrap();
        let (_, headers, _) = send(login).await;
        let cookie = session_cookie(&headers).unwrap().split(';').next().unwrap().to_owned();
        for _ in 0..3 {
            assert_eq!(user_on_b(&cookie).await, Some("42".into()), "round {round}: B loads A's session");
        }
        let logout = http::Request::post(a.url("/logout")).header("cookie", &cookie).body(Full::default()).unwrap();
        assert_eq!(send(logout).await.0, StatusCode::OK);
        let logged_out = std::time::Instant::now();
        while user_on_b(&cookie).await.is_some() {
            assert!(logged_out.elapsed() < Duration::from_secs(2), "round {round}: B kept the destroyed session");
        }
        slowest = slowest.max(logged_out.elapsed());
        tokio::time::sleep(LOGOUT_SEEN_WITHIN).await;
        assert_eq!(user_on_b(&cookie).await, None, "round {round}: after the bound, never the destroyed session");
    }
    eprintln!("slowest logout seen by the other instance: {slowest:?}");
    assert!(slowest < LOGOUT_SEEN_WITHIN, "a logout on A was seen on B after {slowest:?}");
    // B answered from its own copies: of its 600 reads of live sessions, the second and third
    // of each round are local (a first read that raced the login's invalidation is not kept).
    let metrics = http::Request::get(format!("http://127.0.0.1:{b_metrics}/metrics")).body(Full::default()).unwrap();
    let (_, _, text) = send(metrics).await;
    let text = String::from_utf8_lossy(&text);
    let hits: f64 = text
        .lines()
        .find(|l| l.starts_with("seam_storage_client_cache_lookups_total") && l.contains("outcome=\"hit\""))
        .and_then(|l| l.rsplit(' ').next())
        .and_then(|n| n.parse().ok())
        .unwrap_or_else(|| panic!("no clientCache hits in B's metrics:\n{text}"));
    assert!(
        text.lines().any(|l| l == "seam_storage_client_cache_live{storage=\"ValkeySessionStorage\"} 1"),
        "B's metrics say its clientCache answers locally:\n{text}"
    );
    eprintln!("reads B answered from its copies: {hits}");
    assert!(hits >= 200.0, "B answered only {hits} reads from its copies");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn with_client_cache_a_logout_on_one_instance_is_seen_by_the_other() {
    let valkey = Server::start();
    logouts_on_one_instance_are_seen_by_the_other(&format!("      host: 127.0.0.1\n      port: {}\n", valkey.port()))
        .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn with_client_cache_on_a_cluster_a_logout_on_one_instance_is_seen_by_the_other() {
    let cluster = ValkeyCluster::start();
    let nodes: Vec<String> = cluster.addresses().iter().map(|a| format!("\"{a}\"")).collect();
    logouts_on_one_instance_are_seen_by_the_other(&format!("      nodes: [{}]\n", nodes.join(", "))).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn with_client_cache_behind_sentinels_a_logout_on_one_instance_is_seen_by_the_other() {
    let topology = ValkeySentinel::start();
    let sentinels: Vec<String> = topology.sentinel_addresses().iter().map(|a| format!("\"{a}\"")).collect();
    let address = format!("      sentinels: [{}]\n      masterName: {MASTER_NAME}\n", sentinels.join(", "));
    logouts_on_one_instance_are_seen_by_the_other(&address).await;
}
