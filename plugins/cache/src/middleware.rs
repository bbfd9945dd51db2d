//! The runtime of `CacheMiddleware`: RFC 9111 freshness, revalidation, invalidation and stale
//! rules over a shared storage, with an in-process tier in front.

use std::collections::{HashMap, HashSet};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use bytes::Bytes;
use futures_util::StreamExt;
use http::header::{AGE, CONTENT_LENGTH, CONTENT_LOCATION, HOST, LOCATION, RANGE};
use http::{HeaderMap, HeaderName, HeaderValue, Method, StatusCode};
use http_body_util::{BodyExt, StreamBody};
use seam_core::extensions::SessionHeaders;
use seam_core::metrics::{Counter, Events};
use seam_core::{Body, Capability, Middleware, Next, Request, Response, Storage, async_trait, json_error, unix_ms};
use tokio::sync::watch;

use crate::config::CacheMiddlewareConfig;
use crate::entry::{self, Decoded, Freshness};
use crate::privacy::{self, Access};
use crate::purge::{self, Announcement};
use crate::{conditional, freshness};

/// How long a request waits for another request's fetch of the same key before fetching for
/// itself.
const COALESCE_WAIT: Duration = Duration::from_secs(10);

/// Caches responses (cheap to clone: background refreshes hold a copy).
#[derive(Clone)]
pub struct CacheMiddleware(Arc<Inner>, Option<tokio::task::AbortHandle>);

impl Drop for CacheMiddleware {
    fn drop(&mut self) {
        if let Some(listener) = self.1.take() {
            listener.abort();
        }
    }
}

/// A copy in the in-process tier, served until `until_ms`.
#[derive(Clone)]
struct Local {
    entry: Arc<Decoded>,
    until_ms: u64,
}

struct Inner {
    name: String,
    counters: Counters,
    storage: Arc<dyn Storage>,
    heuristic: Duration,
    keep_stale: Duration,
    methods: Vec<Method>,
    max_body: u64,
    key_headers: Vec<HeaderName>,
    targeted: Vec<HeaderName>,
    cache_authorized: bool,
    local: Option<moka::sync::Cache<String, Local>>,
    local_max_age: Duration,
    /// Misses being fetched in this instance: followers wait for the leader's outcome
    /// (`Some(true)`: stored, `Some(false)`: not stored).
    inflight: Mutex<HashMap<String, watch::Receiver<Option<bool>>>>,
    /// Keys being refreshed in the background (stale-while-revalidate): one request each.
    refreshing: Mutex<HashSet<String>>,
}

/// The checked `methods`, `keyHeaders` and `targetedFields` of a [`CacheMiddlewareConfig`].
pub struct KeyParts {
    /// Methods whose responses are cached.
    pub methods: Vec<Method>,
    /// Request headers that become part of the key.
    pub headers: Vec<HeaderName>,
    /// Fields that target this cache.
    pub targeted: Vec<HeaderName>,
}

/// `seam_cache_requests_total` of this middleware, by outcome.
struct Counters {
    hit: Counter,
    stale: Counter,
    miss: Counter,
    stored: Counter,
    bypass: Counter,
}

impl Counters {
    fn new(name: &str) -> Counters {
        let counter = |outcome| Events::Cache.counter(name, outcome);
        Counters {
            hit: counter("hit"),
            stale: counter("stale"),
            miss: counter("miss"),
            stored: counter("stored"),
            bypass: counter("bypass"),
        }
    }
}

/// Marks a response that did not go through the cache (counted as `bypass`, not `miss`).
#[derive(Clone, Copy)]
struct Bypassed;

fn mark(response: &mut Response, state: &'static str) {
    response.headers_mut().insert("x-cache", HeaderValue::from_static(state));
}

fn ms(d: Duration) -> u64 {
    u64::try_from(d.as_millis()).unwrap_or(u64::MAX)
}

/// Methods RFC 9110 §9.2.1 calls safe: they never invalidate.
fn safe(method: &Method) -> bool {
    matches!(*method, Method::GET | Method::HEAD | Method::OPTIONS | Method::TRACE)
}

impl CacheMiddleware {
    /// A cache for `config` in `storage`.
    pub fn new(name: &str, config: &CacheMiddlewareConfig, parts: KeyParts, storage: Arc<dyn Storage>) -> Self {
        CacheMiddleware(
            Arc::new(Inner {
                name: name.to_owned(),
                counters: Counters::new(name),
                storage,
                heuristic: config.expiration.get(),
                keep_stale: config.keep_stale.get(),
                methods: parts.methods,
                max_body: config.max_body_size,
                key_headers: parts.headers,
                targeted: parts.targeted,
                cache_authorized: config.cache_authorized,
                local: (config.local_size > 0).then(|| {
                    moka::sync::Cache::builder()
                        .max_capacity(config.local_size)
                        .weigher(|k: &String, v: &Local| {
                            u32::try_from(k.len() + v.entry.body.len()).unwrap_or(u32::MAX)
                        })
                        .expire_after(UntilExpiry)
                        .build()
                }),
                local_max_age: config.local_max_age.get(),
                inflight: Mutex::new(HashMap::new()),
                refreshing: Mutex::new(HashSet::new()),
            }),
            None,
        )
    }

    /// Follows the announcements on the storage: drops the in-process copy of an entry another
    /// instance invalidated, and the whole in-process tier on a purge (and when the
    /// announcements resume after an outage, since some may have been missed).
    pub async fn listen_for_purges(mut self) -> Self {
        let inner = &self.0;
        if inner.local.is_none() || !inner.storage.capabilities().has(Capability::Broadcast) {
            return self;
        }
        let mut purges = match inner.storage.subscribe(&purge::channel(&inner.name)).await {
            Ok(purges) => purges,
            Err(e) => {
                tracing::warn!(cache = %inner.name, "cannot hear of purges ({e}); local copies still expire after localMaxAge");
                return self;
            }
        };
        let weak = Arc::downgrade(inner);
        let task = tokio::spawn(async move {
            while let Some(message) = purges.recv().await {
                let Some(inner) = weak.upgrade() else { return };
                if let Some(local) = &inner.local {
                    match Announcement::heard(&message) {
                        Announcement::Entry(key) => local.invalidate(&key),
                        Announcement::Everything => local.invalidate_all(),
                    }
                }
            }
        });
        self.1 = Some(task.abort_handle());
        self
    }
}

impl Inner {
    /// The key of a request for `host`, `path` and `query` (a `HEAD` uses the `GET` entry):
    /// each part length-prefixed, so no two requests share a key unless every part is equal
    /// (`Host: gw/x` + `/page` can never be `/x/page`). The `keyHeaders` are checked on use,
    /// like `Vary`, so one entry per URI is invalidated at once.
    fn key(&self, method: &Method, host: &str, path: &str, query: &str) -> String {
        let method = if method == Method::HEAD { "GET" } else { method.as_str() };
        let mut key = String::with_capacity(32 + host.len() + path.len() + query.len());
        key.push_str("cache:");
        for part in [self.name.as_str(), method, host, path, query] {
            key.push_str(&part.len().to_string());
            key.push(':');
            key.push_str(part);
        }
        key
    }

    fn request_key(&self, req: &Request) -> String {
        let host = req.headers().get(HOST).and_then(|v| v.to_str().ok()).unwrap_or("");
        self.key(req.method(), host, req.uri().path(), req.uri().query().unwrap_or(""))
    }

    fn remember(&self, key: &str, entry: Arc<Decoded>) {
        if let Some(local) = &self.local {
            let until_ms = entry.expires_ms.min(unix_ms().saturating_add(ms(self.local_max_age)));
            if until_ms > unix_ms() {
                local.insert(key.to_owned(), Local { entry, until_ms });
            }
        }
    }

    /// The stored entry under `key`, from the in-process tier or the storage.
    async fn lookup(&self, key: &str) -> Option<Arc<Decoded>> {
        if let Some(local) = self.local.as_ref().and_then(|l| l.get(key))
            && local.until_ms > unix_ms()
        {
            return Some(local.entry);
        }
        match seam_core::storage::read(&*self.storage, key).await {
            Ok(Some(bytes)) => {
                let entry = Arc::new(entry::decode(&bytes)?);
                self.remember(key, entry.clone());
                Some(entry)
            }
            Ok(None) => None,
            Err(e) => {
                tracing::warn!(cache = %self.name, "cache storage unavailable, serving as a miss: {e}");
                None
            }
        }
    }

    /// Whether `entry` may answer a request with `headers`: the same values of the headers
    /// its `Vary` and the `keyHeaders` name, and `public` for a request with `Authorization`.
    fn fits(entry: &Decoded, headers: &HeaderMap, access: Access) -> bool {
        (access != Access::PublicOnly || entry.public)
            && entry.vary.iter().all(|(name, value)| {
                privacy::vary_values(headers, std::slice::from_ref(name)).first().map(|(_, v)| v) == Some(value)
            })
    }

    /// The stored response for a request with `headers`: `304` when the client's own
    /// conditional matches (RFC 9110 §13.1), without a body for `HEAD`, with its `Age`.
    fn serve(entry: &Decoded, request: &HeaderMap, head: bool, age_ms: u64, state: &'static str) -> Response {
        let not_modified = conditional::not_modified(request, &entry.headers);
        let body = if head || not_modified { Body::empty() } else { Body::from(entry.body.clone()) };
        let mut response = Response::new(body);
        *response.headers_mut() = entry.headers.clone();
        if not_modified {
            *response.status_mut() = StatusCode::NOT_MODIFIED;
            response.headers_mut().remove(CONTENT_LENGTH);
        } else {
            *response.status_mut() = entry.status;
        }
        response.headers_mut().insert(AGE, HeaderValue::from(age_ms / 1000));
        mark(&mut response, state);
        response
    }

    /// Runs `req` upstream and stores the answer when it may be stored.
    async fn fetch(&self, key: &str, req: Request, access: Access, next: Next) -> (Response, bool) {
        let session = req.extensions().get::<SessionHeaders>().cloned();
        let headers = req.headers().clone();
        let request_ms = unix_ms();
        let response = next.run(req).await;
        self.store(key, &headers, request_ms, session.as_ref(), access, response).await
    }

    /// What may be stored of `response` and for how long: `None` when it must not be stored.
    fn freshness_of(&self, response: &Response, request_ms: u64, response_ms: u64) -> Option<Freshness> {
        let headers = response.headers();
        let d = freshness::effective(headers, &self.targeted);
        if d.no_store || d.private {
            return None;
        }
        let status = response.status().as_u16();
        let explicit = freshness::explicit(&d, headers);
        if !(200..600).contains(&status) || status == 206 || status == 304 {
            return None;
        }
        if !explicit && !freshness::heuristically_cacheable(status) {
            return None;
        }
        let lifetime_ms = freshness::lifetime(&d, headers, status, response_ms, ms(self.heuristic))?;
        Some(Freshness {
            initial_age_ms: freshness::initial_age(headers, request_ms, response_ms),
            lifetime_ms,
            no_cache: d.no_cache,
            forbids_stale: d.forbids_stale(),
            stale_while_revalidate_ms: d.stale_while_revalidate.unwrap_or(0).saturating_mul(1000),
            stale_if_error_ms: d.stale_if_error.unwrap_or(0).saturating_mul(1000),
        })
    }

    /// How long storage keeps an entry: the rest of its freshness, then the stale windows
    /// it allows, and `keepStale` when it can be revalidated.
    fn keep_for(&self, f: &Freshness, headers: &HeaderMap) -> u64 {
        let fresh_left = f.lifetime_ms.saturating_sub(f.initial_age_ms);
        let validator = !conditional::conditional_headers(headers).is_empty();
        let stale =
            f.stale_while_revalidate_ms.max(f.stale_if_error_ms).max(if validator { ms(self.keep_stale) } else { 0 });
        fresh_left.saturating_add(if f.forbids_stale && !validator { 0 } else { stale })
    }

    /// Stores `response` when the rules allow; returns it (buffered when stored) and whether
    /// it was stored.
    async fn store(
        &self,
        key: &str,
        request: &HeaderMap,
        request_ms: u64,
        session: Option<&SessionHeaders>,
        access: Access,
        response: Response,
    ) -> (Response, bool) {
        let response_ms = unix_ms();
        let announced =
            response.headers().get(CONTENT_LENGTH).and_then(|v| v.to_str().ok()).and_then(|v| v.parse::<u64>().ok());
        let public = privacy::is_public(response.headers());
        let vary = privacy::vary_names(response.headers());
        let allowed = announced.is_none_or(|n| n <= self.max_body)
            && !privacy::per_client(&response, session)
            && (access == Access::Shared || public);
        let fresh = self.freshness_of(&response, request_ms, response_ms).filter(|_| allowed);
        let (Some(fresh), Some(vary)) = (fresh, vary) else {
            let mut response = response;
            mark(&mut response, "MISS");
            return (response, false);
        };
        let keep_ms = self.keep_for(&fresh, response.headers());
        if keep_ms == 0 {
            let mut response = response;
            mark(&mut response, "MISS");
            return (response, false);
        }
        let (parts, mut body) = response.into_parts();
        let mut buffered: Vec<Bytes> = Vec::new();
        let mut size = 0u64;
        while let Some(frame) = body.frame().await {
            match frame {
                Ok(frame) => {
                    if let Ok(data) = frame.into_data() {
                        size += data.len() as u64;
                        buffered.push(data);
                        if size > self.max_body {
                            // Too large: stream what was read, then the rest, and store nothing.
                            let head =
                                futures_util::stream::iter(buffered.into_iter().map(|b| Ok(http_body::Frame::data(b))));
                            let rest = body.into_data_stream().map(|r| r.map(http_body::Frame::data));
                            let mut response =
                                Response::from_parts(parts, Body::new(StreamBody::new(head.chain(rest))));
                            mark(&mut response, "MISS");
                            return (response, false);
                        }
                    }
                }
                Err(e) => {
                    // The upstream broke off: pass the error on, store nothing.
                    let chunks =
                        buffered.into_iter().map(Ok::<_, seam_core::body::BoxError>).chain(std::iter::once(Err(e)));
                    let stream = futures_util::stream::iter(chunks).map(|r| r.map(http_body::Frame::data));
                    let mut response = Response::from_parts(parts, Body::new(StreamBody::new(stream)));
                    mark(&mut response, "MISS");
                    return (response, false);
                }
            }
        }
        let mut whole = bytes::BytesMut::with_capacity(size as usize);
        for chunk in buffered {
            whole.extend_from_slice(&chunk);
        }
        let whole = whole.freeze();
        let mut names = vary;
        names.extend(self.key_headers.iter().map(|h| h.as_str().to_owned()));
        names.sort();
        names.dedup();
        let entry = Decoded {
            status: parts.status,
            headers: parts.headers.clone(),
            body: whole.clone(),
            stored_ms: response_ms,
            expires_ms: response_ms.saturating_add(keep_ms),
            vary: privacy::vary_values(request, &names),
            public,
            freshness: fresh,
        };
        let stored = self.write(key, entry).await;
        let mut response = Response::from_parts(parts, Body::from(whole));
        mark(&mut response, "MISS");
        (response, stored)
    }

    async fn write(&self, key: &str, entry: Decoded) -> bool {
        let ttl = Duration::from_millis(entry.expires_ms.saturating_sub(unix_ms()).max(1));
        match self.storage.set(key, entry::encode(&entry), Some(ttl)).await {
            Ok(()) => {
                self.counters.stored.inc();
                self.remember(key, Arc::new(entry));
                true
            }
            Err(e) => {
                tracing::warn!(cache = %self.name, "cache storage unavailable, response not stored: {e}");
                false
            }
        }
    }

    /// A stale `entry` revalidated upstream (RFC 9111 §4.3): a conditional request when it has
    /// validators; a `304` refreshes it; an origin failure serves it stale only where allowed
    /// (RFC 5861 `stale-if-error`, or no directive forbidding it), else `504`.
    async fn revalidate(
        &self,
        key: &str,
        entry: Arc<Decoded>,
        mut req: Request,
        access: Access,
        next: Next,
    ) -> Response {
        let head = req.method() == Method::HEAD;
        let client = req.headers().clone();
        let session = req.extensions().get::<SessionHeaders>().cloned();
        req.headers_mut().remove(http::header::IF_NONE_MATCH);
        req.headers_mut().remove(http::header::IF_MODIFIED_SINCE);
        for (name, value) in conditional::conditional_headers(&entry.headers) {
            req.headers_mut().insert(name, value);
        }
        if head {
            // Revalidate the stored GET, not a HEAD.
            *req.method_mut() = Method::GET;
        }
        let request_ms = unix_ms();
        let response = next.run(req).await;
        let status = response.status();
        let now = unix_ms();
        let age = freshness::current_age(entry.freshness.initial_age_ms, entry.stored_ms, now);
        if status == StatusCode::NOT_MODIFIED {
            let headers = conditional::updated(&entry.headers, response.headers());
            let mut probe = Response::new(Body::empty());
            *probe.status_mut() = entry.status;
            *probe.headers_mut() = headers.clone();
            let Some(fresh) = self.freshness_of(&probe, request_ms, now) else {
                return Self::serve(&entry, &client, head, age, "MISS");
            };
            let refreshed = Decoded {
                status: entry.status,
                headers,
                body: entry.body.clone(),
                stored_ms: now,
                expires_ms: now.saturating_add(self.keep_for(&fresh, probe.headers())),
                vary: entry.vary.clone(),
                public: entry.public,
                freshness: fresh,
            };
            let served = Self::serve(&refreshed, &client, head, fresh.initial_age_ms, "REVALIDATED");
            self.write(key, refreshed).await;
            return served;
        }
        if status.is_server_error() {
            let f = &entry.freshness;
            let stale_for = age.saturating_sub(f.lifetime_ms);
            let allowed = !f.forbids_stale && (f.stale_if_error_ms == 0 || stale_for <= f.stale_if_error_ms);
            if allowed {
                return Self::serve(&entry, &client, head, age, "STALE");
            }
            if f.forbids_stale {
                let mut response = json_error(
                    StatusCode::GATEWAY_TIMEOUT,
                    "the stored response must be revalidated and the origin failed",
                );
                mark(&mut response, "MISS");
                return response;
            }
        }
        let (response, _) = self.store(key, &client, request_ms, session.as_ref(), access, response).await;
        if head { response.map(|_| Body::empty()) } else { response }
    }

    /// Refreshes `key` in the background while a stale answer is served
    /// (`stale-while-revalidate`): one request per key at a time.
    fn refresh_later(self: &Arc<Self>, key: String, entry: Arc<Decoded>, req: &Request, access: Access, next: Next) {
        {
            let mut refreshing = self.refreshing.lock().unwrap_or_else(PoisonError::into_inner);
            if !refreshing.insert(key.clone()) {
                return;
            }
        }
        let mut background = Request::new(Body::empty());
        *background.method_mut() = Method::GET;
        *background.uri_mut() = req.uri().clone();
        *background.headers_mut() = req.headers().clone();
        *background.extensions_mut() = req.extensions().clone();
        let inner = self.clone();
        tokio::spawn(async move {
            let _ = inner.revalidate(&key, entry, background, access, next).await;
            inner.refreshing.lock().unwrap_or_else(PoisonError::into_inner).remove(&key);
        });
    }

    /// Removes the stored answers for `target` (a path with its query) on `host`
    /// (RFC 9111 §4.4), here and in the shared storage.
    async fn invalidate(&self, host: &str, target: &str) {
        let (path, query) = target.split_once('?').unwrap_or((target, ""));
        let key = self.key(&Method::GET, host, path, query);
        if let Some(local) = &self.local {
            local.invalidate(&key);
        }
        if let Err(e) = self.storage.delete(&key).await {
            tracing::warn!(cache = %self.name, "cache storage unavailable, `{target}` not invalidated: {e}");
            return;
        }
        // The other instances drop their in-process copies now, not after `localMaxAge`.
        if self.storage.capabilities().has(Capability::Broadcast)
            && let Err(e) = self.storage.publish(&purge::channel(&self.name), purge::entry_invalidated(&key)).await
        {
            tracing::warn!(cache = %self.name, "cannot announce that `{target}` was invalidated (other instances follow within localMaxAge): {e}");
        }
    }

    /// After an unsafe request answered without error: the request URI, and the same-origin
    /// `Location` and `Content-Location`, are invalidated.
    async fn invalidate_after(&self, host: &str, request_target: &str, response: &HeaderMap) {
        self.invalidate(host, request_target).await;
        for name in [LOCATION, CONTENT_LOCATION] {
            let Some(value) = response.get(&name).and_then(|v| v.to_str().ok()) else { continue };
            let Ok(uri) = value.parse::<http::Uri>() else { continue };
            let same_origin = uri.authority().is_none_or(|a| a.as_str().eq_ignore_ascii_case(host));
            if same_origin && let Some(target) = uri.path_and_query() {
                self.invalidate(host, target.as_str()).await;
            }
        }
    }
}

/// The leader of a coalesced miss: whatever way its request ends (answered, failed, or the
/// client gone and the future dropped), the key is released and its waiters are told.
struct Leader<'a> {
    inflight: &'a Mutex<HashMap<String, watch::Receiver<Option<bool>>>>,
    key: &'a str,
    tx: watch::Sender<Option<bool>>,
}

impl Leader<'_> {
    fn done(self, stored: bool) {
        let _ = self.tx.send(Some(stored));
    }
}

impl Drop for Leader<'_> {
    fn drop(&mut self) {
        self.inflight.lock().unwrap_or_else(PoisonError::into_inner).remove(self.key);
        // Waiters of a leader that went away fetch for themselves.
        self.tx.send_if_modified(|v| {
            if v.is_none() {
                *v = Some(false);
                true
            } else {
                false
            }
        });
    }
}

impl CacheMiddleware {
    async fn cached(&self, req: Request, next: Next) -> Response {
        let inner = &self.0;
        let access = privacy::access(&req, &inner.key_headers, inner.cache_authorized);
        if access == Access::Bypass || req.headers().contains_key(RANGE) {
            let mut response = next.run(req).await;
            mark(&mut response, "MISS");
            response.extensions_mut().insert(Bypassed);
            return response;
        }
        let head = req.method() == Method::HEAD;
        let key = inner.request_key(&req);
        if let Some(entry) = inner.lookup(&key).await.filter(|e| Inner::fits(e, req.headers(), access)) {
            let now = unix_ms();
            let f = entry.freshness;
            let age = freshness::current_age(f.initial_age_ms, entry.stored_ms, now);
            if !f.no_cache && age < f.lifetime_ms {
                return Inner::serve(&entry, req.headers(), head, age, "HIT");
            }
            let stale_for = age.saturating_sub(f.lifetime_ms);
            if !f.forbids_stale && stale_for < f.stale_while_revalidate_ms {
                let served = Inner::serve(&entry, req.headers(), head, age, "STALE");
                inner.refresh_later(key, entry, &req, access, next);
                return served;
            }
            return inner.revalidate(&key, entry, req, access, next).await;
        }
        if head {
            // A HEAD has no body to store; it is answered by stored GETs only.
            let mut response = next.run(req).await;
            mark(&mut response, "MISS");
            return response;
        }
        // Coalesce concurrent misses for this key in this instance.
        let waiting = {
            let mut inflight = inner.inflight.lock().unwrap_or_else(PoisonError::into_inner);
            match inflight.get(&key) {
                Some(rx) => Err(rx.clone()),
                None => {
                    let (tx, rx) = watch::channel(None);
                    inflight.insert(key.clone(), rx);
                    Ok(tx)
                }
            }
        };
        match waiting {
            Ok(tx) => {
                let leader = Leader { inflight: &inner.inflight, key: &key, tx };
                let (response, stored) = inner.fetch(&key, req, access, next).await;
                leader.done(stored);
                response
            }
            Err(mut rx) => {
                let stored = {
                    let outcome = tokio::time::timeout(COALESCE_WAIT, rx.wait_for(Option::is_some)).await;
                    matches!(outcome, Ok(Ok(v)) if *v == Some(true))
                };
                if stored
                    && let Some(entry) = inner.lookup(&key).await.filter(|e| Inner::fits(e, req.headers(), access))
                {
                    let age = freshness::current_age(entry.freshness.initial_age_ms, entry.stored_ms, unix_ms());
                    return Inner::serve(&entry, req.headers(), head, age, "HIT");
                }
                inner.fetch(&key, req, access, next).await.0
            }
        }
    }
}

#[async_trait]
impl Middleware for CacheMiddleware {
    async fn handle(&self, req: Request, next: Next) -> Response {
        let counters = &self.0.counters;
        let mut response = if self.0.methods.contains(req.method()) {
            let response = self.cached(req, next).await;
            let outcome = response.headers().get("x-cache").map(HeaderValue::as_bytes);
            match outcome {
                _ if response.extensions().get::<Bypassed>().is_some() => counters.bypass.inc(),
                Some(b"HIT") => counters.hit.inc(),
                Some(b"STALE") => counters.stale.inc(),
                _ => counters.miss.inc(),
            };
            response
        } else if safe(req.method()) {
            counters.bypass.inc();
            next.run(req).await
        } else {
            counters.bypass.inc();
            // An unsafe (or unknown) method: a non-error answer invalidates (RFC 9111 §4.4).
            let host = req.headers().get(HOST).and_then(|v| v.to_str().ok()).unwrap_or("").to_owned();
            let target = req.uri().path_and_query().map(|pq| pq.as_str().to_owned()).unwrap_or_default();
            let response = next.run(req).await;
            if response.status().is_success() || response.status().is_redirection() {
                let headers = response.headers().clone();
                self.0.invalidate_after(&host, &target, &headers).await;
            }
            response
        };
        // Surrogate-Control is for caches in front of the origin: it never leaves the gateway.
        response.headers_mut().remove("surrogate-control");
        response
    }

    async fn close(&self) {
        if let Some(listener) = &self.1 {
            listener.abort();
        }
    }
}

/// Local entries live until their `until_ms`.
struct UntilExpiry;

impl moka::Expiry<String, Local> for UntilExpiry {
    fn expire_after_create(&self, _key: &String, value: &Local, _now: std::time::Instant) -> Option<Duration> {
        Some(Duration::from_millis(value.until_ms.saturating_sub(unix_ms())))
    }
}
