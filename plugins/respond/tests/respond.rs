//! RespondAction built as the resolver builds it, answering requests directly.

use http_body_util::BodyExt;
use seam_core::extensions::PathParams;
use seam_core::testing::Harness;
use seam_core::{Body, PathStep, Request};
use seam_plugin_respond::RespondActionConfig;
use serde_json::{Value, json};

async fn body_of(response: seam_core::Response) -> Vec<u8> {
    response.into_body().collect().await.unwrap().to_bytes().to_vec()
}

#[tokio::test]
async fn a_fixed_reply_has_its_status_headers_and_body() {
    let config = json!({ "status": 201, "body": "made", "headers": { "X-Made-By": "seam" } });
    let action = Harness::new().build::<RespondActionConfig>(config).await.unwrap();
    let response = action.handle(Request::new(Body::empty())).await;
    assert_eq!(response.status(), 201);
    assert_eq!(response.headers()["x-made-by"], "seam");
    assert_eq!(body_of(response).await, b"made");
}

#[tokio::test]
async fn an_echo_shows_the_request_as_an_upstream_sees_it() {
    let action = Harness::new().build::<RespondActionConfig>(json!({ "echo": true })).await.unwrap();
    let mut request =
        http::Request::post("/users/42?full=1&full=2").header("x-seen", "yes").body(Body::empty()).unwrap();
    request.extensions_mut().insert(PathParams(vec![("id".into(), "42".into())]));
    let response = action.handle(request).await;
    assert_eq!(response.headers()["content-type"], "application/json");
    let echo: Value = serde_json::from_slice(&body_of(response).await).unwrap();
    assert_eq!(echo["method"], "POST");
    assert_eq!(echo["path"], "/users/42");
    assert_eq!(echo["params"], json!({ "id": "42" }));
    assert_eq!(echo["query"], json!({ "full": ["1", "2"] }));
    assert_eq!(echo["headers"]["x-seen"], json!(["yes"]));
}

#[tokio::test]
async fn every_mistake_of_the_config_is_reported() {
    let config = json!({ "status": 42, "echo": true, "body": "x", "headers": { "bad name": "v" } });
    let error = Harness::new().build::<RespondActionConfig>(config).await.err().expect("refused");
    let paths: Vec<&[PathStep]> = error.problems().iter().map(|p| p.path.as_slice()).collect();
    assert_eq!(
        paths,
        [
            &[PathStep::Key("status".into())][..],
            &[PathStep::Key("body".into())][..],
            &[PathStep::Key("headers".into()), PathStep::Key("bad name".into())][..],
        ]
    );
}
