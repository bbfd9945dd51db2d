//! The runtime of `CacheMiddleware`.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use bytes::Bytes;
use futures_util::StreamExt;
use http::header::{AGE, CONTENT_LENGTH, HOST};
use http::{HeaderMap, HeaderName, HeaderValue, Method};
use http_body_util::{BodyExt, StreamBody};
use seam_core::extensions::SessionHeaders;
use seam_core::{Body, Middleware, Next, Request, Response, Storage, async_trait, unix_ms};
use tokio::sync::watch;

use crate::config::CacheMiddlewareConfig;
use crate::entry;
use crate::policy;
use crate::privacy::{self, Access};

/// Caches responses.
pub struct CacheMiddleware {
    name: String,
    storage: Arc<dyn Storage>,
    expiration: Duration,
    methods: Vec<Method>,
    max_body: u64,
    key_headers: Vec<HeaderName>,
    cache_authorized: bool,
    /// Hot entries kept in this process, decoded.
    local: Option<moka::sync::Cache<String, Arc<entry::Decoded>>>,
    /// Misses being fetched in this instance: followers wait for the leader's outcome
    /// (`Some(true)`: stored, `Some(false)`: not cacheable).
    inflight: Mutex<HashMap<String, watch::Receiver<Option<bool>>>>,
}

fn mark(response: &mut Response, hit: bool) {
    response.headers_mut().insert("x-cache", HeaderValue::from_static(if hit { "HIT" } else { "MISS" }));
}

/// The checked `methods` and `keyHeaders` of a [`CacheMiddlewareConfig`].
pub struct KeyParts {
    /// Methods whose responses are cached.
    pub methods: Vec<Method>,
    /// Request headers that become part of the key.
    pub headers: Vec<HeaderName>,
}

impl CacheMiddleware {
    /// A cache for `config` in `storage`.
    pub fn new(name: &str, config: &CacheMiddlewareConfig, parts: KeyParts, storage: Arc<dyn Storage>) -> Self {
        CacheMiddleware {
            name: name.to_owned(),
            storage,
            expiration: config.expiration.get(),
            methods: parts.methods,
            max_body: config.max_body_size,
            key_headers: parts.headers,
            cache_authorized: config.cache_authorized,
            local: (config.local_size > 0).then(|| {
                moka::sync::Cache::builder()
                    .max_capacity(config.local_size)
                    .weigher(|k: &String, v: &Arc<entry::Decoded>| {
                        u32::try_from(k.len() + v.body.len()).unwrap_or(u32::MAX)
                    })
                    .expire_after(UntilExpiry)
                    .build()
            }),
            inflight: Mutex::new(HashMap::new()),
        }
    }

    fn remember(&self, key: &str, entry: Arc<entry::Decoded>) {
        if let Some(local) = &self.local
            && entry.expires_ms > unix_ms()
        {
            local.insert(key.to_owned(), entry);
        }
    }

    fn respond(entry: &entry::Decoded) -> Response {
        let mut response = Response::new(Body::from(entry.body.clone()));
        *response.status_mut() = entry.status;
        *response.headers_mut() = entry.headers.clone();
        let age = unix_ms().saturating_sub(entry.stored_ms) / 1000;
        response.headers_mut().insert(AGE, HeaderValue::from(age));
        mark(&mut response, true);
        response
    }

    /// The key of `req`: each part length-prefixed, so no two requests share a key unless
    /// every part is equal (`Host: gw/x` + `/page` can never be `/x/page`).
    fn key(&self, req: &Request) -> String {
        let host = req.headers().get(HOST).and_then(|v| v.to_str().ok()).unwrap_or("");
        let mut key = String::with_capacity(64);
        key.push_str("cache:");
        let mut part = |text: &str| {
            key.push_str(&text.len().to_string());
            key.push(':');
            key.push_str(text);
        };
        part(&self.name);
        part(req.method().as_str());
        part(host);
        part(req.uri().path());
        part(req.uri().query().unwrap_or(""));
        for name in &self.key_headers {
            let values: Vec<&str> = req.headers().get_all(name).iter().filter_map(|v| v.to_str().ok()).collect();
            part(name.as_str());
            part(&values.join(", "));
        }
        key
    }

    /// The stored answer for `req`, if one fits it: same `Vary` values, and `public` when the
    /// request has `Authorization` that is not part of the key.
    async fn lookup(&self, key: &str, request_headers: &HeaderMap, access: Access) -> Option<Response> {
        let fits = |entry: &entry::Decoded| {
            (access != Access::PublicOnly || entry.public)
                && entry.vary.iter().all(|(name, value)| {
                    let now = privacy::vary_values(request_headers, std::slice::from_ref(name));
                    now.first().map(|(_, v)| v) == Some(value)
                })
        };
        if let Some(entry) = self.local.as_ref().and_then(|l| l.get(key))
            && entry.expires_ms > unix_ms()
        {
            return fits(&entry).then(|| Self::respond(&entry));
        }
        match self.storage.get(key).await {
            Ok(Some(bytes)) => {
                let entry = Arc::new(entry::decode(&bytes)?);
                let response = fits(&entry).then(|| Self::respond(&entry));
                self.remember(key, entry);
                response
            }
            Ok(None) => None,
            Err(e) => {
                tracing::warn!(cache = %self.name, "cache storage unavailable, serving as a miss: {e}");
                None
            }
        }
    }

    /// Runs the request upstream; stores the response when allowed. Returns the response
    /// and whether it was stored.
    async fn fetch(&self, key: &str, req: Request, access: Access, next: Next) -> (Response, bool) {
        let session = req.extensions().get::<SessionHeaders>().cloned();
        let request_headers = req.headers().clone();
        let response = next.run(req).await;
        let announced =
            response.headers().get(CONTENT_LENGTH).and_then(|v| v.to_str().ok()).and_then(|v| v.parse::<u64>().ok());
        let public = privacy::is_public(response.headers());
        let vary = privacy::vary_names(response.headers());
        let storable = policy::cacheable_status(response.status())
            && announced.is_none_or(|n| n <= self.max_body)
            && !privacy::per_client(&response, session.as_ref())
            && (access == Access::Shared || public)
            && vary.is_some();
        let ttl = policy::ttl(response.headers(), self.expiration).filter(|_| storable);
        let Some(ttl) = ttl else {
            let mut response = response;
            mark(&mut response, false);
            return (response, false);
        };
        let (parts, mut body) = response.into_parts();
        let mut buffered: Vec<Bytes> = Vec::new();
        let mut size = 0u64;
        let mut complete = true;
        while let Some(frame) = body.frame().await {
            match frame {
                Ok(frame) => {
                    if let Ok(data) = frame.into_data() {
                        size += data.len() as u64;
                        buffered.push(data);
                        if size > self.max_body {
                            complete = false;
                            break;
                        }
                    }
                }
                Err(e) => {
                    // The upstream broke off: pass the error on, store nothing.
                    let chunks =
                        buffered.into_iter().map(Ok::<_, seam_core::body::BoxError>).chain(std::iter::once(Err(e)));
                    let stream = futures_util::stream::iter(chunks).map(|r| r.map(http_body::Frame::data));
                    let mut response = Response::from_parts(parts, Body::new(StreamBody::new(stream)));
                    mark(&mut response, false);
                    return (response, false);
                }
            }
        }
        if !complete {
            // Too large: stream what was read, then the rest, and store nothing.
            let head = futures_util::stream::iter(buffered.into_iter().map(|b| Ok(http_body::Frame::data(b))));
            let rest = body.into_data_stream().map(|r| r.map(http_body::Frame::data));
            let mut response = Response::from_parts(parts, Body::new(StreamBody::new(head.chain(rest))));
            mark(&mut response, false);
            return (response, false);
        }
        let mut whole = bytes::BytesMut::with_capacity(size as usize);
        for chunk in buffered {
            whole.extend_from_slice(&chunk);
        }
        let whole = whole.freeze();
        let now = unix_ms();
        let expires = now + u64::try_from(ttl.as_millis()).unwrap_or(u64::MAX);
        let entry = entry::Decoded {
            status: parts.status,
            headers: parts.headers.clone(),
            body: whole.clone(),
            stored_ms: now,
            expires_ms: expires,
            vary: privacy::vary_values(&request_headers, &vary.unwrap_or_default()),
            public,
        };
        let stored = match self.storage.set(key, entry::encode(&entry), Some(ttl)).await {
            Ok(()) => {
                self.remember(key, Arc::new(entry));
                true
            }
            Err(e) => {
                tracing::warn!(cache = %self.name, "cache storage unavailable, response not stored: {e}");
                false
            }
        };
        let mut response = Response::from_parts(parts, Body::from(whole));
        mark(&mut response, false);
        (response, stored)
    }
}

/// How long a request waits for another request's fetch of the same key before fetching for
/// itself.
const COALESCE_WAIT: Duration = Duration::from_secs(10);

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
        self.inflight.lock().unwrap_or_else(std::sync::PoisonError::into_inner).remove(self.key);
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

#[async_trait]
impl Middleware for CacheMiddleware {
    async fn handle(&self, req: Request, next: Next) -> Response {
        if !self.methods.contains(req.method()) {
            return next.run(req).await;
        }
        let access = privacy::access(&req, &self.key_headers, self.cache_authorized);
        if access == Access::Bypass {
            let mut response = next.run(req).await;
            mark(&mut response, false);
            return response;
        }
        let key = self.key(&req);
        if let Some(hit) = self.lookup(&key, req.headers(), access).await {
            return hit;
        }
        // Coalesce concurrent misses for this key in this instance.
        let waiting = {
            let mut inflight = self.inflight.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
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
                let leader = Leader { inflight: &self.inflight, key: &key, tx };
                let (response, stored) = self.fetch(&key, req, access, next).await;
                leader.done(stored);
                response
            }
            Err(mut rx) => {
                let stored = {
                    let outcome = tokio::time::timeout(COALESCE_WAIT, rx.wait_for(Option::is_some)).await;
                    matches!(outcome, Ok(Ok(v)) if *v == Some(true))
                };
                if stored && let Some(hit) = self.lookup(&key, req.headers(), access).await {
                    return hit;
                }
                let (response, _) = self.fetch(&key, req, access, next).await;
                response
            }
        }
    }
}

/// Local entries live exactly until the shared entry expires.
struct UntilExpiry;

impl moka::Expiry<String, Arc<entry::Decoded>> for UntilExpiry {
    fn expire_after_create(
        &self,
        _key: &String,
        value: &Arc<entry::Decoded>,
        _now: std::time::Instant,
    ) -> Option<Duration> {
        Some(Duration::from_millis(value.expires_ms.saturating_sub(unix_ms())))
    }
}
