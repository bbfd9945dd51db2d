use std::sync::Arc;

use schemars::JsonSchema;
use seam_core::{BuildContext, BuildError, Component, GoDuration, Problem, Problems, Secret, Storage, async_trait};
use serde::Deserialize;

use crate::storage::ValkeyStorage;

/// Keeps values in Valkey (or Redis, or a Valkey Cluster), shared by every gateway instance that points at it.
///
/// Every key is stored as `prefix + key`, verbatim; `reset` removes only keys under the
/// prefix (SCAN and UNLINK, never FLUSHDB). One multiplexed connection per storage is shared
/// by all its users and reconnects by itself after the server restarts.
#[seam_core::component(name = "plugins.valkey.storages.ValkeyStorage")]
#[derive(Clone, Debug)]
pub struct ValkeyStorageConfig {
    /// Prepended verbatim to every key: key `abc` with prefix `session_` is stored as `session_abc`.
    #[serde(default = "default_prefix")]
    #[schemars(default = "default_prefix")]
    pub prefix: String,
    /// Host name or IP address of the Valkey server. Not needed with `nodes`.
    #[serde(default)]
    pub host: String,
    /// Port of the Valkey server (usually 6379). Not needed with `nodes`.
    #[serde(default)]
    pub port: u16,
    /// ACL user name (Valkey/Redis 6+). Left out: the default user.
    #[serde(default)]
    pub username: Option<String>,
    /// Password (AUTH); write `${VALKEY_PASSWORD}` to keep it out of the file. Never logged. Leave the key out for no AUTH; a null or empty value is an error.
    #[serde(default, deserialize_with = "seam_core::secret::present")]
    pub password: Option<Secret>,
    /// Database index selected after connecting (standalone servers only).
    #[serde(default)]
    pub database: u16,
    /// TLS to the server.
    #[serde(default)]
    pub tls: TlsConfig,
    /// Seed nodes of a Valkey Cluster, `host:port` each; the rest are discovered.
    #[serde(default)]
    pub nodes: Vec<String>,
    /// Sentinels watching the primary, `host:port` each (with `masterName`): the primary is found through them, and found again after a failover. `host`/`port` are then not used.
    #[serde(default)]
    pub sentinels: Vec<String>,
    /// The name the sentinels monitor the primary under (`sentinel monitor <name> ...`).
    #[serde(default)]
    pub master_name: String,
    /// ACL user name for the sentinels, when they require one.
    #[serde(default)]
    pub sentinel_username: Option<String>,
    /// Password of the sentinels (their `requirepass`), when set; `${SENTINEL_PASSWORD}` keeps it out of the file. The data nodes use `username`/`password`.
    #[serde(default, deserialize_with = "seam_core::secret::present")]
    pub sentinel_password: Option<Secret>,
    /// After each write (set, delete, incr), wait until this many replicas have it (`WAIT`), so that a write acknowledged to the client survives the loss of the primary. 0: do not wait. Each write then takes a round trip to the replicas longer.
    #[serde(default)]
    pub wait_replicas: u32,
    /// Longest wait for `waitReplicas`; a write that fewer replicas confirmed within it fails (the request gets 503).
    #[serde(default = "default_wait_timeout")]
    #[schemars(default = "default_wait_timeout")]
    pub wait_timeout: GoDuration,
    /// Longest time to establish a connection.
    #[serde(default = "default_connect_timeout")]
    #[schemars(default = "default_connect_timeout")]
    pub connect_timeout: GoDuration,
    /// Longest time one operation may take, reconnecting included; then it fails.
    #[serde(default = "default_command_timeout")]
    #[schemars(default = "default_command_timeout")]
    pub command_timeout: GoDuration,
    /// Answer hot reads from this process, kept exact by Valkey's server-assisted invalidation
    /// (RESP3 `CLIENT TRACKING ... BCAST PREFIX`): a write or delete by any gateway evicts the
    /// value here within milliseconds. Off when left out. On a cluster every node is followed,
    /// behind sentinels the primary and every replica. Every write under the prefix is pushed
    /// to every gateway, so give sessions a storage (prefix) of their own rather than sharing
    /// one with the limiter.
    #[serde(default)]
    pub client_cache: Option<ClientCacheConfig>,
}

/// Local copies of hot values (`clientCache`).
#[derive(Clone, Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct ClientCacheConfig {
    /// Most values kept in this process (the least read ones go first).
    #[serde(default = "default_client_cache_entries")]
    #[schemars(default = "default_client_cache_entries")]
    pub max_entries: u64,
    /// Longest time a value is kept without being read from Valkey again (also bounded by
    /// the key's own TTL). Invalidation does not wait for it.
    #[serde(default = "default_client_cache_ttl")]
    #[schemars(default = "default_client_cache_ttl")]
    pub ttl: GoDuration,
}

fn default_client_cache_entries() -> u64 {
    10_000
}

fn default_client_cache_ttl() -> GoDuration {
    GoDuration::from_secs(60)
}

/// TLS settings of a Valkey connection (rustls).
#[derive(Clone, Debug, Default, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase", default)]
pub struct TlsConfig {
    /// Connect with TLS.
    pub enabled: bool,
    /// PEM file of the CA that signed the server's certificate. Left out: the system's CAs.
    pub ca_file: Option<String>,
    /// PEM client certificate, for mutual TLS (with `keyFile`).
    pub cert_file: Option<String>,
    /// PEM private key of `certFile`.
    pub key_file: Option<String>,
    /// Name the server's certificate must carry. The client checks the certificate against
    /// `host` (or each node's address), so this must equal it when set.
    pub server_name: Option<String>,
    /// Accept any server certificate (no verification at all). For tests only.
    pub insecure_skip_verify: bool,
}

fn default_prefix() -> String {
    "go:seam:".to_owned()
}

fn default_connect_timeout() -> GoDuration {
    GoDuration::from_secs(5)
}

fn default_wait_timeout() -> GoDuration {
    GoDuration(std::time::Duration::from_millis(500))
}

fn default_command_timeout() -> GoDuration {
    GoDuration::from_secs(2)
}

impl ValkeyStorageConfig {
    /// Every problem of the config, recorded in `problems`.
    fn check(&self, problems: &mut Problems) {
        let host_port = |node: &String| {
            node.rsplit_once(':').is_some_and(|(h, p)| !h.is_empty() && p.parse::<u16>().is_ok_and(|p| p > 0))
        };
        if !self.sentinels.is_empty() {
            problems.ensure(self.nodes.is_empty(), || {
                Problem::field(
                    "sentinels",
                    "give `sentinels` (a primary with replicas) or `nodes` (a cluster), not both",
                )
            });
            problems.ensure(!self.master_name.is_empty(), || {
                Problem::field("masterName", "masterName must be configured with `sentinels`")
                    .help("the name of `sentinel monitor <name> <host> <port> <quorum>` in the sentinels' config")
            });
            for sentinel in self.sentinels.iter().filter(|s| !host_port(s)) {
                problems.push(Problem::field("sentinels", format!("sentinel `{sentinel}` is not `host:port`")));
            }
            problems.ensure(self.tls.server_name.is_none(), || {
                Problem::field("tls.serverName", "the primary is discovered: serverName cannot be checked against it")
            });
        } else if self.nodes.is_empty() {
            problems.ensure(!self.host.trim().is_empty(), || {
                Problem::field("host", "host must be configured")
                    .help("set `host` and `port` of the Valkey server, or `nodes` for a cluster")
            });
            problems.ensure(self.port != 0, || {
                Problem::field("port", "port must be configured").help("Valkey listens on 6379 by default")
            });
        } else {
            for node in &self.nodes {
                let valid =
                    node.rsplit_once(':').is_some_and(|(h, p)| !h.is_empty() && p.parse::<u16>().is_ok_and(|p| p > 0));
                problems.ensure(valid, || Problem::field("nodes", format!("cluster node `{node}` is not `host:port`")));
            }
            problems.ensure(self.database == 0, || Problem::field("database", "a Valkey Cluster has only database 0"));
        }
        if let Some(cache) = &self.client_cache {
            problems.ensure(cache.max_entries > 0, || {
                Problem::field("clientCache.maxEntries", "maxEntries must be at least 1")
            });
            problems
                .ensure(!cache.ttl.get().is_zero(), || Problem::field("clientCache.ttl", "ttl must be more than 0"));
        }
        problems.ensure(!self.command_timeout.get().is_zero(), || {
            Problem::field("commandTimeout", "commandTimeout must be more than 0")
        });
        problems.ensure(!self.connect_timeout.get().is_zero(), || {
            Problem::field("connectTimeout", "connectTimeout must be more than 0")
        });
        let tls = &self.tls;
        if tls.cert_file.is_some() != tls.key_file.is_some() {
            let field = if tls.cert_file.is_some() { "tls.keyFile" } else { "tls.certFile" };
            problems.push(Problem::field(field, "mutual TLS needs both `certFile` and `keyFile`"));
        }
        if let Some(name) = &tls.server_name
            && self.sentinels.is_empty()
        {
            let hosts: Vec<&str> = if self.nodes.is_empty() {
                vec![self.host.as_str()]
            } else {
                self.nodes.iter().filter_map(|n| n.rsplit_once(':').map(|(h, _)| h)).collect()
            };
            problems.ensure(hosts.iter().all(|h| h == name), || {
                Problem::field("tls.serverName", format!(
                    "serverName `{name}` differs from the address connected to; the Valkey client verifies the certificate against the address itself"
                ))
                .help("connect by the name in the certificate (set `host` to it), or leave `serverName` out")
            });
        }
        for (field, path) in [("caFile", &tls.ca_file), ("certFile", &tls.cert_file), ("keyFile", &tls.key_file)] {
            if let Some(path) = path
                && let Err(e) = std::fs::metadata(path)
            {
                problems.push(Problem::field(&format!("tls.{field}"), format!("cannot read `{path}`: {e}")));
            }
        }
    }
}

#[async_trait]
impl Component for ValkeyStorageConfig {
    type Output = dyn Storage;

    async fn build(&self, cx: &BuildContext<'_>) -> Result<Arc<dyn Storage>, BuildError> {
        let mut problems = Problems::new();
        self.check(&mut problems);
        problems.into_result()?;
        Ok(Arc::new(ValkeyStorage::from_config(cx.name(), self).map_err(BuildError::new)?))
    }
}
