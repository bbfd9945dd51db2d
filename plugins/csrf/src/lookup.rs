//! `keyLookup`: where an unsafe request carries its token.

use bytes::Bytes;
use http::HeaderName;
use seam_core::extensions::PathParams;

/// A parsed `source:key`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Lookup {
    Header(HeaderName),
    Query(String),
    Param(String),
    Form(String),
    Cookie(String),
}

impl Lookup {
    /// Parses `source:key`; the sources are `header`, `query`, `param`, `form` and `cookie`.
    pub fn parse(text: &str) -> Result<Lookup, String> {
        let (source, key) = text
            .split_once(':')
            .filter(|(_, key)| !key.is_empty() && !key.contains(':'))
            .ok_or_else(|| format!("keyLookup `{text}` is not `source:key`"))?;
        Ok(match source {
            "header" => Lookup::Header(
                HeaderName::from_bytes(key.as_bytes()).map_err(|_| format!("`{key}` is not a valid header name"))?,
            ),
            "query" => Lookup::Query(key.to_owned()),
            "param" => Lookup::Param(key.to_owned()),
            "form" => Lookup::Form(key.to_owned()),
            "cookie" => Lookup::Cookie(key.to_owned()),
            other => return Err(format!("keyLookup source `{other}` is not header, query, param, form or cookie")),
        })
    }

    /// Whether the token is in the request body (a form), which must then be read.
    pub fn needs_body(&self) -> bool {
        matches!(self, Lookup::Form(_))
    }

    /// The token of a request from its parts (and its body, for a form).
    pub fn find(&self, parts: &http::request::Parts, body: Option<&Bytes>, cookie: Option<&str>) -> Option<String> {
        match self {
            Lookup::Header(name) => parts.headers.get(name).and_then(|v| v.to_str().ok()).map(str::to_owned),
            Lookup::Query(key) => form_value(parts.uri.query()?.as_bytes(), key),
            Lookup::Param(key) => parts.extensions.get::<PathParams>()?.get(key).map(str::to_owned),
            Lookup::Form(key) => form_value(body?, key),
            Lookup::Cookie(_) => cookie.map(str::to_owned),
        }
        .filter(|token| !token.is_empty())
    }
}

fn form_value(text: &[u8], key: &str) -> Option<String> {
    form_urlencoded::parse(text).find(|(k, _)| k == key).map(|(_, v)| v.into_owned())
}
