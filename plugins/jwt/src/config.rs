use std::collections::BTreeMap;
use std::sync::Arc;

use http::HeaderName;
use schemars::JsonSchema;
use seam_core::{
    BuildContext, BuildError, Component, GoDuration, Middleware, PathStep, Problem, Problems, Secret, async_trait,
};
use serde::Deserialize;

use crate::jwks::Jwks;
use crate::keys::signing_key;
use crate::lookup::TokenLookup;
use crate::middleware::JwtMiddleware;

/// A key to verify tokens with (Seam's `signingKey`).
#[derive(Clone, Debug, Default, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase", default)]
pub struct SigningKeyConfig {
    /// The one algorithm tokens must use (`HS256`, `RS256`, `ES256`, `EdDSA`, ...); empty: any algorithm of the key's family.
    pub algorithm: String,
    /// An HMAC secret (its text's bytes, as in Seam), or a public key in PEM (RSA, EC or Ed25519). Write `${JWT_KEY}` to keep it out of the file.
    pub key: Option<Secret>,
}

/// Accepts requests that carry a valid JSON Web Token (by default `Authorization: Bearer <token>`), verified against `signingKey` or the key sets at `jwkUrls`; others get 401.
///
/// The token's algorithm must fit the key (never `none`, never HMAC with a public key),
/// `exp` is required and `nbf` checked. The verified claims are handed to later middlewares
/// (the limiter's `keyBy: claim:sub`) and, with `claimsToHeaders`, to the upstream.
#[seam_core::component(name = "plugins.jwt.middlewares.JWTValidationMiddleware")]
#[derive(Clone, Debug)]
#[serde(default)]
pub struct JwtValidationMiddlewareConfig {
    /// A fixed verification key.
    pub signing_key: SigningKeyConfig,
    /// URLs of JWK sets (an identity provider's `jwks_uri`); tokens name their key with `kid`.
    pub jwk_urls: Vec<String>,
    /// Where the token travels: `header:Authorization` (scheme `Bearer`), another `header:<Name>`, `cookie:<name>` or `query:<name>`.
    #[schemars(extend("x-seam-request-header" = "lookup"))]
    pub token_lookup: String,
    /// The `aud` tokens must carry (one of them); empty: not checked.
    pub audience: Vec<String>,
    /// The `iss` tokens must carry; empty: not checked.
    pub issuer: String,
    /// Clock skew allowed on `exp` and `nbf`.
    pub leeway: GoDuration,
    /// Upstream header → claim: the claim's value is sent in the header; copies of these headers sent by the client are always removed.
    pub claims_to_headers: BTreeMap<String, String>,
    /// How often the key sets are fetched again.
    pub jwks_refresh_interval: GoDuration,
    /// Least time between two fetches forced by tokens with an unknown `kid`.
    pub jwks_min_refresh_interval: GoDuration,
}

impl Default for JwtValidationMiddlewareConfig {
    fn default() -> Self {
        JwtValidationMiddlewareConfig {
            signing_key: SigningKeyConfig::default(),
            jwk_urls: Vec::new(),
            token_lookup: "header:Authorization".into(),
            audience: Vec::new(),
            issuer: String::new(),
            leeway: GoDuration::default(),
            claims_to_headers: BTreeMap::new(),
            jwks_refresh_interval: GoDuration::from_secs(3600),
            jwks_min_refresh_interval: GoDuration::from_secs(5),
        }
    }
}

#[async_trait]
impl Component for JwtValidationMiddlewareConfig {
    type Output = dyn Middleware;

    async fn build(&self, cx: &BuildContext<'_>) -> Result<Arc<dyn Middleware>, BuildError> {
        let mut problems = Problems::new();
        let has_key = self.signing_key.key.as_ref().is_some_and(|k| !k.expose().is_empty());
        problems.ensure(has_key || !self.jwk_urls.is_empty(), || {
            Problem::new("give `signingKey.key` or `jwkUrls` (or both): there is nothing to verify tokens with")
        });
        let static_key = match &self.signing_key.key {
            Some(key) if has_key => {
                problems.check(signing_key(&self.signing_key.algorithm, key.expose()).map_err(|e| {
                    Problem::at(vec![PathStep::Key("signingKey".into()), PathStep::Key("key".into())], e).secret()
                }))
            }
            _ => None,
        };
        let mut urls = Vec::new();
        for (i, url) in self.jwk_urls.iter().enumerate() {
            let at = || vec![PathStep::Key("jwkUrls".into()), PathStep::Index(i)];
            match url.parse::<http::Uri>() {
                Ok(uri) if matches!(uri.scheme_str(), Some("http" | "https")) && uri.host().is_some() => urls.push(uri),
                _ => problems.push(
                    Problem::at(at(), format!("`{}` is not an http(s) URL", seam_core::secret::mask_written_url(url)))
                        .about_url(url),
                ),
            }
        }
        let lookup =
            problems.check(TokenLookup::parse(&self.token_lookup).map_err(|e| Problem::field("tokenLookup", e)));
        let mut headers = Vec::new();
        for (header, claim) in &self.claims_to_headers {
            match HeaderName::from_bytes(header.as_bytes()) {
                Ok(name) => headers.push((name, claim.clone())),
                Err(_) => problems.push(Problem::at(
                    vec![PathStep::Key("claimsToHeaders".into()), PathStep::Key(header.clone())],
                    format!("`{header}` is not a valid header name"),
                )),
            }
        }
        problems.ensure(!self.jwks_min_refresh_interval.get().is_zero(), || {
            Problem::field("jwksMinRefreshInterval", "jwksMinRefreshInterval must be more than 0")
        });
        problems.ensure(!self.jwks_refresh_interval.get().is_zero(), || {
            Problem::field("jwksRefreshInterval", "jwksRefreshInterval must be more than 0")
        });
        problems.into_result()?;
        let jwks = if urls.is_empty() {
            None
        } else {
            let jwks = Arc::new(
                Jwks::new(urls, self.jwks_min_refresh_interval.get()).map_err(|e| Problem::field("jwkUrls", e))?,
            );
            if !cx.offline() {
                // The first fetch; a failure is logged and retried on the first unknown key.
                jwks.refresh().await;
                jwks.keep_fresh(self.jwks_refresh_interval.get());
            }
            Some(jwks)
        };
        Ok(Arc::new(JwtMiddleware {
            verified: moka::sync::Cache::builder()
                .max_capacity(10_000)
                .time_to_live(std::time::Duration::from_secs(60))
                .build(),
            static_key,
            jwks,
            lookup: lookup.expect("checked above"),
            audience: self.audience.clone(),
            issuer: (!self.issuer.is_empty()).then(|| self.issuer.clone()),
            leeway: self.leeway.get().as_secs(),
            headers,
        }))
    }
}
