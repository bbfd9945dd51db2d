//! A Fiber logger template (`${time} ${status} - ${method} ${path}`), parsed once.

/// One piece of a line.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Part {
    /// Text written as is.
    Text(String),
    /// A value of the request or response.
    Tag(Tag),
}

/// The tags a template may use (Fiber's, plus `requestId` and `locals:KEY`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Tag {
    Pid,
    Time,
    Status,
    Latency,
    Ip,
    Ips,
    Method,
    Path,
    Url,
    Query,
    Route,
    Protocol,
    Host,
    Referer,
    UserAgent,
    BytesSent,
    BytesReceived,
    Error,
    RequestId,
    ReqHeader(http::HeaderName),
    RespHeader(http::HeaderName),
    Locals(String),
    /// An ANSI color or reset, left out with `disableColors`.
    Color(&'static str),
}

const NAMED: &[(&str, Tag)] = &[
    ("pid", Tag::Pid),
    ("time", Tag::Time),
    ("status", Tag::Status),
    ("latency", Tag::Latency),
    ("ip", Tag::Ip),
    ("ips", Tag::Ips),
    ("method", Tag::Method),
    ("path", Tag::Path),
    ("url", Tag::Url),
    ("query", Tag::Query),
    ("queryParams", Tag::Query),
    ("route", Tag::Route),
    ("protocol", Tag::Protocol),
    ("host", Tag::Host),
    ("referer", Tag::Referer),
    ("ua", Tag::UserAgent),
    ("bytesSent", Tag::BytesSent),
    ("bytesReceived", Tag::BytesReceived),
    ("error", Tag::Error),
    ("requestId", Tag::RequestId),
    ("black", Tag::Color("\x1b[90m")),
    ("red", Tag::Color("\x1b[91m")),
    ("green", Tag::Color("\x1b[92m")),
    ("yellow", Tag::Color("\x1b[93m")),
    ("blue", Tag::Color("\x1b[94m")),
    ("magenta", Tag::Color("\x1b[95m")),
    ("cyan", Tag::Color("\x1b[96m")),
    ("white", Tag::Color("\x1b[97m")),
    ("reset", Tag::Color("\x1b[0m")),
];

/// Why a template does not parse.
#[derive(Debug, PartialEq, Eq)]
pub struct TemplateError {
    pub message: String,
    pub help: Option<String>,
}

/// Parses `format`; `${NAME}` tags must be known (with a did-you-mean when they are not).
pub fn parse(format: &str) -> Result<Vec<Part>, TemplateError> {
    let mut parts = Vec::new();
    let mut text = String::new();
    let mut rest = format;
    while let Some(start) = rest.find("${") {
        text.push_str(&rest[..start]);
        let after = &rest[start + 2..];
        let end = after.find('}').ok_or_else(|| TemplateError {
            message: format!("unterminated `${{` in the format, at `{}`", &rest[start..]),
            help: Some("close every tag: `${status}`".into()),
        })?;
        let name = &after[..end];
        if !text.is_empty() {
            parts.push(Part::Text(std::mem::take(&mut text)));
        }
        parts.push(Part::Tag(tag(name)?));
        rest = &after[end + 1..];
    }
    text.push_str(rest);
    if !text.is_empty() {
        parts.push(Part::Text(text));
    }
    Ok(parts)
}

fn header(name: &str, value: &str) -> Result<http::HeaderName, TemplateError> {
    http::HeaderName::from_bytes(value.as_bytes())
        .map_err(|_| TemplateError { message: format!("`${{{name}}}`: `{value}` is not a header name"), help: None })
}

fn tag(name: &str) -> Result<Tag, TemplateError> {
    if let Some(value) = name.strip_prefix("reqHeader:") {
        return header(name, value).map(Tag::ReqHeader);
    }
    if let Some(value) = name.strip_prefix("respHeader:") {
        return header(name, value).map(Tag::RespHeader);
    }
    if let Some(key) = name.strip_prefix("locals:") {
        return Ok(Tag::Locals(key.to_owned()));
    }
    if let Some((_, tag)) = NAMED.iter().find(|(n, _)| *n == name) {
        return Ok(tag.clone());
    }
    let closest = NAMED
        .iter()
        .map(|(n, _)| *n)
        .chain(["reqHeader:NAME", "respHeader:NAME", "locals:KEY"])
        .map(|n| (strsim::jaro_winkler(n, name), n))
        .filter(|(score, _)| *score > 0.8)
        .max_by(|a, b| a.0.total_cmp(&b.0));
    Err(TemplateError {
        message: format!("unknown tag `${{{name}}}` in the format"),
        help: Some(match closest {
            Some((_, n)) => format!("did you mean `${{{n}}}`?"),
            None => "the tags are pid, time, status, latency, ip, ips, method, path, url, query, route, protocol, host, referer, ua, bytesSent, bytesReceived, error, requestId, reqHeader:NAME, respHeader:NAME, locals:KEY and the colors".into(),
        }),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_text_and_tags() {
        let parts = parse("${status} - ${method} ${reqHeader:X-Id}\n").unwrap();
        assert_eq!(
            parts,
            vec![
                Part::Tag(Tag::Status),
                Part::Text(" - ".into()),
                Part::Tag(Tag::Method),
                Part::Text(" ".into()),
                Part::Tag(Tag::ReqHeader(http::HeaderName::from_static("x-id"))),
                Part::Text("\n".into()),
            ]
        );
    }

    #[test]
    fn unknown_tags_get_a_did_you_mean() {
        let e = parse("${stauts}").unwrap_err();
        assert_eq!(e.message, "unknown tag `${stauts}` in the format");
        assert_eq!(e.help.as_deref(), Some("did you mean `${status}`?"));
        assert!(parse("${status").is_err());
        assert!(parse("${reqHeader:bad name}").is_err());
    }
}
