//! JWTValidationMiddleware: every algorithm family, the claims rules, algorithm confusion,
//! and JWKS served by a test server (rotation, outage, a flood of unknown kids). Cases after
//! gofiber/contrib `jwt/jwt_test.go` (`TestJwtFromHeader`, `TestJwkFromServer`,
//! `TestJwtFromCookie`) and what they leave out.

use std::convert::Infallible;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use bytes::Bytes;
use http_body_util::Full;
use jsonwebtoken::jwk::{Jwk, JwkSet};
use jsonwebtoken::{Algorithm, EncodingKey, Header, encode};
use seam_core::extensions::Claims;
use seam_core::pipeline::Pipeline;
use seam_core::testing::Harness;
use seam_core::{Action, Body, Request, Response, async_trait};
use seam_plugin_jwt::JwtValidationMiddlewareConfig;
use serde_json::{Value, json};

const RSA_PRIVATE: &str = include_str!("keys/rsa-private.pem");
const RSA_PUBLIC: &str = include_str!("keys/rsa-public.pem");
const EC_PRIVATE: &str = include_str!("keys/ec-private.pem");
const EC_PUBLIC: &str = include_str!("keys/ec-public.pem");
const ED_PRIVATE: &str = include_str!("keys/ed-private.pem");
const ED_PUBLIC: &str = include_str!("keys/ed-public.pem");

/// Answers with the `sub` claim it sees and the `x-user` header it received.
struct Upstream;

#[async_trait]
impl Action for Upstream {
    async fn handle(&self, req: Request) -> Response {
        let sub = req.extensions().get::<Claims>().and_then(|c| c.text("sub")).unwrap_or_default();
        let user = req.headers().get("x-user").map(|v| v.to_str().unwrap().to_owned()).unwrap_or_default();
        Response::new(Body::from(format!("{sub}|{user}")))
    }
}

fn now() -> u64 {
    SystemTime::now().duration_since(UNIX_EPOCH).unwrap().as_secs()
}

fn claims(extra: Value) -> Value {
    let mut base = json!({ "sub": "user-42", "exp": now() + 300 });
    base.as_object_mut().unwrap().extend(extra.as_object().unwrap().clone());
    base
}

fn token(alg: Algorithm, kid: Option<&str>, key: &EncodingKey, claims: &Value) -> String {
    let mut header = Header::new(alg);
    header.kid = kid.map(str::to_owned);
    encode(&header, claims, key).unwrap()
}

async fn chain(config: Value) -> Pipeline {
    let middleware = Harness::new().build::<JwtValidationMiddlewareConfig>(config).await.unwrap();
    Pipeline::new(vec![middleware], Arc::new(Upstream))
}

async fn run(chain: &Pipeline, headers: &[(&str, String)], uri: &str) -> (u16, String, Option<String>) {
    let mut builder = http::Request::get(uri);
    for (name, value) in headers {
        builder = builder.header(*name, value);
    }
    let response = chain.run(builder.body(Body::empty()).unwrap()).await;
    let status = response.status().as_u16();
    let challenge = response.headers().get("www-authenticate").map(|v| v.to_str().unwrap().to_owned());
    let body = http_body_util::BodyExt::collect(response.into_body()).await.unwrap().to_bytes();
    (status, String::from_utf8_lossy(&body).into_owned(), challenge)
}

async fn bearer(chain: &Pipeline, token: &str) -> u16 {
    run(chain, &[("authorization", format!("Bearer {token}"))], "/").await.0
}

#[tokio::test]
async fn hmac_keys_as_seam_configures_them() {
    let chain = chain(json!({ "signingKey": { "key": "secret" } })).await;
    let key = EncodingKey::from_secret(b"secret");
    for alg in [Algorithm::HS256, Algorithm::HS384, Algorithm::HS512] {
        assert_eq!(bearer(&chain, &token(alg, None, &key, &claims(json!({})))).await, 200, "{alg:?}");
    }
    let wrong = EncodingKey::from_secret(b"other");
    assert_eq!(bearer(&chain, &token(Algorithm::HS256, None, &wrong, &claims(json!({})))).await, 401);
    let only_384 = self::chain(json!({ "signingKey": { "key": "secret", "algorithm": "HS384" } })).await;
    assert_eq!(bearer(&only_384, &token(Algorithm::HS256, None, &key, &claims(json!({})))).await, 401);
    assert_eq!(bearer(&only_384, &token(Algorithm::HS384, None, &key, &claims(json!({})))).await, 200);
}

#[tokio::test]
async fn public_keys_in_pem_for_every_family() {
    let cases = [
        (
            RSA_PUBLIC,
            EncodingKey::from_rsa_pem(RSA_PRIVATE.as_bytes()).unwrap(),
            vec![Algorithm::RS256, Algorithm::RS384, Algorithm::RS512, Algorithm::PS256, Algorithm::PS512],
        ),
        (EC_PUBLIC, EncodingKey::from_ec_pem(EC_PRIVATE.as_bytes()).unwrap(), vec![Algorithm::ES256]),
        (ED_PUBLIC, EncodingKey::from_ed_pem(ED_PRIVATE.as_bytes()).unwrap(), vec![Algorithm::EdDSA]),
    ];
    for (public, private, algs) in cases {
        let chain = chain(json!({ "signingKey": { "key": public } })).await;
        for alg in algs {
            assert_eq!(bearer(&chain, &token(alg, None, &private, &claims(json!({})))).await, 200, "{alg:?}");
        }
    }
}

#[tokio::test]
async fn algorithm_confusion_and_none_are_refused() {
    let chain = chain(json!({ "signingKey": { "key": RSA_PUBLIC } })).await;
    // HS256 "signed" with the RSA public key as an HMAC secret: the classic confusion.
    let forged = token(Algorithm::HS256, None, &EncodingKey::from_secret(RSA_PUBLIC.as_bytes()), &claims(json!({})));
    assert_eq!(bearer(&chain, &forged).await, 401);
    // `alg: none`, unsigned.
    use base64::Engine;
    let b64 = |v: &Value| base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(v.to_string());
    let none = format!("{}.{}.", b64(&json!({ "alg": "none", "typ": "JWT" })), b64(&claims(json!({}))));
    assert_eq!(bearer(&chain, &none).await, 401);
}

#[tokio::test]
async fn claims_rules() {
    let key = EncodingKey::from_secret(b"secret");
    let strict =
        chain(json!({ "signingKey": { "key": "secret" }, "audience": ["api"], "issuer": "https://idp" })).await;
    let good = claims(json!({ "aud": "api", "iss": "https://idp" }));
    assert_eq!(bearer(&strict, &token(Algorithm::HS256, None, &key, &good)).await, 200);
    let cases = [
        json!({ "sub": "x" }),
        json!({ "sub": "x", "exp": now() - 120, "aud": "api", "iss": "https://idp" }),
        claims(json!({ "nbf": now() + 120, "aud": "api", "iss": "https://idp" })),
        claims(json!({ "aud": "other", "iss": "https://idp" })),
        claims(json!({ "aud": "api", "iss": "https://evil" })),
        claims(json!({ "iss": "https://idp" })),
    ];
    for claims in cases {
        assert_eq!(bearer(&strict, &token(Algorithm::HS256, None, &key, &claims)).await, 401, "{claims}");
    }
    let lenient = chain(json!({ "signingKey": { "key": "secret" }, "leeway": "3m" })).await;
    let just_expired = json!({ "sub": "x", "exp": now() - 60 });
    assert_eq!(bearer(&lenient, &token(Algorithm::HS256, None, &key, &just_expired)).await, 200, "within the leeway");
}

#[tokio::test]
async fn where_the_token_travels_and_what_goes_on() {
    let key = EncodingKey::from_secret(b"secret");
    let t = token(Algorithm::HS256, None, &key, &claims(json!({})));
    let chain = chain(json!({ "signingKey": { "key": "secret" }, "claimsToHeaders": { "X-User": "sub" } })).await;
    let (status, body, challenge) = run(&chain, &[], "/").await;
    assert_eq!((status, challenge.as_deref()), (401, Some("Bearer")), "{body}");
    let (status, _, challenge) = run(&chain, &[("authorization", "Bearer garbage".into())], "/").await;
    assert_eq!((status, challenge.as_deref()), (401, Some("Bearer error=\"invalid_token\"")));
    let (status, body, _) =
        run(&chain, &[("authorization", format!("bearer {t}")), ("x-user", "admin".into())], "/").await;
    assert_eq!(
        (status, body.as_str()),
        (200, "user-42|user-42"),
        "claims in an extension and the header, the client's X-User gone"
    );
    let by_cookie = self::chain(json!({ "signingKey": { "key": "secret" }, "tokenLookup": "cookie:jwt" })).await;
    assert_eq!(run(&by_cookie, &[("cookie", format!("a=b; jwt={t}"))], "/").await.0, 200);
    let by_query = self::chain(json!({ "signingKey": { "key": "secret" }, "tokenLookup": "query:access_token" })).await;
    assert_eq!(run(&by_query, &[], &format!("/?access_token={t}")).await.0, 200);
}

#[tokio::test]
async fn mistakes_are_refused_at_load() {
    for config in [
        json!({}),
        json!({ "signingKey": { "key": "secret", "algorithm": "RS256" } }),
        json!({ "signingKey": { "key": "secret", "algorithm": "none" } }),
        json!({ "signingKey": { "key": "-----BEGIN PUBLIC KEY-----\nnope\n-----END PUBLIC KEY-----" } }),
        json!({ "jwkUrls": ["ftp://idp/keys"] }),
        json!({ "signingKey": { "key": "s" }, "tokenLookup": "body:x" }),
    ] {
        assert!(Harness::new().build::<JwtValidationMiddlewareConfig>(config.clone()).await.is_err(), "{config}");
    }
}

/// A JWKS server whose key set and availability the test changes; counts fetches.
struct JwksServer {
    url: String,
    set: Arc<Mutex<JwkSet>>,
    down: Arc<AtomicBool>,
    fetches: Arc<AtomicUsize>,
}

async fn jwks_server(set: JwkSet) -> JwksServer {
    let set = Arc::new(Mutex::new(set));
    let down = Arc::new(AtomicBool::new(false));
    let fetches = Arc::new(AtomicUsize::new(0));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}/.well-known/jwks.json", listener.local_addr().unwrap());
    let (s, d, f) = (set.clone(), down.clone(), fetches.clone());
    tokio::spawn(async move {
        loop {
            let Ok((stream, _)) = listener.accept().await else { continue };
            let (s, d, f) = (s.clone(), d.clone(), f.clone());
            tokio::spawn(async move {
                let service = hyper::service::service_fn(move |_req| {
                    f.fetch_add(1, Ordering::SeqCst);
                    let response = if d.load(Ordering::SeqCst) {
                        http::Response::builder().status(503).body(Full::new(Bytes::new())).unwrap()
                    } else {
                        let text = serde_json::to_string(&*s.lock().unwrap()).unwrap();
                        http::Response::new(Full::new(Bytes::from(text)))
                    };
                    async move { Ok::<_, Infallible>(response) }
                });
                let _ = hyper::server::conn::http1::Builder::new()
                    .serve_connection(hyper_util::rt::TokioIo::new(stream), service)
                    .await;
            });
        }
    });
    JwksServer { url, set, down, fetches }
}

fn jwk(key: &EncodingKey, alg: Algorithm, kid: &str) -> Jwk {
    let mut jwk = Jwk::from_encoding_key(key, alg).unwrap();
    jwk.common.key_id = Some(kid.to_owned());
    jwk
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn jwks_rotation_outage_and_a_flood_of_unknown_kids() {
    let rsa = EncodingKey::from_rsa_pem(RSA_PRIVATE.as_bytes()).unwrap();
    let ec = EncodingKey::from_ec_pem(EC_PRIVATE.as_bytes()).unwrap();
    let server = jwks_server(JwkSet { keys: vec![jwk(&rsa, Algorithm::RS256, "rsa-1")] }).await;
    let chain = chain(json!({ "jwkUrls": [server.url], "jwksMinRefreshInterval": "1s" })).await;
    let rs = token(Algorithm::RS256, Some("rsa-1"), &rsa, &claims(json!({})));
    assert_eq!(bearer(&chain, &rs).await, 200);
    // A JWK with `alg: RS256` refuses a PS256 token made with the same key.
    let ps = token(Algorithm::PS256, Some("rsa-1"), &rsa, &claims(json!({})));
    assert_eq!(bearer(&chain, &ps).await, 401);

    // Rotation: a new kid appears at the identity provider and is picked up on first use.
    server.set.lock().unwrap().keys.push(jwk(&ec, Algorithm::ES256, "ec-2"));
    tokio::time::sleep(Duration::from_millis(1100)).await;
    let es = token(Algorithm::ES256, Some("ec-2"), &ec, &claims(json!({})));
    assert_eq!(bearer(&chain, &es).await, 200, "the new key is fetched");

    // A flood of unknown kids: at most one fetch per minimum interval.
    tokio::time::sleep(Duration::from_millis(1100)).await;
    let before = server.fetches.load(Ordering::SeqCst);
    // (HMAC-signed: the kid is looked up before any signature is checked, and RSA signing
    // 1000 tokens would only slow the test.)
    let cheap = EncodingKey::from_secret(b"x");
    let unknown: Vec<String> =
        (0..1000).map(|i| token(Algorithm::HS256, Some(&format!("nope-{i}")), &cheap, &claims(json!({})))).collect();
    let refused = futures_join(&chain, &unknown).await;
    assert_eq!(refused, 1000);
    let fetched = server.fetches.load(Ordering::SeqCst) - before;
    assert!(fetched <= 2, "1000 unknown kids caused {fetched} fetches");

    // The identity provider goes down: the keys already known keep working.
    server.down.store(true, Ordering::SeqCst);
    tokio::time::sleep(Duration::from_millis(1100)).await;
    let _ = bearer(&chain, &token(Algorithm::RS256, Some("unknown"), &rsa, &claims(json!({})))).await;
    assert_eq!(bearer(&chain, &rs).await, 200, "the last good key set is kept");
    assert_eq!(bearer(&chain, &es).await, 200);
}

async fn futures_join(chain: &Pipeline, tokens: &[String]) -> usize {
    let mut refused = 0;
    let mut handles = Vec::new();
    for t in tokens {
        handles.push(bearer(chain, t));
    }
    for h in handles {
        if h.await == 401 {
            refused += 1;
        }
    }
    refused
}

#[tokio::test]
async fn a_token_verified_before_still_expires_on_time() {
    let key = EncodingKey::from_secret(b"secret");
    let chain = chain(json!({ "signingKey": { "key": "secret" } })).await;
    let short = token(Algorithm::HS256, None, &key, &json!({ "sub": "x", "exp": now() + 2 }));
    assert_eq!(bearer(&chain, &short).await, 200);
    assert_eq!(bearer(&chain, &short).await, 200, "again, from the verified-token cache");
    tokio::time::sleep(Duration::from_millis(3100)).await;
    assert_eq!(bearer(&chain, &short).await, 401, "the cache never outlives exp");
}
