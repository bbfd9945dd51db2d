//! The `server:` section: Seam's keys and defaults.

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use crate::duration::GoDuration;

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
    /// How long an idle keep-alive connection stays open; `0s` means no limit.
    pub idle_timeout: GoDuration,
    /// Addresses or CIDR blocks of proxies whose `X-Forwarded-For` is believed.
    pub trusted_proxies: Vec<String>,
    /// Name of the application, shown in the startup message.
    pub app_name: String,
    /// Do not log the startup message.
    pub disable_startup_message: bool,
    /// On SIGINT/SIGTERM, how long in-flight requests may take to finish.
    pub shutdown_timeout: GoDuration,
    /// Seam/Fiber only (no effect in seam): fork one process per core.
    #[schemars(extend("deprecated" = true))]
    pub prefork: Option<bool>,
    /// Seam/Fiber only (no effect in seam): maximum concurrent connections.
    #[schemars(extend("deprecated" = true))]
    pub concurrency: Option<u64>,
    /// Seam/Fiber only (no effect in seam).
    #[schemars(extend("deprecated" = true))]
    pub reduce_memory_usage: Option<bool>,
    /// Seam/Fiber only (no effect in seam): seam always streams request bodies.
    #[schemars(extend("deprecated" = true))]
    pub stream_request_body: Option<bool>,
    /// Seam/Fiber only (no effect in seam).
    #[schemars(extend("deprecated" = true))]
    pub compressed_file_suffix: Option<String>,
    /// Seam/Fiber only (no effect in seam).
    #[schemars(extend("deprecated" = true))]
    pub strict_routing: Option<bool>,
    /// Seam/Fiber only (no effect in seam): routing is case-sensitive.
    #[schemars(extend("deprecated" = true))]
    pub case_sensitive: Option<bool>,
    /// Seam/Fiber only (no effect in seam).
    #[schemars(extend("deprecated" = true))]
    pub unescape_path: Option<bool>,
    /// Seam/Fiber only (no effect in seam).
    #[serde(rename = "getOnly", alias = "GETOnly")]
    #[schemars(extend("deprecated" = true))]
    pub get_only: Option<bool>,
    /// Seam/Fiber only (no effect in seam): `trustedProxies` alone decides.
    #[schemars(extend("deprecated" = true))]
    pub enable_trusted_proxy_check: Option<bool>,
    /// Seam/Fiber only (no effect in seam).
    #[serde(rename = "enableIPValidation")]
    #[schemars(extend("deprecated" = true))]
    pub enable_ip_validation: Option<bool>,
    /// Seam/Fiber only (no effect in seam).
    #[schemars(extend("deprecated" = true))]
    pub server_header: Option<String>,
    /// Seam/Fiber only (no effect in seam).
    #[serde(rename = "etag", alias = "eTag")]
    #[schemars(extend("deprecated" = true))]
    pub etag: Option<bool>,
    /// Seam/Fiber only (no effect in seam).
    #[schemars(extend("deprecated" = true))]
    pub disable_default_date: Option<bool>,
    /// Seam/Fiber only (no effect in seam).
    #[schemars(extend("deprecated" = true))]
    pub disable_default_content_type: Option<bool>,
    /// Seam/Fiber only (no effect in seam).
    #[schemars(extend("deprecated" = true))]
    pub disable_header_normalizing: Option<bool>,
    /// Seam/Fiber only (no effect in seam).
    #[schemars(extend("deprecated" = true))]
    pub enable_print_routes: Option<bool>,
    /// Seam/Fiber only (no effect in seam).
    #[schemars(extend("deprecated" = true))]
    pub read_buffer_size: Option<u64>,
    /// Seam/Fiber only (no effect in seam).
    #[schemars(extend("deprecated" = true))]
    pub write_buffer_size: Option<u64>,
    /// Seam/Fiber only (no effect in seam).
    #[schemars(extend("deprecated" = true))]
    pub disable_keepalive: Option<bool>,
    /// Seam/Fiber only (no effect in seam).
    #[schemars(extend("deprecated" = true))]
    pub disable_pre_parse_multipart_form: Option<bool>,
    /// Seam/Fiber only (no effect in seam).
    #[schemars(extend("deprecated" = true))]
    pub enable_splitting_on_parsers: Option<bool>,
    /// Seam/Fiber only (no effect in seam).
    #[schemars(extend("deprecated" = true))]
    pub network: Option<String>,
}

impl Default for ServerConfig {
    fn default() -> Self {
        ServerConfig {
            address: "0.0.0.0:8090".into(),
            tls: false,
            cert_file: "/certs/server.cert".into(),
            key_file: "/certs/key.cert".into(),
            disable_health_check: false,
            health_check_live_route: "/health/live".into(),
            health_check_ready_route: "/health/ready".into(),
            body_limit: 4_194_304,
            read_timeout: GoDuration::default(),
            write_timeout: GoDuration::default(),
            idle_timeout: GoDuration::default(),
            trusted_proxies: Vec::new(),
            app_name: String::new(),
            disable_startup_message: false,
            shutdown_timeout: GoDuration::from_secs(30),
            prefork: None,
            concurrency: None,
            reduce_memory_usage: None,
            stream_request_body: None,
            compressed_file_suffix: None,
            strict_routing: None,
            case_sensitive: None,
            unescape_path: None,
            get_only: None,
            enable_trusted_proxy_check: None,
            enable_ip_validation: None,
            server_header: None,
            etag: None,
            disable_default_date: None,
            disable_default_content_type: None,
            disable_header_normalizing: None,
            enable_print_routes: None,
            read_buffer_size: None,
            write_buffer_size: None,
            disable_keepalive: None,
            disable_pre_parse_multipart_form: None,
            enable_splitting_on_parsers: None,
            network: None,
        }
    }
}

/// The Seam/Fiber keys seam accepts but ignores (each gets a warning when set).
pub const IGNORED_KEYS: &[&str] = &[
    "prefork",
    "concurrency",
    "reduceMemoryUsage",
    "streamRequestBody",
    "compressedFileSuffix",
    "strictRouting",
    "caseSensitive",
    "unescapePath",
    "getOnly",
    "GETOnly",
    "enableTrustedProxyCheck",
    "enableIPValidation",
    "serverHeader",
    "etag",
    "eTag",
    "disableDefaultDate",
    "disableDefaultContentType",
    "disableHeaderNormalizing",
    "enablePrintRoutes",
    "readBufferSize",
    "writeBufferSize",
    "disableKeepalive",
    "disablePreParseMultipartForm",
    "enableSplittingOnParsers",
    "network",
];
