//! The users and their passwords, and checking a pair in constant time.

use std::collections::HashMap;
use std::time::Duration;

use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

/// How one user's password is kept.
#[derive(Clone)]
pub enum Password {
    /// A plain password, kept only as its SHA-256 (compared in constant time).
    Plain([u8; 32]),
    /// A bcrypt hash (`$2a$`, `$2b$`, `$2y$`).
    Bcrypt(String),
    /// An argon2id hash in PHC form (`$argon2id$...`).
    Argon2(String),
}

impl Password {
    /// From the configured text: a hash when it looks like one, else the password itself.
    pub fn parse(text: &str) -> Result<Password, String> {
        if ["$2a$", "$2b$", "$2y$"].iter().any(|p| text.starts_with(p)) {
            bcrypt::HashParts::from_str_checked(text)?;
            return Ok(Password::Bcrypt(text.to_owned()));
        }
        if text.starts_with("$argon2") {
            let hash = argon2::PasswordHash::new(text).map_err(|_| "not a valid argon2 hash".to_owned())?;
            if hash.algorithm.as_str() != "argon2id" {
                return Err(format!("`{}` hashes are not accepted; use argon2id", hash.algorithm));
            }
            return Ok(Password::Argon2(text.to_owned()));
        }
        if text.is_empty() {
            return Err("an empty password would let anyone in as this user".into());
        }
        Ok(Password::Plain(Sha256::digest(text.as_bytes()).into()))
    }

    fn is_hash(&self) -> bool {
        !matches!(self, Password::Plain(_))
    }

    fn verify(&self, given: &str) -> bool {
        match self {
            Password::Plain(digest) => Sha256::digest(given.as_bytes()).as_slice().ct_eq(digest).into(),
            Password::Bcrypt(hash) => bcrypt::verify(given, hash).unwrap_or(false),
            Password::Argon2(hash) => {
                use argon2::PasswordVerifier;
                argon2::PasswordHash::new(hash)
                    .is_ok_and(|h| argon2::Argon2::default().verify_password(given.as_bytes(), &h).is_ok())
            }
        }
    }
}

/// Small extension of bcrypt's parser: checks the hash at load.
trait Checked: Sized {
    fn from_str_checked(text: &str) -> Result<Self, String>;
}

impl Checked for bcrypt::HashParts {
    fn from_str_checked(text: &str) -> Result<Self, String> {
        // bcrypt's own message repeats the hash: say what is wrong without it.
        text.parse::<bcrypt::HashParts>().map_err(|_| "not a valid bcrypt hash".to_owned())
    }
}

/// The users, and the pairs recently proven against a hash (so a hash is not recomputed
/// on every request of a client that keeps sending the same credentials).
pub struct Users {
    users: HashMap<String, Password>,
    proven: moka::sync::Cache<[u8; 32], ()>,
    dummy: Password,
}

impl Users {
    /// `users`, each with its parsed password.
    pub fn new(users: HashMap<String, Password>) -> Users {
        // An unknown user costs what a known one does: when hashes are in use, the check of
        // an unknown user runs against one of them (and fails).
        let dummy = users.values().find(|p| p.is_hash()).cloned().unwrap_or(Password::Plain([0; 32]));
        Users {
            users,
            proven: moka::sync::Cache::builder().max_capacity(10_000).time_to_live(Duration::from_secs(300)).build(),
            dummy,
        }
    }

    /// Whether `user` with `password` may pass. Hash checks (tens of milliseconds by
    /// design) run on the blocking pool, never on the thread serving connections.
    pub async fn check(&self, user: &str, password: &str) -> bool {
        let (stored, known) = match self.users.get(user) {
            Some(stored) => (stored, true),
            None => (&self.dummy, false),
        };
        if !stored.is_hash() {
            return stored.verify(password) && known;
        }
        let mut key = Sha256::new();
        key.update(user.as_bytes());
        key.update([0]);
        key.update(password.as_bytes());
        let key: [u8; 32] = key.finalize().into();
        if self.proven.contains_key(&key) {
            return true;
        }
        let (hash, given) = (stored.clone(), password.to_owned());
        let ok = tokio::task::spawn_blocking(move || hash.verify(&given)).await.unwrap_or(false) && known;
        if ok {
            self.proven.insert(key, ());
        }
        ok
    }
}
