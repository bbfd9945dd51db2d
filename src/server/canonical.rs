//! The one canonical form of a request path, computed once before routing: routing, the
//! middlewares, the cache key and the forwarded path all see it, so no spelling of a path
//! reaches an upstream resource without the middlewares of the route that owns it.
//!
//! | input | canonical |
//! |---|---|
//! | `%41` and other encoded unreserved characters (`A-Z a-z 0-9 - . _ ~`) | decoded |
//! | other `%xx` | kept, hex upper-cased |
//! | `.` and `..` segments, encoded ones too | resolved (RFC 3986 §5.2.4); above `/` is a 400 |
//! | `//` | merged |
//! | `%2F`, `%5C` (encoded `/` and `\`) | 400, or kept encoded with `server.allowEncodedSlashes` |
//! | `\` | 400 |
//! | `;` (path parameters, which Tomcat and Jetty strip, and `..;` which they read as `..`) | 400, or kept with `server.allowPathParameters` |
//! | NUL and other control characters, raw or encoded | 400 |
//! | a trailing `/` | kept |

use std::borrow::Cow;
use std::fmt::Write as _;

/// Why a path was refused (answered 400).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Refused {
    /// A control character, raw or encoded.
    ControlCharacter,
    /// A `..` that climbs above `/`.
    AboveRoot,
    /// An encoded `/` or `\`.
    EncodedSlash,
    /// A raw `\`.
    Backslash,
    /// A `;` path parameter.
    PathParameter,
    /// A `%` not followed by two hex digits.
    BadEscape,
    /// Not an origin-form path (`/...`).
    NotAbsolute,
}

impl Refused {
    /// What the client is told.
    pub fn detail(self) -> &'static str {
        match self {
            Refused::ControlCharacter => "the path has a control character",
            Refused::AboveRoot => "the path climbs above the root with `..`",
            Refused::EncodedSlash => "the path has an encoded `/` or `\\` (%2F, %5C)",
            Refused::Backslash => "the path has a `\\`",
            Refused::PathParameter => "the path has a `;` parameter",
            Refused::BadEscape => "the path has a `%` that is not followed by two hex digits",
            Refused::NotAbsolute => "the path does not start with `/`",
        }
    }
}

/// What the canonical form allows beyond the default.
#[derive(Debug, Clone, Copy, Default)]
pub struct PathRules {
    /// Keep `%2F` and `%5C`, encoded, inside a segment.
    pub allow_encoded_slashes: bool,
    /// Keep `;` inside a segment.
    pub allow_path_parameters: bool,
}

fn hex(b: u8) -> Option<u8> {
    match b {
        b'0'..=b'9' => Some(b - b'0'),
        b'a'..=b'f' => Some(b - b'a' + 10),
        b'A'..=b'F' => Some(b - b'A' + 10),
        _ => None,
    }
}

fn unreserved(b: u8) -> bool {
    b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~')
}

/// One segment with unreserved characters decoded and other escapes upper-cased.
fn segment(raw: &str, rules: PathRules) -> Result<String, Refused> {
    let bytes = raw.as_bytes();
    let mut out = String::with_capacity(raw.len());
    let mut i = 0;
    while i < bytes.len() {
        let b = bytes[i];
        match b {
            b'%' => {
                let (Some(hi), Some(lo)) =
                    (bytes.get(i + 1).copied().and_then(hex), bytes.get(i + 2).copied().and_then(hex))
                else {
                    return Err(Refused::BadEscape);
                };
                let decoded = hi << 4 | lo;
                if decoded < 0x20 || decoded == 0x7f {
                    return Err(Refused::ControlCharacter);
                }
                if unreserved(decoded) {
                    out.push(char::from(decoded));
                } else {
                    if (decoded == b'/' || decoded == b'\\') && !rules.allow_encoded_slashes {
                        return Err(Refused::EncodedSlash);
                    }
                    let _ = write!(out, "%{decoded:02X}");
                }
                i += 3;
            }
            b'\\' => return Err(Refused::Backslash),
            b';' if !rules.allow_path_parameters => return Err(Refused::PathParameter),
            _ if b < 0x20 || b == 0x7f => return Err(Refused::ControlCharacter),
            _ => {
                // Multi-byte UTF-8 is copied whole (a `str` is valid UTF-8).
                let ch = raw[i..].chars().next().unwrap_or('\u{fffd}');
                out.push(ch);
                i += ch.len_utf8();
                continue;
            }
        }
    }
    Ok(out)
}

/// [`canonical`] without a copy when `path` is canonical already, as nearly every request's
/// path is: nothing to decode, refuse, merge or resolve.
pub fn canonical_borrowed(path: &str, rules: PathRules) -> Result<Cow<'_, str>, Refused> {
    if already_canonical(path) { Ok(Cow::Borrowed(path)) } else { canonical(path, rules).map(Cow::Owned) }
}

/// Whether `path` is its own canonical form under any rules: absolute, no escape, `\`, `;`
/// or control character, no empty segment but a trailing one, no `.` or `..` segment.
fn already_canonical(path: &str) -> bool {
    let Some(rest) = path.strip_prefix('/') else { return false };
    if path.bytes().any(|b| matches!(b, b'%' | b'\\' | b';') || b < 0x20 || b == 0x7f) {
        return false;
    }
    let mut segments = rest.split('/').peekable();
    while let Some(segment) = segments.next() {
        let last = segments.peek().is_none();
        if (segment.is_empty() && !last) || segment == "." || segment == ".." {
            return false;
        }
    }
    true
}

/// The canonical form of the path of a request target (the part before `?`).
pub fn canonical(path: &str, rules: PathRules) -> Result<String, Refused> {
    if !path.starts_with('/') {
        return Err(Refused::NotAbsolute);
    }
    let mut stack: Vec<String> = Vec::new();
    let mut trailing = false;
    for raw in path.split('/').skip(1) {
        let seg = segment(raw, rules)?;
        trailing = false;
        match seg.as_str() {
            "" | "." => trailing = true,
            ".." => {
                if stack.pop().is_none() {
                    return Err(Refused::AboveRoot);
                }
                trailing = true;
            }
            _ => stack.push(seg),
        }
    }
    let mut out = String::with_capacity(path.len());
    for seg in &stack {
        out.push('/');
        out.push_str(seg);
    }
    if out.is_empty() || trailing {
        out.push('/');
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn c(path: &str) -> Result<String, Refused> {
        canonical(path, PathRules::default())
    }

    #[test]
    fn the_rules_of_the_table() {
        let cases: &[(&str, Result<&str, Refused>)] = &[
            ("/", Ok("/")),
            ("/login", Ok("/login")),
            ("//login", Ok("/login")),
            ("/a/../login", Ok("/login")),
            ("/a/%2e%2e/login", Ok("/login")),
            ("/a/%2E%2E/login", Ok("/login")),
            ("/a/.%2e/login", Ok("/login")),
            ("/./login", Ok("/login")),
            ("/%6c%6F%67%69%6E", Ok("/login")),
            ("/api/users/", Ok("/api/users/")),
            ("/api/users/.", Ok("/api/users/")),
            ("/api//users//", Ok("/api/users/")),
            ("/a%20b", Ok("/a%20b")),
            ("/a%2fb", Err(Refused::EncodedSlash)),
            ("/a%5Cb", Err(Refused::EncodedSlash)),
            ("/..%2Flogin", Err(Refused::EncodedSlash)),
            ("/a\\login", Err(Refused::Backslash)),
            ("/..", Err(Refused::AboveRoot)),
            ("/a/../../etc/passwd", Err(Refused::AboveRoot)),
            ("/a%00b", Err(Refused::ControlCharacter)),
            ("/a%0ab", Err(Refused::ControlCharacter)),
            ("/login;x=1", Err(Refused::PathParameter)),
            ("/..;/login", Err(Refused::PathParameter)),
            ("/a%zz", Err(Refused::BadEscape)),
            ("/a%2", Err(Refused::BadEscape)),
            ("/..%252e/login", Ok("/..%252e/login")),
            ("/caf%C3%A9", Ok("/caf%C3%A9")),
            ("/café", Ok("/café")),
            ("login", Err(Refused::NotAbsolute)),
        ];
        for (input, expected) in cases {
            assert_eq!(c(input).as_deref().map_err(|e| *e), *expected, "{input}");
        }
    }

    #[test]
    fn options_keep_what_they_allow_encoded() {
        let rules = PathRules { allow_encoded_slashes: true, allow_path_parameters: true };
        assert_eq!(canonical("/a%2fb/%5c", rules).unwrap(), "/a%2Fb/%5C");
        assert_eq!(canonical("/m;v=1/x", rules).unwrap(), "/m;v=1/x");
    }
}

#[cfg(test)]
mod properties {
    use proptest::prelude::*;

    use super::*;

    /// Paths built from the pieces attacks are made of.
    fn hostile_path() -> impl Strategy<Value = String> {
        let piece = prop_oneof![
            Just("/".to_owned()),
            Just(".".to_owned()),
            Just("..".to_owned()),
            Just("%2e".to_owned()),
            Just("%2E".to_owned()),
            Just("%2f".to_owned()),
            Just("%5c".to_owned()),
            Just("%25".to_owned()),
            Just("%00".to_owned()),
            Just(";".to_owned()),
            Just("\\".to_owned()),
            Just("%41".to_owned()),
            Just("%".to_owned()),
            "[a-z]{1,3}",
            "\\PC{1,2}",
        ];
        proptest::collection::vec(piece, 0..12).prop_map(|pieces| format!("/{}", pieces.concat()))
    }

    proptest! {
        #[test]
        fn the_canonical_form_is_canonical(path in hostile_path()) {
            let Ok(out) = canonical(&path, PathRules::default()) else { return Ok(()) };
            prop_assert!(out.starts_with('/'));
            prop_assert!(!out.contains("//"), "{path} -> {out}");
            for segment in out.split('/') {
                prop_assert!(segment != "." && segment != "..", "{path} -> {out}");
            }
            let upper = out.to_ascii_uppercase();
            prop_assert!(!upper.contains("%2F") && !upper.contains("%5C") && !out.contains('\\'), "{path} -> {out}");
            prop_assert!(!upper.contains("%2E"), "an encoded dot is decoded: {path} -> {out}");
            prop_assert!(!out.chars().any(char::is_control), "{path} -> {out}");
            prop_assert_eq!(canonical(&out, PathRules::default()), Ok(out.clone()), "idempotent for {}", path);
        }

        #[test]
        fn the_borrowed_form_is_the_canonical_form(path in hostile_path(), any in "\\PC*") {
            for rules in [PathRules::default(), PathRules { allow_encoded_slashes: true, allow_path_parameters: true }] {
                for path in [&path, &any, &format!("/{any}")] {
                    let borrowed = canonical_borrowed(path, rules).map(Cow::into_owned);
                    prop_assert_eq!(borrowed, canonical(path, rules), "{:?}", path);
                }
            }
        }

        #[test]
        fn it_never_panics(path in "\\PC*") {
            let _ = canonical(&path, PathRules::default());
            let _ = canonical(&path, PathRules { allow_encoded_slashes: true, allow_path_parameters: true });
        }
    }
}
