use std::sync::Arc;

use async_trait::async_trait;
use http_body::Body as _;
use schemars::JsonSchema;
use seam_registry::{Action, Body, BuildAction, BuildContext, BuildError, ConfigError, GoDuration, Request, Response};
use serde::Deserialize;

use crate::balancer::Balancer;
use crate::client::{self, UpstreamClient};
use crate::forward::{ForwardError, forward};
use crate::upstream::Upstream;

fn default_timeout() -> GoDuration {
    GoDuration::from_secs(30)
}

fn default_backoff() -> GoDuration {
    GoDuration::from_secs(5)
}

/// Forwards requests to one upstream service, streaming bodies both ways.
///
/// The part of the path matched by the route's `*` is appended to the endpoint's path,
/// `:param` placeholders in the endpoint are filled from the route, and the query string
/// is kept. Connect failure answers 502, no answer within `timeout` 504.
#[derive(Clone, Debug, Deserialize, JsonSchema, seam_registry::Action)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
#[seam(name = "plugins.httpfw.actions.HttpAction")]
pub struct HttpActionConfig {
    /// URL of the upstream, e.g. `http://users:8080/v1` or `http://users:8080/users/:id`.
    pub upstream_endpoint: String,
    /// Longest wait for the upstream's response headers.
    #[serde(default = "default_timeout")]
    #[schemars(default = "default_timeout")]
    pub timeout: GoDuration,
    /// Send the client's `Host` header instead of the upstream's.
    #[serde(default)]
    pub preserve_host: bool,
}

/// Forwards requests to several instances of an upstream service, round robin.
///
/// An endpoint that refuses connections is skipped for `backoff`, then tried again; a
/// request without a body is retried on the next endpoint. All endpoints down answers 502.
#[derive(Clone, Debug, Deserialize, JsonSchema, seam_registry::Action)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
#[seam(name = "plugins.httpfw.actions.BalancerHttpAction")]
pub struct BalancerHttpActionConfig {
    /// URLs of the upstream's instances.
    pub upstream_endpoints: Vec<String>,
    /// Longest wait for an upstream's response headers.
    #[serde(default = "default_timeout")]
    #[schemars(default = "default_timeout")]
    pub timeout: GoDuration,
    /// Send the client's `Host` header instead of the upstream's.
    #[serde(default)]
    pub preserve_host: bool,
    /// How long an endpoint that refused a connection is skipped.
    #[serde(default = "default_backoff")]
    #[schemars(default = "default_backoff")]
    pub backoff: GoDuration,
}

fn check_timeout(timeout: GoDuration) -> Result<(), ConfigError> {
    if timeout.get().is_zero() {
        return Err(ConfigError::field("timeout", "timeout must be more than 0"));
    }
    Ok(())
}

#[async_trait]
impl BuildAction for HttpActionConfig {
    fn validate(&self) -> Result<(), ConfigError> {
        Upstream::parse(&self.upstream_endpoint).map_err(|e| ConfigError::field("upstreamEndpoint", e))?;
        check_timeout(self.timeout)
    }

    async fn build(&self, _cx: &BuildContext<'_>) -> Result<Arc<dyn Action>, BuildError> {
        Ok(Arc::new(HttpAction {
            client: client::build().map_err(BuildError::new)?,
            upstream: Upstream::parse(&self.upstream_endpoint).map_err(BuildError::new)?,
            timeout: self.timeout.get(),
            preserve_host: self.preserve_host,
        }))
    }
}

#[async_trait]
impl BuildAction for BalancerHttpActionConfig {
    fn validate(&self) -> Result<(), ConfigError> {
        if self.upstream_endpoints.is_empty() {
            return Err(ConfigError::field("upstreamEndpoints", "list at least one upstream endpoint"));
        }
        for endpoint in &self.upstream_endpoints {
            Upstream::parse(endpoint).map_err(|e| ConfigError::field("upstreamEndpoints", e))?;
        }
        check_timeout(self.timeout)
    }

    async fn build(&self, _cx: &BuildContext<'_>) -> Result<Arc<dyn Action>, BuildError> {
        let endpoints = self.upstream_endpoints.iter().map(|e| Upstream::parse(e)).collect::<Result<Vec<_>, _>>();
        Ok(Arc::new(BalancerHttpAction {
            client: client::build().map_err(BuildError::new)?,
            balancer: Balancer::new(endpoints.map_err(BuildError::new)?, self.backoff.get()),
            timeout: self.timeout.get(),
            preserve_host: self.preserve_host,
        }))
    }
}

/// The runtime of `HttpAction`.
struct HttpAction {
    client: UpstreamClient,
    upstream: Upstream,
    timeout: std::time::Duration,
    preserve_host: bool,
}

#[async_trait]
impl Action for HttpAction {
    async fn handle(&self, req: Request) -> Response {
        let (parts, body) = req.into_parts();
        match forward(&self.client, &self.upstream, parts, body, self.timeout, self.preserve_host).await {
            Ok(response) => response,
            Err(e) => e.into_response(&self.upstream.text),
        }
    }
}

/// The runtime of `BalancerHttpAction`.
struct BalancerHttpAction {
    client: UpstreamClient,
    balancer: Balancer,
    timeout: std::time::Duration,
    preserve_host: bool,
}

#[async_trait]
impl Action for BalancerHttpAction {
    async fn handle(&self, req: Request) -> Response {
        let candidates = self.balancer.candidates();
        let (parts, body) = req.into_parts();
        // Without a body the request can be sent again to the next endpoint.
        let retryable = body.is_end_stream();
        let mut body = Some(body);
        let mut last_error = None;
        for index in candidates {
            let upstream = self.balancer.endpoint(index);
            let attempt_body = if retryable { Body::empty() } else { body.take().unwrap_or_default() };
            let attempt_parts = clone_parts(&parts);
            match forward(&self.client, upstream, attempt_parts, attempt_body, self.timeout, self.preserve_host).await {
                Ok(response) => return response,
                Err(ForwardError::Connect(e)) => {
                    self.balancer.mark_down(index);
                    last_error = Some((upstream.text.clone(), ForwardError::Connect(e)));
                    if !retryable {
                        break;
                    }
                }
                Err(e) => return e.into_response(&upstream.text),
            }
        }
        match last_error {
            Some((upstream, e)) => e.into_response(&upstream),
            None => ForwardError::Connect("every upstream endpoint is down".into()).into_response("all endpoints"),
        }
    }
}

fn clone_parts(parts: &http::request::Parts) -> http::request::Parts {
    let mut request = http::Request::new(());
    *request.method_mut() = parts.method.clone();
    *request.uri_mut() = parts.uri.clone();
    *request.version_mut() = parts.version;
    *request.headers_mut() = parts.headers.clone();
    *request.extensions_mut() = parts.extensions.clone();
    request.into_parts().0
}
