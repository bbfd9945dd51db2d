//! The configured `signingKey`: an HMAC secret, or a public key in PEM.

use jsonwebtoken::{Algorithm, DecodingKey};

/// A verification key and the one algorithm it may be used with (when known).
#[derive(Clone)]
pub struct Key {
    pub key: DecodingKey,
    /// The algorithm tokens for this key must name: the configured one, or a JWK's `alg`.
    pub algorithm: Option<Algorithm>,
}

impl Key {
    /// Whether a token signed with `alg` may be checked with this key: the key's family
    /// (no HMAC with a public key, no `none`), and its algorithm when it names one.
    pub fn allows(&self, alg: Algorithm) -> bool {
        alg.family() == self.key.family() && self.algorithm.is_none_or(|a| a == alg)
    }
}

/// Seam's `signingKey`: `key` is a PEM public key (RSA, EC or Ed25519) or else an HMAC
/// secret taken as the text's bytes (as Seam does); `algorithm`, when set, must fit it.
pub fn signing_key(algorithm: &str, key: &str) -> Result<Key, String> {
    let algorithm = match algorithm.trim() {
        "" => None,
        name => Some(name.parse::<Algorithm>().map_err(|_| {
            format!("`{name}` is not an algorithm seam verifies (HS256/384/512, RS256/384/512, PS256/384/512, ES256/384, EdDSA)")
        })?),
    };
    if key.is_empty() {
        return Err("the signing key is empty".into());
    }
    let decoding = if key.trim_start().starts_with("-----BEGIN") {
        let pem = key.as_bytes();
        DecodingKey::from_rsa_pem(pem)
            .or_else(|_| DecodingKey::from_ec_pem(pem))
            .or_else(|_| DecodingKey::from_ed_pem(pem))
            .map_err(|_| "the key looks like PEM but is not an RSA, EC or Ed25519 public key".to_owned())?
    } else {
        DecodingKey::from_secret(key.as_bytes())
    };
    if let Some(alg) = algorithm
        && alg.family() != decoding.family()
    {
        return Err(format!("algorithm `{alg:?}` does not fit this key (a {:?} key)", decoding.family()));
    }
    Ok(Key { key: decoding, algorithm })
}
