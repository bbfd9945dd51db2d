//! SessionMiddleware and MapSessionToHeaderMiddleware in a chain, on a test storage.

use std::sync::Arc;

use http_body_util::BodyExt;
use seam_core::extensions::Session;
use seam_core::pipeline::Pipeline;
use seam_core::testing::{Harness, MapStorage};
use seam_core::{Action, Body, Middleware, Request, Response, async_trait};
use seam_plugin_sessions::{MapSessionToHeaderMiddlewareConfig, SessionMiddlewareConfig};
use serde_json::json;

/// `/login` logs user 42 in through `X-Session-Set`; any other path answers with the session's
/// `user_id` (or `anonymous`) and the `x-user-id` request header it received.
struct App;

#[async_trait]
impl Action for App {
    async fn handle(&self, req: Request) -> Response {
        let set = match req.uri().path() {
            "/login" => Some(r#"{"user_id":"42"}"#),
            "/cart" => Some(r#"{"cart":"1"}"#),
            _ => None,
        };
        if let Some(set) = set {
            let mut response = Response::new(Body::from("stored"));
            response.headers_mut().insert("x-session-set", set.parse().unwrap());
            return response;
        }
        let session = req.extensions().get::<Session>();
        let user = session.and_then(|s| s.get("user_id"));
        let user = user.and_then(|v| v.as_str().map(str::to_owned)).unwrap_or_else(|| "anonymous".into());
        let cart = session.and_then(|s| s.get("cart")).is_some();
        let header = |name: &str| req.headers().get(name).map(|v| v.to_str().unwrap().to_owned()).unwrap_or_default();
        let cart = if cart { "+cart" } else { "" };
        Response::new(Body::from(format!("{user}{cart}|{}{}", header("x-user-id"), header("x_user_id"))))
    }
}

async fn chain() -> Pipeline {
    let harness = Harness::new().storage("Sessions", MapStorage::default());
    let sessions = harness.build::<SessionMiddlewareConfig>(json!({ "storage": "Sessions" })).await.unwrap();
    let headers =
        harness.build::<MapSessionToHeaderMiddlewareConfig>(json!({ "headers": { "X-User-Id": "user_id" } })).await;
    let chain: Vec<Arc<dyn Middleware>> = vec![sessions, headers.unwrap()];
    Pipeline::new(chain, Arc::new(App))
}

fn get(path: &str, cookie: Option<&str>) -> Request {
    let mut builder = http::Request::get(path).header("x-user-id", "forged").header("x_user_id", "forged");
    if let Some(cookie) = cookie {
        builder = builder.header("cookie", cookie);
    }
    builder.body(Body::empty()).unwrap()
}

async fn text(response: Response) -> String {
    String::from_utf8(response.into_body().collect().await.unwrap().to_bytes().to_vec()).unwrap()
}

#[tokio::test]
async fn a_login_sets_a_cookie_and_later_requests_carry_the_session() {
    let chain = chain().await;

    let anonymous = chain.run(get("/me", None)).await;
    assert!(anonymous.headers().get("set-cookie").is_none(), "no session is created before it holds data");
    assert_eq!(text(anonymous).await, "anonymous|", "a client's own x-user-id never reaches the app");

    let login = chain.run(get("/login", None)).await;
    assert!(login.headers().get("x-session-set").is_none(), "the upstream's X-Session-Set is stripped");
    let cookie = login.headers()["set-cookie"].to_str().unwrap().to_owned();
    assert!(cookie.starts_with("session_id="), "{cookie}");
    assert!(cookie.contains("HttpOnly"), "{cookie}");
    let pair = cookie.split(';').next().unwrap().to_owned();

    let me = chain.run(get("/me", Some(&pair))).await;
    assert_eq!(text(me).await, "42|42", "the session and the mapped header reach the app");

    let unknown = chain.run(get("/me", Some("session_id=AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA"))).await;
    assert_eq!(text(unknown).await, "anonymous|", "an unknown id is never adopted");
}

#[tokio::test]
async fn every_mistake_of_the_config_is_reported() {
    let config = json!({ "keyLookup": "query:id", "cookieSameSite": "None", "setHeader": "bad header" });
    let harness = Harness::new();
    let error = harness.build::<SessionMiddlewareConfig>(config).await.err().expect("refused");
    let messages: Vec<&str> = error.problems().iter().map(|p| p.message.as_str()).collect();
    assert_eq!(messages.len(), 3, "{messages:?}");
    assert!(messages[0].contains("keyLookup `query:id`"), "{messages:?}");
    assert!(messages[1].contains("cookieSecure"), "{messages:?}");
    assert!(messages[2].contains("`bad header` is not a valid header name"), "{messages:?}");
}

fn cookie_of(response: &Response) -> String {
    let cookie = response.headers()["set-cookie"].to_str().unwrap();
    cookie.split(';').next().unwrap().to_owned()
}

#[tokio::test]
async fn a_login_into_an_existing_session_moves_it_to_a_new_id() {
    let chain = chain().await;
    let planted = cookie_of(&chain.run(get("/cart", None)).await);
    assert_eq!(text(chain.run(get("/me", Some(&planted))).await).await, "anonymous+cart|");

    let login = chain.run(get("/login", Some(&planted))).await;
    let fresh = cookie_of(&login);
    assert_ne!(fresh, planted, "the id changes at login");
    assert_eq!(text(chain.run(get("/me", Some(&fresh))).await).await, "42+cart|42", "the data moved");
    assert_eq!(
        text(chain.run(get("/me", Some(&planted))).await).await,
        "anonymous|",
        "the planted id is gone at once: it never reads the logged-in session"
    );
}

#[tokio::test]
async fn the_cookie_is_secure_over_https_unless_configured_off() {
    for (config, https, secure) in [
        (json!({ "storage": "S" }), true, true),
        (json!({ "storage": "S" }), false, false),
        (json!({ "storage": "S", "cookieSecure": false }), true, false),
        (json!({ "storage": "S", "cookieSecure": true }), false, true),
    ] {
        let harness = Harness::new().storage("S", MapStorage::default());
        let sessions = harness.build::<SessionMiddlewareConfig>(config.clone()).await.unwrap();
        let chain = Pipeline::new(vec![sessions], Arc::new(App));
        let mut request = get("/login", None);
        if https {
            request.extensions_mut().insert(seam_core::extensions::Client::new(([192, 0, 2, 1], 4000).into(), "https"));
        }
        let cookie = chain.run(request).await.headers()["set-cookie"].to_str().unwrap().to_owned();
        assert_eq!(cookie.contains("; Secure"), secure, "{config} over https={https}: {cookie}");
    }
}

/// A storage that is down.
struct Down;

#[async_trait]
impl seam_core::Storage for Down {
    async fn get(&self, _key: &str) -> Result<Option<bytes::Bytes>, seam_core::StorageError> {
        Err(seam_core::StorageError::Unavailable("down".into()))
    }
    async fn set(
        &self,
        _key: &str,
        _value: bytes::Bytes,
        _ttl: Option<std::time::Duration>,
    ) -> Result<(), seam_core::StorageError> {
        Err(seam_core::StorageError::Unavailable("down".into()))
    }
    async fn delete(&self, _key: &str) -> Result<bool, seam_core::StorageError> {
        Err(seam_core::StorageError::Unavailable("down".into()))
    }
}

#[tokio::test]
async fn fail_open_never_hands_the_session_control_headers_to_the_client() {
    let harness = Harness::new().storage("S", Down);
    let config = json!({ "storage": "S", "failOpen": true });
    let sessions = harness.build::<SessionMiddlewareConfig>(config).await.unwrap();
    let chain = Pipeline::new(vec![sessions], Arc::new(App));
    let response = chain.run(get("/login", Some("session_id=AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA"))).await;
    assert_eq!(response.status(), 200, "served without a session");
    assert!(response.headers().get("x-session-set").is_none(), "X-Session-Set reached the client");
}
