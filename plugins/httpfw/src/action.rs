//! The runtimes of `HttpAction` and `BalancerHttpAction`.

use futures_util::FutureExt;
use http_body::Body as _;
use seam_core::body::BodyEnd;
use seam_core::{Action, Body, Request, Responding, Response, async_trait};

use crate::balancer::Balancer;
use crate::client::Pools;
use crate::forward::{ForwardError, forward};
use crate::upstream::Upstream;

/// The runtime of `HttpAction`.
pub(crate) struct HttpAction {
    pub(crate) pools: Pools,
    pub(crate) upstream: Upstream,
    pub(crate) timeout: std::time::Duration,
    pub(crate) preserve_host: bool,
}

#[async_trait]
impl Action for HttpAction {
    // `handle` by its desugared signature (see `seam_core::Responding`): the request is
    // prepared for the upstream before the future is boxed, so the box holds it once (every
    // proxied request allocates this box).
    fn handle<'s, 'f>(&'s self, req: Request) -> Responding<'f>
    where
        's: 'f,
        Self: 'f,
    {
        let (parts, body) = req.into_parts();
        let forwarded = forward(self.pools.client(), &self.upstream, parts, body, self.timeout, self.preserve_host);
        Box::pin(forwarded.map(|forwarded| match forwarded {
            Ok(response) => response,
            Err(e) => e.into_response(&self.upstream.text),
        }))
    }
}

/// The runtime of `BalancerHttpAction`.
pub(crate) struct BalancerHttpAction {
    pub(crate) pools: Pools,
    pub(crate) balancer: std::sync::Arc<Balancer>,
    pub(crate) timeout: std::time::Duration,
    pub(crate) preserve_host: bool,
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
            match forward(self.pools.client(), upstream, attempt_parts, attempt_body, self.timeout, self.preserve_host)
                .await
            {
                Ok(response) => {
                    self.balancer.mark_up(index);
                    // An endpoint that breaks off its answer is skipped like one that refuses.
                    let balancer = self.balancer.clone();
                    return response.map(|body| {
                        body.on_finish(move |end| {
                            if end == BodyEnd::Failed {
                                balancer.mark_down(index, "broke off a response");
                            }
                        })
                    });
                }
                Err(ForwardError::Connect(e)) => {
                    self.balancer.mark_down(index, "refused the connection");
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
