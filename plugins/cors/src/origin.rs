//! Allowed origins: normalisation (Fiber's `normalizeOrigin`) and `scheme://*.domain`
//! patterns (Fiber's `subdomain.match`).

/// `scheme://host[:port]` in lower case, when `origin` is an `http(s)` origin with a host
/// and nothing else (no user info, no path beyond `/`, no query, no fragment, no `*`).
pub fn normalize(origin: &str) -> Option<String> {
    let (scheme, rest) = origin.split_once("://")?;
    let scheme = scheme.to_ascii_lowercase();
    if scheme != "http" && scheme != "https" {
        return None;
    }
    let host = rest.strip_suffix('/').unwrap_or(rest);
    if host.is_empty() || host.contains(['/', '?', '#', '@', '*', ' ']) {
        return None;
    }
    let authority: http::uri::Authority = host.parse().ok()?;
    if authority.host().is_empty() {
        return None;
    }
    Some(format!("{scheme}://{}", host.to_ascii_lowercase()))
}

/// `scheme://*.domain`: any subdomain of `domain` (nested ones too) under `scheme`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Subdomains {
    prefix: String,
    suffix: String,
}

impl Subdomains {
    /// The pattern `scheme://*.domain`, if `entry` is one (and valid).
    pub fn parse(entry: &str) -> Option<Result<Subdomains, ()>> {
        let i = entry.find("://*.")?;
        let without = format!("{}{}", &entry[..i + 3], &entry[i + 5..]);
        Some(match normalize(&without) {
            Some(normalized) => {
                let sep = normalized.find("://").map_or(0, |i| i + 3);
                Ok(Subdomains { prefix: normalized[..sep].to_owned(), suffix: normalized[sep..].to_owned() })
            }
            None => Err(()),
        })
    }

    /// Whether the (lower-case) request origin `origin` is a subdomain this pattern allows.
    pub fn matches(&self, origin: &str) -> bool {
        if normalize(origin).as_deref() != Some(origin) {
            return false;
        }
        let Some(rest) = origin.strip_prefix(&self.prefix) else { return false };
        let Some(sub) = rest.strip_suffix(&self.suffix).and_then(|s| s.strip_suffix('.')) else { return false };
        // Host names' labels: letters, digits and `-` (an authority also admits `,`, `;`,
        // `!`… which no subdomain has, and a `,` would read as a list in the answer).
        sub.split('.').all(|label| !label.is_empty() && label.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-'))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Fiber's `Test_normalizeOrigin`.
    #[test]
    fn normalize_origin() {
        let cases = [
            ("http://example.com", Some("http://example.com")),
            ("http://example.com/", Some("http://example.com")),
            ("https://example.com", Some("https://example.com")),
            ("http://example.com:3000", Some("http://example.com:3000")),
            ("HTTP://EXAMPLE.COM", Some("http://example.com")),
            ("http://[::1]:8080", Some("http://[::1]:8080")),
            ("http://example.com/path", None),
            ("http://example.com?query=1", None),
            ("http://example.com#fragment", None),
            ("http://", None),
            ("http://*", None),
            ("https://*.example.com", None),
            ("http://user@example.com", None),
            ("ftp://example.com", None),
            ("example.com", None),
            ("", None),
        ];
        for (input, want) in cases {
            assert_eq!(normalize(input).as_deref(), want, "{input}");
        }
    }

    /// Fiber's `Test_CORS_SubdomainMatch`.
    #[test]
    fn subdomain_match() {
        let p = Subdomains::parse("https://*.example.com").unwrap().unwrap();
        for (origin, want) in [
            ("https://api.example.com", true),
            ("https://a.b.example.com", true),
            ("https://example.com", false),
            ("http://api.example.com", false),
            ("https://api.example.com.evil.com", false),
            ("https://apiexample.com", false),
            ("https://.example.com", false),
            ("https://a..b.example.com", false),
            ("https://api.example.com/", false),
            ("https://a.b,.example.com", false),
            ("https://a!b.example.com", false),
            ("https://a;b=c.example.com", false),
            ("https://xn--bcher-kva.example.com", true),
            ("https://a-1.b-2.example.com", true),
        ] {
            assert_eq!(p.matches(origin), want, "{origin}");
        }
        assert!(Subdomains::parse("https://example.com").is_none());
        assert_eq!(Subdomains::parse("https://*.exa mple.com"), Some(Err(())));
    }
}
