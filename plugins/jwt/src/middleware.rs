//! The runtime of `JWTValidationMiddleware`.

use std::sync::Arc;

use http::header::WWW_AUTHENTICATE;
use http::{HeaderName, HeaderValue, StatusCode};
use jsonwebtoken::{Validation, decode, decode_header};
use seam_core::extensions::Claims;
use seam_core::{Middleware, Next, Request, Response, async_trait, json_error};

use crate::jwks::Jwks;
use crate::keys::Key;
use crate::lookup::TokenLookup;

/// A token already verified: its claims, and the times that bound it.
#[derive(Clone)]
pub(crate) struct Verified {
    claims: Claims,
    exp: u64,
    nbf: Option<u64>,
}

pub(crate) struct JwtMiddleware {
    /// Tokens whose signature and claims were checked in the last minute (Envoy's JWT cache):
    /// a client sending the same token again skips the signature check; `exp` and `nbf` are
    /// still checked on every request.
    pub(crate) verified: moka::sync::Cache<String, Verified>,
    pub(crate) static_key: Option<Key>,
    pub(crate) jwks: Option<Arc<Jwks>>,
    pub(crate) lookup: TokenLookup,
    pub(crate) audience: Vec<String>,
    pub(crate) issuer: Option<String>,
    pub(crate) leeway: u64,
    pub(crate) headers: Vec<(HeaderName, String)>,
}

impl JwtMiddleware {
    /// The verified claims of `token`, or why not (for the debug log; never the token).
    async fn verify(&self, token: &str) -> Result<serde_json::Map<String, serde_json::Value>, String> {
        let header = decode_header(token).map_err(|e| format!("malformed token: {e}"))?;
        let alg = header.alg;
        let key = match (&header.kid, &self.jwks) {
            (Some(kid), Some(jwks)) => match jwks.key(kid).await {
                Some(key) => key,
                None => self.static_key.clone().ok_or_else(|| format!("no key `{kid}` in the key sets"))?,
            },
            _ => self.static_key.clone().ok_or("the token names no key (`kid`)")?,
        };
        if !key.allows(alg) {
            return Err(format!("algorithm {alg:?} is not allowed for this key"));
        }
        let mut validation = Validation::new(alg);
        validation.leeway = self.leeway;
        validation.validate_nbf = true;
        let mut required = vec!["exp"];
        if self.audience.is_empty() {
            validation.validate_aud = false;
        } else {
            validation.set_audience(&self.audience);
            required.push("aud");
        }
        if let Some(issuer) = &self.issuer {
            validation.set_issuer(&[issuer]);
            required.push("iss");
        }
        validation.set_required_spec_claims(&required);
        decode::<serde_json::Map<String, serde_json::Value>>(token, &key.key, &validation)
            .map(|data| data.claims)
            .map_err(|e| e.to_string())
    }
}

/// 401 with the RFC 6750 challenge; `error` when a token was sent.
fn refuse(error: Option<&'static str>, detail: &str) -> Response {
    let mut response = json_error(StatusCode::UNAUTHORIZED, detail);
    let challenge = match error {
        Some(code) => format!("Bearer error=\"{code}\""),
        None => "Bearer".to_owned(),
    };
    if let Ok(value) = HeaderValue::from_str(&challenge) {
        response.headers_mut().insert(WWW_AUTHENTICATE, value);
    }
    response
}

#[async_trait]
impl Middleware for JwtMiddleware {
    async fn handle(&self, req: Request, next: Next) -> Response {
        let (mut parts, body) = req.into_parts();
        // Headers the gateway fills from claims never come from the client.
        for (name, _) in &self.headers {
            parts.headers.remove(name);
        }
        let Some(token) = self.lookup.find(&parts) else {
            return refuse(None, "a bearer token is needed");
        };
        let now = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.as_secs());
        let cached = self.verified.get(&token).filter(|v| {
            v.exp.saturating_add(self.leeway) > now && v.nbf.is_none_or(|nbf| nbf <= now.saturating_add(self.leeway))
        });
        let claims = match cached {
            Some(hit) => hit.claims,
            None => match self.verify(&token).await {
                Ok(claims) => {
                    let exp = claims.get("exp").and_then(serde_json::Value::as_u64).unwrap_or(0);
                    let nbf = claims.get("nbf").and_then(serde_json::Value::as_u64);
                    let claims = Claims(Arc::new(claims));
                    self.verified.insert(token, Verified { claims: claims.clone(), exp, nbf });
                    claims
                }
                Err(why) => {
                    tracing::debug!("JWT refused: {why}");
                    return refuse(Some("invalid_token"), "the token is invalid or expired");
                }
            },
        };
        for (name, claim) in &self.headers {
            if let Some(value) = claims.text(claim).and_then(|v| HeaderValue::from_str(&v).ok()) {
                parts.headers.insert(name.clone(), value);
            }
        }
        parts.extensions.insert(claims);
        next.run(Request::from_parts(parts, body)).await
    }
}
