//! Typed values the host puts into every request's extensions before the chain runs.
//!
//! Middlewares hand values to later middlewares and actions the same way: insert any
//! `Clone + Send + Sync + 'static` type into `request.extensions_mut()`.

use std::net::SocketAddr;
use std::sync::Arc;

/// Who sent the request and how it reached the gateway: put by the host into every request
/// (one extension for the three, since each extension is an allocation and a hash-map
/// insert on every request).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Client {
    /// The address of the peer that opened the connection (before any `X-Forwarded-For`).
    pub addr: SocketAddr,
    /// The client's IP address: the peer's, or, when the peer is a trusted proxy
    /// (`server.trustedProxies`), the right-most address of `X-Forwarded-For` that is not one.
    pub ip: std::net::IpAddr,
    /// `http` or `https`: how the client reached the gateway (or, behind a trusted proxy,
    /// what its `X-Forwarded-Proto` says).
    pub scheme: &'static str,
}

impl Client {
    /// A client connected from `addr` over `scheme`, its IP the peer's.
    pub fn new(addr: SocketAddr, scheme: &'static str) -> Self {
        Client { addr, ip: addr.ip().to_canonical(), scheme }
    }

    /// Whether the request came over HTTPS.
    pub fn https(&self) -> bool {
        self.scheme == "https"
    }
}

/// The route that matched the request.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct MatchedRoute {
    /// The route's name in the document (`routes: { <name>: ... }`).
    pub name: Arc<str>,
    /// The service the route was served through, when the document has `services`.
    pub service: Option<Arc<str>>,
    /// The full gateway path pattern, base path included (`/api/v1/users/:id`).
    pub pattern: Arc<str>,
}

/// The values of a route's `:param` placeholders, and of its `*` wildcard under the name `*`.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct PathParams(pub Vec<(String, String)>);

impl PathParams {
    /// The value of the placeholder `name` (`"*"` for the wildcard), if the route has it.
    pub fn get(&self, name: &str) -> Option<&str> {
        self.0.iter().find(|(k, _)| k == name).map(|(_, v)| v.as_str())
    }

    /// The part of the path the route's `*` matched, if it has one.
    pub fn wildcard(&self) -> Option<&str> {
        self.get("*")
    }
}

/// The session of the request, put there by a session middleware: later middlewares and
/// actions read and change it; the session middleware stores the changes when the response
/// passes back through it.
#[derive(Clone, Debug, Default)]
pub struct Session(std::sync::Arc<std::sync::Mutex<SessionData>>);

/// What a [`Session`] holds.
#[derive(Debug, Default)]
pub struct SessionData {
    /// The values, shared with the session middleware's cache of parsed sessions until the
    /// request changes one (then copied).
    pub values: std::sync::Arc<serde_json::Map<String, serde_json::Value>>,
    /// Whether the values changed during this request.
    pub changed: bool,
    /// Whether the session is to be destroyed.
    pub destroyed: bool,
}

impl Session {
    /// A session holding `values`.
    pub fn new(values: serde_json::Map<String, serde_json::Value>) -> Self {
        Self::shared(std::sync::Arc::new(values))
    }

    /// A session holding `values` without copying them; they are copied on the first change.
    pub fn shared(values: std::sync::Arc<serde_json::Map<String, serde_json::Value>>) -> Self {
        Session(std::sync::Arc::new(std::sync::Mutex::new(SessionData { values, changed: false, destroyed: false })))
    }

    fn data(&self) -> std::sync::MutexGuard<'_, SessionData> {
        self.0.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// The value under `key`.
    pub fn get(&self, key: &str) -> Option<serde_json::Value> {
        self.data().values.get(key).cloned()
    }

    /// Calls `f` with the value under `key` (without copying it).
    pub fn with<R>(&self, key: &str, f: impl FnOnce(Option<&serde_json::Value>) -> R) -> R {
        f(self.data().values.get(key))
    }

    /// All values.
    pub fn values(&self) -> std::sync::Arc<serde_json::Map<String, serde_json::Value>> {
        self.data().values.clone()
    }

    /// Sets `key`; `null` removes it.
    pub fn set(&self, key: &str, value: serde_json::Value) {
        let mut data = self.data();
        let values = std::sync::Arc::make_mut(&mut data.values);
        if value.is_null() {
            values.remove(key);
        } else {
            values.insert(key.to_owned(), value);
        }
        data.changed = true;
    }

    /// Merges `values` in (a `null` value removes its key).
    pub fn merge(&self, values: serde_json::Map<String, serde_json::Value>) {
        for (key, value) in values {
            self.set(&key, value);
        }
    }

    /// Ends the session: its data is deleted and its cookie expired.
    pub fn destroy(&self) {
        let mut data = self.data();
        data.values = std::sync::Arc::default();
        data.destroyed = true;
    }

    /// Whether it has no values.
    pub fn is_empty(&self) -> bool {
        self.data().values.is_empty()
    }

    /// (changed, destroyed).
    pub fn state(&self) -> (bool, bool) {
        let data = self.data();
        (data.changed, data.destroyed)
    }
}

/// A response extension: this response was made for one client (it carries or depends on
/// that client's session), so no shared cache may store it. Session middlewares set it; a
/// cache honours it.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct PerClient;

/// A request extension a session middleware puts in front of the rest of the chain: the
/// response headers that carry session control (`X-Session-Set`, `X-Session-Destroy`, and
/// the session id when it travels in a header). A response that has any of them is never
/// stored by a shared cache, whatever the order of the middlewares.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct SessionHeaders(pub Arc<[http::HeaderName]>);

/// The request's id, put there by a request-id middleware (client-supplied when it was a
/// sane token, else generated); the access log line carries it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RequestId(pub Arc<str>);

/// Named values middlewares hand to later ones (Fiber's `Locals`): the request id under its
/// `contextKey`, the basic-auth user under `contextUsernameKey`, and so on. A logger reads
/// them with `${locals:KEY}`.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Locals(pub Vec<(Arc<str>, Arc<str>)>);

impl Locals {
    /// The value under `key`.
    pub fn get(&self, key: &str) -> Option<&str> {
        self.0.iter().rev().find(|(k, _)| &**k == key).map(|(_, v)| &**v)
    }

    /// Sets `key` on the request's locals (created when missing).
    pub fn set(extensions: &mut http::Extensions, key: Arc<str>, value: Arc<str>) {
        let locals = extensions.get_or_insert_default::<Locals>();
        locals.0.retain(|(k, _)| *k != key);
        locals.0.push((key, value));
    }
}

/// A CORS preflight (`OPTIONS` with `Origin` and `Access-Control-Request-Method`) sent to a
/// route that does not serve `OPTIONS`: the host runs the chain of the route serving the
/// requested method so that its CORS middleware can answer; if none does, the chain ends
/// with 405 instead of reaching the action.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct PreflightOnly;

/// The verified claims of the request's token, put there by a token-validating middleware
/// (JWT): later middlewares read them (the limiter's `keyBy: claim:sub`, header mappings).
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Claims(pub Arc<serde_json::Map<String, serde_json::Value>>);

impl Claims {
    /// The claim `name` as text: a string as is, a number or boolean written out; `None`
    /// for a missing, null, array or object claim.
    pub fn text(&self, name: &str) -> Option<String> {
        match self.0.get(name)? {
            serde_json::Value::String(s) => Some(s.clone()),
            serde_json::Value::Number(n) => Some(n.to_string()),
            serde_json::Value::Bool(b) => Some(b.to_string()),
            _ => None,
        }
    }
}

/// How a connection that outlives its request (an upgraded WebSocket, a tunnel) follows the
/// server's life: the host puts it on requests that ask for an upgrade. Whoever keeps such
/// a connection holds a [`Hold`] while it runs, and ends it (WebSocket: close 1001) once
/// [`Lifecycle::stopping`] completes; the server's shutdown waits for the holds to end,
/// within `server.shutdownTimeout`.
#[derive(Clone, Debug)]
pub struct Lifecycle {
    stopping: tokio::sync::watch::Receiver<bool>,
    holds: Arc<Holds>,
}

#[derive(Debug, Default)]
struct Holds {
    count: std::sync::atomic::AtomicUsize,
    released: tokio::sync::Notify,
}

/// A long-lived connection in progress; dropping it ends it for the server's count.
#[derive(Debug)]
pub struct Hold(Arc<Holds>);

impl Drop for Hold {
    fn drop(&mut self) {
        if self.0.count.fetch_sub(1, std::sync::atomic::Ordering::AcqRel) == 1 {
            self.0.released.notify_waiters();
        }
    }
}

impl Lifecycle {
    /// A lifecycle and the sender that starts its shutdown (`send(true)`).
    pub fn new() -> (tokio::sync::watch::Sender<bool>, Lifecycle) {
        let (stop, stopping) = tokio::sync::watch::channel(false);
        (stop, Lifecycle { stopping, holds: Arc::default() })
    }

    /// Counts a long-lived connection until the returned hold is dropped.
    pub fn hold(&self) -> Hold {
        self.holds.count.fetch_add(1, std::sync::atomic::Ordering::AcqRel);
        Hold(self.holds.clone())
    }

    /// Completes once the server shuts down.
    pub async fn stopping(&self) {
        let mut stopping = self.stopping.clone();
        let _ = stopping.wait_for(|stop| *stop).await;
    }

    /// Like [`Lifecycle::stopping`] for a request that may carry none: never completes then.
    pub async fn stopping_of(lifecycle: Option<&Lifecycle>) {
        match lifecycle {
            Some(lifecycle) => lifecycle.stopping().await,
            None => std::future::pending().await,
        }
    }

    /// How many long-lived connections are held.
    pub fn held(&self) -> usize {
        self.holds.count.load(std::sync::atomic::Ordering::Acquire)
    }

    /// Completes once no hold is left.
    pub async fn released(&self) {
        loop {
            let released = self.holds.released.notified();
            if self.held() == 0 {
                return;
            }
            released.await;
        }
    }
}

/// Tracing of the calls an action makes upstream, put on the request by a tracing middleware
/// (OpenTelemetry). An action that calls an upstream starts one [`UpstreamSpan`] per call,
/// before sending it: the span writes the propagation headers (`traceparent`, `tracestate`,
/// `baggage`) into the upstream request, so the upstream's span has the gateway's as parent.
#[derive(Clone)]
pub struct UpstreamTracing(pub Arc<dyn TraceUpstream>);

impl std::fmt::Debug for UpstreamTracing {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("UpstreamTracing")
    }
}

/// Starts the client span of one upstream call (see [`UpstreamTracing`]).
pub trait TraceUpstream: Send + Sync {
    /// A span for `method` to `uri`, child of the request's span; writes the propagation
    /// headers into `headers` (the upstream request's).
    fn start(&self, method: &http::Method, uri: &http::Uri, headers: &mut http::HeaderMap) -> Box<dyn UpstreamSpan>;
}

/// The client span of one upstream call; dropping it without an outcome ends it too (the
/// call was abandoned).
pub trait UpstreamSpan: Send {
    /// The upstream answered with `status` (its response head arrived).
    fn answered(self: Box<Self>, status: http::StatusCode);
    /// The call failed before an answer: `kind` is `connect`, `timeout` or `reset`.
    fn failed(self: Box<Self>, kind: &'static str, detail: &str);
}
