use std::sync::Arc;

use seam_core::{Action, BuildContext, BuildError, Component, GoDuration, Problem, Problems, async_trait};

use crate::action::{BalancerHttpAction, HttpAction};
use crate::balancer::Balancer;
use crate::client::Pools;
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
#[seam_core::component(name = "plugins.httpfw.actions.HttpAction")]
#[derive(Clone, Debug)]
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
#[seam_core::component(name = "plugins.httpfw.actions.BalancerHttpAction")]
#[derive(Clone, Debug)]
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

fn check_timeout(timeout: GoDuration, problems: &mut Problems) {
    problems.ensure(!timeout.get().is_zero(), || Problem::field("timeout", "timeout must be more than 0"));
}

#[async_trait]
impl Component for HttpActionConfig {
    type Output = dyn Action;

    async fn build(&self, cx: &BuildContext<'_>) -> Result<Arc<dyn Action>, BuildError> {
        let mut problems = Problems::new();
        let upstream = problems.check(
            Upstream::parse(&self.upstream_endpoint)
                .map(|u| u.observed(cx.name()))
                .map_err(|e| Problem::field("upstreamEndpoint", e).about_url(&self.upstream_endpoint)),
        );
        check_timeout(self.timeout, &mut problems);
        let upstream = problems.finish(upstream)?;
        Ok(Arc::new(HttpAction {
            pools: Pools::get().map_err(BuildError::new)?,
            upstream,
            timeout: self.timeout.get(),
            preserve_host: self.preserve_host,
        }))
    }
}

#[async_trait]
impl Component for BalancerHttpActionConfig {
    type Output = dyn Action;

    async fn build(&self, cx: &BuildContext<'_>) -> Result<Arc<dyn Action>, BuildError> {
        let mut problems = Problems::new();
        problems.ensure(!self.upstream_endpoints.is_empty(), || {
            Problem::field("upstreamEndpoints", "list at least one upstream endpoint")
        });
        let endpoints: Vec<Option<Upstream>> = self
            .upstream_endpoints
            .iter()
            .enumerate()
            .map(|(i, e)| {
                let at = vec![seam_core::PathStep::Key("upstreamEndpoints".into()), seam_core::PathStep::Index(i)];
                problems.check(
                    Upstream::parse(e).map(|u| u.observed(cx.name())).map_err(|why| Problem::at(at, why).about_url(e)),
                )
            })
            .collect();
        check_timeout(self.timeout, &mut problems);
        let endpoints = problems.finish(endpoints.into_iter().collect::<Option<Vec<_>>>())?;
        Ok(Arc::new(BalancerHttpAction {
            pools: Pools::get().map_err(BuildError::new)?,
            balancer: Arc::new(Balancer::new(endpoints, self.backoff.get())),
            timeout: self.timeout.get(),
            preserve_host: self.preserve_host,
        }))
    }
}
