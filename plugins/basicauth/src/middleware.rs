//! The runtime of `BasicAuthMiddleware`.

use std::sync::Arc;

use base64::Engine;
use http::header::{AUTHORIZATION, WWW_AUTHENTICATE};
use http::{HeaderName, HeaderValue, StatusCode};
use seam_core::extensions::Locals;
use seam_core::{Middleware, Next, Request, Response, async_trait, json_error};

use crate::credentials::Users;

pub(crate) struct BasicAuthMiddleware {
    pub(crate) users: Users,
    pub(crate) challenge: HeaderValue,
    pub(crate) username_key: Arc<str>,
    pub(crate) username_header: Option<HeaderName>,
    pub(crate) strip_authorization: bool,
}

/// `(user, password)` from an `Authorization: Basic <base64>` value (scheme in any case).
pub fn credentials(value: &HeaderValue) -> Option<(String, String)> {
    let text = value.to_str().ok()?;
    let (scheme, rest) = text.split_once(' ')?;
    if !scheme.eq_ignore_ascii_case("basic") {
        return None;
    }
    let decoded = base64::engine::general_purpose::STANDARD.decode(rest.trim_start_matches(' ')).ok()?;
    let decoded = String::from_utf8(decoded).ok()?;
    let (user, password) = decoded.split_once(':')?;
    Some((user.to_owned(), password.to_owned()))
}

impl BasicAuthMiddleware {
    fn refuse(&self) -> Response {
        let mut response = json_error(StatusCode::UNAUTHORIZED, "valid credentials are needed (HTTP Basic)");
        response.headers_mut().insert(WWW_AUTHENTICATE, self.challenge.clone());
        response
    }
}

#[async_trait]
impl Middleware for BasicAuthMiddleware {
    async fn handle(&self, mut req: Request, next: Next) -> Response {
        let Some((user, password)) = req.headers().get(AUTHORIZATION).and_then(credentials) else {
            return self.refuse();
        };
        if !self.users.check(&user, &password).await {
            return self.refuse();
        }
        if let Some(header) = &self.username_header {
            req.headers_mut().remove(header);
            if let Ok(value) = HeaderValue::from_str(&user) {
                req.headers_mut().insert(header.clone(), value);
            }
        }
        if self.strip_authorization {
            req.headers_mut().remove(AUTHORIZATION);
        }
        Locals::set(req.extensions_mut(), self.username_key.clone(), user.into());
        next.run(req).await
    }
}

#[cfg(test)]
mod tests {
    use super::credentials;
    use base64::Engine;
    use http::HeaderValue;
    use proptest::prelude::*;

    proptest! {
        /// Any header value: never a panic; a pair only from a well-formed Basic value.
        #[test]
        fn any_authorization_value_is_handled(bytes in proptest::collection::vec(any::<u8>(), 0..200)) {
            if let Ok(value) = HeaderValue::from_bytes(&bytes) {
                let _ = credentials(&value);
            }
        }

        /// A user without `:` and any password come back as they were encoded.
        #[test]
        fn encoded_pairs_round_trip(user in "[^:\\x00]{0,20}", password in "\\PC{0,30}") {
            let encoded = base64::engine::general_purpose::STANDARD.encode(format!("{user}:{password}"));
            let value = HeaderValue::from_str(&format!("Basic {encoded}")).unwrap();
            prop_assert_eq!(credentials(&value), Some((user, password)));
        }
    }
}
