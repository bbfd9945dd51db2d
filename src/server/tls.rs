//! HTTPS: rustls from PEM files, HTTP/2 by ALPN.

use std::sync::Arc;

use rustls::ServerConfig;
use rustls_pki_types::pem::PemObject;
use rustls_pki_types::{CertificateDer, PrivateKeyDer};

/// A TLS acceptor for `cert_file` and `key_file`; a missing or unreadable file is an error
/// naming it.
pub fn acceptor(cert_file: &str, key_file: &str) -> Result<tokio_rustls::TlsAcceptor, String> {
    let _ = rustls::crypto::ring::default_provider().install_default();
    let certs: Vec<CertificateDer<'static>> = CertificateDer::pem_file_iter(cert_file)
        .map_err(|e| format!("server.certFile `{cert_file}` cannot be read: {e}"))?
        .collect::<Result<_, _>>()
        .map_err(|e| format!("server.certFile `{cert_file}` is not a PEM certificate chain: {e}"))?;
    if certs.is_empty() {
        return Err(format!("server.certFile `{cert_file}` holds no certificate"));
    }
    let key = PrivateKeyDer::from_pem_file(key_file)
        .map_err(|e| format!("server.keyFile `{key_file}` cannot be read as a PEM private key: {e}"))?;
    let mut config = ServerConfig::builder()
        .with_no_client_auth()
        .with_single_cert(certs, key)
        .map_err(|e| format!("server.certFile `{cert_file}` and keyFile `{key_file}` do not fit: {e}"))?;
    config.alpn_protocols = vec![b"h2".to_vec(), b"http/1.1".to_vec()];
    Ok(tokio_rustls::TlsAcceptor::from(Arc::new(config)))
}
