//! The `server:` section: Seam's keys and defaults.

use std::net::IpAddr;

use ipnet::IpNet;
use rustls_pki_types::pem::PemObject;
use rustls_pki_types::{CertificateDer, PrivateKeyDer};
use schemars::JsonSchema;
use seam_core::GoDuration;
use serde::{Deserialize, Serialize};

use super::node::Node;
use crate::diagnostic::{Diagnostic, Loc};

/// How the gateway listens and serves. Keys and defaults follow Seam's `server.yaml`.
#[derive(Clone, Debug, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase", default)]
pub struct ServerConfig {
    /// Address and port to listen on.
    pub address: String,
    /// Serve HTTPS (HTTP/2 by ALPN) with `certFile` and `keyFile`.
    pub tls: bool,
    /// PEM certificate chain used when `tls` is true.
    pub cert_file: String,
    /// PEM private key used when `tls` is true.
    pub key_file: String,
    /// Turns off the built-in liveness and readiness routes.
    pub disable_health_check: bool,
    /// Path of the liveness route (always 200 while the process serves).
    pub health_check_live_route: String,
    /// Path of the readiness route (200 when every storage answers, else 503).
    pub health_check_ready_route: String,
    /// Largest request body accepted, in bytes; larger requests get 413.
    pub body_limit: u64,
    /// Longest time to read a whole request; `0s` means no limit.
    pub read_timeout: GoDuration,
    /// Longest time to write a response; `0s` means no limit.
    pub write_timeout: GoDuration,
    /// How long a connection with no request in flight stays open (HTTP/1.1 keep-alive and HTTP/2, whose pings do not count as activity); `0s` means no limit. A kept-alive HTTP/1.1 connection is also closed after `headerTimeout` without a request. nginx: `keepalive_timeout` 75s.
    pub idle_timeout: GoDuration,
    /// Longest time a client may take to send a request's headers (also between requests on a kept-alive connection), whatever `readTimeout` says: a client that connects and sends nothing, or half a request line, is closed after it. nginx: `client_header_timeout` 60s.
    pub header_timeout: GoDuration,
    /// Longest time a TLS handshake may take.
    pub tls_handshake_timeout: GoDuration,
    /// Most open connections, all workers together (Seam/Fiber's `concurrency`). Past it, the connection idle the longest is closed to make room; when every connection has a request in flight, new connections are refused (closed at once). Requests in flight are never disturbed.
    pub concurrency: u64,
    /// HTTP/1.1: largest request head (request line and headers) a client may send, in bytes, at least 8192; a larger one gets 431. It also caps what a connection buffers while its headers arrive. nginx: `large_client_header_buffers` (4 × 8k); Seam/Fiber: `readBufferSize` (4096).
    #[schemars(range(min = 8192))]
    pub http1_max_header_size: u32,
    /// HTTP/2: most streams one connection may have open at once.
    pub http2_max_concurrent_streams: u32,
    /// HTTP/2: largest header list a client may send, in bytes.
    pub http2_max_header_list_size: u32,
    /// HTTP/2 (h2 and h2c): how often an idle connection is pinged; a peer that does not answer within `http2KeepAliveTimeout` is disconnected. `0s`: no pings.
    pub http2_keep_alive_interval: GoDuration,
    /// HTTP/2: how long to wait for a ping's answer.
    pub http2_keep_alive_timeout: GoDuration,
    /// Addresses or CIDR blocks of proxies whose `X-Forwarded-For` is believed.
    pub trusted_proxies: Vec<String>,
    /// Accept `%2F` and `%5C` (an encoded `/` or `\`) inside a path segment, passed to the upstream still encoded. Off: such a path is a 400, because upstreams disagree on whether they split on them.
    pub allow_encoded_slashes: bool,
    /// Accept `;` in a path (matrix parameters). Off: such a path is a 400, because Tomcat and Jetty strip `;...` and read `..;` as `..`, so `/admin;x` would reach `/admin` past the middlewares of another route.
    pub allow_path_parameters: bool,
    /// Accept request headers whose names contain `_`. Off (as nginx's `underscores_in_headers`): they are dropped before anything reads them, because CGI-style upstreams (PHP, WSGI, Rack) read `X_User_Id` and `X-User-Id` as one variable, so a client could send a header the gateway strips or sets (`X-Forwarded-For`, a session's or a token's user header) under another spelling. Turn it on when clients send such headers that a middleware or the upstream must read (an `api_key`, say). `seam check` warns where a component is told to read one while this is off.
    pub underscores_in_headers: bool,
    /// Name of the application, shown in the startup message.
    pub app_name: String,
    /// Do not log the startup message.
    pub disable_startup_message: bool,
    /// On SIGINT/SIGTERM, how long in-flight requests may take to finish.
    pub shutdown_timeout: GoDuration,
    /// Match routes with letter case (`/Users` is not `/users`). Off by default, as in Seam: routes match whatever the case, and the upstream still gets the path as sent.
    pub case_sensitive: bool,
    /// Tell `/a` and `/a/` apart. Off by default, as in Seam: a trailing slash is ignored when matching (the upstream still gets the path as sent).
    pub strict_routing: bool,
    /// A header that carries the client's IP address (e.g. `X-Real-IP`, `CF-Connecting-IP`), believed only from `trustedProxies`; from anyone else it is removed. Empty: `X-Forwarded-For` decides.
    pub proxy_header: String,
    /// Prometheus metrics (OpenMetrics text) on a listener of their own, never on the public port; off unless set. `{}` serves them on `127.0.0.1:9464` at `/metrics`.
    pub metrics: Option<MetricsConfig>,
}

/// Where the Prometheus metrics are served.
#[derive(Clone, Debug, Deserialize, Serialize, JsonSchema, PartialEq, Eq)]
#[serde(deny_unknown_fields, rename_all = "camelCase", default)]
pub struct MetricsConfig {
    /// Address and port of the metrics listener (keep it private: loopback, or a network only Prometheus reaches).
    pub address: String,
    /// Path the metrics are served at.
    pub path: String,
}

impl Default for MetricsConfig {
    fn default() -> Self {
        MetricsConfig { address: "127.0.0.1:9464".into(), path: "/metrics".into() }
    }
}

impl Default for ServerConfig {
    fn default() -> Self {
        ServerConfig {
            address: "0.0.0.0:8090".into(),
            tls: false,
            cert_file: "/certs/server.cert".into(),
            key_file: "/certs/server.key".into(),
            case_sensitive: false,
            strict_routing: false,
            proxy_header: String::new(),
            metrics: None,
            disable_health_check: false,
            health_check_live_route: "/health/live".into(),
            health_check_ready_route: "/health/ready".into(),
            body_limit: 4_194_304,
            read_timeout: GoDuration::default(),
            write_timeout: GoDuration::default(),
            idle_timeout: GoDuration::from_secs(75),
            header_timeout: GoDuration::from_secs(30),
            tls_handshake_timeout: GoDuration::from_secs(10),
            concurrency: 262_144,
            http2_max_concurrent_streams: 100,
            http2_max_header_list_size: 65_536,
            http1_max_header_size: 65_536,
            http2_keep_alive_interval: GoDuration::from_secs(30),
            http2_keep_alive_timeout: GoDuration::from_secs(20),
            trusted_proxies: Vec::new(),
            allow_encoded_slashes: false,
            allow_path_parameters: false,
            underscores_in_headers: false,
            app_name: String::new(),
            disable_startup_message: false,
            shutdown_timeout: GoDuration::from_secs(30),
        }
    }
}

/// The smallest `http1MaxHeaderSize`: hyper's HTTP/1.1 read buffer cannot be smaller.
pub const MIN_HTTP1_HEADER_SIZE: u32 = 8192;

/// The Seam/Fiber keys seam accepts and ignores, each with what to know about it. The loader
/// warns on each and leaves it out; the schema marks each deprecated. Listed here only.
pub const IGNORED_KEYS: &[(&str, &str)] = &[
    ("prefork", "fork one process per core; seam serves every core from one process (`seam run --workers`)"),
    ("reduceMemoryUsage", ""),
    ("streamRequestBody", "seam always streams request bodies"),
    ("compressedFileSuffix", ""),
    ("unescapePath", ""),
    ("getOnly", ""),
    ("GETOnly", ""),
    (
        "enableTrustedProxyCheck",
        "`trustedProxies` always decides whose forwarded headers are believed; an empty list believes nobody",
    ),
    ("enableIPValidation", ""),
    ("serverHeader", ""),
    ("etag", ""),
    ("eTag", ""),
    ("disableDefaultDate", ""),
    ("disableDefaultContentType", ""),
    ("disableHeaderNormalizing", ""),
    ("enablePrintRoutes", ""),
    ("readBufferSize", "the largest HTTP/1.1 request head is `http1MaxHeaderSize`, 65536 by default"),
    ("writeBufferSize", ""),
    ("disableKeepalive", ""),
    ("disablePreParseMultipartForm", ""),
    ("enableSplittingOnParsers", ""),
    ("network", ""),
];

/// The description of an ignored key, for warnings and the schema.
pub fn ignored_key_note(key: &str, note: &str) -> String {
    if note.is_empty() {
        format!("Seam/Fiber only: `{key}` has no effect in seam.")
    } else {
        format!("Seam/Fiber only: `{key}` has no effect in seam ({note}).")
    }
}

/// What `server:` needs at run time, checked when the document is resolved, so `seam check`
/// refuses what `seam run` would.
#[derive(Debug)]
pub struct ServerPlan {
    /// `trustedProxies`, parsed.
    pub trusted_proxies: Vec<IpNet>,
    /// With `tls`, the certificate chain and its private key, read and checked to fit.
    pub tls: Option<TlsFiles>,
}

/// A server certificate chain and its key.
#[derive(Debug)]
pub struct TlsFiles {
    /// The chain, leaf first.
    pub certs: Vec<CertificateDer<'static>>,
    /// The private key.
    pub key: PrivateKeyDer<'static>,
}

impl ServerConfig {
    /// Checks what types cannot: the address, `trustedProxies`, the TLS files. Problems are
    /// placed at their key in `node` (the `server:` section, when written).
    pub fn plan(&self, node: Option<&Node>, diags: &mut Vec<Diagnostic>) -> Option<ServerPlan> {
        let before = diags.len();
        let at = |key: &str| -> Option<Loc> { node.and_then(|n| n.get(key)).map(|v| v.loc.clone()) };
        let error = |message: String, key: &str| {
            let d = Diagnostic::error(message).path(format!("server.{key}"));
            match at(key) {
                Some(loc) => d.at(&loc),
                None => d,
            }
        };
        let token = |c: char| c.is_ascii_alphanumeric() || "!#$%&'*+-.^_`|~".contains(c);
        if !self.proxy_header.is_empty() && !self.proxy_header.chars().all(token) {
            diags.push(error(
                format!("server.proxyHeader `{}` is not a valid header name", self.proxy_header),
                "proxyHeader",
            ));
        }
        if self.concurrency == 0 {
            diags.push(error("server.concurrency must be at least 1".into(), "concurrency"));
        }
        if self.http1_max_header_size < MIN_HTTP1_HEADER_SIZE {
            diags.push(
                error(
                    format!(
                        "server.http1MaxHeaderSize {} is below {MIN_HTTP1_HEADER_SIZE}",
                        self.http1_max_header_size
                    ),
                    "http1MaxHeaderSize",
                )
                .help(format!("the smallest limit seam serves HTTP/1.1 with is {MIN_HTTP1_HEADER_SIZE} bytes")),
            );
        }
        if self.header_timeout.get().is_zero() {
            diags.push(
                error("server.headerTimeout must be more than 0".into(), "headerTimeout")
                    .help("a client that never finishes its headers would hold its connection forever"),
            );
        }
        if let Err(why) = check_address(&self.address) {
            diags.push(
                error(format!("server.address `{}` {why}", self.address), "address")
                    .help("write `host:port`, e.g. `0.0.0.0:8090`"),
            );
        }
        if let Some(metrics) = &self.metrics {
            // `seam run` binds it: refuse here what the bind would refuse.
            let field = |key: &str, message: String| {
                let d = Diagnostic::error(message).path(format!("server.metrics.{key}"));
                match node.and_then(|n| n.get("metrics")).and_then(|m| m.get(key)).map(|v| v.loc.clone()) {
                    Some(loc) => d.at(&loc),
                    None => d,
                }
            };
            if let Err(why) = check_address(&metrics.address) {
                let message = format!("server.metrics.address `{}` {why}", metrics.address);
                diags.push(field("address", message).help("write `host:port`, e.g. `127.0.0.1:9464`"));
            } else if metrics.address == self.address {
                let message = format!("server.metrics.address `{}` is the gateway's own address", metrics.address);
                diags.push(
                    field("address", message).help("metrics have a listener of their own, e.g. `127.0.0.1:9464`"),
                );
            }
            if !metrics.path.starts_with('/') {
                diags.push(field("path", format!("server.metrics.path `{}` must start with `/`", metrics.path)));
            }
        }
        let mut trusted_proxies = Vec::new();
        for (i, entry) in self.trusted_proxies.iter().enumerate() {
            match parse_proxy(entry) {
                Some(net) => trusted_proxies.push(net),
                None => {
                    let loc = node.and_then(|n| n.get("trustedProxies")).and_then(|l| match &l.value {
                        super::node::Value::Seq(items) => items.get(i).map(|n| n.loc.clone()),
                        _ => None,
                    });
                    let d = Diagnostic::error(format!(
                        "server.trustedProxies: `{entry}` is not an IP address or CIDR block"
                    ))
                    .path(format!("server.trustedProxies[{i}]"))
                    .help("write an address (`10.0.0.1`) or a block (`10.0.0.0/8`)");
                    diags.push(match loc {
                        Some(loc) => d.at(&loc),
                        None => d,
                    });
                }
            }
        }
        let tls = if self.tls {
            match read_tls(&self.cert_file, &self.key_file) {
                Ok(files) => Some(files),
                Err((key, message)) => {
                    diags.push(error(message, key));
                    None
                }
            }
        } else {
            None
        };
        (diags.len() == before).then_some(ServerPlan { trusted_proxies, tls })
    }
}

fn check_address(address: &str) -> Result<(), String> {
    let (host, port) = address.rsplit_once(':').ok_or("has no `:port`")?;
    port.parse::<u16>().map_err(|_| format!("has no valid port (`{port}`)"))?;
    let host = host.trim_start_matches('[').trim_end_matches(']');
    if host.contains(char::is_whitespace) {
        return Err("has a space in its host".into());
    }
    Ok(())
}

fn parse_proxy(entry: &str) -> Option<IpNet> {
    entry.parse::<IpNet>().ok().or_else(|| entry.parse::<IpAddr>().ok().map(IpNet::from))
}

/// Reads and checks the TLS files; an error names the key at fault.
fn read_tls(cert_file: &str, key_file: &str) -> Result<TlsFiles, (&'static str, String)> {
    let certs: Vec<CertificateDer<'static>> = CertificateDer::pem_file_iter(cert_file)
        .map_err(|e| ("certFile", format!("server.certFile `{cert_file}` cannot be read: {e}")))?
        .collect::<Result<_, _>>()
        .map_err(|e| ("certFile", format!("server.certFile `{cert_file}` is not a PEM certificate chain: {e}")))?;
    if certs.is_empty() {
        return Err(("certFile", format!("server.certFile `{cert_file}` holds no certificate")));
    }
    let key = PrivateKeyDer::from_pem_file(key_file)
        .map_err(|e| ("keyFile", format!("server.keyFile `{key_file}` cannot be read as a PEM private key: {e}")))?;
    let provider = std::sync::Arc::new(rustls::crypto::ring::default_provider());
    rustls::ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| ("tls", format!("TLS cannot be set up: {e}")))?
        .with_no_client_auth()
        .with_single_cert(certs.clone(), key.clone_key())
        .map_err(|e| ("keyFile", format!("server.certFile `{cert_file}` and keyFile `{key_file}` do not fit: {e}")))?;
    Ok(TlsFiles { certs, key })
}
