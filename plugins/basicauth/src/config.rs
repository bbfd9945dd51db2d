use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;

use http::{HeaderName, HeaderValue};
use seam_core::{BuildContext, BuildError, Component, Middleware, PathStep, Problem, Problems, Secret, async_trait};

use crate::credentials::{Password, Users};
use crate::middleware::BasicAuthMiddleware;

/// HTTP Basic authentication (RFC 7617): requests without valid `users` credentials get 401 with a `WWW-Authenticate: Basic realm="..."` challenge.
///
/// Passwords are secrets (write `${ADMIN_PASSWORD}`); a value starting `$2b$` (bcrypt) or
/// `$argon2id$` is checked as a hash. Checks take the same time whether the user exists or
/// not, and whatever the password.
#[seam_core::component(name = "plugins.basicauth.middlewares.BasicAuthMiddleware")]
#[derive(Clone, Debug)]
#[serde(default)]
pub struct BasicAuthMiddlewareConfig {
    /// The realm named in the challenge.
    pub realm: String,
    /// User name → password (or bcrypt / argon2id hash). No users: every request gets 401.
    pub users: BTreeMap<String, Secret>,
    /// The name the user name is kept under in the request's locals.
    pub context_username_key: String,
    /// Accepted for Seam compatibility; seam never keeps the password after checking it.
    pub context_password_key: String,
    /// A request header that carries the authenticated user name to the upstream; a copy sent by the client is always removed.
    pub username_header: Option<String>,
    /// Remove `Authorization` before the upstream, so the credentials stop at the gateway.
    pub strip_authorization: bool,
}

impl Default for BasicAuthMiddlewareConfig {
    fn default() -> Self {
        BasicAuthMiddlewareConfig {
            realm: "Restricted".into(),
            users: BTreeMap::new(),
            context_username_key: "basicAuthUsername".into(),
            context_password_key: "basicAuthPassword".into(),
            username_header: None,
            strip_authorization: false,
        }
    }
}

#[async_trait]
impl Component for BasicAuthMiddlewareConfig {
    type Output = dyn Middleware;

    async fn build(&self, _cx: &BuildContext<'_>) -> Result<Arc<dyn Middleware>, BuildError> {
        let mut problems = Problems::new();
        let mut users = HashMap::new();
        for (name, secret) in &self.users {
            let at = || vec![PathStep::Key("users".into()), PathStep::Key(name.clone())];
            if name.contains(':') {
                problems.push(Problem::at(
                    at(),
                    format!("user name `{name}` contains `:`, which Basic credentials cannot carry"),
                ));
                continue;
            }
            match Password::parse(secret.expose()) {
                Ok(password) => {
                    users.insert(name.clone(), password);
                }
                Err(why) => problems.push(Problem::at(at(), format!("the password of `{name}`: {why}")).secret()),
            }
        }
        let escaped = self.realm.replace('\\', "\\\\").replace('"', "\\\"");
        let challenge = problems.check(
            HeaderValue::from_str(&format!("Basic realm=\"{escaped}\""))
                .map_err(|_| Problem::field("realm", "the realm must be printable text (no control characters)")),
        );
        let username_header = match &self.username_header {
            Some(name) => problems.check(
                HeaderName::from_bytes(name.as_bytes())
                    .map(Some)
                    .map_err(|_| Problem::field("usernameHeader", format!("`{name}` is not a valid header name"))),
            ),
            None => Some(None),
        };
        problems.ensure(!self.context_username_key.is_empty(), || {
            Problem::field("contextUsernameKey", "contextUsernameKey must not be empty")
        });
        problems.into_result()?;
        Ok(Arc::new(BasicAuthMiddleware {
            users: Users::new(users),
            challenge: challenge.expect("checked above"),
            username_key: self.context_username_key.as_str().into(),
            username_header: username_header.flatten(),
            strip_authorization: self.strip_authorization,
        }))
    }
}
