//! Sessions encrypted at rest: AES-256-GCM (ring) with a key id in the stored value and the
//! storage key (the session id) as associated data, so a value copied to another id does
//! not open. The first key encrypts; every key decrypts, so keys rotate without logging
//! anyone out.

use base64::Engine;
use base64::engine::general_purpose::{STANDARD, URL_SAFE};
use bytes::{BufMut, Bytes, BytesMut};
use ring::aead::{AES_256_GCM, Aad, LessSafeKey, NONCE_LEN, Nonce, UnboundKey};
use ring::rand::{SecureRandom, SystemRandom};
use seam_core::{PathStep, Problem, Secret};

/// What a sealed value starts with: the format, then the key id.
const MAGIC: &[u8; 2] = b"s1";
const KEY_ID_LEN: usize = 4;

/// One key and its id (the first bytes of its SHA-256).
struct Key {
    id: [u8; KEY_ID_LEN],
    aead: LessSafeKey,
}

/// Encrypts and decrypts session values.
pub struct Sealer {
    keys: Vec<Key>,
    rng: SystemRandom,
}

impl Sealer {
    /// The sealer for `encryptionKeys` (256-bit keys, base64), or a problem per bad key; the
    /// messages never contain a key.
    pub fn new(keys: &[Secret]) -> Result<Sealer, Vec<Problem>> {
        let mut out = Vec::new();
        let mut problems = Vec::new();
        for (i, secret) in keys.iter().enumerate() {
            let at = || vec![PathStep::Key("encryptionKeys".into()), PathStep::Index(i)];
            let text = secret.expose().trim();
            let bytes = STANDARD.decode(text).or_else(|_| URL_SAFE.decode(text));
            let key = match bytes {
                Ok(bytes) if bytes.len() == 32 => bytes,
                Ok(bytes) => {
                    problems.push(
                        Problem::at(
                            at(),
                            format!("an encryption key must be 256 bits (32 bytes); this one has {}", bytes.len()),
                        )
                        .help("make one with `openssl rand -base64 32`")
                        .secret(),
                    );
                    continue;
                }
                Err(_) => {
                    problems.push(
                        Problem::at(at(), "an encryption key must be base64")
                            .help("make one with `openssl rand -base64 32`")
                            .secret(),
                    );
                    continue;
                }
            };
            let digest = ring::digest::digest(&ring::digest::SHA256, &key);
            let mut id = [0u8; KEY_ID_LEN];
            id.copy_from_slice(&digest.as_ref()[..KEY_ID_LEN]);
            match UnboundKey::new(&AES_256_GCM, &key) {
                Ok(unbound) => out.push(Key { id, aead: LessSafeKey::new(unbound) }),
                Err(_) => problems.push(Problem::at(at(), "the encryption key was refused by the cipher").secret()),
            }
        }
        if problems.is_empty() { Ok(Sealer { keys: out, rng: SystemRandom::new() }) } else { Err(problems) }
    }

    /// `plaintext` sealed for the storage key `key` with the first key.
    pub fn seal(&self, key: &str, plaintext: &[u8]) -> Result<Bytes, String> {
        let first = self.keys.first().ok_or("no encryption key")?;
        let mut nonce = [0u8; NONCE_LEN];
        self.rng.fill(&mut nonce).map_err(|_| "the OS random generator failed".to_owned())?;
        let mut sealed = plaintext.to_vec();
        first
            .aead
            .seal_in_place_append_tag(Nonce::assume_unique_for_key(nonce), Aad::from(key.as_bytes()), &mut sealed)
            .map_err(|_| "encryption failed".to_owned())?;
        let mut out = BytesMut::with_capacity(MAGIC.len() + KEY_ID_LEN + NONCE_LEN + sealed.len());
        out.put_slice(MAGIC);
        out.put_slice(&first.id);
        out.put_slice(&nonce);
        out.put_slice(&sealed);
        Ok(out.freeze())
    }

    /// The plaintext of a value stored under `key`, if one of the keys opens it.
    pub fn open(&self, key: &str, stored: &[u8]) -> Option<Vec<u8>> {
        let rest = stored.strip_prefix(MAGIC)?;
        let (id, rest) = rest.split_at_checked(KEY_ID_LEN)?;
        let (nonce, sealed) = rest.split_at_checked(NONCE_LEN)?;
        let nonce: [u8; NONCE_LEN] = nonce.try_into().ok()?;
        let candidate = self.keys.iter().find(|k| k.id == id)?;
        let mut buffer = sealed.to_vec();
        let plain = candidate
            .aead
            .open_in_place(Nonce::assume_unique_for_key(nonce), Aad::from(key.as_bytes()), &mut buffer)
            .ok()?;
        Some(plain.to_vec())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key(byte: u8) -> Secret {
        Secret::new(STANDARD.encode([byte; 32]))
    }

    #[test]
    fn seal_open_rotate_and_tamper() {
        let old = Sealer::new(&[key(1)]).unwrap();
        let sealed = old.seal("id-a", b"{\"user\":42}").unwrap();
        assert!(!sealed.windows(4).any(|w| w == b"user"), "not plaintext");
        assert_eq!(old.open("id-a", &sealed).as_deref(), Some(&b"{\"user\":42}"[..]));
        assert_eq!(old.open("id-b", &sealed), None, "moved to another id, it does not open");
        let rotated = Sealer::new(&[key(2), key(1)]).unwrap();
        assert_eq!(rotated.open("id-a", &sealed).as_deref(), Some(&b"{\"user\":42}"[..]), "old keys still open");
        let mut tampered = sealed.to_vec();
        let last = tampered.len() - 1;
        tampered[last] ^= 1;
        assert_eq!(rotated.open("id-a", &tampered), None);
        assert_eq!(Sealer::new(&[key(3)]).unwrap().open("id-a", &sealed), None, "an unknown key id");
        assert_eq!(rotated.open("id-a", b"{\"created\":1}"), None, "plaintext is no session");
    }

    #[test]
    fn bad_keys_are_problems_that_never_show_the_key() {
        let problems = Sealer::new(&[Secret::new("c2hvcnQ="), Secret::new("not base64 at all!")]).err().unwrap();
        assert_eq!(problems.len(), 2);
        assert!(problems[0].message.contains("256 bits"));
        assert!(problems.iter().all(|p| !p.message.contains("c2hvcnQ") && !p.message.contains("not base64")));
    }
}
