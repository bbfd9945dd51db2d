//! `${VAR}` and `${VAR:-default}` in scalar values, replaced from the environment.

/// Replaces every `${VAR}` (which must be set) and `${VAR:-default}` (used when `VAR` is
/// unset or empty) in `text`. `$${` writes a literal `${`.
pub fn substitute(text: &str) -> Result<String, String> {
    if !text.contains("${") {
        return Ok(text.to_owned());
    }
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(start) = rest.find("${") {
        if rest[..start].ends_with('$') {
            out.push_str(&rest[..start - 1]);
            out.push_str("${");
            rest = &rest[start + 2..];
            continue;
        }
        out.push_str(&rest[..start]);
        let after = &rest[start + 2..];
        let end = after
            .find('}')
            .ok_or_else(|| format!("unterminated `${{` in `{text}`; write `${{VAR}}` or `${{VAR:-default}}`"))?;
        let inner = &after[..end];
        let (name, default) = match inner.split_once(":-") {
            Some((name, default)) => (name, Some(default)),
            None => (inner, None),
        };
        if name.is_empty() || !name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_') {
            return Err(format!("`${{{inner}}}` is not a valid variable reference"));
        }
        match (std::env::var(name).ok().filter(|v| !v.is_empty()), default) {
            (Some(value), _) => out.push_str(&value),
            (None, Some(default)) => out.push_str(default),
            (None, None) => {
                return Err(format!(
                    "environment variable `{name}` is not set; set it, or give a default with `${{{name}:-default}}`"
                ));
            }
        }
        rest = &after[end + 1..];
    }
    out.push_str(rest);
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::substitute;

    #[test]
    fn forms() {
        // SAFETY: only this test touches these variables.
        unsafe { std::env::set_var("SEAM_ENV_TEST_A", "alpha") };
        assert_eq!(substitute("x-${SEAM_ENV_TEST_A}-y").unwrap(), "x-alpha-y");
        assert_eq!(substitute("${SEAM_ENV_TEST_MISSING:-dflt}").unwrap(), "dflt");
        assert_eq!(substitute("$${SEAM_ENV_TEST_A}").unwrap(), "${SEAM_ENV_TEST_A}");
        assert_eq!(substitute("plain").unwrap(), "plain");
        assert!(substitute("${SEAM_ENV_TEST_MISSING}").unwrap_err().contains("SEAM_ENV_TEST_MISSING"));
        assert!(substitute("${oops").is_err());
    }
}
