//! BasicAuthMiddleware, with the cases of Fiber's `middleware/basicauth/basicauth_test.go`
//! (`Test_Middleware_BasicAuth`) and seam's additions: hashes, the quoted challenge, the
//! user header, hostile headers.

use std::sync::Arc;

use base64::Engine;
use seam_core::extensions::Locals;
use seam_core::pipeline::Pipeline;
use seam_core::testing::Harness;
use seam_core::{Action, Body, Request, Response, async_trait};
use seam_plugin_basicauth::BasicAuthMiddlewareConfig;
use serde_json::{Value, json};

/// Answers with the user it sees: in the locals and in the headers.
struct Upstream;

#[async_trait]
impl Action for Upstream {
    async fn handle(&self, req: Request) -> Response {
        let local = req.extensions().get::<Locals>().and_then(|l| l.get("basicAuthUsername")).unwrap_or("-").to_owned();
        let header = req.headers().get("x-user").map(|v| v.to_str().unwrap().to_owned()).unwrap_or("-".into());
        let auth = req.headers().contains_key("authorization");
        Response::new(Body::from(format!("{local}|{header}|{auth}")))
    }
}

async fn chain(config: Value) -> Pipeline {
    let middleware = Harness::new().build::<BasicAuthMiddlewareConfig>(config).await.unwrap();
    Pipeline::new(vec![middleware], Arc::new(Upstream))
}

fn basic(user_pass: &str) -> String {
    format!("Basic {}", base64::engine::general_purpose::STANDARD.encode(user_pass))
}

async fn run(chain: &Pipeline, authorization: Option<&str>, extra: &[(&str, &str)]) -> (u16, String, Option<String>) {
    let mut builder = http::Request::get("/");
    if let Some(value) = authorization {
        builder = builder.header("authorization", value);
    }
    for (name, value) in extra {
        builder = builder.header(*name, *value);
    }
    let response = chain.run(builder.body(Body::empty()).unwrap()).await;
    let status = response.status().as_u16();
    let challenge = response.headers().get("www-authenticate").map(|v| v.to_str().unwrap().to_owned());
    let body = http_body_util::BodyExt::collect(response.into_body()).await.unwrap().to_bytes();
    (status, String::from_utf8_lossy(&body).into_owned(), challenge)
}

#[tokio::test]
async fn valid_users_pass_and_others_get_the_quoted_challenge() {
    let chain = chain(json!({ "users": { "john": "doe", "admin": 123456 } })).await;
    let cases: [(Option<String>, u16, &str); 10] = [
        (Some(basic("john:doe")), 200, "john|-|true"),
        (Some(basic("admin:123456")), 200, "admin|-|true"),
        (Some(format!("basic {}", &basic("john:doe")[6..])), 200, "john|-|true"),
        (Some(format!("BASIC  {}", &basic("john:doe")[6..])), 200, "john|-|true"),
        (Some(basic("john:wrong")), 401, ""),
        (Some(basic("ghost:doe")), 401, ""),
        (Some(basic("johndoe")), 401, ""),
        (Some("Basic !!!notbase64".into()), 401, ""),
        (Some("Bearer abc".into()), 401, ""),
        (None, 401, ""),
    ];
    for (authorization, status, body) in cases {
        let (got, text, challenge) = run(&chain, authorization.as_deref(), &[]).await;
        assert_eq!(got, status, "{authorization:?}");
        if status == 200 {
            assert_eq!(text, body);
        } else {
            assert_eq!(challenge.as_deref(), Some("Basic realm=\"Restricted\""), "RFC 7617: quoted realm");
            assert!(text.contains("Unauthorized"), "{text}");
        }
    }
}

#[tokio::test]
async fn a_password_may_contain_colons_and_no_users_means_no_entry() {
    let chain = chain(json!({ "users": { "u": "a:b:c" } })).await;
    assert_eq!(run(&chain, Some(&basic("u:a:b:c")), &[]).await.0, 200);
    let nobody = self::chain(json!({})).await;
    assert_eq!(run(&nobody, Some(&basic("u:a:b:c")), &[]).await.0, 401);
}

#[tokio::test]
async fn bcrypt_and_argon2id_hashes() {
    let bcrypt = bcrypt::hash("s3cret", 4).unwrap();
    let argon = argon2_hash("pa55");
    let chain = chain(json!({ "users": { "b": bcrypt, "a": argon } })).await;
    assert_eq!(run(&chain, Some(&basic("b:s3cret")), &[]).await.0, 200);
    assert_eq!(run(&chain, Some(&basic("b:s3cret")), &[]).await.0, 200, "again, from the proven cache");
    assert_eq!(run(&chain, Some(&basic("b:wrong")), &[]).await.0, 401);
    assert_eq!(run(&chain, Some(&basic("a:pa55")), &[]).await.0, 200);
    assert_eq!(run(&chain, Some(&basic("a:wrong")), &[]).await.0, 401);
    assert_eq!(run(&chain, Some(&basic("nobody:s3cret")), &[]).await.0, 401);
}

fn argon2_hash(password: &str) -> String {
    use argon2::PasswordHasher;
    let salt = argon2::password_hash::SaltString::encode_b64(b"saltsaltsalt").unwrap();
    argon2::Argon2::default().hash_password(password.as_bytes(), &salt).unwrap().to_string()
}

#[tokio::test]
async fn the_user_header_is_ours_and_authorization_can_stop_at_the_gateway() {
    let chain =
        chain(json!({ "users": { "john": "doe" }, "usernameHeader": "X-User", "stripAuthorization": true })).await;
    let (status, text, _) = run(&chain, Some(&basic("john:doe")), &[("x-user", "admin")]).await;
    assert_eq!(
        (status, text.as_str()),
        (200, "john|john|false"),
        "the client's X-User is replaced, Authorization removed"
    );
}

#[tokio::test]
async fn mistakes_are_refused_at_load() {
    let cases = [
        json!({ "users": { "a:b": "x" } }),
        json!({ "users": { "a": "" } }),
        json!({ "users": { "a": "$2b$10$short" } }),
        json!({ "users": { "a": "$argon2i$v=19$m=16,t=2,p=1$c2FsdHNhbHQ$aGFzaGhhc2g" } }),
        json!({ "realm": "bad\nrealm", "users": { "a": "b" } }),
        json!({ "usernameHeader": "bad header", "users": { "a": "b" } }),
    ];
    for config in cases {
        let error = Harness::new().build::<BasicAuthMiddlewareConfig>(config.clone()).await;
        let error = error.err().unwrap_or_else(|| panic!("{config} is refused")).to_string();
        assert!(!error.contains("$2b$10$short") && !error.contains("aGFzaGhhc2g"), "secrets are not printed: {error}");
    }
}
