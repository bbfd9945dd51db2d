//! An upstream endpoint and the URI a request is sent to.

use http::Uri;
use http::uri::{Authority, PathAndQuery, Scheme};
use seam_core::extensions::PathParams;
use seam_core::interned::interned_value;

/// A parsed `upstreamEndpoint`: `http(s)://host[:port][/path with :params]`.
#[derive(Clone, Debug)]
pub struct Upstream {
    /// As configured, for messages, logs and metric labels (user and password shown as `***`).
    pub text: String,
    scheme: Scheme,
    authority: Authority,
    /// `authority` as the `Host` value sent upstream, made once (interned).
    host: http::HeaderValue,
    path: String,
    query: Option<String>,
    /// Its Prometheus handles, once the action that calls it is known.
    pub metrics: Option<seam_core::metrics::UpstreamMetrics>,
}

impl Upstream {
    /// Parses an endpoint URL; only `http` and `https` are accepted.
    pub fn parse(text: &str) -> Result<Upstream, String> {
        // Credentials in the URL never reach a log line, a metric label, a trace, an answer or
        // an error message.
        let shown = seam_core::secret::mask_written_url(text).into_owned();
        let uri: Uri = text.parse().map_err(|e| format!("`{shown}` is not a URL: {e}"))?;
        let scheme = uri.scheme().cloned().ok_or_else(|| format!("`{shown}` needs a scheme: http:// or https://"))?;
        if scheme != Scheme::HTTP && scheme != Scheme::HTTPS {
            return Err(format!("`{shown}`: only http:// and https:// upstreams are supported"));
        }
        let authority = uri.authority().ok_or_else(|| format!("`{shown}` has no host"))?;
        // Credentials in the URL are not sent (as Go's reverse proxy, Seam's, ignores them):
        // `Host`, the pool's key and the traced `url.full` are `host[:port]` alone.
        let authority = seam_core::secret::authority_without_credentials(authority)
            .ok_or_else(|| format!("`{shown}`: the host after the credentials is not valid"))?;
        // Interned: every request clones it (the pool's key), and a clone of static bytes
        // writes no reference count the workers share.
        let authority = seam_core::interned::interned(authority.as_str().as_bytes())
            .and_then(|text| Authority::from_maybe_shared(bytes::Bytes::from_static(text)).ok())
            .unwrap_or(authority);
        let path = uri.path().trim_end_matches('/').to_owned();
        let host = http::HeaderValue::from_str(authority.as_str()).map_err(|e| format!("`{shown}`: {e}"))?;
        let host = interned_value(&host);
        Ok(Upstream {
            text: shown,
            scheme,
            authority,
            host,
            path,
            query: uri.query().map(str::to_owned),
            metrics: None,
        })
    }

    /// This endpoint, counted in the metrics as called by action `action`.
    pub fn observed(mut self, action: &str) -> Upstream {
        self.metrics = Some(seam_core::metrics::UpstreamMetrics::new(action, &self.text));
        self
    }

    /// `http://`: served by the lean per-thread HTTP/1.1 pool (`https://` goes through the
    /// TLS client, which may speak HTTP/2 when the upstream offers it).
    pub fn is_plain_http(&self) -> bool {
        self.scheme == Scheme::HTTP
    }

    /// `host[:port]`, the `Host` an upstream expects.
    pub fn authority(&self) -> &Authority {
        &self.authority
    }

    /// `host[:port]` as a header value, for `Host`.
    pub fn host(&self) -> &http::HeaderValue {
        &self.host
    }

    /// The absolute URI for a request (see [`Upstream::path_and_query`]).
    pub fn target(&self, params: Option<&PathParams>, request_query: Option<&str>) -> Result<Uri, String> {
        Uri::builder()
            .scheme(self.scheme.clone())
            .authority(self.authority.clone())
            .path_and_query(self.path_and_query(params, request_query)?)
            .build()
            .map_err(|e| e.to_string())
    }

    /// The origin-form target of a request: the endpoint's path with `:param` placeholders
    /// filled from the route, then the part of the path the route's `*` matched, then the query.
    pub fn path_and_query(
        &self,
        params: Option<&PathParams>,
        request_query: Option<&str>,
    ) -> Result<PathAndQuery, String> {
        let rest = params.and_then(PathParams::wildcard).map(|rest| rest.trim_start_matches('/')).unwrap_or_default();
        let queries = [self.query.as_deref(), request_query.filter(|q| !q.is_empty())];
        if self.path.is_empty() && rest.is_empty() && queries.iter().all(Option::is_none) {
            return Ok(PathAndQuery::from_static("/"));
        }
        // Sized exactly (placeholders aside), so the buffer is handed to the URI as it is.
        let rest_len = if rest.is_empty() { 0 } else { rest.len() + 1 };
        let exact = self.path.len() + rest_len + queries.iter().flatten().map(|q| q.len() + 1).sum::<usize>();
        let mut path = String::with_capacity(exact.max(1));
        for segment in self.path.split('/').skip(1) {
            path.push('/');
            match segment.strip_prefix(':') {
                Some(name) => match params.and_then(|p| p.get(name)) {
                    Some(value) => path.push_str(value),
                    None => return Err(format!("the route has no parameter `{name}` for upstream `{}`", self.text)),
                },
                None => path.push_str(segment),
            }
        }
        if !rest.is_empty() {
            path.push('/');
            path.push_str(rest);
        }
        if path.is_empty() {
            path.push('/');
        }
        for (i, query) in queries.into_iter().flatten().enumerate() {
            path.push(if i == 0 { '?' } else { '&' });
            path.push_str(query);
        }
        // The string's buffer becomes the URI's (checked, not copied).
        PathAndQuery::try_from(path).map_err(|e| format!("invalid upstream path: {e}"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn params(pairs: &[(&str, &str)]) -> PathParams {
        PathParams(pairs.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect())
    }

    #[test]
    fn wildcard_params_and_query() {
        let up = Upstream::parse("http://svc:8080/v2").unwrap();
        let t = up.target(Some(&params(&[("*", "a/b")])), Some("x=1")).unwrap();
        assert_eq!(t.to_string(), "http://svc:8080/v2/a/b?x=1");
        let t = up.target(Some(&params(&[("*", "")])), None).unwrap();
        assert_eq!(t.to_string(), "http://svc:8080/v2");

        let up = Upstream::parse("https://svc/users/:id/profile?src=gw").unwrap();
        let t = up.target(Some(&params(&[("id", "42")])), Some("full=1")).unwrap();
        assert_eq!(t.to_string(), "https://svc/users/42/profile?src=gw&full=1");
        assert!(up.target(None, None).is_err());

        let root = Upstream::parse("http://svc").unwrap();
        assert_eq!(root.target(None, None).unwrap().to_string(), "http://svc/");
        assert_eq!(root.target(Some(&params(&[("*", "x")])), None).unwrap().to_string(), "http://svc/x");
        assert!(Upstream::parse("ftp://svc").is_err());
        assert!(Upstream::parse("svc:80").is_err());
    }

    #[test]
    fn credentials_in_the_url_are_never_shown() {
        let up = Upstream::parse("http://user:s3cret@svc:8080/v2/:id").unwrap();
        assert_eq!(up.text, "http://***@svc:8080/v2/:id");
        for bad in ["ftp://user:s3cret@svc:80", "http://user:s3cret@svc:80:99/x", "user:s3cret@svc"] {
            let e = Upstream::parse(bad).unwrap_err();
            assert!(!e.contains("s3cret"), "{e}");
        }
        let missing = up.target(None, None).unwrap_err();
        assert!(!missing.contains("s3cret"), "{missing}");
        assert_eq!(up.host(), "svc:8080", "Host is host[:port], never the credentials");
        assert_eq!(up.authority().as_str(), "svc:8080");
        let target = up.target(Some(&params(&[("id", "1")])), None).unwrap().to_string();
        assert_eq!(target, "http://svc:8080/v2/1");
    }
}
