//! From a config to a Valkey client, and from a client to a shared connection.

use std::time::Duration;

use redis::aio::{ConnectionManager, ConnectionManagerConfig};
use redis::cluster::{ClusterClient, ClusterClientBuilder};
use redis::cluster_async::ClusterConnection;
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
    let certs = tls_certificates(config)?;
    let (host, port) = (config.host.clone(), config.port);
    let addr = match certs {
        Some(_) => ConnectionAddr::TcpTls { host, port, insecure: config.tls.insecure_skip_verify, tls_params: None },
        None => ConnectionAddr::Tcp(host, port),
    };
    let info = addr
        .into_connection_info()
        .map_err(|e| e.to_string())?
        .set_redis_settings(redis_settings(config).set_protocol(protocol));
    match &certs {
        Some(certs) => redis::Client::build_with_tls(info, certs.clone()),
        None => redis::Client::open(info),
    }
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
        if config.nodes.is_empty() {
            let client = standalone_client(config, ProtocolVersion::RESP2)?;
            let address = format!("{}:{}", config.host, config.port);
            return Ok((Target::Standalone { client: Box::new(client), address }, timeouts));
        }
        let certs = tls_certificates(config)?;
        let insecure = config.tls.insecure_skip_verify;
        let redis_info = redis_settings(config);
        let addr = |host: &str, port: u16| match certs {
            Some(_) => ConnectionAddr::TcpTls { host: host.to_owned(), port, insecure, tls_params: None },
            None => ConnectionAddr::Tcp(host.to_owned(), port),
        };
        let mut seeds = Vec::new();
        for node in &config.nodes {
            let (host, port) =
                node.rsplit_once(':').ok_or_else(|| format!("cluster node `{node}` is not `host:port`"))?;
            let port: u16 = port.parse().map_err(|_| format!("cluster node `{node}` has no valid port"))?;
            seeds.push(
                addr(host, port)
                    .into_connection_info()
                    .map_err(|e| e.to_string())?
                    .set_redis_settings(redis_info.clone()),
            );
        }
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
        if let Some(certs) = certs {
            builder =
                builder.tls(if insecure { redis::TlsMode::Insecure } else { redis::TlsMode::Secure }).certs(certs);
        }
        let client = builder.build().map_err(|e| format!("invalid Valkey Cluster settings: {e}"))?;
        Ok((Target::Cluster { client: Box::new(client), addresses: config.nodes.clone() }, timeouts))
    }

    /// `host:port`, or the cluster's seed nodes.
    pub fn describe(&self) -> String {
        match self {
            Target::Standalone { address, .. } => address.clone(),
            Target::Cluster { addresses, .. } => format!("cluster {}", addresses.join(", ")),
        }
    }

    /// Opens the shared connection.
    pub async fn connect(&self, timeouts: Timeouts) -> Result<Backend, RedisError> {
        match self {
            Target::Standalone { client, .. } => {
                let config = ConnectionManagerConfig::new()
                    .set_connection_timeout(Some(timeouts.connect))
                    .set_response_timeout(Some(timeouts.command))
                    .set_number_of_retries(1)
                    .set_min_delay(Duration::from_millis(50))
                    .set_max_delay(Duration::from_secs(1));
                Ok(Backend::Standalone(ConnectionManager::new_with_config((**client).clone(), config).await?))
            }
            Target::Cluster { client, .. } => Ok(Backend::Cluster(client.get_async_connection().await?)),
        }
    }
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
