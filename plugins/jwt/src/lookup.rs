//! `tokenLookup`: where the token travels.

use http::HeaderName;
use http::header::{AUTHORIZATION, COOKIE};

/// A parsed `source:name`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum TokenLookup {
    /// A header; `Authorization` carries `Bearer <token>`, other headers the token itself
    /// (a `Bearer ` prefix is taken off too).
    Header(HeaderName),
    Cookie(String),
    Query(String),
}

impl TokenLookup {
    /// Parses `header:<Name>`, `cookie:<name>` or `query:<name>`.
    pub fn parse(text: &str) -> Result<TokenLookup, String> {
        let (source, name) = text
            .split_once(':')
            .filter(|(_, name)| !name.is_empty())
            .ok_or_else(|| format!("tokenLookup `{text}` is not `source:name`"))?;
        match source {
            "header" => HeaderName::from_bytes(name.as_bytes())
                .map(TokenLookup::Header)
                .map_err(|_| format!("`{name}` is not a valid header name")),
            "cookie" => Ok(TokenLookup::Cookie(name.to_owned())),
            "query" => Ok(TokenLookup::Query(name.to_owned())),
            other => Err(format!("tokenLookup source `{other}` is not header, cookie or query")),
        }
    }

    /// The token of a request, if it carries one where this lookup says.
    pub fn find(&self, parts: &http::request::Parts) -> Option<String> {
        let token = match self {
            TokenLookup::Header(name) => {
                let value = parts.headers.get(name)?.to_str().ok()?.trim();
                match value.split_once(' ') {
                    Some((scheme, rest)) if scheme.eq_ignore_ascii_case("bearer") => rest.trim().to_owned(),
                    _ if *name == AUTHORIZATION => return None,
                    _ => value.to_owned(),
                }
            }
            TokenLookup::Cookie(wanted) => parts
                .headers
                .get_all(COOKIE)
                .iter()
                .filter_map(|v| v.to_str().ok())
                .flat_map(|v| v.split(';'))
                .filter_map(|pair| pair.trim().split_once('='))
                .find(|(name, _)| name == wanted)
                .map(|(_, value)| value.to_owned())?,
            TokenLookup::Query(wanted) => parts
                .uri
                .query()?
                .split('&')
                .filter_map(|pair| pair.split_once('='))
                .find(|(name, _)| name == wanted)
                .map(|(_, value)| value.to_owned())?,
        };
        (!token.is_empty()).then_some(token)
    }
}

#[cfg(test)]
mod tests {
    use super::TokenLookup;
    use proptest::prelude::*;

    proptest! {
        /// Any Authorization, Cookie or query: never a panic, never an empty token.
        #[test]
        fn any_request_is_handled(value in proptest::collection::vec(any::<u8>(), 0..200), query in "\\PC{0,80}") {
            for lookup in ["header:Authorization", "header:X-Token", "cookie:jwt", "query:access_token"] {
                let lookup = TokenLookup::parse(lookup).unwrap();
                let mut builder = http::Request::get(format!("/?{}", query.replace(['#', ' '], "")));
                if let Ok(v) = http::HeaderValue::from_bytes(&value) {
                    builder = builder.header("authorization", v.clone()).header("x-token", v.clone()).header("cookie", v);
                }
                if let Ok(request) = builder.body(()) {
                    let (parts, ()) = request.into_parts();
                    prop_assert!(lookup.find(&parts).is_none_or(|t| !t.is_empty()));
                }
            }
        }
    }
}
