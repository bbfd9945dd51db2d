//! The gateway's Prometheus metrics: the families, registered once per process, and the
//! handles components take when the graph is built (a request never looks a metric up by
//! its labels). `server.metrics` decides whether they are served, whether the host counts
//! requests per route and whether storage operations are timed (the resolver wraps storages
//! in [`InstrumentedStorage`] only then); the components' counters (upstreams, sessions,
//! limiter, cache) always count, at the cost of an atomic add each.

mod histogram;
mod requests;
mod sharded;
mod storage;

use std::sync::LazyLock;
use std::sync::atomic::AtomicU64;

use prometheus_client::encoding::text::encode;
use prometheus_client::metrics::family::Family;
use prometheus_client::registry::{Registry, Unit};

pub use histogram::Histogram;
pub use prometheus_client::metrics::counter::Counter;
pub use prometheus_client::metrics::gauge::Gauge;
pub use requests::RequestMetrics;
pub use sharded::ShardedCounter;
pub use storage::{InstrumentedStorage, StorageMetrics};

/// A label set: names and values.
pub type Labels = Vec<(&'static str, String)>;
type Histograms = Family<Labels, Histogram, fn() -> Histogram>;

/// Request and upstream durations: 0.5 ms to 60 s.
const SECONDS_BUCKETS: [f64; 16] =
    [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0];
/// Storage operations: 0.1 ms to 5 s.
const STORAGE_BUCKETS: [f64; 12] = [0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 1.0, 5.0];

fn seconds_histogram() -> Histogram {
    Histogram::new(&SECONDS_BUCKETS)
}

fn storage_histogram() -> Histogram {
    Histogram::new(&STORAGE_BUCKETS)
}

/// Every family of the process.
pub struct Families {
    requests: Family<Labels, Counter>,
    request_duration: Histograms,
    upstream_duration: Histograms,
    upstream_errors: Family<Labels, Counter>,
    upstream_up: Family<Labels, Gauge>,
    storage_operations: Family<Labels, Counter>,
    storage_duration: Histograms,
    storage_up: Family<Labels, Gauge>,
    sessions: Family<Labels, Counter>,
    limiter: Family<Labels, Counter>,
    cache: Family<Labels, Counter>,
    client_cache: Family<Labels, ShardedCounter>,
    client_cache_live: Family<Labels, Gauge>,
    connections: Family<Labels, Gauge>,
    build_info: Family<Labels, Gauge>,
    log_dropped: Family<Labels, Counter>,
    reloads: Family<Labels, Counter>,
    last_reload: Gauge<f64, AtomicU64>,
}

struct Metrics {
    families: Families,
    registry: Registry,
}

static METRICS: LazyLock<Metrics> = LazyLock::new(|| {
    let families = Families {
        requests: Family::default(),
        request_duration: Family::new_with_constructor(seconds_histogram),
        upstream_duration: Family::new_with_constructor(seconds_histogram),
        upstream_errors: Family::default(),
        upstream_up: Family::default(),
        storage_operations: Family::default(),
        storage_duration: Family::new_with_constructor(storage_histogram),
        storage_up: Family::default(),
        sessions: Family::default(),
        limiter: Family::default(),
        cache: Family::default(),
        client_cache: Family::default(),
        client_cache_live: Family::default(),
        connections: Family::default(),
        build_info: Family::default(),
        log_dropped: Family::default(),
        reloads: Family::default(),
        last_reload: Gauge::default(),
    };
    let mut registry = Registry::default();
    let f = &families;
    registry.register(
        "seam_http_requests",
        "Requests answered, by route, service, method and status",
        f.requests.clone(),
    );
    registry.register_with_unit(
        "seam_http_request_duration",
        "Time from the request's arrival to its response head, by route",
        Unit::Seconds,
        f.request_duration.clone(),
    );
    registry.register_with_unit(
        "seam_upstream_request_duration",
        "Time from sending to an upstream to its response head, by action and endpoint",
        Unit::Seconds,
        f.upstream_duration.clone(),
    );
    registry.register(
        "seam_upstream_errors",
        "Upstream calls that failed, by action, endpoint and kind (connect, timeout, reset)",
        f.upstream_errors.clone(),
    );
    registry.register(
        "seam_upstream_endpoint_up",
        "1 while a balancer takes the endpoint, 0 while it is marked down",
        f.upstream_up.clone(),
    );
    registry.register(
        "seam_storage_operations",
        "Storage operations, by storage, operation and outcome (ok, error)",
        f.storage_operations.clone(),
    );
    registry.register_with_unit(
        "seam_storage_operation_duration",
        "Duration of storage operations, by storage and operation",
        Unit::Seconds,
        f.storage_duration.clone(),
    );
    registry.register("seam_storage_up", "1 when the storage's last operation or ping succeeded", f.storage_up.clone());
    registry.register(
        "seam_sessions",
        "Session events, by middleware (created, renewed, destroyed)",
        f.sessions.clone(),
    );
    registry.register(
        "seam_limiter_requests",
        "Limiter decisions, by middleware (allowed, rejected)",
        f.limiter.clone(),
    );
    registry.register(
        "seam_cache_requests",
        "Cache outcomes, by middleware (hit, miss, stored, bypass)",
        f.cache.clone(),
    );
    registry.register(
        "seam_storage_client_cache_lookups",
        "Reads answered from a storage's client-side cache (hit) or not (miss)",
        f.client_cache.clone(),
    );
    registry.register(
        "seam_storage_client_cache_live",
        "1 while the storage's clientCache answers reads locally (every invalidation connection up), 0 otherwise",
        f.client_cache_live.clone(),
    );
    registry.register(
        "seam_open_connections",
        "Open client connections, by protocol (http, https)",
        f.connections.clone(),
    );
    registry.register("seam_build_info", "Build information: version and enabled plugins", f.build_info.clone());
    registry.register(
        "seam_log_lines_dropped",
        "Log lines dropped because their output (stderr, stdout or a file) could not keep up, by output",
        f.log_dropped.clone(),
    );
    registry.register("seam_config_reloads", "Configuration reloads, by result (success, error)", f.reloads.clone());
    registry.register(
        "seam_config_last_reload_timestamp_seconds",
        "Unix time of the last successful reload (or of the start)",
        f.last_reload.clone(),
    );
    Metrics { families, registry }
});

fn families() -> &'static Families {
    &METRICS.families
}

/// The exposition of every metric, OpenMetrics text.
pub fn exposition() -> String {
    let mut out = String::new();
    // Writing into a String cannot fail.
    let _ = encode(&mut out, &METRICS.registry);
    out
}

/// The content type of [`exposition`].
pub const CONTENT_TYPE: &str = "application/openmetrics-text; version=1.0.0; charset=utf-8";

/// The handles of one upstream endpoint of an action.
#[derive(Clone, Debug)]
pub struct UpstreamMetrics {
    /// `seam_upstream_request_duration_seconds`.
    pub duration: Histogram,
    /// `seam_upstream_errors_total` with `kind` connect, timeout, reset.
    pub connect: Counter,
    pub timeout: Counter,
    pub reset: Counter,
    /// `seam_upstream_endpoint_up`.
    pub up: Gauge,
}

impl UpstreamMetrics {
    /// The handles of `endpoint` of action `action`.
    pub fn new(action: &str, endpoint: &str) -> UpstreamMetrics {
        let f = families();
        let labels = || vec![("action", action.to_owned()), ("endpoint", endpoint.to_owned())];
        let error = |kind: &'static str| {
            let mut l = labels();
            l.push(("kind", kind.to_owned()));
            f.upstream_errors.get_or_create_owned(&l)
        };
        UpstreamMetrics {
            duration: f.upstream_duration.get_or_create_owned(&labels()),
            connect: error("connect"),
            timeout: error("timeout"),
            reset: error("reset"),
            up: f.upstream_up.get_or_create_owned(&labels()),
        }
    }

    /// Counts a failure of `kind` (`connect`, `timeout`, anything else is `reset`).
    pub fn failed(&self, kind: &str) {
        match kind {
            "connect" => self.connect.inc(),
            "timeout" => self.timeout.inc(),
            _ => self.reset.inc(),
        };
    }
}

/// Families of component events, each counted per component.
#[derive(Clone, Copy, Debug)]
pub enum Events {
    /// `seam_sessions_total{middleware,event}`: created, renewed, destroyed.
    Sessions,
    /// `seam_limiter_requests_total{middleware,outcome}`: allowed, rejected.
    Limiter,
    /// `seam_cache_requests_total{middleware,outcome}`: hit, miss, stored, bypass.
    Cache,
}

/// `seam_storage_client_cache_lookups_total{storage,outcome}` (hit, miss) of `storage`:
/// counted per thread, since a hit is a hot path of every worker.
pub fn client_cache_counter(storage: &str, outcome: &'static str) -> ShardedCounter {
    families().client_cache.get_or_create_owned(&vec![("storage", storage.to_owned()), ("outcome", outcome.to_owned())])
}

/// `seam_storage_client_cache_live{storage}`: 1 while `storage` answers reads locally.
pub fn client_cache_live(storage: &str) -> Gauge {
    families().client_cache_live.get_or_create_owned(&vec![("storage", storage.to_owned())])
}

impl Events {
    /// The counter of `event` for `component`: take it at build, keep it.
    pub fn counter(self, component: &str, event: &'static str) -> Counter {
        let f = families();
        let (family, who, what) = match self {
            Events::Sessions => (&f.sessions, "middleware", "event"),
            Events::Limiter => (&f.limiter, "middleware", "outcome"),
            Events::Cache => (&f.cache, "middleware", "outcome"),
        };
        family.get_or_create_owned(&vec![(who, component.to_owned()), (what, event.to_owned())])
    }
}

/// `seam_open_connections{protocol}`.
pub fn open_connections(protocol: &'static str) -> Gauge {
    families().connections.get_or_create_owned(&vec![("protocol", protocol.to_owned())])
}

/// `seam_log_lines_dropped_total{output}`: take it when the output is opened, keep it.
pub fn log_lines_dropped(output: &str) -> Counter {
    families().log_dropped.get_or_create_owned(&vec![("output", output.to_owned())])
}

/// Sets `seam_build_info{version,plugins}` to 1.
pub fn set_build_info(version: &str, plugins: &str) {
    let labels = vec![("version", version.to_owned()), ("plugins", plugins.to_owned())];
    families().build_info.get_or_create_owned(&labels).set(1);
}

/// Counts a reload (`success` or `error`); a success also sets the last reload's time.
pub fn reloaded(result: &'static str) {
    families().reloads.get_or_create_owned(&vec![("result", result.to_owned())]).inc();
    if result == "success" {
        families().last_reload.set(crate::unix_ms() as f64 / 1000.0);
    }
}

/// Sets the last reload's time to now (at start).
pub fn started() {
    families().last_reload.set(crate::unix_ms() as f64 / 1000.0);
    // Both results appear from the start, at 0.
    for result in ["success", "error"] {
        let _ = families().reloads.get_or_create_owned(&vec![("result", result.to_owned())]);
    }
}
