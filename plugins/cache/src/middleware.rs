//! The runtime of `CacheMiddleware`.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use bytes::Bytes;
use futures_util::StreamExt;
use http::header::{AGE, AUTHORIZATION, CONTENT_LENGTH, HOST};
use http::{HeaderName, HeaderValue, Method};
use http_body_util::{BodyExt, StreamBody};
use seam_core::{Body, Middleware, Next, Request, Response, Storage, async_trait, unix_ms};
use tokio::sync::watch;

use crate::config::CacheMiddlewareConfig;
use crate::entry;
use crate::policy;

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

    fn key(&self, req: &Request) -> String {
        let host = req
            .headers()
            .get(HOST)
            .and_then(|v| v.to_str().ok())
            .or_else(|| req.uri().authority().map(|a| a.as_str()))
            .unwrap_or("");
        let mut key = format!("cache:{}:{}:{host}{}", self.name, req.method(), req.uri().path());
        if let Some(query) = req.uri().query() {
            key.push('?');
            key.push_str(query);
        }
        for name in &self.key_headers {
            let value = req.headers().get(name).and_then(|v| v.to_str().ok()).unwrap_or("");
            key.push_str(&format!("|{name}={value}"));
        }
        key
    }

    async fn lookup(&self, key: &str) -> Option<Response> {
        if let Some(entry) = self.local.as_ref().and_then(|l| l.get(key))
            && entry.expires_ms > unix_ms()
        {
            return Some(Self::respond(&entry));
        }
        match self.storage.get(key).await {
            Ok(Some(bytes)) => {
                let entry = Arc::new(entry::decode(&bytes)?);
                let response = Self::respond(&entry);
                self.remember(key, entry);
                Some(response)
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
    async fn fetch(&self, key: &str, req: Request, next: Next) -> (Response, bool) {
        let response = next.run(req).await;
        let announced =
            response.headers().get(CONTENT_LENGTH).and_then(|v| v.to_str().ok()).and_then(|v| v.parse::<u64>().ok());
        let ttl = policy::ttl(response.headers(), self.expiration)
            .filter(|_| policy::cacheable_status(response.status()) && announced.is_none_or(|n| n <= self.max_body));
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
        let encoded = entry::encode(parts.status, &parts.headers, &whole, now, expires);
        let stored = match self.storage.set(key, encoded, Some(ttl)).await {
            Ok(()) => {
                let entry = entry::Decoded {
                    status: parts.status,
                    headers: parts.headers.clone(),
                    body: whole.clone(),
                    stored_ms: now,
                    expires_ms: expires,
                };
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

#[async_trait]
impl Middleware for CacheMiddleware {
    async fn handle(&self, req: Request, next: Next) -> Response {
        if !self.methods.contains(req.method()) {
            return next.run(req).await;
        }
        let storable = self.cache_authorized || !req.headers().contains_key(AUTHORIZATION);
        if !storable {
            let mut response = next.run(req).await;
            mark(&mut response, false);
            return response;
        }
        let key = self.key(&req);
        if let Some(hit) = self.lookup(&key).await {
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
                let (response, stored) = self.fetch(&key, req, next).await;
                self.inflight.lock().unwrap_or_else(std::sync::PoisonError::into_inner).remove(&key);
                let _ = tx.send(Some(stored));
                response
            }
            Err(mut rx) => {
                let stored = rx.wait_for(Option::is_some).await.map(|v| *v == Some(true)).unwrap_or(false);
                if stored && let Some(hit) = self.lookup(&key).await {
                    return hit;
                }
                let (response, _) = self.fetch(&key, req, next).await;
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
