//! The runtime of `CSRFMiddleware`.

use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use http::header::{COOKIE, HOST, REFERER, SET_COOKIE, VARY};
use http::{HeaderValue, Method, StatusCode};
use http_body_util::BodyExt;
use seam_core::extensions::Client;
use seam_core::{Body, Middleware, Next, Request, Response, Storage, StorageError, async_trait, json_error};
use subtle::ConstantTimeEq;

use crate::lookup::Lookup;

/// How the token cookie is written.
pub(crate) struct CookieSettings {
    pub(crate) name: String,
    pub(crate) domain: Option<String>,
    pub(crate) path: Option<String>,
    pub(crate) secure: bool,
    pub(crate) http_only: bool,
    pub(crate) session_only: bool,
    pub(crate) same_site: Option<cookie::SameSite>,
}

pub(crate) struct CsrfMiddleware {
    pub(crate) lookup: Lookup,
    pub(crate) storage: Arc<dyn Storage>,
    pub(crate) cookie: CookieSettings,
    pub(crate) expiration: Duration,
    pub(crate) single_use: bool,
    pub(crate) fail_open: bool,
}

/// The storage key of a token.
fn key(token: &str) -> String {
    format!("csrf:{token}")
}

fn new_token() -> String {
    uuid::Uuid::new_v4().hyphenated().to_string()
}

/// The value of cookie `name` in the request's `Cookie` headers.
fn cookie_value(headers: &http::HeaderMap, name: &str) -> Option<String> {
    headers
        .get_all(COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(cookie::Cookie::split_parse)
        .filter_map(Result::ok)
        .find(|c| c.name() == name)
        .map(|c| c.value().to_owned())
        .filter(|v| !v.is_empty())
}

enum Refusal {
    /// 403; `true` when the token was unknown, and the client's cookie is expired.
    Forbidden(&'static str, bool),
    Storage(StorageError),
}

impl CsrfMiddleware {
    fn set_cookie(&self, response: &mut Response, token: Option<&str>) {
        let c = &self.cookie;
        let mut built = cookie::Cookie::build((c.name.clone(), token.unwrap_or_default().to_owned()))
            .http_only(c.http_only)
            .secure(c.secure);
        if let Some(same_site) = c.same_site {
            built = built.same_site(same_site);
        }
        if let Some(domain) = &c.domain {
            built = built.domain(domain.clone());
        }
        if let Some(path) = &c.path {
            built = built.path(path.clone());
        }
        let expires = match token {
            None => Some(cookie::time::OffsetDateTime::now_utc() - cookie::time::Duration::hours(1)),
            Some(_) if c.session_only => None,
            Some(_) => {
                let secs = i64::try_from(self.expiration.as_secs()).unwrap_or(i64::MAX);
                Some(cookie::time::OffsetDateTime::now_utc() + cookie::time::Duration::seconds(secs))
            }
        };
        if let Some(expires) = expires {
            built = built.expires(expires);
        }
        if let Ok(value) = HeaderValue::from_str(&built.build().to_string()) {
            response.headers_mut().append(SET_COOKIE, value);
        }
        let varies = response
            .headers()
            .get_all(VARY)
            .iter()
            .any(|v| v.to_str().is_ok_and(|v| v.split(',').any(|p| p.trim().eq_ignore_ascii_case("cookie"))));
        if !varies {
            response.headers_mut().append(VARY, HeaderValue::from_static("Cookie"));
        }
    }

    /// Whether the token is one this gateway issued and still knows.
    async fn known(&self, token: &str) -> Result<bool, StorageError> {
        Ok(seam_core::storage::read(&*self.storage, &key(token)).await?.is_some())
    }

    async fn remember(&self, token: &str) -> Result<(), StorageError> {
        self.storage.set(&key(token), Bytes::from_static(b"+"), Some(self.expiration)).await
    }

    /// Over HTTPS, the `Referer` must be this scheme and host (Fiber's check).
    fn referer_fits(parts: &http::request::Parts) -> bool {
        let Some(referer) = parts.headers.get(REFERER).and_then(|v| v.to_str().ok()) else { return false };
        let Ok(uri) = referer.parse::<http::Uri>() else { return false };
        let host = parts.headers.get(HOST).and_then(|v| v.to_str().ok()).unwrap_or_default();
        uri.scheme_str().is_some_and(|s| s.eq_ignore_ascii_case("https"))
            && uri.authority().is_some_and(|a| a.as_str().eq_ignore_ascii_case(host))
    }

    /// Checks an unsafe request; the token to go on with (a new one when single-use).
    async fn check(
        &self,
        parts: &http::request::Parts,
        body: Option<&Bytes>,
        cookie: Option<&str>,
    ) -> Result<String, Refusal> {
        let https = parts.extensions.get::<Client>().is_some_and(Client::https);
        if https && !Self::referer_fits(parts) {
            return Err(Refusal::Forbidden("the Referer is missing or names another site", false));
        }
        let token =
            self.lookup.find(parts, body, cookie).ok_or(Refusal::Forbidden("the CSRF token is missing", false))?;
        let Some(cookie) = cookie else { return Err(Refusal::Forbidden("the CSRF cookie is missing", false)) };
        if !bool::from(token.as_bytes().ct_eq(cookie.as_bytes())) {
            return Err(Refusal::Forbidden("the CSRF token does not match its cookie", false));
        }
        if !self.known(&token).await.map_err(Refusal::Storage)? {
            return Err(Refusal::Forbidden("the CSRF token is unknown or expired", true));
        }
        if self.single_use {
            self.storage.delete(&key(&token)).await.map_err(Refusal::Storage)?;
            return Ok(new_token());
        }
        Ok(token)
    }

    fn unavailable(&self, e: &StorageError) -> Response {
        tracing::warn!("CSRF tokens cannot be checked: {e}");
        json_error(StatusCode::SERVICE_UNAVAILABLE, "CSRF tokens cannot be checked right now")
    }
}

#[async_trait]
impl Middleware for CsrfMiddleware {
    async fn handle(&self, req: Request, next: Next) -> Response {
        let cookie = cookie_value(req.headers(), &self.cookie.name);
        let safe = matches!(*req.method(), Method::GET | Method::HEAD | Method::OPTIONS | Method::TRACE);
        let (req, token) = if safe {
            let token = match &cookie {
                Some(existing) => match self.known(existing).await {
                    Ok(true) => existing.clone(),
                    Ok(false) => new_token(),
                    Err(e) if self.fail_open => {
                        tracing::warn!("CSRF storage failed, passing (failOpen): {e}");
                        return next.run(req).await;
                    }
                    Err(e) => return self.unavailable(&e),
                },
                None => new_token(),
            };
            (req, token)
        } else {
            let (parts, body) = req.into_parts();
            // A form token is in the body: read it, and hand the same bytes on.
            let (body, bytes) = if self.lookup.needs_body() {
                match body.collect().await {
                    Ok(collected) => {
                        let bytes = collected.to_bytes();
                        (Body::from(bytes.clone()), Some(bytes))
                    }
                    Err(e) => {
                        return json_error(
                            StatusCode::BAD_REQUEST,
                            &format!("the request body could not be read: {e}"),
                        );
                    }
                }
            } else {
                (body, None)
            };
            match self.check(&parts, bytes.as_ref(), cookie.as_deref()).await {
                Ok(token) => (Request::from_parts(parts, body), token),
                Err(Refusal::Forbidden(why, unknown)) => {
                    let mut response = json_error(StatusCode::FORBIDDEN, why);
                    if unknown {
                        self.set_cookie(&mut response, None);
                    }
                    return response;
                }
                Err(Refusal::Storage(e)) if self.fail_open => {
                    tracing::warn!("CSRF storage failed, passing (failOpen): {e}");
                    return next.run(Request::from_parts(parts, body)).await;
                }
                Err(Refusal::Storage(e)) => return self.unavailable(&e),
            }
        };
        // The token lives on (sliding expiry); a failure to store it is logged, the
        // request goes on, and the next unsafe request will say so.
        if let Err(e) = self.remember(&token).await {
            tracing::warn!("CSRF token not stored: {e}");
        }
        let mut response = next.run(req).await;
        self.set_cookie(&mut response, Some(&token));
        response
    }
}
