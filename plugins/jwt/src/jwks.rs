//! `jwkUrls`: key sets fetched over HTTP(S), cached, refreshed on a timer and on an unknown
//! `kid` (no more often than the minimum interval), the last good set kept when a refresh
//! fails.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use arc_swap::ArcSwap;
use http_body_util::{BodyExt, Empty};
use hyper_util::client::legacy::Client;
use hyper_util::rt::TokioExecutor;
use jsonwebtoken::DecodingKey;
use jsonwebtoken::jwk::{JwkSet, PublicKeyUse};
use seam_core::client::{HttpConnector, HttpsConnector, https_connector};

use crate::keys::Key;

/// Largest key set document accepted.
const MAX_JWKS_BYTES: usize = 1024 * 1024;
/// Longest a fetch of one URL may take.
const FETCH_TIMEOUT: Duration = Duration::from_secs(10);

type HttpClient = Client<HttpsConnector<HttpConnector>, Empty<bytes::Bytes>>;

/// The keys of every `jwkUrls` set, by `kid`.
pub struct Jwks {
    urls: Vec<http::Uri>,
    client: HttpClient,
    keys: ArcSwap<HashMap<String, Key>>,
    /// When the last fetch started (successful or not).
    last_fetch: Mutex<Option<Instant>>,
    refreshing: tokio::sync::Mutex<()>,
    min_interval: Duration,
}

impl Jwks {
    /// Key sets at `urls` (checked: http or https), none fetched yet.
    pub fn new(urls: Vec<http::Uri>, min_interval: Duration) -> Result<Jwks, String> {
        let connector = https_connector()?;
        Ok(Jwks {
            urls,
            client: Client::builder(TokioExecutor::new()).build(connector),
            keys: ArcSwap::from_pointee(HashMap::new()),
            last_fetch: Mutex::new(None),
            refreshing: tokio::sync::Mutex::new(()),
            min_interval,
        })
    }

    /// The key `kid`, fetching the sets again first when it is unknown and the last fetch
    /// is older than the minimum interval (one fetch for many waiting requests).
    pub async fn key(&self, kid: &str) -> Option<Key> {
        if let Some(key) = self.keys.load().get(kid) {
            return Some(key.clone());
        }
        let _one_at_a_time = self.refreshing.lock().await;
        if let Some(key) = self.keys.load().get(kid) {
            return Some(key.clone());
        }
        let due = self
            .last_fetch
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .is_none_or(|at| at.elapsed() >= self.min_interval);
        if due {
            self.refresh().await;
        }
        self.keys.load().get(kid).cloned()
    }

    /// Fetches every set; on success replaces the keys, else keeps the last good ones.
    pub async fn refresh(&self) {
        *self.last_fetch.lock().unwrap_or_else(std::sync::PoisonError::into_inner) = Some(Instant::now());
        let mut keys = HashMap::new();
        for url in &self.urls {
            match self.fetch(url).await {
                Ok(set) => keys.extend(set),
                Err(e) => {
                    tracing::warn!(jwks = %seam_core::secret::mask_url_credentials(&url.to_string()), "JWKS not refreshed, keeping the last good keys: {e}");
                    return;
                }
            }
        }
        self.keys.store(Arc::new(keys));
    }

    async fn fetch(&self, url: &http::Uri) -> Result<HashMap<String, Key>, String> {
        let request = http::Request::get(url.clone()).body(Empty::new()).map_err(|e| e.to_string())?;
        let response = tokio::time::timeout(FETCH_TIMEOUT, self.client.request(request))
            .await
            .map_err(|_| format!("no answer within {FETCH_TIMEOUT:?}"))?
            .map_err(|e| e.to_string())?;
        if response.status() != http::StatusCode::OK {
            return Err(format!("status {}", response.status()));
        }
        let limited = http_body_util::Limited::new(response.into_body(), MAX_JWKS_BYTES);
        let body = tokio::time::timeout(FETCH_TIMEOUT, limited.collect())
            .await
            .map_err(|_| "the body did not arrive in time".to_owned())?
            .map_err(|e| e.to_string())?
            .to_bytes();
        let set: JwkSet = serde_json::from_slice(&body).map_err(|e| format!("not a JWK set: {e}"))?;
        let mut keys = HashMap::new();
        for jwk in &set.keys {
            let Some(kid) = jwk.common.key_id.clone() else { continue };
            if matches!(jwk.common.public_key_use, Some(PublicKeyUse::Encryption | PublicKeyUse::Other(_))) {
                continue;
            }
            let Ok(key) = DecodingKey::from_jwk(jwk) else { continue };
            let algorithm = jwk
                .common
                .key_algorithm
                .and_then(|a| serde_json::to_value(a).ok())
                .and_then(|v| v.as_str().and_then(|s| s.parse().ok()));
            keys.insert(kid, Key { key, algorithm });
        }
        Ok(keys)
    }

    /// Refreshes every `interval` for as long as the set lives.
    pub fn keep_fresh(self: &Arc<Self>, interval: Duration) {
        let weak = Arc::downgrade(self);
        tokio::spawn(async move {
            loop {
                tokio::time::sleep(interval).await;
                let Some(jwks) = weak.upgrade() else { return };
                let _one_at_a_time = jwks.refreshing.lock().await;
                jwks.refresh().await;
            }
        });
    }
}
