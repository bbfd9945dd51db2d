use std::collections::BTreeMap;
use std::sync::Arc;

use http::HeaderName;
use schemars::JsonSchema;
use seam_core::{
    BuildContext, BuildError, Component, GoDuration, Middleware, PathStep, Problem, Problems, async_trait,
};
use serde::{Deserialize, Deserializer};

use crate::map_header::MapSessionToHeaderMiddleware;
use crate::middleware::{Lookup, SessionHeaders, SessionMiddleware};
use crate::seal::Sealer;

/// The `SameSite` attribute of the session cookie.
#[derive(Clone, Copy, Debug, PartialEq, Eq, JsonSchema)]
pub enum SameSite {
    /// Sent only to the same site.
    Strict,
    /// Sent to the same site and on top-level navigations (the default).
    Lax,
    /// Sent everywhere; requires `cookieSecure`.
    None,
}

impl<'de> Deserialize<'de> for SameSite {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        #[derive(Deserialize)]
        #[serde(untagged)]
        enum Raw {
            Text(String),
            // Seam's documentation writes `cookieSameSite: true`.
            Flag(bool),
        }
        match Raw::deserialize(deserializer)? {
            Raw::Flag(true) => Ok(SameSite::Lax),
            Raw::Flag(false) => Ok(SameSite::None),
            Raw::Text(t) => match t.to_ascii_lowercase().as_str() {
                "strict" => Ok(SameSite::Strict),
                "lax" => Ok(SameSite::Lax),
                "none" => Ok(SameSite::None),
                _ => Err(serde::de::Error::custom(format!("cookieSameSite `{t}` is not `Strict`, `Lax` or `None`"))),
            },
        }
    }
}

fn yes() -> bool {
    true
}
fn lax() -> SameSite {
    SameSite::Lax
}
fn two_hours() -> GoDuration {
    GoDuration::from_secs(7200)
}
fn thirty_minutes() -> GoDuration {
    GoDuration::from_secs(1800)
}
fn cookie_lookup() -> String {
    "cookie:session_id".into()
}
fn root() -> String {
    "/".into()
}
fn set_header() -> String {
    "X-Session-Set".into()
}
fn destroy_header() -> String {
    "X-Session-Destroy".into()
}

/// Loads and stores user sessions in a storage, so every gateway instance shares them.
///
/// A session is created lazily (nothing is stored and no cookie sent until it holds data),
/// its id is 256 random bits, an unknown or malformed id is never adopted, and upstreams log
/// users in and out with the response headers `X-Session-Set` (a JSON object merged into the
/// session) and `X-Session-Destroy: true`.
#[seam_core::component(
    name = "plugins.sessions.middlewares.SessionMiddleware",
    aliases = ["plugins.session.middlewares.LoadSessionMiddleware"]
)]
#[derive(Clone, Debug)]
pub struct SessionMiddlewareConfig {
    /// The storage holding sessions (e.g. a ValkeyStorage). Left out: a private in-process memory storage (not shared, lost on restart).
    #[serde(default)]
    pub storage: Option<String>,
    /// Where the session id travels: `cookie:<name>` or `header:<Name>`.
    #[serde(default = "cookie_lookup")]
    #[schemars(default = "cookie_lookup")]
    #[schemars(extend("x-seam-request-header" = "lookup"))]
    pub key_lookup: String,
    /// Cookie not readable by JavaScript. Default true (Seam: false): a session cookie scripts can read is stolen by any XSS.
    #[serde(default = "yes", rename = "cookieHTTPOnly")]
    #[schemars(default = "yes")]
    pub cookie_http_only: bool,
    /// Cookie sent over HTTPS only. Left out: `true` for a request that arrived over HTTPS (directly, or through a trusted proxy's `X-Forwarded-Proto`), `false` otherwise.
    #[serde(default)]
    pub cookie_secure: Option<bool>,
    /// `Strict`, `Lax` or `None` (`None` needs `cookieSecure`).
    #[serde(default = "lax")]
    #[schemars(default = "lax")]
    pub cookie_same_site: SameSite,
    /// Cookie without `Max-Age`: it ends when the browser closes (the data still expires after `cookieExpiration`).
    #[serde(default)]
    pub cookie_session_only: bool,
    /// Lifetime of a session since it was last written: the storage TTL and the cookie's `Max-Age`.
    #[serde(default = "two_hours")]
    #[schemars(default = "two_hours")]
    pub cookie_expiration: GoDuration,
    /// Never rotate the session id.
    #[serde(default)]
    pub disable_auto_renew: bool,
    /// Rotate the session id once it is older than this (the data moves to a new id).
    #[serde(default = "thirty_minutes")]
    #[schemars(default = "thirty_minutes")]
    pub auto_renew_after: GoDuration,
    /// Remove the session cookie (or header) from the request sent upstream.
    #[serde(default)]
    pub disable_session_forward: bool,
    /// `Path` of the cookie.
    #[serde(default = "root")]
    #[schemars(default = "root")]
    pub cookie_path: String,
    /// `Domain` of the cookie; left out: the host only.
    #[serde(default)]
    pub cookie_domain: Option<String>,
    /// Response header whose JSON object is merged into the session (stripped before the client sees it).
    #[serde(default = "set_header")]
    #[schemars(default = "set_header")]
    pub set_header: String,
    /// Response header that, when `true`, destroys the session (stripped before the client sees it).
    #[serde(default = "destroy_header")]
    #[schemars(default = "destroy_header")]
    pub destroy_header: String,
    /// While the storage is unreachable, let requests through without a session instead of answering 503.
    #[serde(default)]
    pub fail_open: bool,
    /// Encrypt sessions at rest (AES-256-GCM), whatever the storage: 256-bit keys in base64, e.g. `[${SESSION_KEY}, ${OLD_SESSION_KEY}]`. The first key encrypts; every key decrypts, so keys rotate without logging anyone out. Make one with `openssl rand -base64 32`.
    #[serde(default)]
    pub encryption_keys: Vec<seam_core::Secret>,
}

impl SessionMiddlewareConfig {
    fn lookup(&self) -> Result<Lookup, Problem> {
        let field = |m: &str| Problem::field("keyLookup", m.to_owned());
        match self.key_lookup.split_once(':') {
            Some(("cookie", name)) if !name.is_empty() => Ok(Lookup::Cookie(name.to_owned())),
            Some(("header", name)) if !name.is_empty() => HeaderName::from_bytes(name.as_bytes())
                .map(Lookup::Header)
                .map_err(|_| field(&format!("`{name}` is not a valid header name"))),
            _ => Err(field(&format!("keyLookup `{}` is neither `cookie:<name>` nor `header:<Name>`", self.key_lookup))),
        }
    }
}

fn header_name(field: &str, name: &str) -> Result<HeaderName, Problem> {
    HeaderName::from_bytes(name.as_bytes())
        .map_err(|_| Problem::field(field, format!("`{name}` is not a valid header name")))
}

#[async_trait]
impl Component for SessionMiddlewareConfig {
    type Output = dyn Middleware;

    async fn build(&self, cx: &BuildContext<'_>) -> Result<Arc<dyn Middleware>, BuildError> {
        let mut problems = Problems::new();
        let lookup = problems.check(self.lookup());
        problems.ensure(self.cookie_same_site != SameSite::None || self.cookie_secure == Some(true), || {
            Problem::field(
                "cookieSameSite",
                "cookieSameSite `None` needs `cookieSecure: true` (browsers reject it otherwise)",
            )
        });
        problems.ensure(!self.cookie_expiration.get().is_zero(), || {
            Problem::field("cookieExpiration", "cookieExpiration must be more than 0")
        });
        let set = problems.check(header_name("setHeader", &self.set_header));
        let destroy = problems.check(header_name("destroyHeader", &self.destroy_header));
        let sealer = match self.encryption_keys.is_empty() {
            true => Some(None),
            false => match Sealer::new(&self.encryption_keys) {
                Ok(sealer) => Some(Some(sealer)),
                Err(bad) => {
                    bad.into_iter().for_each(|p| problems.push(p));
                    None
                }
            },
        };
        let ((lookup, set, destroy), sealer) =
            problems.finish(lookup.zip(set).zip(destroy).map(|((l, s), d)| (l, s, d)).zip(sealer))?;
        let (storage, shared) = cx.storage_or_default(self.storage.as_deref(), &[]).await?;
        if !shared {
            tracing::warn!(
                middleware = cx.name(),
                "no `storage`: sessions are kept in this process only, neither shared between instances nor kept across restarts"
            );
        }
        let headers = SessionHeaders { set, destroy };
        Ok(Arc::new(SessionMiddleware::new(cx.name(), self.clone(), lookup, headers, storage, sealer)))
    }
}

/// Copies session values into request headers for the upstream.
///
/// `headers: { X-User-Id: user_id }` sets `X-User-Id` from the session's `user_id`: strings as
/// they are, numbers and booleans as text, objects and arrays as compact JSON; a missing key
/// sets no header. A header of a mapped name sent by the client is always removed first.
#[seam_core::component(
    name = "plugins.sessions.middlewares.MapSessionToHeaderMiddleware",
    aliases = ["plugins.session.middlewares.MapSessionToHeaderMiddleware"]
)]
#[derive(Clone, Debug)]
pub struct MapSessionToHeaderMiddlewareConfig {
    /// Request header name → session key.
    pub headers: BTreeMap<String, String>,
}

#[async_trait]
impl Component for MapSessionToHeaderMiddlewareConfig {
    type Output = dyn Middleware;

    async fn build(&self, _cx: &BuildContext<'_>) -> Result<Arc<dyn Middleware>, BuildError> {
        let mut problems = Problems::new();
        let headers: Vec<Option<(HeaderName, String)>> = self
            .headers
            .iter()
            .map(|(name, key)| {
                let at = vec![PathStep::Key("headers".into()), PathStep::Key(name.clone())];
                let header = HeaderName::from_bytes(name.as_bytes())
                    .map_err(|_| Problem::at(at, format!("`{name}` is not a valid header name")));
                problems.check(header).map(|h| (h, key.clone()))
            })
            .collect();
        let headers = problems.finish(headers.into_iter().collect::<Option<Vec<_>>>())?;
        Ok(Arc::new(MapSessionToHeaderMiddleware::new(headers)))
    }
}
