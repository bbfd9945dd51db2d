//! The access log's line (target `seam::access`), one per request.
//!
//! When `seam run` writes its log through its writer thread without colours, the line is
//! formatted here, straight into a per-thread buffer, in exactly the text or JSON that
//! tracing-subscriber's formatter writes for the same event (a test compares the two): the
//! event machinery and the generic formatter cost more than the rest of the line's way.
//! Otherwise (colours on a terminal, a host embedding the server) it is a `tracing` event.

use std::cell::RefCell;
use std::fmt::Write as _;
use std::net::IpAddr;
use std::sync::{Arc, OnceLock};
use std::time::{SystemTime, UNIX_EPOCH};

use seam_core::log_sink::Sink;

/// One request, as its access line tells it.
pub struct Access<'a> {
    pub method: &'a http::Method,
    pub path: &'a str,
    pub route: &'a str,
    pub status: u16,
    pub duration_ms: f64,
    pub client: IpAddr,
    pub request_id: &'a str,
}

/// `elapsed` in milliseconds as the line shows it: the whole nanoseconds divided once, so
/// 98,324 ns reads `0.098324` (seconds times 1000 rounds twice and reads
/// `0.09832400000000001`).
pub fn millis(elapsed: std::time::Duration) -> f64 {
    // Exact below 2^53 ns (104 days).
    elapsed.as_nanos() as f64 / 1e6
}

/// Where formatted lines go, and in which format (`true`: JSON).
static DIRECT: OnceLock<(Arc<Sink>, bool)> = OnceLock::new();

/// Formats access lines here and queues them on `sink` (set once, by `seam run`).
pub fn write_directly(sink: Arc<Sink>, json: bool) {
    let _ = DIRECT.set((sink, json));
}

thread_local! {
    static LINE: RefCell<String> = RefCell::new(String::with_capacity(256));
    /// The timestamp's text up to the second, and the second it is for.
    static SECOND: RefCell<(u64, String)> = const { RefCell::new((u64::MAX, String::new())) };
}

/// Logs `access` (the caller has checked that `seam::access` is enabled at INFO).
pub fn log(access: &Access<'_>) {
    let Some((sink, json)) = DIRECT.get() else {
        return event(access);
    };
    LINE.with_borrow_mut(|line| {
        line.clear();
        if *json {
            access.json(line, SystemTime::now())
        } else {
            access.text(line, SystemTime::now())
        }
        sink.write(line);
    });
}

/// The line as a `tracing` event, formatted by the subscriber.
fn event(access: &Access<'_>) {
    tracing::info!(
        target: "seam::access",
        method = %access.method,
        path = access.path,
        route = access.route,
        status = access.status,
        duration_ms = access.duration_ms,
        client = %access.client,
        request_id = access.request_id,
    );
}

impl Access<'_> {
    /// tracing-subscriber's default text: `<time>  INFO seam::access: method=GET path="/" ...`.
    fn text(&self, line: &mut String, now: SystemTime) {
        push_timestamp(line, now);
        line.push_str("  INFO seam::access: method=");
        line.push_str(self.method.as_str());
        let _ = write!(line, " path={:?} route={:?} status=", self.path, self.route);
        line.push_str(itoa::Buffer::new().format(self.status));
        let _ = write!(line, " duration_ms={:?} client=", self.duration_ms);
        seam_core::net::push_ip(line, self.client);
        let _ = write!(line, " request_id={:?}", self.request_id);
        line.push('\n');
    }

    /// tracing-subscriber's JSON: `{"timestamp":..,"level":"INFO","fields":{..},"target":"seam::access"}`.
    fn json(&self, line: &mut String, now: SystemTime) {
        line.push_str("{\"timestamp\":\"");
        push_timestamp(line, now);
        // The fields in the event's order, as tracing-subscriber writes them.
        line.push_str("\",\"level\":\"INFO\",\"fields\":{\"method\":");
        push_json_str(line, self.method.as_str());
        line.push_str(",\"path\":");
        push_json_str(line, self.path);
        line.push_str(",\"route\":");
        push_json_str(line, self.route);
        line.push_str(",\"status\":");
        line.push_str(itoa::Buffer::new().format(self.status));
        line.push_str(",\"duration_ms\":");
        // Written by serde_json, as tracing-subscriber's JSON writes it (`null` for NaN).
        let _ = serde_json::to_writer(Append(line), &self.duration_ms);
        // An address's text needs no escaping.
        line.push_str(",\"client\":\"");
        seam_core::net::push_ip(line, self.client);
        line.push_str("\",\"request_id\":");
        push_json_str(line, self.request_id);
        line.push_str("},\"target\":\"seam::access\"}\n");
    }
}

/// `text` as a JSON string, escaped as serde_json escapes it.
fn push_json_str(line: &mut String, text: &str) {
    if text.bytes().all(|b| b >= 0x20 && b != b'"' && b != b'\\') {
        line.push('"');
        line.push_str(text);
        line.push('"');
    } else {
        let _ = serde_json::to_writer(Append(line), text);
    }
}

/// serde_json's output appended to a `String` (it writes UTF-8).
struct Append<'a>(&'a mut String);

impl std::io::Write for Append<'_> {
    fn write(&mut self, bytes: &[u8]) -> std::io::Result<usize> {
        self.0.push_str(std::str::from_utf8(bytes).map_err(std::io::Error::other)?);
        Ok(bytes.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

/// The time as tracing-subscriber writes it: RFC 3339 in UTC with microseconds
/// (`2026-11-30T05:03:53.659215Z`); the text up to the second is made once a second.
fn push_timestamp(line: &mut String, now: SystemTime) {
    let since = now.duration_since(UNIX_EPOCH).unwrap_or_default();
    let second = since.as_secs();
    SECOND.with_borrow_mut(|(at, text)| {
        if *at != second {
            text.clear();
            if let Ok(stamp) = jiff::Timestamp::from_second(i64::try_from(second).unwrap_or(i64::MAX)) {
                let _ = write!(text, "{}", stamp.strftime("%Y-%m-%dT%H:%M:%S"));
            }
            *at = second;
        }
        line.push_str(text);
    });
    let mut buffer = itoa::Buffer::new();
    let micros = buffer.format(since.subsec_micros());
    line.push('.');
    for _ in micros.len()..6 {
        line.push('0');
    }
    line.push_str(micros);
    line.push('Z');
}

#[cfg(test)]
mod tests {
    use std::sync::Mutex;

    use super::*;

    /// What a subscriber writes.
    #[derive(Clone, Default)]
    struct Captured(Arc<Mutex<Vec<u8>>>);

    impl std::io::Write for Captured {
        fn write(&mut self, bytes: &[u8]) -> std::io::Result<usize> {
            self.0.lock().unwrap().extend_from_slice(bytes);
            Ok(bytes.len())
        }

        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }

    impl<'a> tracing_subscriber::fmt::MakeWriter<'a> for Captured {
        type Writer = Captured;

        fn make_writer(&'a self) -> Captured {
            self.clone()
        }
    }

    /// The line tracing-subscriber writes for `access`, and the one formatted here.
    fn both(access: &Access<'_>, json: bool) -> (String, String) {
        let captured = Captured::default();
        let builder = tracing_subscriber::fmt().with_writer(captured.clone()).with_ansi(false);
        if json {
            tracing::subscriber::with_default(builder.json().finish(), || event(access));
        } else {
            tracing::subscriber::with_default(builder.finish(), || event(access));
        }
        let theirs = String::from_utf8(captured.0.lock().unwrap().clone()).unwrap();
        let mut ours = String::new();
        if json {
            access.json(&mut ours, SystemTime::now())
        } else {
            access.text(&mut ours, SystemTime::now())
        }
        (theirs, ours)
    }

    /// `line` without its timestamp (the text up to its first `Z`), and the timestamp.
    fn split(line: &str) -> (String, jiff::Timestamp) {
        let (before, after) = line.split_once('Z').unwrap();
        let start =
            before.rfind(|c: char| !(c.is_ascii_digit() || matches!(c, '-' | ':' | 'T' | '.'))).map_or(0, |i| i + 1);
        let stamp: jiff::Timestamp = format!("{}Z", &before[start..]).parse().unwrap();
        (format!("{}<time>{after}", &before[..start]), stamp)
    }

    #[test]
    fn durations_read_as_their_decimal_milliseconds() {
        use std::time::Duration;
        for (nanos, text) in [(98_324, "0.098324"), (214_086, "0.214086"), (1, "1e-6"), (12_345_678_900, "12345.6789")]
        {
            assert_eq!(format!("{:?}", millis(Duration::from_nanos(nanos))), text);
        }
        assert_eq!(format!("{:?}", Duration::from_nanos(98_324).as_secs_f64() * 1000.0), "0.09832400000000001");
    }

    #[test]
    fn the_line_is_the_one_tracing_subscriber_writes_in_text_and_in_json() {
        let get = http::Method::GET;
        let post = http::Method::POST;
        let cases = [
            Access {
                method: &get,
                path: "/",
                route: "All",
                status: 200,
                duration_ms: 0.214086,
                client: [127, 0, 0, 1].into(),
                request_id: "-",
            },
            Access {
                method: &post,
                path: "/a\"b\\c/%20",
                route: "Café ☕\tx",
                status: 404,
                duration_ms: 0.00001,
                client: "::1".parse().unwrap(),
                request_id: "0b6e-\"x",
            },
            Access {
                method: &get,
                path: "/x",
                route: "-",
                status: 502,
                duration_ms: 12_345.678_9,
                client: [10, 0, 0, 2].into(),
                request_id: "",
            },
            Access {
                method: &get,
                path: "/y",
                route: "R",
                status: 200,
                duration_ms: 1e20,
                client: [10, 0, 0, 3].into(),
                request_id: "id",
            },
        ];
        for access in &cases {
            for json in [false, true] {
                let (theirs, ours) = both(access, json);
                let ((theirs_rest, theirs_time), (ours_rest, ours_time)) = (split(&theirs), split(&ours));
                assert_eq!(ours_rest, theirs_rest, "json: {json}");
                assert!((ours_time - theirs_time).get_seconds().abs() <= 1, "{theirs} / {ours}");
                assert_eq!(ours.len() - ours_rest.len(), theirs.len() - theirs_rest.len(), "{theirs} / {ours}");
            }
        }
    }
}
