//! Config values that must never be printed: passwords, keys.

use schemars::JsonSchema;
use serde::{Deserialize, Deserializer};

/// A secret string from the document (write it as `${VAR}` to keep it out of the file).
/// Its `Debug` and `Display` print `***`, so it never reaches logs or `seam check` output.
#[derive(Clone, PartialEq, Eq)]
pub struct Secret(String);

impl JsonSchema for Secret {
    fn schema_name() -> std::borrow::Cow<'static, str> {
        "Secret".into()
    }

    fn json_schema(_: &mut schemars::SchemaGenerator) -> schemars::Schema {
        // `writeOnly` marks it: a problem at a secret is never shown with its value
        // (`crate::component` reads the mark).
        schemars::json_schema!({
            "description": "A secret: write `${VAR}` to keep it out of the file. Never printed.",
            "type": ["string", "number", "boolean"],
            "writeOnly": true
        })
    }
}

impl Secret {
    /// Wraps `value`.
    pub fn new(value: impl Into<String>) -> Self {
        Secret(value.into())
    }

    /// The secret itself; only for handing it to the client that needs it.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl std::fmt::Debug for Secret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("\"***\"")
    }
}

impl std::fmt::Display for Secret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("***")
    }
}

/// Takes any scalar as text (`${VAR}` of a numeric password becomes a number in YAML), and
/// never puts the value in an error.
struct SecretVisitor;

impl serde::de::Visitor<'_> for SecretVisitor {
    type Value = Secret;

    fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("a secret (text, or a number or boolean taken as text)")
    }

    fn visit_str<E: serde::de::Error>(self, v: &str) -> Result<Secret, E> {
        Ok(Secret(v.to_owned()))
    }

    fn visit_i64<E: serde::de::Error>(self, v: i64) -> Result<Secret, E> {
        Ok(Secret(v.to_string()))
    }

    fn visit_u64<E: serde::de::Error>(self, v: u64) -> Result<Secret, E> {
        Ok(Secret(v.to_string()))
    }

    fn visit_f64<E: serde::de::Error>(self, v: f64) -> Result<Secret, E> {
        Ok(Secret(v.to_string()))
    }

    fn visit_bool<E: serde::de::Error>(self, v: bool) -> Result<Secret, E> {
        Ok(Secret(v.to_string()))
    }
}

impl<'de> Deserialize<'de> for Secret {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        deserializer.deserialize_any(SecretVisitor)
    }
}

/// For an optional secret key (`#[serde(default, deserialize_with = "seam_core::secret::present")]`):
/// left out is `None`, but a written null or empty value is an error, never a silent "no
/// secret" (a `${VAR}` that is `~` or empty would otherwise turn AUTH off).
pub fn present<'de, D: Deserializer<'de>>(deserializer: D) -> Result<Option<Secret>, D::Error> {
    match Option::<Secret>::deserialize(deserializer)? {
        None => Err(serde::de::Error::custom("the secret is null; leave the key out to have none")),
        Some(secret) if secret.0.is_empty() => {
            Err(serde::de::Error::custom("the secret is empty; leave the key out to have none"))
        }
        Some(secret) => Ok(Some(secret)),
    }
}

/// `authority` without the `user:password@` a URL may carry: what an upstream is dialled
/// and addressed by (`Host`), which never carries the credentials; `None` when what follows
/// the `@` is not a valid `host[:port]`.
pub fn authority_without_credentials(authority: &http::uri::Authority) -> Option<http::uri::Authority> {
    match authority.as_str().rsplit_once('@') {
        Some((_, host)) => host.parse().ok(),
        None => Some(authority.clone()),
    }
}

/// `text` with the user and password of every URL in it (`scheme://user:pass@host`) shown as
/// `***`: for error messages and source lines that quote a URL from the document.
pub fn mask_url_credentials(text: &str) -> std::borrow::Cow<'_, str> {
    if !text.contains("://") || !text.contains('@') {
        return std::borrow::Cow::Borrowed(text);
    }
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(at) = rest.find("://") {
        let (before, after) = rest.split_at(at + 3);
        out.push_str(before);
        // The authority ends where the path, query or fragment starts, or the quoted URL ends.
        let end = after.find(|c: char| matches!(c, '/' | '?' | '#' | '"' | '\'' | '`') || c.is_whitespace());
        let authority = &after[..end.unwrap_or(after.len())];
        match authority.rfind('@') {
            Some(userinfo_end) => {
                out.push_str("***");
                rest = &after[userinfo_end..];
            }
            None => rest = after,
        }
    }
    out.push_str(rest);
    std::borrow::Cow::Owned(out)
}

/// `url`, one URL as written in the document, with its user and password shown as `***`,
/// also when it was written without a scheme (`user:pass@host`).
pub fn mask_written_url(url: &str) -> std::borrow::Cow<'_, str> {
    if url.contains("://") {
        return mask_url_credentials(url);
    }
    let authority = &url[..url.find(['/', '?', '#']).unwrap_or(url.len())];
    match authority.rfind('@') {
        Some(at) => std::borrow::Cow::Owned(format!("***{}", &url[at..])),
        None => std::borrow::Cow::Borrowed(url),
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn url_credentials_are_masked_wherever_the_url_stands() {
        use super::mask_url_credentials as mask;
        for (text, shown) in [
            ("http://svc:8080/v2", "http://svc:8080/v2"),
            ("http://user:s3cret@svc:8080/v2", "http://***@svc:8080/v2"),
            ("`ftp://user:s3cret@svc:80`: only http", "`ftp://***@svc:80`: only http"),
            ("http://user:s3cret@svc:80:99/x is not a URL", "http://***@svc:80:99/x is not a URL"),
            ("redis://:p@ss@cache?x=1", "redis://***@cache?x=1"),
            ("a: \"http://u:p@h\", b: 'https://v:q@k/p@q'", "a: \"http://***@h\", b: 'https://***@k/p@q'"),
            ("http://h/users/@me", "http://h/users/@me"),
            ("mail me@host, see http://h", "mail me@host, see http://h"),
            ("http://u:p@", "http://***@"),
        ] {
            assert_eq!(mask(text), shown, "{text}");
        }
    }

    #[test]
    fn a_written_url_is_masked_with_or_without_its_scheme() {
        use super::mask_written_url as mask;
        for (url, shown) in [
            ("user:s3cret@svc", "***@svc"),
            ("user:s3cret@svc/p@q", "***@svc/p@q"),
            ("svc/users/@me", "svc/users/@me"),
            ("http://user:s3cret@svc", "http://***@svc"),
        ] {
            assert_eq!(mask(url), shown, "{url}");
        }
    }

    #[test]
    fn never_printed() {
        let s = super::Secret::new("hunter2");
        assert_eq!(format!("{s:?} {s}"), "\"***\" ***");
        assert_eq!(s.expose(), "hunter2");
    }

    #[test]
    fn any_scalar_is_text_and_errors_never_show_it() {
        for (json, text) in [("\"x\"", "x"), ("84629173", "84629173"), ("true", "true"), ("1.5", "1.5")] {
            let s: super::Secret = serde_json::from_str(json).unwrap();
            assert_eq!(s.expose(), text);
        }
        #[derive(serde::Deserialize, Debug)]
        struct C {
            #[serde(default, deserialize_with = "super::present")]
            password: Option<super::Secret>,
        }
        assert!(serde_json::from_str::<C>("{}").unwrap().password.is_none(), "left out: none");
        for bad in ["{\"password\": null}", "{\"password\": \"\"}"] {
            let e = serde_json::from_str::<C>(bad).unwrap_err().to_string();
            assert!(e.contains("leave the key out"), "{e}");
        }
        let e = serde_json::from_str::<C>("{\"password\": [\"84629173\"]}").unwrap_err().to_string();
        assert!(!e.contains("84629173"), "{e}");
    }
}
