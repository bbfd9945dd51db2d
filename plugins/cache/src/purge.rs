//! Purging: entries of one cache removed from its storage (all, or those under a path), and
//! every running instance told to drop its in-process tier.

use bytes::Bytes;
use seam_core::{Capability, Storage, StorageError};

/// What to purge.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Selection {
    /// Every entry of the cache.
    All,
    /// Entries whose path starts with this (`/api/users` also matches `/api/users/7`).
    PathPrefix(String),
}

/// The channel on which the instances of cache `name` hear of purges.
pub fn channel(name: &str) -> String {
    format!("cache-purge:{name}")
}

/// What an announcement on a cache's channel asks of every instance's in-process tier.
#[derive(Debug, PartialEq, Eq)]
pub enum Announcement {
    /// One entry was invalidated (RFC 9111 §4.4): drop the copy under this storage key.
    Entry(String),
    /// A purge, or announcements that may have been missed: drop every copy.
    Everything,
}

/// The announcement that the entry under `key` was invalidated.
pub fn entry_invalidated(key: &str) -> Bytes {
    Bytes::from(format!("key:{key}"))
}

impl Announcement {
    /// What `message` asks (anything but a well-formed entry announcement drops everything).
    pub fn heard(message: &[u8]) -> Announcement {
        match message.strip_prefix(b"key:").map(std::str::from_utf8) {
            Some(Ok(key)) if !key.is_empty() => Announcement::Entry(key.to_owned()),
            _ => Announcement::Everything,
        }
    }
}

/// The parts of a key written by the cache: name, method, host, path, query.
fn parts(key: &str) -> Option<[&str; 5]> {
    let mut rest = key.strip_prefix("cache:")?;
    let mut out = [""; 5];
    for part in &mut out {
        let (len, tail) = rest.split_once(':')?;
        let len: usize = len.parse().ok()?;
        if tail.len() < len || !tail.is_char_boundary(len) {
            return None;
        }
        *part = &tail[..len];
        rest = &tail[len..];
    }
    rest.is_empty().then_some(out)
}

/// Whether `key` is an entry of cache `name` that `selection` takes.
fn selected(key: &str, name: &str, selection: &Selection) -> bool {
    let Some([cache, _, _, path, _]) = parts(key) else { return false };
    cache == name
        && match selection {
            Selection::All => true,
            Selection::PathPrefix(prefix) => path.starts_with(prefix.as_str()),
        }
}

/// Removes the entries of cache `name` that `selection` takes from `storage`, then tells
/// the running instances (when the storage can broadcast). Returns how many were removed.
pub async fn purge(storage: &dyn Storage, name: &str, selection: &Selection) -> Result<usize, StorageError> {
    if !storage.capabilities().has(Capability::Scan) {
        return Err(StorageError::Unsupported(Capability::Scan));
    }
    let mut removed = 0;
    for key in storage.scan("cache:*").await? {
        if selected(&key, name, selection) && storage.delete(&key).await? {
            removed += 1;
        }
    }
    if storage.capabilities().has(Capability::Broadcast) {
        let message = match selection {
            Selection::All => "all".to_owned(),
            Selection::PathPrefix(prefix) => format!("path:{prefix}"),
        };
        storage.publish(&channel(name), Bytes::from(message)).await?;
    }
    Ok(removed)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn announcements_are_read_back() {
        let key = "cache:5:Pages3:GET9:localhost6:/items0:";
        assert_eq!(Announcement::heard(&entry_invalidated(key)), Announcement::Entry(key.to_owned()));
        for purge in [&b"all"[..], b"path:/items", b"", b"key:", b"key:\xff"] {
            assert_eq!(Announcement::heard(purge), Announcement::Everything, "{purge:?}");
        }
    }

    #[test]
    fn keys_are_read_back_part_by_part() {
        let key = "cache:5:Pages3:GET9:localhost12:/api/users/72:a=";
        assert_eq!(parts(key), Some(["Pages", "GET", "localhost", "/api/users/7", "a="]));
        assert!(selected(key, "Pages", &Selection::PathPrefix("/api/users".into())));
        assert!(!selected(key, "Pages", &Selection::PathPrefix("/api/orders".into())));
        assert!(!selected(key, "Other", &Selection::All));
        // A host that looks like more parts cannot shift the path.
        let tricky = "cache:5:Pages3:GET11:h7:/admin/12:/x0:";
        assert_eq!(parts(tricky), Some(["Pages", "GET", "h7:/admin/1", "/x", ""]));
        assert!(!selected(tricky, "Pages", &Selection::PathPrefix("/admin".into())));
        for broken in
            ["cache:", "cache:99:Pages", "session:abc", "cache:5:Pages3:GET9:localhost12:/api/users/72:a=extra"]
        {
            assert_eq!(parts(broken), None, "{broken}");
        }
    }
}
