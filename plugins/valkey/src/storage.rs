use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use arc_swap::ArcSwapOption;
use bytes::Bytes;
use redis::aio::ConnectionLike;
use redis::cluster_routing::{RoutingInfo, SingleNodeRoutingInfo};
use redis::{Cmd, FromRedisValue, RedisError, Value};
use seam_core::storage::effective_ttl;
use seam_core::{Capabilities, Storage, StorageError, async_trait};

use crate::client_cache::ClientCache;
use crate::connect::{Backend, NodeSettings, Target, Timeouts, describe_error, standalone_client};
use crate::keys::escape_glob;
use crate::node_tracking::NodeTracking;

/// Keys fetched per SCAN step and removed per UNLINK.
const BATCH: usize = 500;

/// The runtime of `ValkeyStorage`: one lazily opened, shared, self-reconnecting connection.
pub struct ValkeyStorage {
    name: String,
    prefix: String,
    target: Target,
    timeouts: Timeouts,
    backend: ArcSwapOption<Backend>,
    /// The sentinels' switch count when `backend` was opened (see `Target::switches`).
    backend_switches: std::sync::atomic::AtomicU64,
    connecting: tokio::sync::Mutex<()>,
    closed: AtomicBool,
    incr_script: redis::Script,
    /// `clientCache`, with the servers whose invalidations it follows.
    client_cache: Option<(Arc<ClientCache>, Arc<NodeTracking>)>,
    /// The RESP3 client of subscriptions (a standalone server; not with `nodes`).
    pubsub: Option<redis::Client>,
    /// The subscriptions' tasks, ended by `close`.
    subscriptions: std::sync::Mutex<Vec<tokio::task::AbortHandle>>,
    /// `waitReplicas` and `waitTimeout`: writes wait for that many replicas.
    wait: Option<(u32, Duration)>,
}

/// `incr` with a TTL: EXISTS, INCRBY, and PEXPIRE only for a key this call created.
const INCR_SCRIPT: &str = r"
local created = redis.call('EXISTS', KEYS[1]) == 0
local value = redis.call('INCRBY', KEYS[1], ARGV[1])
if created then redis.call('PEXPIRE', KEYS[1], ARGV[2]) end
return value
";

impl ValkeyStorage {
    /// A storage called `name` (for messages) keeping keys under `prefix` at `target`.
    fn new(name: &str, prefix: String, (target, timeouts): (Target, Timeouts)) -> Self {
        ValkeyStorage {
            name: name.to_owned(),
            prefix,
            target,
            timeouts,
            backend: ArcSwapOption::empty(),
            backend_switches: std::sync::atomic::AtomicU64::new(0),
            connecting: tokio::sync::Mutex::new(()),
            closed: AtomicBool::new(false),
            incr_script: redis::Script::new(INCR_SCRIPT),
            client_cache: None,
            pubsub: None,
            subscriptions: std::sync::Mutex::new(Vec::new()),
            wait: None,
        }
    }

    /// A storage for `config` (validated), called `name` in messages; connects on first use.
    pub fn from_config(name: &str, config: &crate::ValkeyStorageConfig) -> Result<Self, String> {
        let mut storage = ValkeyStorage::new(name, config.prefix.clone(), Target::from_config(config)?);
        if let Some(cache) = &config.client_cache {
            let nodes = NodeSettings::from_config(config, redis::ProtocolVersion::RESP3)?;
            let servers = if let Some((sentinels, master_name)) = storage.target.sentinels() {
                NodeTracking::sentinels(sentinels.to_vec(), master_name.to_owned(), nodes)
            } else if !config.nodes.is_empty() {
                NodeTracking::cluster(&config.nodes, nodes)?
            } else {
                NodeTracking::standalone(config.host.clone(), config.port, nodes)
            };
            storage.client_cache = Some((
                Arc::new(ClientCache::new(name, config.prefix.clone(), cache.max_entries, cache.ttl.get())),
                Arc::new(servers),
            ));
        }
        if config.nodes.is_empty() && config.sentinels.is_empty() {
            storage.pubsub = Some(standalone_client(config, redis::ProtocolVersion::RESP3)?);
        }
        if config.wait_replicas > 0 {
            storage.wait = Some((config.wait_replicas, config.wait_timeout.get()));
        }
        Ok(storage)
    }

    /// The client cache, its invalidation connection started (on first use).
    fn client_cache(&self) -> Option<&ClientCache> {
        let (cache, servers) = self.client_cache.as_ref()?;
        if !cache.is_started() {
            cache.start(servers.clone(), (self.timeouts.connect, self.timeouts.command));
        }
        Some(cache)
    }

    /// Whether `clientCache` answers reads locally right now (its invalidation connection is
    /// up; on a cluster, every node's).
    pub fn client_cache_live(&self) -> bool {
        self.client_cache.as_ref().is_some_and(|(cache, _)| cache.is_live())
    }

    /// Drops `key` (without the prefix) from the client cache.
    fn forget(&self, key: &str) {
        if let Some((cache, _)) = &self.client_cache {
            cache.forget(key);
        }
    }

    fn key(&self, key: &str) -> String {
        let mut full = String::with_capacity(self.prefix.len() + key.len());
        full.push_str(&self.prefix);
        full.push_str(key);
        full
    }

    fn failure(&self, e: &RedisError) -> StorageError {
        let text = format!("Valkey at {}: {}", self.target.describe(), describe_error(e));
        let unreachable = e.is_io_error()
            || e.kind() == redis::ErrorKind::Server(redis::ServerErrorKind::ReadOnly)
            || e.is_connection_dropped()
            || e.is_connection_refusal()
            || e.is_timeout()
            || e.is_unrecoverable_error()
            || e.kind() == redis::ErrorKind::AuthenticationFailed;
        if unreachable {
            StorageError::Unavailable(text)
        } else if text.contains("not an integer") || text.contains("WRONGTYPE") {
            StorageError::InvalidValue(text)
        } else {
            StorageError::Backend(text)
        }
    }

    async fn backend(&self) -> Result<Backend, StorageError> {
        if self.closed.load(Ordering::Acquire) {
            return Err(StorageError::Closed);
        }
        // Behind sentinels, a connection opened before the last announced switch of primary is
        // left for one to the new primary.
        let current = |switches: u64| self.backend_switches.load(Ordering::Acquire) == switches;
        let switches = self.target.switches();
        if let Some(backend) = self.backend.load_full().filter(|_| current(switches)) {
            return Ok((*backend).clone());
        }
        let _guard = self.connecting.lock().await;
        let switches = self.target.switches();
        if let Some(backend) = self.backend.load_full().filter(|_| current(switches)) {
            return Ok((*backend).clone());
        }
        let backend = self.target.connect(self.timeouts).await.map_err(|e| self.failure(&e))?;
        self.backend_switches.store(switches, Ordering::Release);
        self.backend.store(Some(Arc::new(backend.clone())));
        Ok(backend)
    }

    /// Runs `op` on the shared connection. Opening the connection (first use only; later the
    /// connection reconnects by itself) is bounded by the connect timeout, the operation by
    /// the command timeout.
    async fn with<T, F, Fut>(&self, op: F) -> Result<T, StorageError>
    where
        F: FnOnce(Backend) -> Fut,
        Fut: Future<Output = Result<T, RedisError>>,
    {
        let backend = match tokio::time::timeout(self.timeouts.connect, self.backend()).await {
            Ok(backend) => backend?,
            Err(_) => return Err(self.timed_out("connecting", self.timeouts.connect)),
        };
        let outcome = match tokio::time::timeout(self.timeouts.command, op(backend)).await {
            Ok(result) => result.map_err(|e| self.failure(&e)),
            Err(_) => Err(self.timed_out("the operation", self.timeouts.command)),
        };
        // Behind sentinels, a lost or read-only primary may have been replaced: the next
        // operation asks the sentinels again.
        if self.target.rediscovers() && matches!(outcome, Err(StorageError::Unavailable(_) | StorageError::Timeout(_)))
        {
            self.backend.store(None);
        }
        outcome
    }

    /// With `waitReplicas`: waits until that many replicas have this connection's writes
    /// (the one to `full_key` included); fewer within `waitTimeout` is a failure.
    async fn replicated(&self, full_key: &str) -> Result<(), StorageError> {
        let Some((replicas, timeout)) = self.wait else { return Ok(()) };
        let mut cmd = redis::cmd("WAIT");
        cmd.arg(replicas).arg(millis(timeout).max(1));
        let routing = RoutingInfo::SingleNode(SingleNodeRoutingInfo::SpecificNode(
            redis::cluster_routing::Route::with_key(full_key, redis::cluster_routing::SlotAddr::Master),
        ));
        let confirmed: i64 = self.routed(cmd, routing).await?;
        if confirmed < i64::from(replicas) {
            return Err(StorageError::Unavailable(format!(
                "Valkey at {}: {confirmed} of {replicas} replicas confirmed the write within {timeout:?} (waitReplicas)",
                self.target.describe()
            )));
        }
        Ok(())
    }

    fn timed_out(&self, what: &str, after: Duration) -> StorageError {
        StorageError::Timeout(format!("Valkey at {}: {what} timed out after {after:?}", self.target.describe()))
    }

    /// `cmd` on the cluster node `routing` names (a standalone server: the server).
    async fn routed<T: FromRedisValue>(&self, cmd: Cmd, routing: RoutingInfo) -> Result<T, StorageError> {
        let value: Value = self
            .with(|backend| async move {
                match backend {
                    Backend::Cluster(mut c) => c.route_command(cmd, routing).await,
                    Backend::Standalone(mut c) => c.req_packed_command(&cmd).await,
                }
            })
            .await?;
        redis::from_redis_value(value).map_err(|e| StorageError::Backend(e.to_string()))
    }

    async fn query<T: FromRedisValue + Send>(&self, cmd: Cmd) -> Result<T, StorageError> {
        self.with(|backend| async move {
            match backend {
                Backend::Standalone(mut c) => cmd.query_async(&mut c).await,
                Backend::Cluster(mut c) => cmd.query_async(&mut c).await,
            }
        })
        .await
    }

    /// One SCAN step on one node (`None`: the standalone server).
    async fn scan_step(
        &self,
        node: Option<&(String, u16)>,
        cursor: u64,
        pattern: &str,
    ) -> Result<(u64, Vec<String>), StorageError> {
        let mut cmd = redis::cmd("SCAN");
        cmd.arg(cursor).arg("MATCH").arg(pattern).arg("COUNT").arg(BATCH);
        match node {
            None => self.query(cmd).await,
            Some((host, port)) => {
                let routing =
                    RoutingInfo::SingleNode(SingleNodeRoutingInfo::ByAddress { host: host.clone(), port: *port });
                self.routed(cmd, routing).await
            }
        }
    }

    /// The masters of the cluster (`[None]` for a standalone server).
    async fn nodes(&self) -> Result<Vec<Option<(String, u16)>>, StorageError> {
        if !matches!(self.target, Target::Cluster { .. }) {
            return Ok(vec![None]);
        }
        let text: String = self.query(redis::cmd("CLUSTER").arg("NODES").to_owned()).await?;
        let masters = crate::topology::cluster_nodes(&text)
            .into_iter()
            .filter(|node| node.master && !node.failed && !node.suspected)
            .map(|node| Some((node.host, node.port)))
            .collect();
        Ok(masters)
    }

    /// Every full key matching `pattern` (already prefixed and escaped), on every master,
    /// handed over in batches.
    async fn for_each_batch<F, Fut>(&self, pattern: &str, mut f: F) -> Result<(), StorageError>
    where
        F: FnMut(Vec<String>) -> Fut,
        Fut: Future<Output = Result<(), StorageError>>,
    {
        for node in self.nodes().await? {
            let mut cursor = 0;
            loop {
                let (next, keys) = self.scan_step(node.as_ref(), cursor, pattern).await?;
                if !keys.is_empty() {
                    f(keys).await?;
                }
                if next == 0 {
                    break;
                }
                cursor = next;
            }
        }
        Ok(())
    }
}

/// A TTL as whole milliseconds, at least 1 (a TTL is never sent as 0).
fn millis(ttl: Duration) -> u64 {
    u64::try_from(ttl.as_micros().div_ceil(1000)).unwrap_or(u64::MAX).max(1)
}

#[async_trait]
impl Storage for ValkeyStorage {
    async fn get(&self, key: &str) -> Result<Option<Bytes>, StorageError> {
        let Some(cache) = self.client_cache() else {
            let full = self.key(key);
            let get = redis::cmd("GET").arg(&full).to_owned();
            let value: Result<Option<Vec<u8>>, _> = self.query(get.clone()).await;
            // Behind sentinels, a read that met the old primary is read again from the one
            // the sentinels name now (a read is safe to repeat).
            let value = match value {
                Err(StorageError::Unavailable(_)) if self.target.rediscovers() => self.query(get).await?,
                other => other?,
            };
            return Ok(value.map(Bytes::from));
        };
        if let Some(value) = cache.lookup(key) {
            return Ok(value);
        }
        let full = self.key(key);
        let ticket = cache.ticket();
        // The value and how long it lives, in one round trip.
        let mut pipe = redis::pipe();
        pipe.cmd("GET").arg(&full).cmd("PTTL").arg(&full);
        let (value, pttl): (Option<Vec<u8>>, i64) = self
            .with(|backend| async move {
                match backend {
                    Backend::Standalone(mut c) => pipe.query_async(&mut c).await,
                    Backend::Cluster(mut c) => pipe.query_async(&mut c).await,
                }
            })
            .await?;
        let value = value.map(Bytes::from);
        cache.store(ticket, key.to_owned(), value.clone(), pttl);
        Ok(value)
    }

    /// With `clientCache`, a key this process holds a trusted copy of; nothing otherwise (and
    /// nothing is started: the first `get` starts the cache).
    fn get_now(&self, key: &str) -> Option<Result<Option<Bytes>, StorageError>> {
        let (cache, _) = self.client_cache.as_ref()?;
        cache.lookup_hit(key).map(Ok)
    }

    fn capabilities(&self) -> Capabilities {
        if self.pubsub.is_some() { Capabilities::ALL } else { Capabilities::KEYS }
    }

    fn owns_whole_server(&self) -> bool {
        self.prefix.is_empty()
    }

    fn endpoint(&self) -> Option<String> {
        self.target.found()
    }

    async fn set(&self, key: &str, value: Bytes, ttl: Option<Duration>) -> Result<(), StorageError> {
        let full = self.key(key);
        let mut cmd = redis::cmd("SET");
        cmd.arg(&full).arg(value.as_ref());
        if let Some(ttl) = effective_ttl(ttl) {
            cmd.arg("PX").arg(millis(ttl));
        }
        self.forget(key);
        let result = self.query::<()>(cmd).await;
        self.forget(key);
        result?;
        self.replicated(&full).await
    }

    async fn delete(&self, key: &str) -> Result<bool, StorageError> {
        let full = self.key(key);
        self.forget(key);
        let removed: Result<i64, _> = self.query(redis::cmd("UNLINK").arg(&full).to_owned()).await;
        self.forget(key);
        let removed = removed? > 0;
        self.replicated(&full).await?;
        Ok(removed)
    }

    async fn incr(&self, key: &str, delta: i64, ttl: Option<Duration>) -> Result<i64, StorageError> {
        self.forget(key);
        let key = self.key(key);
        let Some(ttl) = effective_ttl(ttl) else {
            let value = self.query(redis::cmd("INCRBY").arg(&key).arg(delta).to_owned()).await?;
            self.replicated(&key).await?;
            return Ok(value);
        };
        // One round trip, atomic (a script runs alone on the server): add, and set the TTL
        // only when this call created the key.
        let ms = millis(ttl);
        let script = &self.incr_script;
        let full = key.clone();
        let value = self
            .with(|backend| async move {
                let mut invocation = script.key(&key);
                invocation.arg(delta).arg(ms);
                match backend {
                    Backend::Standalone(mut c) => invocation.invoke_async(&mut c).await,
                    Backend::Cluster(mut c) => invocation.invoke_async(&mut c).await,
                }
            })
            .await?;
        self.replicated(&full).await?;
        Ok(value)
    }

    async fn scan(&self, pattern: &str) -> Result<Vec<String>, StorageError> {
        let full = format!("{}{pattern}", escape_glob(&self.prefix));
        let mut keys = Vec::new();
        self.for_each_batch(&full, |batch| {
            keys.extend(batch.into_iter().filter_map(|k| k.strip_prefix(&self.prefix).map(str::to_owned)));
            async { Ok(()) }
        })
        .await?;
        keys.sort();
        keys.dedup();
        Ok(keys)
    }

    async fn reset(&self) -> Result<(), StorageError> {
        if let Some((cache, _)) = &self.client_cache {
            cache.forget_all();
        }
        let pattern = format!("{}*", escape_glob(&self.prefix));
        self.for_each_batch(&pattern, |batch| async move {
            let mut cmd = redis::cmd("UNLINK");
            cmd.arg(batch);
            self.query::<i64>(cmd).await.map(drop)
        })
        .await
    }

    async fn ping(&self) -> Result<(), StorageError> {
        let answer: String = self.query(redis::cmd("PING")).await?;
        if answer == "PONG" {
            Ok(())
        } else {
            Err(StorageError::Backend(format!("storage `{}`: PING answered `{answer}`", self.name)))
        }
    }

    async fn publish(&self, channel: &str, message: Bytes) -> Result<(), StorageError> {
        if self.pubsub.is_none() {
            return Err(StorageError::Unsupported(seam_core::Capability::Broadcast));
        }
        let mut cmd = redis::cmd("PUBLISH");
        cmd.arg(self.key(channel)).arg(message.as_ref());
        self.query::<i64>(cmd).await.map(drop)
    }

    async fn subscribe(&self, channel: &str) -> Result<tokio::sync::mpsc::Receiver<Bytes>, StorageError> {
        let Some(client) = &self.pubsub else {
            return Err(StorageError::Unsupported(seam_core::Capability::Broadcast));
        };
        if self.closed.load(Ordering::Acquire) {
            return Err(StorageError::Closed);
        }
        let (tx, rx) = tokio::sync::mpsc::channel(64);
        let timeouts = (self.timeouts.connect, self.timeouts.command);
        let task = tokio::spawn(crate::pubsub::listen(client.clone(), self.key(channel), tx, timeouts));
        let mut subscriptions = self.subscriptions.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        subscriptions.retain(|t| !t.is_finished());
        subscriptions.push(task.abort_handle());
        Ok(rx)
    }

    async fn close(&self) -> Result<(), StorageError> {
        self.closed.store(true, Ordering::Release);
        self.backend.store(None);
        for task in self.subscriptions.lock().unwrap_or_else(std::sync::PoisonError::into_inner).drain(..) {
            task.abort();
        }
        if let Some((cache, _)) = &self.client_cache {
            cache.stop();
        }
        Ok(())
    }
}
