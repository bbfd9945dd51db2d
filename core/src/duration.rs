//! Durations as Seam writes them: Go's form (`2h`, `30m`, `60s`, `1m30s`, `500ms`) or a
//! plain integer of nanoseconds (Go's `time.Duration`, which is how Seam decodes them).

use std::time::Duration;

use schemars::JsonSchema;
use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// A duration in a document: `"1m30s"`, `"500ms"`, `"2h"`, or an integer of nanoseconds.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub struct GoDuration(pub Duration);

impl GoDuration {
    /// `secs` seconds.
    pub const fn from_secs(secs: u64) -> Self {
        GoDuration(Duration::from_secs(secs))
    }

    /// The wrapped [`Duration`].
    pub fn get(self) -> Duration {
        self.0
    }

    /// `None` for zero (Seam's "no limit/no expiry"), else the duration.
    pub fn non_zero(self) -> Option<Duration> {
        (!self.0.is_zero()).then_some(self.0)
    }
}

impl From<GoDuration> for Duration {
    fn from(d: GoDuration) -> Duration {
        d.0
    }
}

/// The longest duration a document may give: Go's `time.Duration` limit (2^63 − 1 ns, about
/// 292 years). Every duration is checked against it when the document is loaded, so no
/// arithmetic on durations in milliseconds can overflow or wrap later.
pub const MAX: Duration = Duration::from_nanos(i64::MAX as u64);

fn bounded(d: Duration) -> Result<Duration, String> {
    if d > MAX { Err("the duration is longer than Go's time.Duration allows (about 292 years)".into()) } else { Ok(d) }
}

/// Parses Go's duration syntax; a bare integer is nanoseconds, as Go's `time.Duration`
/// decodes it (and so Seam).
pub fn parse(text: &str) -> Result<Duration, String> {
    let text = text.trim();
    if let Ok(nanos) = text.parse::<u64>() {
        return bounded(Duration::from_nanos(nanos));
    }
    humantime::parse_duration(text)
        .map_err(|e| format!("invalid duration `{text}` ({e}); write it like `2h`, `30m`, `60s`, `1m30s` or `500ms`"))
        .and_then(bounded)
}

impl std::fmt::Display for GoDuration {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        if self.0.is_zero() {
            return f.write_str("0s");
        }
        write!(f, "{}", humantime::format_duration(self.0).to_string().replace(' ', ""))
    }
}

impl<'de> Deserialize<'de> for GoDuration {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct Visitor;
        impl serde::de::Visitor<'_> for Visitor {
            type Value = GoDuration;
            fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str("a duration such as `30s`, `1m30s`, `500ms`, or a whole number of nanoseconds")
            }
            fn visit_u64<E: serde::de::Error>(self, v: u64) -> Result<GoDuration, E> {
                bounded(Duration::from_nanos(v)).map(GoDuration).map_err(E::custom)
            }
            fn visit_i64<E: serde::de::Error>(self, v: i64) -> Result<GoDuration, E> {
                let v = u64::try_from(v).map_err(|_| E::custom("a duration cannot be negative"))?;
                self.visit_u64(v)
            }
            fn visit_f64<E: serde::de::Error>(self, v: f64) -> Result<GoDuration, E> {
                Err(E::custom(format!(
                    "`{v}` is not a duration: a bare number is whole nanoseconds (Go's rule); write it with a unit, like `{v}s`"
                )))
            }
            fn visit_str<E: serde::de::Error>(self, v: &str) -> Result<GoDuration, E> {
                parse(v).map(GoDuration).map_err(E::custom)
            }
        }
        deserializer.deserialize_any(Visitor)
    }
}

impl Serialize for GoDuration {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_str(self)
    }
}

impl JsonSchema for GoDuration {
    fn schema_name() -> std::borrow::Cow<'static, str> {
        "Duration".into()
    }

    fn json_schema(_: &mut schemars::SchemaGenerator) -> schemars::Schema {
        schemars::json_schema!({
            "description": "A duration: `2h`, `30m`, `60s`, `1m30s`, `500ms`; a bare integer is nanoseconds, as in Go and Seam (`60000000000` is one minute).",
            "anyOf": [
                { "type": "string", "pattern": "^\\s*([0-9]+(\\.[0-9]+)?\\s*(ns|us|µs|ms|s|m|h|d)\\s*)+$" },
                { "type": "integer", "minimum": 0 }
            ]
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn go_forms() {
        assert_eq!(parse("2h").unwrap(), Duration::from_secs(7200));
        assert_eq!(parse("30m").unwrap(), Duration::from_secs(1800));
        assert_eq!(parse("60s").unwrap(), Duration::from_secs(60));
        assert_eq!(parse("1m30s").unwrap(), Duration::from_secs(90));
        assert_eq!(parse("500ms").unwrap(), Duration::from_millis(500));
        assert_eq!(parse("45").unwrap(), Duration::from_nanos(45));
        assert_eq!(parse("60000000000").unwrap(), Duration::from_secs(60));
        assert!(parse("soon").is_err());
    }

    #[test]
    fn deserializes_strings_and_integers() {
        let d: GoDuration = serde_json::from_str("\"1m30s\"").unwrap();
        assert_eq!(d.get(), Duration::from_secs(90));
        let d: GoDuration = serde_json::from_str("120000000000").unwrap();
        assert_eq!(d.get(), Duration::from_secs(120), "nanoseconds, as Go reads them");
        assert!(serde_json::from_str::<GoDuration>("-1").is_err());
        for huge in ["\"100000000000h\"", "18446744073709551615", "1e300"] {
            let e = serde_json::from_str::<GoDuration>(huge).unwrap_err().to_string();
            assert!(e.contains("longer than Go's time.Duration allows") || e.contains("with a unit"), "{huge}: {e}");
        }
        assert!(serde_json::from_str::<GoDuration>("\"2562047h\"").is_ok(), "just under the limit");
        assert_eq!(GoDuration::from_secs(90).to_string(), "1m30s");
    }
}
