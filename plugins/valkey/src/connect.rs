//! From a config to a Valkey client, and from a client to a shared connection.

use std::time::Duration;

use redis::aio::{ConnectionManager, ConnectionManagerConfig};
use redis::cluster::{ClusterClient, ClusterClientBuilder};
use redis::cluster_async::ClusterConnection;
use redis::sentinel::{SentinelClient, SentinelClientBuilder, SentinelServerType};
use redis::{
    ClientTlsConfig, ConnectionAddr, IntoConnectionInfo, ProtocolVersion, RedisConnectionInfo, RedisError,
    TlsCertificates,
};

use crate::config::ValkeyStorageConfig;

/// Where a storage connects, with everything needed to (re)connect. Building it does not
/// touch the network.
pub enum Target {
    /// One server.
    Standalone { client: Box<redis::Client>, address: String },
    /// A Valkey Cluster, from seed nodes.
    Cluster { client: Box<ClusterClient>, addresses: Vec<String> },
    /// A primary found through sentinels (again after each failover).
    Sentinel(Box<SentinelTarget>),
}

/// Where a storage behind sentinels connects, and what it heard of failovers.
pub struct SentinelTarget {
    client: tokio::sync::Mutex<SentinelClient>,
    master_name: String,
    sentinels: Vec<String>,
    /// The primary found last, `host:port`.
    found: std::sync::Mutex<Option<String>>,
    /// RESP3 clients of the sentinels, to hear `+switch-master`.
    watchers: Vec<redis::Client>,
    /// Bumped on every `+switch-master` for `master_name` the sentinels announce.
    switches: std::sync::Arc<std::sync::atomic::AtomicU64>,
    /// Whether the announcements are being listened to.
    watching: std::sync::atomic::AtomicBool,
    /// The new primary the last `+switch-master` named: connected to directly, since a
    /// sentinel asked right after may still name the old one.
    announced: std::sync::Arc<std::sync::Mutex<Option<(String, u16)>>>,
    /// How to reach a data node at an address of its own.
    node: NodeSettings,
}

/// The primary a sentinel announcement about `name` names: `+switch-master` is
/// `<name> <old ip> <old port> <new ip> <new port>`, `+promoted-slave` is
/// `slave <ip:port> <ip> <port> @ <name> <old ip> <old port>`.
fn new_primary(text: &str, name: &str) -> Option<(String, u16)> {
    let fields: Vec<&str> = text.split(' ').collect();
    match fields[..] {
        [master, _, _, host, port] if master == name => Some((host.to_owned(), port.parse().ok()?)),
        ["slave", _, host, port, "@", master, _, _] if master == name => Some((host.to_owned(), port.parse().ok()?)),
        _ => None,
    }
}

/// The connection settings of the data nodes (credentials, database, TLS).
pub struct NodeSettings {
    info: RedisConnectionInfo,
    certs: Option<TlsCertificates>,
    insecure: bool,
}

impl NodeSettings {
    /// The settings of `config`'s data nodes (credentials, database, TLS), speaking `protocol`.
    pub fn from_config(config: &ValkeyStorageConfig, protocol: ProtocolVersion) -> Result<NodeSettings, String> {
        Ok(NodeSettings {
            info: redis_settings(config).set_protocol(protocol),
            certs: tls_certificates(config)?,
            insecure: config.tls.insecure_skip_verify,
        })
    }

    /// How `host:port` is dialled: over TLS when the settings have certificates.
    fn address(&self, host: &str, port: u16) -> ConnectionAddr {
        match self.certs {
            Some(_) => {
                ConnectionAddr::TcpTls { host: host.to_owned(), port, insecure: self.insecure, tls_params: None }
            }
            None => ConnectionAddr::Tcp(host.to_owned(), port),
        }
    }

    /// The connection info of the node at `host:port`.
    fn connection_info(&self, host: &str, port: u16) -> Result<redis::ConnectionInfo, RedisError> {
        Ok(self.address(host, port).into_connection_info()?.set_redis_settings(self.info.clone()))
    }

    /// A client of the node at `host:port`.
    pub fn client(&self, host: &str, port: u16) -> Result<redis::Client, RedisError> {
        let info = self.connection_info(host, port)?;
        match &self.certs {
            Some(certs) => redis::Client::build_with_tls(info, certs.clone()),
            None => redis::Client::open(info),
        }
    }
}

/// `host:port` of a configured `what` (a cluster node, a sentinel), already validated.
pub fn host_port(text: &str, what: &str) -> Result<(String, u16), String> {
    let (host, port) = text.rsplit_once(':').ok_or_else(|| format!("{what} `{text}` is not `host:port`"))?;
    let port = port.parse().map_err(|_| format!("{what} `{text}` has no valid port"))?;
    Ok((host.to_owned(), port))
}

/// A live connection, cheap to clone, multiplexing every caller's requests.
#[derive(Clone)]
pub enum Backend {
    /// Reconnects by itself after errors.
    Standalone(ConnectionManager),
    /// Follows the cluster's topology and reconnects by itself.
    Cluster(ClusterConnection),
}

/// The timeouts of a target.
#[derive(Clone, Copy, Debug)]
pub struct Timeouts {
    /// Establishing a connection.
    pub connect: Duration,
    /// One operation, end to end.
    pub command: Duration,
}

fn tls_certificates(config: &ValkeyStorageConfig) -> Result<Option<TlsCertificates>, String> {
    let tls = &config.tls;
    if !tls.enabled {
        return Ok(None);
    }
    // rustls needs a process-wide crypto provider; another part of seam may have set it.
    let _ = rustls::crypto::ring::default_provider().install_default();
    let read = |path: &str| std::fs::read(path).map_err(|e| format!("cannot read `{path}`: {e}"));
    let root_cert = tls.ca_file.as_deref().map(read).transpose()?;
    let client_tls = match (&tls.cert_file, &tls.key_file) {
        (Some(cert), Some(key)) => Some(ClientTlsConfig { client_cert: read(cert)?, client_key: read(key)? }),
        _ => None,
    };
    Ok(Some(TlsCertificates { client_tls, root_cert }))
}

/// A client of the standalone server of `config` speaking `protocol`.
pub fn standalone_client(config: &ValkeyStorageConfig, protocol: ProtocolVersion) -> Result<redis::Client, String> {
    NodeSettings::from_config(config, protocol)?
        .client(&config.host, config.port)
        .map_err(|e| format!("invalid Valkey settings: {e}"))
}

fn redis_settings(config: &ValkeyStorageConfig) -> RedisConnectionInfo {
    let mut redis_info = RedisConnectionInfo::default().set_db(i64::from(config.database));
    if let Some(user) = &config.username {
        redis_info = redis_info.set_username(user);
    }
    if let Some(password) = &config.password {
        redis_info = redis_info.set_password(password.expose());
    }
    redis_info
}

impl Target {
    /// The client for `config` (already validated).
    pub fn from_config(config: &ValkeyStorageConfig) -> Result<(Target, Timeouts), String> {
        let timeouts = Timeouts { connect: config.connect_timeout.get(), command: config.command_timeout.get() };
        if !config.sentinels.is_empty() {
            return Ok((sentinel_target(config)?, timeouts));
        }
        if config.nodes.is_empty() {
            let client = standalone_client(config, ProtocolVersion::RESP2)?;
            let address = format!("{}:{}", config.host, config.port);
            return Ok((Target::Standalone { client: Box::new(client), address }, timeouts));
        }
        let nodes = NodeSettings::from_config(config, ProtocolVersion::RESP2)?;
        let seeds = config
            .nodes
            .iter()
            .map(|node| {
                let (host, port) = host_port(node, "cluster node")?;
                nodes.connection_info(&host, port).map_err(|e| e.to_string())
            })
            .collect::<Result<Vec<_>, String>>()?;
        let mut builder = ClusterClientBuilder::new(seeds)
            .connection_timeout(timeouts.connect)
            .response_timeout(timeouts.command)
            .retries(2)
            .min_retry_wait(50)
            .max_retry_wait(500);
        if let Some(user) = &config.username {
            builder = builder.username(user);
        }
        if let Some(password) = &config.password {
            builder = builder.password(password.expose());
        }
        if let Some(certs) = nodes.certs {
            let mode = if nodes.insecure { redis::TlsMode::Insecure } else { redis::TlsMode::Secure };
            builder = builder.tls(mode).certs(certs);
        }
        let client = builder.build().map_err(|e| format!("invalid Valkey Cluster settings: {e}"))?;
        Ok((Target::Cluster { client: Box::new(client), addresses: config.nodes.clone() }, timeouts))
    }

    /// `host:port`, or the cluster's seed nodes.
    pub fn describe(&self) -> String {
        match self {
            Target::Standalone { address, .. } => address.clone(),
            Target::Cluster { addresses, .. } => format!("cluster {}", addresses.join(", ")),
            Target::Sentinel(target) => {
                let SentinelTarget { master_name, sentinels, found, .. } = &**target;
                let found = found.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
                match found.as_deref() {
                    Some(primary) => {
                        format!("primary {primary} of `{master_name}` (sentinels {})", sentinels.join(", "))
                    }
                    None => format!("`{master_name}` through sentinels {}", sentinels.join(", ")),
                }
            }
        }
    }

    /// RESP3 clients of the sentinels, and the name they watch the primary under (behind
    /// sentinels only).
    pub fn sentinels(&self) -> Option<(&[redis::Client], &str)> {
        match self {
            Target::Sentinel(sentinel) => Some((&sentinel.watchers, &sentinel.master_name)),
            _ => None,
        }
    }

    /// Whether the primary is found anew after connection failures (a failover moves it).
    pub fn rediscovers(&self) -> bool {
        matches!(self, Target::Sentinel(_))
    }

    /// How many times the sentinels announced a new primary: a connection opened under an
    /// older count talks to a primary that may have been demoted.
    pub fn switches(&self) -> u64 {
        match self {
            Target::Sentinel(target) => target.switches.load(std::sync::atomic::Ordering::Acquire),
            _ => 0,
        }
    }

    /// Listens (once) to every sentinel's announcements of a new primary.
    fn watch_switches(&self, timeouts: Timeouts) {
        let Target::Sentinel(target) = self else { return };
        let SentinelTarget { watchers, switches, watching, master_name, announced, .. } = &**target;
        if watching.swap(true, std::sync::atomic::Ordering::AcqRel) {
            return;
        }
        for client in watchers {
            // `+promoted-slave` comes as soon as the replica is a primary, `+switch-master` when
            // the sentinels have agreed; either names the new primary.
            for channel in ["+promoted-slave", "+switch-master"] {
                let (tx, mut rx) = tokio::sync::mpsc::channel(16);
                let listened = (timeouts.connect, timeouts.command);
                tokio::spawn(crate::pubsub::listen(client.clone(), channel.to_owned(), tx, listened));
                let (switches, name) = (std::sync::Arc::downgrade(switches), master_name.clone());
                let announced = announced.clone();
                tokio::spawn(async move {
                    let mut first = true;
                    while let Some(message) = rx.recv().await {
                        let Some(switches) = switches.upgrade() else { return };
                        // An empty message after the first subscription says announcements may
                        // have been missed: look again.
                        let resubscribed = message.is_empty() && !std::mem::take(&mut first);
                        let text = String::from_utf8_lossy(&message);
                        if let Some(primary) = new_primary(&text, &name) {
                            *announced.lock().unwrap_or_else(std::sync::PoisonError::into_inner) = Some(primary);
                            switches.fetch_add(1, std::sync::atomic::Ordering::AcqRel);
                        } else if resubscribed {
                            switches.fetch_add(1, std::sync::atomic::Ordering::AcqRel);
                        }
                    }
                });
            }
        }
    }

    /// What the sentinels named as primary, once they were asked.
    pub fn found(&self) -> Option<String> {
        let Target::Sentinel(target) = self else { return None };
        let asked = target.found.lock().unwrap_or_else(std::sync::PoisonError::into_inner).is_some();
        asked.then(|| self.describe())
    }

    /// Opens the shared connection.
    pub async fn connect(&self, timeouts: Timeouts) -> Result<Backend, RedisError> {
        let managed = |client: redis::Client| {
            let config = ConnectionManagerConfig::new()
                .set_connection_timeout(Some(timeouts.connect))
                .set_response_timeout(Some(timeouts.command))
                .set_number_of_retries(1)
                .set_min_delay(Duration::from_millis(50))
                .set_max_delay(Duration::from_secs(1));
            ConnectionManager::new_with_config(client, config)
        };
        match self {
            Target::Standalone { client, .. } => Ok(Backend::Standalone(managed((**client).clone()).await?)),
            Target::Cluster { client, .. } => Ok(Backend::Cluster(client.get_async_connection().await?)),
            Target::Sentinel(target) => {
                let SentinelTarget { client, found, announced, node, .. } = &**target;
                self.watch_switches(timeouts);
                let named = announced.lock().unwrap_or_else(std::sync::PoisonError::into_inner).take();
                let primary = match named {
                    Some((host, port)) => node.client(&host, port)?,
                    None => client.lock().await.async_get_client().await?,
                };
                let address = primary.get_connection_info().addr().to_string();
                let mut connection = managed(primary).await?;
                // A sentinel may still name a primary that was just demoted: refuse a replica.
                let role: Vec<redis::Value> = redis::cmd("ROLE").query_async(&mut connection).await?;
                if !matches!(role.first(), Some(redis::Value::BulkString(r)) if r == b"master") {
                    return Err(RedisError::from((
                        redis::ErrorKind::Io,
                        "the server the sentinels named is not a primary (a failover is under way)",
                    )));
                }
                *found.lock().unwrap_or_else(std::sync::PoisonError::into_inner) = Some(address);
                Ok(Backend::Standalone(connection))
            }
        }
    }
}

/// The sentinel target of `config` (validated): the data nodes take its username,
/// password, database and TLS; the sentinels their own credentials.
fn sentinel_target(config: &ValkeyStorageConfig) -> Result<Target, String> {
    let node = NodeSettings::from_config(config, ProtocolVersion::RESP2)?;
    let sentinels =
        config.sentinels.iter().map(|sentinel| host_port(sentinel, "sentinel")).collect::<Result<Vec<_>, _>>()?;
    let addresses: Vec<ConnectionAddr> = sentinels.iter().map(|(host, port)| node.address(host, *port)).collect();
    let mut builder = SentinelClientBuilder::new(addresses, config.master_name.clone(), SentinelServerType::Master)
        .map_err(|e| format!("invalid sentinel settings: {e}"))?
        .set_client_to_redis_db(i64::from(config.database));
    if let Some(user) = &config.username {
        builder = builder.set_client_to_redis_username(user);
    }
    if let Some(password) = &config.password {
        builder = builder.set_client_to_redis_password(password.expose());
    }
    if let Some(user) = &config.sentinel_username {
        builder = builder.set_client_to_sentinel_username(user);
    }
    if let Some(password) = &config.sentinel_password {
        builder = builder.set_client_to_sentinel_password(password.expose());
    }
    if let Some(certs) = node.certs.clone() {
        let mode = if node.insecure { redis::TlsMode::Insecure } else { redis::TlsMode::Secure };
        builder = builder
            .set_client_to_redis_tls_mode(mode)
            .set_client_to_sentinel_tls_mode(mode)
            .set_client_to_redis_certificates(certs);
    }
    let client = builder.build().map_err(|e| format!("invalid sentinel settings: {e}"))?;
    // RESP3 clients of the sentinels (their own credentials, the storage's TLS), to hear
    // their announcements and to ask them for the primary and its replicas.
    let mut sentinel_info = RedisConnectionInfo::default().set_protocol(ProtocolVersion::RESP3);
    if let Some(user) = &config.sentinel_username {
        sentinel_info = sentinel_info.set_username(user);
    }
    if let Some(password) = &config.sentinel_password {
        sentinel_info = sentinel_info.set_password(password.expose());
    }
    let to_sentinels = NodeSettings { info: sentinel_info, certs: node.certs.clone(), insecure: node.insecure };
    let watchers = sentinels
        .iter()
        .map(|(host, port)| to_sentinels.client(host, *port).map_err(|e| format!("invalid sentinel settings: {e}")))
        .collect::<Result<Vec<_>, _>>()?;
    Ok(Target::Sentinel(Box::new(SentinelTarget {
        client: tokio::sync::Mutex::new(client),
        master_name: config.master_name.clone(),
        sentinels: config.sentinels.clone(),
        found: std::sync::Mutex::new(None),
        watchers,
        switches: std::sync::Arc::new(std::sync::atomic::AtomicU64::new(0)),
        watching: std::sync::atomic::AtomicBool::new(false),
        announced: std::sync::Arc::new(std::sync::Mutex::new(None)),
        node,
    })))
}

/// The cause of a failure in words an operator acts on.
pub fn describe_error(e: &RedisError) -> String {
    let text = e.to_string();
    let lower = text.to_ascii_lowercase();
    if e.kind() == redis::ErrorKind::AuthenticationFailed
        || lower.contains("wrongpass")
        || lower.contains("noauth")
        || lower.contains("invalid username-password")
    {
        return format!("authentication failed ({text})");
    }
    if lower.contains("ssl") || lower.contains("tls") || lower.contains("certificate") || lower.contains("handshake") {
        return format!("TLS handshake failed ({text})");
    }
    if e.is_connection_refusal() || lower.contains("connection refused") {
        return format!("connection refused ({text})");
    }
    if e.is_timeout() || lower.contains("timed out") {
        return format!("timed out ({text})");
    }
    text
}
