//! The pooled HTTP clients that talk to upstreams: one per thread, shared by every action.
//!
//! Each of seam's workers is one thread with its own runtime; a worker's upstream
//! connections are made, pooled and driven on that thread, so a request and its upstream
//! connection never cross threads.

use std::sync::OnceLock;
use std::time::Duration;

use hyper_util::client::legacy::Client;
use hyper_util::rt::{TokioExecutor, TokioTimer};
use seam_core::Body;
use seam_core::client::{HttpConnector, HttpsConnector, https_connector};
use thread_local::ThreadLocal;

/// Keep-alive connections to upstreams, HTTP/1.1 or HTTP/2 (by ALPN over TLS).
pub type UpstreamClient = Client<HttpsConnector<HttpConnector>, Body>;

/// The connector (DNS, TCP, TLS) every pool shares, and the pools, one per thread.
type Shared = (HttpsConnector<HttpConnector>, ThreadLocal<UpstreamClient>);

/// The connection pools of this process, one per thread.
#[derive(Clone, Copy)]
pub struct Pools(&'static Shared);

static POOLS: OnceLock<Result<Shared, String>> = OnceLock::new();

impl Pools {
    /// The pools, with TLS to `https://` upstreams from the system's CAs (loaded once).
    pub fn get() -> Result<Pools, String> {
        match POOLS.get_or_init(|| https_connector().map(|c| (c, ThreadLocal::new()))) {
            Ok(pools) => Ok(Pools(pools)),
            Err(e) => Err(e.clone()),
        }
    }

    /// The calling thread's client.
    pub fn client(self) -> &'static UpstreamClient {
        let (connector, clients) = self.0;
        clients.get_or(|| {
            Client::builder(TokioExecutor::new())
                .pool_idle_timeout(Duration::from_secs(90))
                .pool_max_idle_per_host(1024)
                .pool_timer(TokioTimer::new())
                .timer(TokioTimer::new())
                .build(connector.clone())
        })
    }
}
