//! One request: health routes, body limit, forwarded headers, routing, the chain, the log line.

use std::net::SocketAddr;
use std::sync::{Arc, Mutex, OnceLock};
use std::time::{Duration, Instant};

use http::header::{ACCESS_CONTROL_REQUEST_METHOD, ALLOW, CONTENT_LENGTH, ORIGIN};
use http::{HeaderValue, Method, StatusCode};
use hyper::body::Incoming;
use seam_core::extensions::{Client, PreflightOnly, RequestId};
use seam_core::pipeline::Pipeline;
use seam_core::{Action, Body, Middleware, Request, Response, Storage, json_error, json_response};

use super::body_limit::{LimitedBody, Rejected, TOO_LARGE};
use super::canonical::{PathRules, canonical_borrowed};
use super::forwarded::{TrustedProxies, strip_untrusted};
use super::message;
use super::router::{Lookup, RouteEntry, Router};
use super::write_timeout::DeadlineBody;

/// Everything a request needs, shared by all connections.
pub struct App {
    /// The routing table.
    pub router: Router,
    /// `server.bodyLimit`.
    pub body_limit: u64,
    /// What a request's head may hold (`server.http1MaxHeaderSize`,
    /// `server.underscoresInHeaders`).
    pub head_rules: message::HeadRules,
    /// `server.trustedProxies`.
    pub trusted: TrustedProxies,
    /// Liveness and readiness paths, unless `disableHealthCheck`.
    pub health: Option<(String, String)>,
    /// Storages that readiness pings.
    pub storages: Vec<(String, Arc<dyn Storage>)>,
    /// Served over TLS.
    pub tls: bool,
    /// `server.readTimeout`: the whole request body must arrive within it.
    pub read_timeout: Option<Duration>,
    /// `server.writeTimeout`: the whole response must be written within it.
    pub write_timeout: Option<Duration>,
    /// What the canonical path allows beyond the default.
    pub path_rules: PathRules,
    /// `globalMiddlewares`, which also run on requests no route serves (404, 405).
    pub globals: Vec<Arc<dyn Middleware>>,
    /// `server.strictRouting`.
    pub strict_routing: bool,
    /// The request metrics of requests no route serves (`route=""`).
    pub unrouted: seam_core::metrics::RequestMetrics,
    /// Where the metrics are served, for the readiness answer; `None`: requests are not
    /// counted (`server.metrics` is not set).
    pub metrics_url: Option<String>,
}

impl App {
    async fn readiness(&self) -> Response {
        let checks = self.storages.iter().map(|(name, storage)| async move {
            let result = match tokio::time::timeout(Duration::from_secs(5), storage.ping()).await {
                Ok(Ok(())) => Ok(()),
                Ok(Err(e)) => Err(e.to_string()),
                Err(_) => Err("no answer within 5s".to_owned()),
            };
            (name.clone(), result)
        });
        let results = futures_util::future::join_all(checks).await;
        let failing: serde_json::Map<String, serde_json::Value> =
            results.into_iter().filter_map(|(name, r)| r.err().map(|e| (name, e.into()))).collect();
        if failing.is_empty() {
            let mut ready = serde_json::json!({ "status": "ready" });
            if let Some(url) = &self.metrics_url {
                ready["metrics"] = url.clone().into();
            }
            json_response(StatusCode::OK, &ready)
        } else {
            json_response(
                StatusCode::SERVICE_UNAVAILABLE,
                &serde_json::json!({ "status": "not ready", "failing": failing }),
            )
        }
    }

    /// Answers one request from `peer`. (Not an `async fn`: the checks and the routing run
    /// when it is called, so the future holds only what the chain and the log line need,
    /// not a copy of the request per layer.)
    pub fn handle(&self, req: http::Request<Incoming>, peer: SocketAddr) -> impl Future<Output = Response> + Send + '_ {
        let started = Instant::now();
        let method = req.method().clone();
        // The access line's path, copied only when the line is written (`seam::access` on).
        let path = tracing::enabled!(target: "seam::access", tracing::Level::INFO).then(|| req.uri().path().to_owned());
        let prepared = self.prepare(req, peer, started);
        async move {
            let (mut response, route) = match prepared {
                Prepared::Answer(response) => (response, None),
                // Boxed: its checks are rare and would otherwise enlarge every request's future.
                Prepared::Readiness => (Box::pin(self.readiness()).await, None),
                // The route's pipeline is borrowed: a clone would count a reference both
                // workers share.
                Prepared::Route { route, request, rejected } => {
                    (rejected_or(route.pipeline.run(request).await, rejected.as_deref()), Some(route))
                }
                Prepared::Refused { refusal, request, rejected } => {
                    let refusal = Arc::new(Refusal(Mutex::new(Some(refusal))));
                    let globals = Pipeline::new(self.globals.to_vec(), refusal);
                    (rejected_or(globals.run(request).await, rejected.as_deref()), None)
                }
            };
            if let Some(timeout) = self.write_timeout {
                response = response.map(|body| Body::new(DeadlineBody::new(body, timeout)));
            }
            if self.metrics_url.is_some() {
                let metrics = route.map_or(&self.unrouted, |r| &r.metrics);
                metrics.record(&method, response.status(), started.elapsed());
            }
            if let Some(path) = &path {
                crate::access_log::log(&crate::access_log::Access {
                    method: &method,
                    path,
                    route: route.map_or("-", |r| &*r.matched.original().name),
                    status: response.status().as_u16(),
                    duration_ms: crate::access_log::millis(started.elapsed()),
                    client: peer.ip(),
                    request_id: response.extensions().get::<RequestId>().map_or("-", |r| &*r.0),
                });
            }
            response
        }
    }

    /// Checks and routes a request, up to the chain that serves it.
    fn prepare(&self, mut req: http::Request<Incoming>, peer: SocketAddr, started: Instant) -> Prepared<'_> {
        if let Err(refused) = message::check(&mut req, self.head_rules) {
            return Prepared::Answer(refused.response());
        }
        // One canonical path, before anything looks at it. (The URI is held apart from the
        // request, a reference count, so the path borrows from it while the request changes.)
        let uri = req.uri().clone();
        let path = match canonical_borrowed(uri.path(), self.path_rules) {
            Ok(path) => path,
            Err(refused) => return Prepared::Answer(json_error(StatusCode::BAD_REQUEST, refused.detail())),
        };
        if let std::borrow::Cow::Owned(path) = &path
            && path != uri.path()
        {
            let target = match req.uri().query() {
                Some(query) => format!("{path}?{query}"),
                None => path.clone(),
            };
            match target.parse::<http::uri::PathAndQuery>() {
                Ok(pq) => {
                    let mut parts = uri.clone().into_parts();
                    parts.path_and_query = Some(pq);
                    match http::Uri::from_parts(parts) {
                        Ok(uri) => *req.uri_mut() = uri,
                        Err(_) => {
                            return Prepared::Answer(json_error(
                                StatusCode::BAD_REQUEST,
                                "the path cannot be normalized",
                            ));
                        }
                    }
                }
                Err(_) => {
                    return Prepared::Answer(json_error(StatusCode::BAD_REQUEST, "the path cannot be normalized"));
                }
            }
        }
        if let Some((live, ready)) = &self.health
            && (req.method() == Method::GET || req.method() == Method::HEAD)
        {
            if path == *live {
                return Prepared::Answer(json_response(StatusCode::OK, &serde_json::json!({ "status": "live" })));
            }
            if path == *ready {
                return Prepared::Readiness;
            }
        }
        let announced =
            req.headers().get(CONTENT_LENGTH).and_then(|v| v.to_str().ok()).and_then(|v| v.parse::<u64>().ok());
        if announced.is_some_and(|n| n > self.body_limit) {
            return Prepared::Answer(json_error(StatusCode::PAYLOAD_TOO_LARGE, TOO_LARGE.detail));
        }
        let target = match self.router.lookup(req.method(), &path) {
            Lookup::Found(route, params) => Ok((route, params)),
            Lookup::NotFound => Err(json_error(StatusCode::NOT_FOUND, "no route for this path")),
            Lookup::MethodNotAllowed(allow) => {
                // A CORS preflight goes to the chain of the route serving the method it asks
                // about, so that a CORS middleware there answers it.
                let asked = (req.method() == Method::OPTIONS && req.headers().contains_key(ORIGIN))
                    .then(|| req.headers().get(ACCESS_CONTROL_REQUEST_METHOD))
                    .flatten()
                    .and_then(|m| Method::from_bytes(m.as_bytes()).ok());
                match asked.map(|method| self.router.lookup(&method, &path)) {
                    Some(Lookup::Found(route, params)) => {
                        req.extensions_mut().insert(PreflightOnly);
                        Ok((route, params))
                    }
                    _ => {
                        let mut response =
                            json_error(StatusCode::METHOD_NOT_ALLOWED, "the route does not serve this method");
                        if let Ok(allow) = HeaderValue::from_str(&allow) {
                            response.headers_mut().insert(ALLOW, allow);
                        }
                        Err(response)
                    }
                }
            }
        };
        // A miss is answered at once, unless global middlewares run on it too (as in Seam:
        // a global CORS answers preflights, a global logger logs misses).
        let target = match (target, self.globals.is_empty()) {
            (Err(refusal), true) => return Prepared::Answer(refusal),
            (target, _) => target,
        };
        let (mut parts, body) = req.into_parts();
        let trusted = self.trusted.contains(peer.ip());
        // Only a trusted proxy's `X-Forwarded-Proto` is read (an untrusted one is removed below).
        let forwarded_proto = if trusted { parts.headers.get(seam_core::net::X_FORWARDED_PROTO) } else { None };
        let scheme = match forwarded_proto.map(HeaderValue::as_bytes) {
            Some(b"https") => "https",
            Some(b"http") => "http",
            _ if self.tls => "https",
            _ => "http",
        };
        let client_ip = self.trusted.client_ip(peer.ip(), &parts.headers);
        if !trusted {
            strip_untrusted(&mut parts.headers);
            if let Some(name) = self.trusted.proxy_header() {
                parts.headers.remove(name);
            }
        }
        parts.extensions.insert(Client { addr: peer, ip: client_ip, scheme });
        // A request without a body (most: GET, HEAD, DELETE) needs neither the limit nor
        // its timer; hyper already knows the body ended, so an empty one stands in for it.
        let (body, rejected) = if http_body::Body::is_end_stream(&body) {
            (Body::empty(), None)
        } else {
            let rejected = Arc::new(OnceLock::new());
            let deadline = self.read_timeout.map(|timeout| started + timeout);
            (Body::new(LimitedBody::new(body, self.body_limit, deadline, rejected.clone())), Some(rejected))
        };
        match target {
            Ok((route, mut params)) => {
                parts.extensions.insert(route.matched.get().clone());
                // The router matches without the trailing slash (unless strict); the upstream
                // still gets it.
                if !self.strict_routing
                    && path.len() > 1
                    && path.ends_with('/')
                    && let Some((_, rest)) = params.0.iter_mut().find(|(k, v)| k == "*" && !v.is_empty())
                {
                    rest.push('/');
                }
                parts.extensions.insert(params);
                Prepared::Route { route, request: Request::from_parts(parts, body), rejected }
            }
            Err(refusal) => Prepared::Refused { refusal, request: Request::from_parts(parts, body), rejected },
        }
    }
}

/// How a request goes on after [`App::prepare`].
enum Prepared<'a> {
    /// Answered before any chain: a refused request, or the liveness route.
    Answer(Response),
    /// The readiness route.
    Readiness,
    /// Through a route's chain.
    Route {
        route: &'a RouteEntry,
        request: Request,
        /// Set by the body limit when the body turns out too large or too slow (none when
        /// the request has no body).
        rejected: Option<Arc<OnceLock<Rejected>>>,
    },
    /// Through the global middlewares, ending in this 404 or 405.
    Refused { refusal: Response, request: Request, rejected: Option<Arc<OnceLock<Rejected>>> },
}

/// The chain's answer, or the refusal of a body the body limit stopped.
fn rejected_or(response: Response, rejected: Option<&OnceLock<Rejected>>) -> Response {
    match rejected.and_then(OnceLock::get) {
        Some(why) => json_error(why.status, why.detail),
        None => response,
    }
}

/// The end of the global middlewares' chain on a request no route serves: the 404 or 405.
struct Refusal(Mutex<Option<Response>>);

#[seam_core::async_trait]
impl Action for Refusal {
    async fn handle(&self, _req: Request) -> Response {
        let taken = self.0.lock().unwrap_or_else(std::sync::PoisonError::into_inner).take();
        taken.unwrap_or_else(|| json_error(StatusCode::NOT_FOUND, "no route for this path"))
    }
}
