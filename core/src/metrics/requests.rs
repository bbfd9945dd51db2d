//! `seam_http_requests_total` and `seam_http_request_duration_seconds` of one route.

use std::sync::OnceLock;
use std::time::Duration;

use http::{Method, StatusCode};

use super::{Counter, Histogram, families};

/// Methods with a label of their own; any other is counted as `OTHER` (a client cannot
/// grow the label set).
const METHODS: [Method; 9] = [
    Method::GET,
    Method::HEAD,
    Method::POST,
    Method::PUT,
    Method::DELETE,
    Method::PATCH,
    Method::OPTIONS,
    Method::CONNECT,
    Method::TRACE,
];

/// Statuses whose counters are kept at hand (sorted); others are looked up when they occur.
const STATUSES: [u16; 34] = [
    101, 200, 201, 202, 204, 206, 301, 302, 303, 304, 307, 308, 400, 401, 403, 404, 405, 406, 408, 409, 410, 412, 413,
    415, 416, 422, 426, 429, 431, 500, 501, 502, 503, 504,
];

/// The request metrics of one route (or of the requests no route serves: route `""`).
pub struct RequestMetrics {
    route: String,
    service: String,
    duration: Histogram,
    /// Counters by (method, status), made on first use.
    counters: Box<[OnceLock<Counter>]>,
}

impl RequestMetrics {
    /// The handles of `route` served through `service`.
    pub fn new(route: &str, service: Option<&str>) -> RequestMetrics {
        let duration = families().request_duration.get_or_create_owned(&vec![("route", route.to_owned())]);
        let slots = (METHODS.len() + 1) * STATUSES.len();
        RequestMetrics {
            route: route.to_owned(),
            service: service.unwrap_or_default().to_owned(),
            duration,
            counters: (0..slots).map(|_| OnceLock::new()).collect(),
        }
    }

    /// Counts one answered request.
    pub fn record(&self, method: &Method, status: StatusCode, elapsed: Duration) {
        self.duration.observe(elapsed.as_secs_f64());
        let m = METHODS.iter().position(|known| known == method).unwrap_or(METHODS.len());
        match STATUSES.binary_search(&status.as_u16()) {
            Ok(s) => self.counters[m * STATUSES.len() + s].get_or_init(|| self.counter(m, status)).inc(),
            Err(_) => self.counter(m, status).inc(),
        };
    }

    fn counter(&self, method: usize, status: StatusCode) -> Counter {
        let method = METHODS.get(method).map_or("OTHER", Method::as_str);
        let labels = vec![
            ("route", self.route.clone()),
            ("service", self.service.clone()),
            ("method", method.to_owned()),
            ("status", status.as_u16().to_string()),
        ];
        families().requests.get_or_create_owned(&labels)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn statuses_are_sorted_for_the_binary_search() {
        assert!(STATUSES.windows(2).all(|w| w[0] < w[1]));
    }
}
