//! Seam's HTTP middlewares (requestid, cors, helmet, basicauth) in a served gateway in front
//! of a real upstream: their headers survive the proxy, a preflight reaches the route's CORS
//! middleware without `OPTIONS` in its methods.

mod support;

use bytes::Bytes;
use http_body_util::Full;
use support::{Gateway, SERVER, Upstream, json, send};

async fn gateway(upstream: &Upstream) -> Gateway {
    Gateway::start(&format!(
        "{SERVER}middlewares:\n\
         \x20 Id: {{ use: plugins.requestid.middlewares.RequestIdMiddleware }}\n\
         \x20 Cors: {{ use: plugins.cors.middlewares.CORSMiddleware, config: {{ allowOrigins: \"https://app.example.com\", allowCredentials: true, exposeHeaders: X-Request-ID }} }}\n\
         \x20 Helmet: {{ use: plugins.helmet.middlewares.HelmetMiddleware }}\n\
         \x20 Auth: {{ use: plugins.basicauth.middlewares.BasicAuthMiddleware, config: {{ users: {{ john: doe }}, usernameHeader: X-User, stripAuthorization: true }} }}\n\
         actions:\n  Up: {{ use: plugins.httpfw.actions.HttpAction, config: {{ upstreamEndpoint: {} }} }}\n\
         routes:\n\
         \x20 Api: {{ gatewayPath: /api/*, methods: [GET, POST], middlewares: [Id, Cors, Helmet], action: Up }}\n\
         \x20 Private: {{ gatewayPath: /private/*, methods: [GET], middlewares: [Helmet, Auth], action: Up }}\n",
        upstream.url()
    ))
    .await
}

fn request(method: &str, url: &str, headers: &[(&str, &str)]) -> http::Request<Full<Bytes>> {
    let mut builder = http::Request::builder().method(method).uri(url);
    for (name, value) in headers {
        builder = builder.header(*name, *value);
    }
    builder.body(Full::new(Bytes::new())).unwrap()
}

#[tokio::test]
async fn every_header_a_middleware_sets_survives_the_proxy() {
    let upstream = Upstream::echo("up").await;
    let gateway = gateway(&upstream).await;
    let (status, headers, body) =
        send(request("GET", &gateway.url("/api/x"), &[("origin", "https://app.example.com")])).await;
    assert_eq!(status, 200);
    let id = headers["x-request-id"].to_str().unwrap().to_owned();
    assert_eq!(id.len(), 36);
    let seen = json(&body);
    assert_eq!(seen["headers"]["x-request-id"], id.as_str(), "the upstream got the same id");
    assert_eq!(headers["access-control-allow-origin"], "https://app.example.com");
    assert_eq!(headers["access-control-allow-credentials"], "true");
    assert_eq!(headers["access-control-expose-headers"], "X-Request-ID");
    assert!(headers.get_all("vary").iter().any(|v| v == "Origin"));
    for name in ["x-content-type-options", "x-frame-options", "referrer-policy", "cross-origin-opener-policy"] {
        assert!(headers.contains_key(name), "{name} survives the proxy");
    }
    assert_eq!(headers["referrer-policy"], "no-referrer");
}

#[tokio::test]
async fn a_preflight_reaches_the_cors_middleware_of_a_route_without_options() {
    let upstream = Upstream::echo("up").await;
    let gateway = gateway(&upstream).await;
    let preflight = [("origin", "https://app.example.com"), ("access-control-request-method", "POST")];
    let (status, headers, _) = send(request("OPTIONS", &gateway.url("/api/x"), &preflight)).await;
    assert_eq!(status, 204);
    assert_eq!(headers["access-control-allow-origin"], "https://app.example.com");
    assert_eq!(headers["access-control-allow-methods"], "GET,POST,HEAD,PUT,DELETE,PATCH");
    // A route without CORS: the preflight is still a 405, and never reaches the upstream.
    let (status, _, _) = send(request("OPTIONS", &gateway.url("/private/x"), &preflight)).await;
    assert_eq!(status, 405);
    // A plain OPTIONS (no preflight) is a 405 with Allow, as before.
    let (status, headers, _) = send(request("OPTIONS", &gateway.url("/api/x"), &[])).await;
    assert_eq!(status, 405);
    assert!(headers.contains_key("allow"));
}

#[tokio::test]
async fn basic_auth_in_front_of_the_upstream() {
    let upstream = Upstream::echo("up").await;
    let gateway = gateway(&upstream).await;
    let (status, headers, _) = send(request("GET", &gateway.url("/private/x"), &[])).await;
    assert_eq!(status, 401);
    assert_eq!(headers["www-authenticate"], "Basic realm=\"Restricted\"");
    assert!(headers.contains_key("x-frame-options"), "helmet's headers are on the refusal too");
    let (status, _, body) = send(request(
        "GET",
        &gateway.url("/private/x"),
        &[("authorization", "Basic am9objpkb2U="), ("x-user", "admin")],
    ))
    .await;
    assert_eq!(status, 200);
    let seen = json(&body);
    assert_eq!(seen["headers"]["x-user"], "john", "the client's X-User is replaced");
    assert!(seen["headers"].get("authorization").is_none(), "credentials stop at the gateway");
}

#[tokio::test]
async fn global_middlewares_also_run_on_404_and_405_but_not_on_health() {
    let gateway = Gateway::start(&format!(
        "{SERVER}globalMiddlewares: [Id, Cors]\n\
         middlewares:\n\
         \x20 Id: {{ use: plugins.requestid.middlewares.RequestIdMiddleware }}\n\
         \x20 Cors: {{ use: plugins.cors.middlewares.CORSMiddleware }}\n\
         actions:\n  Ok: {{ use: plugins.respond.actions.RespondAction }}\n\
         routes:\n  Only: {{ gatewayPath: /only, methods: [GET], action: Ok }}\n"
    ))
    .await;
    let (status, headers, _) = send(request("GET", &gateway.url("/missing"), &[])).await;
    assert_eq!(status, 404);
    assert!(headers.contains_key("x-request-id"), "a global runs on a 404");
    let (status, headers, _) = send(request("DELETE", &gateway.url("/only"), &[])).await;
    assert_eq!(status, 405);
    assert!(headers.contains_key("allow"));
    assert!(headers.contains_key("x-request-id"), "a global runs on a 405");
    let preflight = [("origin", "https://a.example"), ("access-control-request-method", "PUT")];
    let (status, headers, _) = send(request("OPTIONS", &gateway.url("/anything"), &preflight)).await;
    assert_eq!(status, 204, "a global CORS answers a preflight before routing");
    assert_eq!(headers["access-control-allow-origin"], "*");
    let (status, headers, _) = send(request("GET", &gateway.url("/health/live"), &[])).await;
    assert_eq!(status, 200);
    assert!(!headers.contains_key("x-request-id"), "the health routes stay outside every middleware");
}

#[tokio::test]
async fn a_logger_format_keeps_its_tags_while_other_fields_read_the_environment() {
    seam::ensure_linked();
    let dir = tempfile::tempdir().unwrap();
    let log = dir.path().join("access.log");
    // SAFETY: this test alone sets this variable, before anything reads it.
    unsafe { std::env::set_var("SEAM_TEST_LOG_PATH", log.to_str().unwrap()) };
    let document = format!(
        "{SERVER}middlewares:\n\
         \x20 Log:\n    use: plugins.logger.middlewares.LoggerMiddleware\n    config:\n\
         \x20     format: \"${{status}} ${{method}} ${{path}} ${{reqHeader:X-Env}}\\n\"\n\
         \x20     output: ${{SEAM_TEST_LOG_PATH}}\n\
         actions:\n  Ok: {{ use: plugins.respond.actions.RespondAction }}\n\
         routes:\n  R: {{ gatewayPath: /r, middlewares: [Log], action: Ok }}\n"
    );
    let gateway = Gateway::start(&document).await;
    let (status, _, _) = send(request("GET", &gateway.url("/r"), &[("x-env", "prod")])).await;
    assert_eq!(status, 200);
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    let text = loop {
        let text = std::fs::read_to_string(&log).unwrap_or_default();
        if !text.is_empty() || std::time::Instant::now() > deadline {
            break text;
        }
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    };
    assert_eq!(text, "200 GET /r prod\n");
    // Anywhere else, an unset variable is still an error at its line.
    let broken = "actions:\n  Ok: { use: plugins.respond.actions.RespondAction, config: { body: \"${SEAM_TEST_SURELY_UNSET}\" } }\n";
    let loaded = seam_config::document::load_str("seam.yaml", broken);
    assert!(loaded.has_errors(), "an unset variable outside a template is an error");
    let message = loaded.diagnostics.iter().map(ToString::to_string).collect::<String>();
    assert!(message.contains("SEAM_TEST_SURELY_UNSET") && message.contains("seam.yaml:2:"), "{message}");
}

#[tokio::test]
async fn a_csrf_token_issued_by_one_instance_is_accepted_by_another_on_one_valkey() {
    let valkey = seam_testkit::Server::shared();
    let prefix = seam_testkit::unique_prefix("csrf");
    let upstream = Upstream::echo("up").await;
    let document = format!(
        "{SERVER}storages:\n  Tokens: {{ use: plugins.valkey.storages.ValkeyStorage, config: {{ host: 127.0.0.1, port: {}, prefix: \"{prefix}\" }} }}\n\
         middlewares:\n  Csrf: {{ use: plugins.csrf.middlewares.CSRFMiddleware, config: {{ storage: Tokens, cookiePath: / }} }}\n\
         actions:\n  Up: {{ use: plugins.httpfw.actions.HttpAction, config: {{ upstreamEndpoint: {} }} }}\n\
         routes:\n  R: {{ gatewayPath: /app/*, methods: [GET, POST], middlewares: [Csrf], action: Up }}\n",
        valkey.port(),
        upstream.url()
    );
    let (a, b) = (Gateway::start(&document).await, Gateway::start(&document).await);
    let (status, headers, _) = send(request("GET", &a.url("/app/form"), &[])).await;
    assert_eq!(status, 200);
    let cookie = headers["set-cookie"].to_str().unwrap().to_owned();
    assert!(cookie.contains("Path=/"), "the cookie survives the proxy: {cookie}");
    let pair = cookie.split(';').next().unwrap().to_owned();
    let token = pair.trim_start_matches("csrf_=").to_owned();
    let (status, _, _) =
        send(request("POST", &b.url("/app/save"), &[("cookie", pair.as_str()), ("x-csrf-token", token.as_str())]))
            .await;
    assert_eq!(status, 200, "instance B accepts A's token");
    let (status, _, _) =
        send(request("POST", &b.url("/app/save"), &[("cookie", pair.as_str()), ("x-csrf-token", "forged")])).await;
    assert_eq!(status, 403);
}
