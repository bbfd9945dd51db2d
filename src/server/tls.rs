//! HTTPS: rustls from the certificate chain and key the resolver read and checked, HTTP/2 by
//! ALPN.

use std::sync::Arc;

use rustls::ServerConfig;
use seam_config::document::server::TlsFiles;

/// A TLS acceptor for `files`.
pub fn acceptor(files: &TlsFiles) -> Result<tokio_rustls::TlsAcceptor, String> {
    let _ = rustls::crypto::ring::default_provider().install_default();
    let mut config = ServerConfig::builder()
        .with_no_client_auth()
        .with_single_cert(files.certs.clone(), files.key.clone_key())
        .map_err(|e| format!("server.certFile and keyFile do not fit: {e}"))?;
    config.alpn_protocols = vec![b"h2".to_vec(), b"http/1.1".to_vec()];
    Ok(tokio_rustls::TlsAcceptor::from(Arc::new(config)))
}
