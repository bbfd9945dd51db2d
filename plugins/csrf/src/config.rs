use std::sync::Arc;

use seam_core::{BuildContext, BuildError, Component, GoDuration, Middleware, Problem, Problems, async_trait};

use crate::lookup::Lookup;
use crate::middleware::{CookieSettings, CsrfMiddleware};

/// Cross-site request forgery protection (Fiber's double-submit check): safe requests get a token cookie; every other request must send the same token (by default in `X-Csrf-Token`), and it must be one this gateway issued, or it gets 403.
///
/// Tokens live in `storage`, so every gateway instance on it accepts them; without one they
/// live in this process's memory. Over HTTPS the `Referer` must also name this host. The
/// cookie is set when the answer passes back, so it is there on proxied answers too.
#[seam_core::component(name = "plugins.csrf.middlewares.CSRFMiddleware")]
#[derive(Clone, Debug)]
#[serde(default)]
pub struct CsrfMiddlewareConfig {
    /// Where unsafe requests carry the token: `header:<Name>`, `query:<key>`, `param:<name>`, `form:<field>` or `cookie:<name>`.
    #[schemars(extend("x-seam-request-header" = "lookup"))]
    pub key_lookup: String,
    /// Name of the token cookie (with a `cookie:` lookup, that cookie's name).
    pub cookie_name: String,
    /// `Domain` of the cookie.
    pub cookie_domain: String,
    /// `Path` of the cookie (empty: none, so the browser scopes it to the request's folder).
    pub cookie_path: String,
    /// `Secure` cookie.
    pub cookie_secure: bool,
    /// `HttpOnly` cookie. Leave it off with a header lookup: the page's script must read the cookie to send the token.
    #[serde(rename = "cookieHTTPOnly")]
    pub cookie_http_only: bool,
    /// Cookie without `Expires` (ends with the browser session).
    pub cookie_session_only: bool,
    /// A token works once: after an accepted unsafe request it is replaced by a new one.
    pub single_use_token: bool,
    /// `Strict`, `Lax`, `None` (adds `Secure`) or `disabled` (no attribute); anything else is `Lax`, as in Fiber.
    pub cookie_same_site: String,
    /// How long a token lives without use (renewed by each use): the storage TTL and the cookie's `Expires`.
    pub cookie_expiration: GoDuration,
    /// The storage holding the tokens; left out: this process's memory (tokens are then not shared between instances).
    pub storage: Option<String>,
    /// When the storage fails: `false` (default) answers 503; `true` lets requests through unchecked.
    pub fail_open: bool,
}

impl Default for CsrfMiddlewareConfig {
    fn default() -> Self {
        CsrfMiddlewareConfig {
            key_lookup: "header:X-Csrf-Token".into(),
            cookie_name: "csrf_".into(),
            cookie_domain: String::new(),
            cookie_path: String::new(),
            cookie_secure: false,
            cookie_http_only: false,
            cookie_session_only: false,
            single_use_token: false,
            cookie_same_site: "Lax".into(),
            cookie_expiration: GoDuration::from_secs(3600),
            storage: None,
            fail_open: false,
        }
    }
}

#[async_trait]
impl Component for CsrfMiddlewareConfig {
    type Output = dyn Middleware;

    async fn build(&self, cx: &BuildContext<'_>) -> Result<Arc<dyn Middleware>, BuildError> {
        let mut problems = Problems::new();
        let lookup = problems.check(Lookup::parse(&self.key_lookup).map_err(|e| {
            Problem::field("keyLookup", e).help("e.g. `header:X-Csrf-Token`, `form:_csrf`, `query:csrf`")
        }));
        // Fiber resets an expiration under one second to 1h; seam says so instead.
        problems.ensure(self.cookie_expiration.get().as_secs() >= 1, || {
            Problem::field("cookieExpiration", "cookieExpiration must be at least 1s")
                .help("a bare integer is nanoseconds (Go's rule); write `1h` or `24h`")
        });
        problems.ensure(
            self.cookie_name.chars().all(|c| c.is_ascii_graphic() && !"()<>@,;:\\\"/[]?={}".contains(c)),
            || Problem::field("cookieName", format!("`{}` is not a valid cookie name", self.cookie_name)),
        );
        problems.into_result()?;
        let lookup = lookup.expect("checked above");
        let cookie_name = match &lookup {
            Lookup::Cookie(name) => name.clone(),
            _ => self.cookie_name.clone(),
        };
        let (storage, _shared) = cx.storage_or_default(self.storage.as_deref(), &[]).await?;
        let same_site = match self.cookie_same_site.to_ascii_lowercase().as_str() {
            "strict" => Some(cookie::SameSite::Strict),
            "none" => Some(cookie::SameSite::None),
            "disabled" => None,
            _ => Some(cookie::SameSite::Lax),
        };
        Ok(Arc::new(CsrfMiddleware {
            lookup,
            storage,
            cookie: CookieSettings {
                name: cookie_name,
                domain: (!self.cookie_domain.is_empty()).then(|| self.cookie_domain.clone()),
                path: (!self.cookie_path.is_empty()).then(|| self.cookie_path.clone()),
                secure: self.cookie_secure || same_site == Some(cookie::SameSite::None),
                http_only: self.cookie_http_only,
                session_only: self.cookie_session_only,
                same_site,
            },
            expiration: self.cookie_expiration.get(),
            single_use: self.single_use_token,
            fail_open: self.fail_open,
        }))
    }
}
