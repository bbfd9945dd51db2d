//! Keys under the storage's prefix.

/// Escapes the glob characters of SCAN's MATCH (`*`, `?`, `[`, `]`, `\`), so a prefix such
/// as `a*[b]` matches only itself.
pub fn escape_glob(text: &str) -> String {
    let mut out = String::with_capacity(text.len() + 4);
    for c in text.chars() {
        if matches!(c, '*' | '?' | '[' | ']' | '\\') {
            out.push('\\');
        }
        out.push(c);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::escape_glob;

    #[test]
    fn glob_characters_are_escaped() {
        assert_eq!(escape_glob("go:seam:"), "go:seam:");
        assert_eq!(escape_glob("a*b?c[d]e\\"), "a\\*b\\?c\\[d\\]e\\\\");
    }
}
