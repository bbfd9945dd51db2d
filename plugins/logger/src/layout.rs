//! Go's time layouts (`15:04:05`, `2006-01-02T15:04:05Z07:00`), which Seam's `timeFormat`
//! uses, as strftime formats.

/// Go layout elements and their strftime equivalents, longest first so that `January`
/// wins over `Jan` and `2006` over `2`.
const ELEMENTS: &[(&str, &str)] = &[
    ("January", "%B"),
    ("Monday", "%A"),
    ("Z07:00", "%:z"),
    ("-07:00", "%:z"),
    ("-0700", "%z"),
    (".000000000", "%.9f"),
    (".000000", "%.6f"),
    (".000", "%.3f"),
    ("2006", "%Y"),
    ("Jan", "%b"),
    ("Mon", "%a"),
    ("MST", "%Z"),
    ("01", "%m"),
    ("02", "%d"),
    ("_2", "%e"),
    ("15", "%H"),
    ("03", "%I"),
    ("04", "%M"),
    ("05", "%S"),
    ("06", "%y"),
    ("PM", "%p"),
    ("pm", "%P"),
    ("1", "%-m"),
    ("2", "%-d"),
    ("3", "%-I"),
    ("4", "%-M"),
    ("5", "%-S"),
];

/// The strftime format of a Go layout; other text is kept (with `%` escaped).
pub fn to_strftime(layout: &str) -> String {
    let mut out = String::with_capacity(layout.len() * 2);
    let mut rest = layout;
    'outer: while !rest.is_empty() {
        for (go, strftime) in ELEMENTS {
            if let Some(after) = rest.strip_prefix(go) {
                out.push_str(strftime);
                rest = after;
                continue 'outer;
            }
        }
        let c = rest.chars().next().unwrap_or_default();
        if c == '%' {
            out.push_str("%%");
        } else {
            out.push(c);
        }
        rest = &rest[c.len_utf8()..];
    }
    out
}

#[cfg(test)]
mod tests {
    use super::to_strftime;

    #[test]
    fn go_layouts() {
        assert_eq!(to_strftime("15:04:05"), "%H:%M:%S");
        assert_eq!(to_strftime("2006-01-02T15:04:05Z07:00"), "%Y-%m-%dT%H:%M:%S%:z");
        assert_eq!(to_strftime("02-Jan-2006 15:04:05.000"), "%d-%b-%Y %H:%M:%S%.3f");
        assert_eq!(to_strftime("Monday, January 2 3:04PM MST"), "%A, %B %-d %-I:%M%p %Z");
        assert_eq!(to_strftime("T%"), "T%%");
    }
}
