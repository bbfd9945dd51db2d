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
        if req.uri().path() == "/login" {
            let mut response = Response::new(Body::from("welcome"));
            response.headers_mut().insert("x-session-set", r#"{"user_id":"42"}"#.parse().unwrap());
            return response;
        }
        let user = req.extensions().get::<Session>().and_then(|s| s.get("user_id"));
        let user = user.and_then(|v| v.as_str().map(str::to_owned)).unwrap_or_else(|| "anonymous".into());
        let header = req.headers().get("x-user-id").map(|v| v.to_str().unwrap().to_owned()).unwrap_or_default();
        Response::new(Body::from(format!("{user}|{header}")))
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
    let mut builder = http::Request::get(path).header("x-user-id", "forged");
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
