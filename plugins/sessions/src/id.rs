//! Session ids: 256 bits from the OS CSPRNG, base64url without padding (43 characters).

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;

/// Length of an id in characters.
pub const LEN: usize = 43;

/// A new id.
pub fn generate() -> Result<String, String> {
    let mut bytes = [0u8; 32];
    getrandom::fill(&mut bytes).map_err(|e| format!("the OS random generator failed: {e}"))?;
    Ok(URL_SAFE_NO_PAD.encode(bytes))
}

/// Whether `text` has the shape of an id (checked before any storage call).
pub fn is_valid(text: &str) -> bool {
    text.len() == LEN && text.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
}

#[cfg(test)]
mod tests {
    #[test]
    fn ids_are_random_and_valid() {
        let a = super::generate().unwrap();
        let b = super::generate().unwrap();
        assert_ne!(a, b);
        assert!(super::is_valid(&a));
        assert!(!super::is_valid("../../etc/passwd"));
        assert!(!super::is_valid(&format!("{}*", &a[..42])));
    }
}
