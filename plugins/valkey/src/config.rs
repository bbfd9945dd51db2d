use std::sync::Arc;

use async_trait::async_trait;
use schemars::JsonSchema;
use seam_registry::{BuildContext, BuildError, BuildStorage, ConfigError, GoDuration, Secret, Storage};
use serde::Deserialize;

use crate::storage::ValkeyStorage;

/// Keeps values in Valkey (or Redis, or a Valkey Cluster), shared by every gateway instance that points at it.
///
/// Every key is stored as `prefix + key`, verbatim; `reset` removes only keys under the
/// prefix (SCAN and UNLINK, never FLUSHDB). One multiplexed connection per storage is shared
/// by all its users and reconnects by itself after the server restarts.
#[derive(Clone, Debug, Deserialize, JsonSchema, seam_registry::Storage)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
#[seam(name = "plugins.valkey.storages.ValkeyStorage")]
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
    /// Password (AUTH); write `${VALKEY_PASSWORD}` to keep it out of the file. Never logged.
    #[serde(default)]
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
    /// Longest time to establish a connection.
    #[serde(default = "default_connect_timeout")]
    #[schemars(default = "default_connect_timeout")]
    pub connect_timeout: GoDuration,
    /// Longest time one operation may take, reconnecting included; then it fails.
    #[serde(default = "default_command_timeout")]
    #[schemars(default = "default_command_timeout")]
    pub command_timeout: GoDuration,
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

fn default_command_timeout() -> GoDuration {
    GoDuration::from_secs(2)
}

impl ValkeyStorageConfig {
    fn check_file(field: &str, path: &Option<String>) -> Result<(), ConfigError> {
        if let Some(path) = path
            && let Err(e) = std::fs::metadata(path)
        {
            return Err(ConfigError::field(format!("tls.{field}"), format!("cannot read `{path}`: {e}")));
        }
        Ok(())
    }
}

#[async_trait]
impl BuildStorage for ValkeyStorageConfig {
    fn validate(&self) -> Result<(), ConfigError> {
        if self.nodes.is_empty() {
            if self.host.trim().is_empty() {
                return Err(ConfigError::field("host", "host must be configured")
                    .help("set `host` and `port` of the Valkey server, or `nodes` for a cluster"));
            }
            if self.port == 0 {
                return Err(
                    ConfigError::field("port", "port must be configured").help("Valkey listens on 6379 by default")
                );
            }
        } else {
            for node in &self.nodes {
                let valid =
                    node.rsplit_once(':').is_some_and(|(h, p)| !h.is_empty() && p.parse::<u16>().is_ok_and(|p| p > 0));
                if !valid {
                    return Err(ConfigError::field("nodes", format!("cluster node `{node}` is not `host:port`")));
                }
            }
            if self.database != 0 {
                return Err(ConfigError::field("database", "a Valkey Cluster has only database 0"));
            }
        }
        if self.command_timeout.get().is_zero() {
            return Err(ConfigError::field("commandTimeout", "commandTimeout must be more than 0"));
        }
        if self.connect_timeout.get().is_zero() {
            return Err(ConfigError::field("connectTimeout", "connectTimeout must be more than 0"));
        }
        let tls = &self.tls;
        if tls.cert_file.is_some() != tls.key_file.is_some() {
            let field = if tls.cert_file.is_some() { "tls.keyFile" } else { "tls.certFile" };
            return Err(ConfigError::field(field, "mutual TLS needs both `certFile` and `keyFile`"));
        }
        if let Some(name) = &tls.server_name {
            let hosts: Vec<&str> = if self.nodes.is_empty() {
                vec![self.host.as_str()]
            } else {
                self.nodes.iter().filter_map(|n| n.rsplit_once(':').map(|(h, _)| h)).collect()
            };
            if hosts.iter().any(|h| h != name) {
                return Err(ConfigError::field("tls.serverName", format!(
                    "serverName `{name}` differs from the address connected to; the Valkey client verifies the certificate against the address itself"
                ))
                .help("connect by the name in the certificate (set `host` to it), or leave `serverName` out"));
            }
        }
        Self::check_file("caFile", &tls.ca_file)?;
        Self::check_file("certFile", &tls.cert_file)?;
        Self::check_file("keyFile", &tls.key_file)?;
        Ok(())
    }

    async fn build(&self, cx: &BuildContext<'_>) -> Result<Arc<dyn Storage>, BuildError> {
        Ok(Arc::new(ValkeyStorage::from_config(cx.name(), self).map_err(BuildError::new)?))
    }
}
