//! The connector of the HTTP clients plugins make for themselves (upstreams, key sets,
//! telemetry export): plain HTTP or TLS (rustls with ring, the system's CAs), HTTP/1.1 or
//! HTTP/2 by ALPN. One crypto provider in the whole build.

use std::time::Duration;

pub use hyper_rustls::HttpsConnector;
pub use hyper_util::client::legacy::connect::HttpConnector;

/// A connector for `http://` and `https://` URLs: TCP without Nagle, TCP keep-alive every
/// 60 s, TLS from the system's certificate authorities.
pub fn https_connector() -> Result<HttpsConnector<HttpConnector>, String> {
    let _ = rustls::crypto::ring::default_provider().install_default();
    let mut http = HttpConnector::new();
    http.enforce_http(false);
    http.set_nodelay(true);
    http.set_keepalive(Some(Duration::from_secs(60)));
    Ok(hyper_rustls::HttpsConnectorBuilder::new()
        .with_native_roots()
        .map_err(|e| format!("cannot load the system's CA certificates: {e}"))?
        .https_or_http()
        .enable_http1()
        .enable_http2()
        .wrap_connector(http))
}
