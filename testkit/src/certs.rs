//! A certificate authority, a server certificate for `localhost`/127.0.0.1 and a client
//! certificate, written as PEM files; and a second, unrelated CA.

use std::path::{Path, PathBuf};

use rcgen::{BasicConstraints, CertificateParams, DnType, ExtendedKeyUsagePurpose, IsCa, KeyPair, KeyUsagePurpose};

/// PEM files for TLS tests, in a temporary folder.
pub struct TestCerts {
    dir: tempfile::TempDir,
}

fn ca(name: &str) -> (rcgen::Certificate, KeyPair, CertificateParams) {
    let mut params = CertificateParams::new(Vec::<String>::new()).expect("params");
    params.distinguished_name.push(DnType::CommonName, name);
    params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    params.key_usages = vec![KeyUsagePurpose::KeyCertSign, KeyUsagePurpose::CrlSign, KeyUsagePurpose::DigitalSignature];
    let key = KeyPair::generate().expect("key");
    let cert = params.self_signed(&key).expect("self-signed CA");
    (cert, key, params)
}

impl TestCerts {
    /// Generates everything.
    pub fn generate() -> TestCerts {
        let dir = tempfile::tempdir().expect("temp dir");
        let write = |name: &str, text: String| std::fs::write(dir.path().join(name), text).expect("write PEM");

        let (ca_cert, ca_key, ca_params) = ca("seam test CA");
        let issuer = rcgen::Issuer::from_params(&ca_params, &ca_key);
        write("ca.pem", ca_cert.pem());

        let mut server = CertificateParams::new(vec!["localhost".to_owned(), "127.0.0.1".to_owned()]).expect("params");
        server.distinguished_name.push(DnType::CommonName, "localhost");
        server.extended_key_usages = vec![ExtendedKeyUsagePurpose::ServerAuth];
        let server_key = KeyPair::generate().expect("key");
        write("server.pem", server.signed_by(&server_key, &issuer).expect("server cert").pem());
        write("server.key", server_key.serialize_pem());

        let mut client = CertificateParams::new(Vec::<String>::new()).expect("params");
        client.distinguished_name.push(DnType::CommonName, "seam test client");
        client.extended_key_usages = vec![ExtendedKeyUsagePurpose::ClientAuth];
        let client_key = KeyPair::generate().expect("key");
        write("client.pem", client.signed_by(&client_key, &issuer).expect("client cert").pem());
        write("client.key", client_key.serialize_pem());

        let (other, _, _) = ca("some other CA");
        write("other-ca.pem", other.pem());
        TestCerts { dir }
    }

    fn path(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }

    /// The CA that signed the server and client certificates.
    pub fn ca(&self) -> PathBuf {
        self.path("ca.pem")
    }
    /// A CA that signed nothing here.
    pub fn other_ca(&self) -> PathBuf {
        self.path("other-ca.pem")
    }
    /// Server certificate (for `localhost` and 127.0.0.1).
    pub fn server_cert(&self) -> PathBuf {
        self.path("server.pem")
    }
    /// Server key.
    pub fn server_key(&self) -> PathBuf {
        self.path("server.key")
    }
    /// Client certificate.
    pub fn client_cert(&self) -> PathBuf {
        self.path("client.pem")
    }
    /// Client key.
    pub fn client_key(&self) -> PathBuf {
        self.path("client.key")
    }
    /// The folder.
    pub fn dir(&self) -> &Path {
        self.dir.path()
    }
}
