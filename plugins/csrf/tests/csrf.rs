//! CSRFMiddleware, with the cases of Fiber's `middleware/csrf/csrf_test.go` (`Test_CSRF`,
//! `Test_CSRF_ExpiredToken`, `Test_CSRF_MultiUseToken`, `Test_CSRF_SingleUseToken`,
//! `Test_CSRF_From_Form/Query/Param/Cookie`, `Test_CSRF_Referer`,
//! `Test_CSRF_Cookie_Injection_Exploit`) and the storage outage Seam panics on.

use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use http_body_util::BodyExt;
use seam_core::extensions::{Client, PathParams};
use seam_core::pipeline::Pipeline;
use seam_core::testing::{Harness, MapStorage};
use seam_core::{Action, Body, Request, Response, Storage, StorageError, async_trait};
use seam_plugin_csrf::CsrfMiddlewareConfig;
use serde_json::{Value, json};

/// Answers with the body it received.
struct Upstream;

#[async_trait]
impl Action for Upstream {
    async fn handle(&self, req: Request) -> Response {
        let body = req.into_body().collect().await.unwrap().to_bytes();
        Response::new(Body::from(body))
    }
}

async fn chain_on(config: Value, storage: Arc<dyn Storage>) -> Pipeline {
    let harness = Harness::new().shared_storage("Tokens", storage);
    let mut config = config;
    config["storage"] = json!("Tokens");
    let middleware = harness.build::<CsrfMiddlewareConfig>(config).await.unwrap();
    Pipeline::new(vec![middleware], Arc::new(Upstream))
}

async fn chain(config: Value) -> Pipeline {
    chain_on(config, Arc::new(MapStorage::default())).await
}

struct Sent<'a> {
    method: &'a str,
    uri: &'a str,
    headers: Vec<(&'a str, String)>,
    body: &'a str,
    https: bool,
}

fn sent<'a>(method: &'a str, headers: Vec<(&'a str, String)>) -> Sent<'a> {
    Sent { method, uri: "/form", headers, body: "", https: false }
}

async fn run(chain: &Pipeline, sent: Sent<'_>) -> (u16, Option<String>, String) {
    let mut builder = http::Request::builder().method(sent.method).uri(sent.uri).header("host", "gw.example");
    for (name, value) in &sent.headers {
        builder = builder.header(*name, value);
    }
    let mut request = builder.body(Body::from(Bytes::copy_from_slice(sent.body.as_bytes()))).unwrap();
    request
        .extensions_mut()
        .insert(Client::new(([192, 0, 2, 1], 4000).into(), if sent.https { "https" } else { "http" }));
    request.extensions_mut().insert(PathParams(vec![("token".into(), "from-param".into())]));
    let response = chain.run(request).await;
    let status = response.status().as_u16();
    let cookie = response.headers().get("set-cookie").map(|v| v.to_str().unwrap().to_owned());
    let body = String::from_utf8_lossy(&response.into_body().collect().await.unwrap().to_bytes()).into_owned();
    (status, cookie, body)
}

/// The token of a `Set-Cookie` for `csrf_`.
fn token_of(set_cookie: &str) -> String {
    set_cookie.split(';').next().unwrap().trim_start_matches("csrf_=").to_owned()
}

async fn fresh_token(chain: &Pipeline) -> String {
    let (status, cookie, _) = run(chain, sent("GET", vec![])).await;
    assert_eq!(status, 200);
    let cookie = cookie.expect("a safe request gets a token cookie");
    assert!(cookie.contains("SameSite=Lax") && cookie.contains("Expires="), "{cookie}");
    token_of(&cookie)
}

#[tokio::test]
async fn double_submit() {
    let chain = chain(json!({})).await;
    let token = fresh_token(&chain).await;
    assert_eq!(token.len(), 36);
    let with_cookie = |t: &str| ("cookie", format!("csrf_={t}"));
    let cases = [
        (vec![], 403),
        (vec![with_cookie(&token)], 403),
        (vec![("x-csrf-token", token.clone())], 403),
        (vec![with_cookie(&token), ("x-csrf-token", "other".into())], 403),
        (vec![with_cookie(&token), ("x-csrf-token", token.clone())], 200),
    ];
    for (headers, status) in cases {
        assert_eq!(run(&chain, sent("POST", headers.clone())).await.0, status, "{headers:?}");
    }
    // The same token again: tokens are multi-use by default.
    assert_eq!(run(&chain, sent("POST", vec![with_cookie(&token), ("x-csrf-token", token.clone())])).await.0, 200);
}

#[tokio::test]
async fn an_injected_token_is_refused_and_its_cookie_expired() {
    let chain = chain(json!({})).await;
    let forged = "00000000-0000-4000-8000-000000000000";
    let (status, cookie, _) =
        run(&chain, sent("POST", vec![("cookie", format!("csrf_={forged}")), ("x-csrf-token", forged.into())])).await;
    assert_eq!(status, 403);
    let cookie = cookie.expect("the unknown token's cookie is expired");
    assert!(cookie.starts_with("csrf_=;"), "{cookie}");
    // A GET with the injected cookie does not adopt it either.
    let (_, cookie, _) = run(&chain, sent("GET", vec![("cookie", format!("csrf_={forged}"))])).await;
    assert_ne!(token_of(&cookie.unwrap()), forged);
}

#[tokio::test]
async fn single_use_and_expired_tokens() {
    let chain = chain(json!({ "singleUseToken": true })).await;
    let token = fresh_token(&chain).await;
    let headers = vec![("cookie", format!("csrf_={token}")), ("x-csrf-token", token.clone())];
    let (status, cookie, _) = run(&chain, sent("POST", headers.clone())).await;
    assert_eq!(status, 200);
    assert_ne!(token_of(&cookie.unwrap()), token, "a new token replaces the used one");
    assert_eq!(run(&chain, sent("POST", headers)).await.0, 403, "used once");

    let short = self::chain(json!({ "cookieExpiration": "1s" })).await;
    let token = fresh_token(&short).await;
    tokio::time::sleep(Duration::from_millis(1600)).await;
    let headers = vec![("cookie", format!("csrf_={token}")), ("x-csrf-token", token.clone())];
    assert_eq!(run(&short, sent("POST", headers)).await.0, 403, "expired");
}

#[tokio::test]
async fn from_form_query_param_and_cookie() {
    let form = chain(json!({ "keyLookup": "form:_csrf" })).await;
    let token = fresh_token(&form).await;
    let body = format!("name=x&_csrf={token}&more=1");
    let (status, _, echoed) = run(
        &form,
        Sent {
            method: "POST",
            uri: "/form",
            headers: vec![
                ("cookie", format!("csrf_={token}")),
                ("content-type", "application/x-www-form-urlencoded".into()),
            ],
            body: &body,
            https: false,
        },
    )
    .await;
    assert_eq!((status, echoed.as_str()), (200, body.as_str()), "the upstream gets the whole form");

    let query = chain(json!({ "keyLookup": "query:csrf" })).await;
    let token = fresh_token(&query).await;
    let uri = format!("/form?csrf={token}");
    let (status, _, _) = run(
        &query,
        Sent { method: "POST", uri: &uri, headers: vec![("cookie", format!("csrf_={token}"))], body: "", https: false },
    )
    .await;
    assert_eq!(status, 200);

    let param = chain(json!({ "keyLookup": "param:token" })).await;
    let storage_token = "from-param";
    let (status, _, _) = run(&param, sent("POST", vec![("cookie", format!("csrf_={storage_token}"))])).await;
    assert_eq!(status, 403, "a path parameter the gateway never issued");

    let by_cookie = chain(json!({ "keyLookup": "cookie:my_csrf" })).await;
    let (_, cookie, _) = run(&by_cookie, sent("GET", vec![])).await;
    let cookie = cookie.unwrap();
    assert!(cookie.starts_with("my_csrf="), "{cookie}");
    let token = cookie.split(';').next().unwrap().trim_start_matches("my_csrf=").to_owned();
    assert_eq!(run(&by_cookie, sent("POST", vec![("cookie", format!("my_csrf={token}"))])).await.0, 200);
}

#[tokio::test]
async fn the_referer_must_name_this_host_over_https() {
    let chain = chain(json!({})).await;
    let token = fresh_token(&chain).await;
    let base = vec![("cookie", format!("csrf_={token}")), ("x-csrf-token", token.clone())];
    let with = |referer: Option<&str>| {
        let mut headers = base.clone();
        if let Some(r) = referer {
            headers.push(("referer", r.to_owned()));
        }
        Sent { method: "POST", uri: "/form", headers, body: "", https: true }
    };
    assert_eq!(run(&chain, with(None)).await.0, 403);
    assert_eq!(run(&chain, with(Some("https://evil.example/page"))).await.0, 403);
    assert_eq!(run(&chain, with(Some("http://gw.example/page"))).await.0, 403);
    assert_eq!(run(&chain, with(Some("https://gw.example/page"))).await.0, 200);
}

/// A storage whose server is gone.
struct Gone;

#[async_trait]
impl Storage for Gone {
    async fn get(&self, _: &str) -> Result<Option<Bytes>, StorageError> {
        Err(StorageError::Unavailable("gone".into()))
    }
    async fn set(&self, _: &str, _: Bytes, _: Option<Duration>) -> Result<(), StorageError> {
        Err(StorageError::Unavailable("gone".into()))
    }
    async fn delete(&self, _: &str) -> Result<bool, StorageError> {
        Err(StorageError::Unavailable("gone".into()))
    }
}

#[tokio::test]
async fn a_storage_outage_is_503_or_passes_with_fail_open() {
    let closed = chain_on(json!({}), Arc::new(Gone)).await;
    let headers = vec![("cookie", "csrf_=abc".to_owned()), ("x-csrf-token", "abc".into())];
    assert_eq!(run(&closed, sent("POST", headers.clone())).await.0, 503);
    assert_eq!(run(&closed, sent("GET", vec![("cookie", "csrf_=abc".to_owned())])).await.0, 503);
    let open = chain_on(json!({ "failOpen": true }), Arc::new(Gone)).await;
    assert_eq!(run(&open, sent("POST", headers)).await.0, 200);
}

#[tokio::test]
async fn mistakes_are_refused_at_load() {
    for (config, key) in [
        (json!({ "keyLookup": "header" }), "keyLookup"),
        (json!({ "keyLookup": "body:x" }), "keyLookup"),
        (json!({ "cookieExpiration": 86400 }), "cookieExpiration"),
        (json!({ "cookieName": "bad name" }), "cookieName"),
    ] {
        let error = Harness::new().build::<CsrfMiddlewareConfig>(config.clone()).await.err().expect("refused");
        let paths: Vec<String> = error.problems().iter().map(|p| format!("{:?}", p.path)).collect();
        assert!(paths.iter().any(|p| p.contains(key)), "{config}: {paths:?}");
    }
}
