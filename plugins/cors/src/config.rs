use std::sync::Arc;

use http::HeaderValue;
use seam_core::interned::interned_value;
use seam_core::{BuildContext, BuildError, Component, Middleware, Problem, Problems, async_trait};

use crate::middleware::{CorsMiddleware, Origins};
use crate::origin::{Subdomains, normalize};

/// Cross-Origin Resource Sharing, as Fiber (and so Seam) does it: answers preflights with 204 and puts the `Access-Control-*` headers on every answer to an allowed origin.
///
/// A request from an origin that is not allowed is not refused: it gets no
/// `Access-Control-Allow-Origin`, so the browser keeps the answer from the page. A preflight
/// reaches this middleware even when the route does not list `OPTIONS`, and the headers stay
/// on proxied answers (Seam's proxy erased them).
#[seam_core::component(name = "plugins.cors.middlewares.CORSMiddleware")]
#[derive(Clone, Debug)]
#[serde(default)]
pub struct CorsMiddlewareConfig {
    /// Allowed origins, comma-separated: `*` (every origin), `https://app.example.com`, or `https://*.example.com` for every subdomain.
    pub allow_origins: String,
    /// Methods a preflight allows (`Access-Control-Allow-Methods`), comma-separated.
    pub allow_methods: String,
    /// Request headers allowed (`Access-Control-Allow-Headers`), comma-separated; empty: the ones the preflight asks for.
    pub allow_headers: String,
    /// Allow cookies and credentials (`Access-Control-Allow-Credentials: true`); needs explicit `allowOrigins`, never `*`.
    pub allow_credentials: bool,
    /// Response headers the page may read (`Access-Control-Expose-Headers`), comma-separated.
    pub expose_headers: String,
    /// How long, in seconds, a browser may cache a preflight's answer: more than 0 sends it, a negative value sends `0`, `0` sends nothing.
    pub max_age: i64,
}

impl Default for CorsMiddlewareConfig {
    fn default() -> Self {
        CorsMiddlewareConfig {
            allow_origins: "*".into(),
            allow_methods: "GET,POST,HEAD,PUT,DELETE,PATCH".into(),
            allow_headers: String::new(),
            allow_credentials: false,
            expose_headers: String::new(),
            max_age: 0,
        }
    }
}

/// A comma-separated list without its spaces (Fiber strips them), as a header value.
fn list(text: &str, key: &str, problems: &mut Problems) -> Option<HeaderValue> {
    let joined: String = text.chars().filter(|c| !c.is_whitespace()).collect();
    if joined.is_empty() {
        return None;
    }
    // Interned: set on every CORS answer, a clone then copies a pointer and no counter.
    problems.check(
        HeaderValue::from_str(&joined)
            .map(|value| interned_value(&value))
            .map_err(|_| Problem::field(key, format!("`{text}` is not a valid header value"))),
    )
}

#[async_trait]
impl Component for CorsMiddlewareConfig {
    type Output = dyn Middleware;

    async fn build(&self, _cx: &BuildContext<'_>) -> Result<Arc<dyn Middleware>, BuildError> {
        let mut problems = Problems::new();
        let mut exact = Vec::new();
        let mut subdomains = Vec::new();
        let mut all = false;
        for entry in self.allow_origins.split(',') {
            let entry = entry.trim();
            if entry == "*" {
                all = true;
                continue;
            }
            let refused = || {
                Problem::field("allowOrigins", format!("`{entry}` is not an origin"))
                    .help("write `scheme://host[:port]` (http or https), or `https://*.example.com` for subdomains, separated by commas")
            };
            match Subdomains::parse(entry) {
                Some(Ok(pattern)) => subdomains.push(pattern),
                Some(Err(())) => problems.push(refused()),
                None => match normalize(entry) {
                    Some(origin) => exact.push(origin),
                    None => problems.push(refused()),
                },
            }
        }
        if self.allow_credentials && all {
            problems.push(
                Problem::field("allowCredentials", "allowCredentials with the wildcard origin `*` is not allowed: any site could read answers made with the user's cookies")
                    .help("list the allowed origins in `allowOrigins` explicitly"),
            );
        }
        let allow_methods = list(&self.allow_methods, "allowMethods", &mut problems);
        let allow_headers = list(&self.allow_headers, "allowHeaders", &mut problems);
        let expose_headers = list(&self.expose_headers, "exposeHeaders", &mut problems);
        problems.into_result()?;
        let max_age = match self.max_age {
            0 => None,
            n if n < 0 => Some(HeaderValue::from_static("0")),
            n => Some(interned_value(&HeaderValue::from(n))),
        };
        let origins = if all { Origins::All } else { Origins::Listed { exact, subdomains } };
        Ok(Arc::new(CorsMiddleware {
            origins,
            allow_methods,
            allow_headers,
            allow_credentials: self.allow_credentials,
            expose_headers,
            max_age,
        }))
    }
}
