//! The runtime of `LoggerMiddleware`.

use std::cell::RefCell;
use std::time::{Duration, Instant};

use http::header::{CONTENT_LENGTH, HOST, REFERER, USER_AGENT};
use http_body::Body as _;
use seam_core::extensions::{Client, Locals, MatchedRoute, RequestId};
use seam_core::log_sink::Sink;
use seam_core::{Carry, Request, Response, Step};

use crate::template::{Part, Tag};
use thread_local::ThreadLocal;

pub(crate) struct LoggerMiddleware {
    parts: Vec<Part>,
    zone: jiff::tz::TimeZone,
    strftime: String,
    interval: Duration,
    colors: bool,
    sink: Sink,
    /// The text of `${time}` and when it was made, kept by each worker thread for itself
    /// (no lock shared between the workers on every request).
    clock: ThreadLocal<RefCell<(Option<Instant>, String)>>,
    pid: String,
    /// Whether a tag reads request headers, so they are kept for the line (known at build).
    needs_headers: bool,
    /// Whether a tag reads the request's locals.
    needs_locals: bool,
    /// Whether a tag reads the matched route.
    needs_route: bool,
}

impl LoggerMiddleware {
    pub(crate) fn new(
        parts: Vec<Part>,
        zone: jiff::tz::TimeZone,
        strftime: String,
        interval: Duration,
        disable_colors: bool,
        sink: Sink,
    ) -> Self {
        let needs_headers = parts.iter().any(|p| {
            matches!(
                p,
                Part::Tag(
                    Tag::ReqHeader(_) | Tag::Ips | Tag::Host | Tag::Referer | Tag::UserAgent | Tag::BytesReceived
                )
            )
        });
        let needs_locals = parts.iter().any(|p| matches!(p, Part::Tag(Tag::Locals(_))));
        let needs_route = parts.iter().any(|p| matches!(p, Part::Tag(Tag::Route)));
        LoggerMiddleware {
            needs_route,
            needs_headers,
            needs_locals,
            parts,
            zone,
            strftime,
            interval,
            colors: !disable_colors,
            sink,
            clock: ThreadLocal::new(),
            pid: std::process::id().to_string(),
        }
    }

    /// Appends the text of `${time}`, made again when it is `timeInterval` older than `now`.
    fn push_time(&self, line: &mut String, now: Instant) {
        let mut clock = self.clock.get_or_default().borrow_mut();
        if clock.0.is_none_or(|at| now.saturating_duration_since(at) >= self.interval) {
            let zoned = jiff::Timestamp::now().to_zoned(self.zone.clone());
            clock.1 = zoned.strftime(&self.strftime).to_string();
            clock.0 = Some(now);
        }
        line.push_str(&clock.1);
    }
}

/// What the line needs from the request, taken before it goes down the chain.
struct Seen {
    method: http::Method,
    uri: http::Uri,
    headers: http::HeaderMap,
    ip: Option<std::net::IpAddr>,
    route: Option<std::sync::Arc<str>>,
    scheme: &'static str,
    request_id: Option<std::sync::Arc<str>>,
    locals: Option<Locals>,
}

/// Appends Go's `time.Duration` text (`152.302µs`, `1.5ms`, `2.003s`, `1m40s`), as Fiber
/// prints `${latency}`: Go's own integer algorithm (`time.Duration.String`), so the digits
/// are exact and no float is formatted per request.
fn push_go_duration(line: &mut String, d: Duration) {
    // In 64 bits (584 years of nanoseconds): 128-bit division is a library call per digit.
    let nanos = u64::try_from(d.as_nanos()).unwrap_or(u64::MAX);
    let mut digits = itoa::Buffer::new();
    if nanos < 1_000 {
        line.push_str(digits.format(nanos));
        line.push_str("ns");
        return;
    }
    let (scale, places, unit) = match nanos {
        1_000..1_000_000 => (1_000, 3, "µs"),
        1_000_000..1_000_000_000 => (1_000_000, 6, "ms"),
        _ => (1_000_000_000, 9, "s"),
    };
    let whole = nanos / scale;
    if places < 9 {
        line.push_str(digits.format(whole));
    } else {
        // From a second up Go writes hours and minutes before the seconds: `1h2m3.5s`.
        let (hours, minutes, seconds) = (whole / 3600, whole / 60 % 60, whole % 60);
        if hours > 0 {
            line.push_str(digits.format(hours));
            line.push('h');
        }
        if whole >= 60 {
            line.push_str(digits.format(minutes));
            line.push('m');
        }
        line.push_str(digits.format(seconds));
    }
    push_fraction(line, nanos % scale, places);
    line.push_str(unit);
}

/// Appends `.` and the `places` digits of `fraction`, without trailing zeros (nothing when
/// it is zero), as Go's `fmtFrac`.
fn push_fraction(line: &mut String, mut fraction: u64, places: usize) {
    if fraction == 0 {
        return;
    }
    let mut text = [b'0'; 9];
    for slot in text[..places].iter_mut().rev() {
        *slot = b'0' + (fraction % 10) as u8;
        fraction /= 10;
    }
    let end = text[..places].iter().rposition(|&b| b != b'0').map_or(0, |i| i + 1);
    line.push('.');
    line.extend(text[..end].iter().map(|&b| char::from(b)));
}

/// The access line needs no `await`: a step of the chain (see `seam_core::step`). What the
/// line needs from the request, and when it started, are carried boxed.
impl Step for LoggerMiddleware {
    fn before(&self, req: &mut Request) -> Result<Carry, Response> {
        let started = Instant::now();
        let client = req.extensions().get::<Client>();
        let seen = Seen {
            method: req.method().clone(),
            uri: req.uri().clone(),
            headers: if self.needs_headers { req.headers().clone() } else { http::HeaderMap::new() },
            ip: client.map(|c| c.ip),
            route: if self.needs_route {
                req.extensions().get::<MatchedRoute>().map(|r| r.pattern.clone())
            } else {
                None
            },
            scheme: client.map_or("http", |c| c.scheme),
            request_id: req.extensions().get::<RequestId>().map(|r| r.0.clone()),
            locals: if self.needs_locals { req.extensions().get::<Locals>().cloned() } else { None },
        };
        Ok(Carry { boxed: Some(Box::new((seen, started))), ..Carry::default() })
    }

    fn after(&self, carry: Carry, response: &mut Response) {
        if let Some((seen, started)) = carry.boxed.and_then(|b| b.downcast::<(Seen, Instant)>().ok()).map(|b| *b) {
            self.write_line(&seen, started, response);
        }
    }
}

seam_core::step_middleware!(LoggerMiddleware);

impl LoggerMiddleware {
    /// Writes the access-log line of a request seen as `seen`, answered with `response`.
    fn write_line(&self, seen: &Seen, started: Instant, response: &Response) {
        let now = Instant::now();
        let latency = now.saturating_duration_since(started);
        // One line buffer per worker thread, reused: no allocation per request.
        thread_local! {
            static LINE: RefCell<String> = RefCell::new(String::with_capacity(256));
        }
        LINE.with_borrow_mut(|line| {
            line.clear();
            self.render(line, seen, now, latency, response);
            self.sink.write(line);
            // A line made long by a large header is not kept for every later one.
            if line.capacity() > 64 * 1024 {
                *line = String::with_capacity(256);
            }
        });
    }

    /// Appends the text of the line to `line`.
    fn render(&self, line: &mut String, seen: &Seen, now: Instant, latency: Duration, response: &Response) {
        for part in &self.parts {
            let tag = match part {
                Part::Text(text) => {
                    line.push_str(text);
                    continue;
                }
                Part::Tag(tag) => tag,
            };
            let header = |map: &http::HeaderMap, name: &http::HeaderName| {
                map.get(name).map(|v| String::from_utf8_lossy(v.as_bytes()).into_owned()).unwrap_or_default()
            };
            match tag {
                Tag::Pid => line.push_str(&self.pid),
                Tag::Time => self.push_time(line, now),
                Tag::Status => line.push_str(response.status().as_str()),
                Tag::Latency => push_go_duration(line, latency),
                Tag::Ip => {
                    if let Some(ip) = seen.ip {
                        seam_core::net::push_ip(line, ip);
                    }
                }
                Tag::Ips => line.push_str(&header(&seen.headers, &seam_core::net::X_FORWARDED_FOR)),
                Tag::Method => line.push_str(seen.method.as_str()),
                Tag::Path => line.push_str(seen.uri.path()),
                Tag::Url => line.push_str(seen.uri.path_and_query().map_or("/", |pq| pq.as_str())),
                Tag::Query => line.push_str(seen.uri.query().unwrap_or_default()),
                Tag::Route => line.push_str(seen.route.as_deref().unwrap_or_default()),
                Tag::Protocol => line.push_str(seen.scheme),
                Tag::Host => line.push_str(&header(&seen.headers, &HOST)),
                Tag::Referer => line.push_str(&header(&seen.headers, &REFERER)),
                Tag::UserAgent => line.push_str(&header(&seen.headers, &USER_AGENT)),
                Tag::BytesSent => {
                    let sent = response
                        .headers()
                        .get(CONTENT_LENGTH)
                        .and_then(|v| v.to_str().ok()?.parse::<u64>().ok())
                        .or(response.body().size_hint().exact())
                        .unwrap_or(0);
                    line.push_str(itoa::Buffer::new().format(sent));
                }
                Tag::BytesReceived => {
                    let received = header(&seen.headers, &CONTENT_LENGTH);
                    line.push_str(if received.is_empty() { "0" } else { &received });
                }
                Tag::Error => {
                    if response.status().is_server_error() {
                        line.push_str(response.status().canonical_reason().unwrap_or("error"));
                    }
                }
                Tag::RequestId => line.push_str(
                    response
                        .extensions()
                        .get::<RequestId>()
                        .map(|r| &*r.0)
                        .or(seen.request_id.as_deref())
                        .unwrap_or_default(),
                ),
                Tag::ReqHeader(name) => line.push_str(&header(&seen.headers, name)),
                Tag::RespHeader(name) => line.push_str(&header(response.headers(), name)),
                Tag::Locals(key) => line.push_str(seen.locals.as_ref().and_then(|l| l.get(key)).unwrap_or_default()),
                Tag::Color(code) => {
                    if self.colors {
                        line.push_str(code);
                    }
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    fn go_duration(d: Duration) -> String {
        let mut line = String::from("latency=");
        super::push_go_duration(&mut line, d);
        line.strip_prefix("latency=").unwrap().to_owned()
    }

    #[test]
    fn latency_as_go_prints_it() {
        let cases = [
            (Duration::from_nanos(450), "450ns"),
            (Duration::from_nanos(152_302), "152.302µs"),
            (Duration::from_micros(1500), "1.5ms"),
            (Duration::from_millis(2003), "2.003s"),
            (Duration::from_micros(1), "1µs"),
            (Duration::from_millis(10), "10ms"),
            // Go writes minutes from 60s up, and hours from 3600s.
            (Duration::from_secs(100), "1m40s"),
            (Duration::from_secs(60), "1m0s"),
            (Duration::from_millis(3_723_500), "1h2m3.5s"),
            (Duration::from_secs(7200), "2h0m0s"),
            (Duration::from_nanos(1_000_000_001), "1.000000001s"),
            (Duration::from_nanos(999_999), "999.999µs"),
            (Duration::from_nanos(1_000), "1µs"),
            (Duration::from_nanos(1_100_000), "1.1ms"),
            (Duration::ZERO, "0ns"),
        ];
        for (duration, go) in cases {
            assert_eq!(go_duration(duration), go, "{duration:?}");
        }
    }
}
