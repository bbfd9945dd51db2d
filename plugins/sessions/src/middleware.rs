//! The runtime of `SessionMiddleware`.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use bytes::Bytes;
use cookie::Cookie;
use http::header::{COOKIE, SET_COOKIE};
use http::{HeaderName, HeaderValue, StatusCode};
use seam_core::extensions::{Client, PerClient, Session, SessionHeaders as ControlHeaders};
use seam_core::interned::interned_name;
use seam_core::metrics::{Counter, Events};
use seam_core::per_thread::PerThread;
use seam_core::{Middleware, Next, Request, Response, Storage, StorageError, async_trait, json_error, unix_ms};
use serde_json::{Map, Value};

use crate::config::{SameSite, SessionMiddlewareConfig};
use crate::id;
use crate::opened::OpenedSessions;
use crate::seal::Sealer;

/// Where the session id travels.
#[derive(Clone, Debug)]
pub enum Lookup {
    /// A cookie of this name.
    Cookie(String),
    /// A request header of this name (the new id comes back in a response header of the same name).
    Header(HeaderName),
}

/// The response headers upstreams log users in and out with.
pub struct SessionHeaders {
    /// Its JSON object is merged into the session.
    pub set: HeaderName,
    /// `true` destroys the session.
    pub destroy: HeaderName,
}

/// Loads, hands on and stores sessions.
pub struct SessionMiddleware {
    /// With `encryptionKeys`: sessions are sealed at rest.
    sealer: Option<Sealer>,
    /// Whether a value that does not open was already logged.
    warned_unopened: AtomicBool,
    /// Sessions parsed on earlier requests.
    opened: OpenedSessions,
    /// The session control headers, handed to the middlewares after this one (a copy per
    /// worker thread).
    control: PerThread<ControlHeaders>,
    config: SessionMiddlewareConfig,
    lookup: Lookup,
    storage: Arc<dyn Storage>,
    set_header: HeaderName,
    destroy_header: HeaderName,
    /// `seam_sessions_total{middleware,event}`.
    created: Counter,
    renewed: Counter,
    destroyed: Counter,
}

fn unavailable(what: &str, e: &StorageError) -> Response {
    tracing::error!("session storage failed while {what}: {e}");
    json_error(StatusCode::SERVICE_UNAVAILABLE, &format!("the session storage is unavailable ({what})"))
}

/// The stored form: `{"created": <unix ms of the id>, "data": {...}}`.
#[derive(serde::Serialize)]
struct Envelope<'a> {
    created: u64,
    data: &'a Map<String, Value>,
}

fn envelope(created: u64, data: &Map<String, Value>) -> Bytes {
    Bytes::from(serde_json::to_vec(&Envelope { created, data }).unwrap_or_default())
}

/// A stored session, `(created, data)`, if `bytes` is one (fuzzed).
pub(crate) fn parse_stored(bytes: &[u8]) -> Option<(u64, Map<String, Value>)> {
    parse_envelope(bytes)
}

/// The session id in `Cookie` header values, if one has the shape of an id (fuzzed).
pub(crate) fn id_from_cookies<'a>(values: impl Iterator<Item = &'a str>, name: &str) -> Option<String> {
    scan_cookies(values, name).id
}

/// What one pass over the `Cookie` header values found.
struct Scanned {
    /// The first cookie named as the session's, if its value has the shape of an id.
    id: Option<String>,
    /// Every cookie parsed and every one was the session's: stripping it leaves no `Cookie`.
    alone: bool,
}

/// Finds the session cookie `name` and whether anything else is there, parsing once.
fn scan_cookies<'a>(values: impl Iterator<Item = &'a str>, name: &str) -> Scanned {
    let mut first = None;
    let mut alone = true;
    for cookie in values.flat_map(Cookie::split_parse) {
        match cookie {
            Ok(cookie) if cookie.name() == name => {
                if first.is_none() {
                    first = Some(cookie.value().to_owned());
                }
            }
            // Another cookie, or a piece that does not parse: the slow strip decides.
            _ => alone = false,
        }
    }
    Scanned { id: first.filter(|raw| id::is_valid(raw)), alone }
}

/// Removes the cookie `name` from the `Cookie` headers; other cookies stay (in one header).
fn strip_cookie(headers: &mut http::HeaderMap, name: &str) {
    let is_session = |pair: &str| pair.split('=').next().map(str::trim) == Some(name);
    let pairs = || {
        headers
            .get_all(COOKIE)
            .iter()
            .filter_map(|v| v.to_str().ok())
            .flat_map(|v| v.split(';'))
            .map(str::trim)
            .filter(|pair| !pair.is_empty())
    };
    // Most requests carry the session cookie alone: then nothing is rebuilt.
    let kept = pairs()
        .any(|pair| !is_session(pair))
        .then(|| pairs().filter(|pair| !is_session(pair)).collect::<Vec<_>>().join("; "));
    headers.remove(COOKIE);
    if let Some(value) = kept.and_then(|kept| HeaderValue::from_str(&kept).ok()) {
        headers.insert(COOKIE, value);
    }
}

fn parse_envelope(bytes: &[u8]) -> Option<(u64, Map<String, Value>)> {
    let Value::Object(mut value) = serde_json::from_slice(bytes).ok()? else { return None };
    let created = value.get("created")?.as_u64()?;
    match value.remove("data")? {
        Value::Object(data) => Some((created, data)),
        _ => None,
    }
}

impl SessionMiddleware {
    /// A middleware for `config`, keeping sessions in `storage`.
    pub fn new(
        name: &str,
        config: SessionMiddlewareConfig,
        lookup: Lookup,
        headers: SessionHeaders,
        storage: Arc<dyn Storage>,
        sealer: Option<Sealer>,
    ) -> Self {
        // The session control headers, named once for every request's extensions.
        let mut control = vec![headers.set.clone(), headers.destroy.clone()];
        if let Lookup::Header(name) = &lookup {
            control.push(name.clone());
        }
        SessionMiddleware {
            config,
            lookup,
            storage,
            set_header: headers.set,
            destroy_header: headers.destroy,
            sealer,
            warned_unopened: AtomicBool::new(false),
            opened: OpenedSessions::new(),
            control: PerThread::new(ControlHeaders(control.into()), |c| {
                ControlHeaders(c.0.iter().map(interned_name).collect())
            }),
            created: Events::Sessions.counter(name, "created"),
            renewed: Events::Sessions.counter(name, "renewed"),
            destroyed: Events::Sessions.counter(name, "destroyed"),
        }
    }

    /// The stored session `(created, data)` under `id`, opened when sessions are sealed.
    fn read(&self, id: &str, bytes: &Bytes) -> Option<(u64, Arc<Map<String, Value>>)> {
        let parsed = self.opened.get_or_open(id, bytes, |bytes| match &self.sealer {
            None => parse_envelope(bytes),
            Some(sealer) => sealer.open(id, bytes).and_then(|plain| parse_envelope(&plain)),
        });
        let parsed = parsed.map(|opened| (opened.created, opened.data.clone()));
        if parsed.is_none() && !self.warned_unopened.swap(true, Ordering::Relaxed) {
            tracing::warn!(
                "a stored session does not open (another key, tampered, moved, or not in seam's format); \
                 it is no session (logged once)"
            );
        }
        parsed
    }

    /// The value to store for `id`, sealed when sessions are sealed.
    fn write(&self, id: &str, created: u64, data: &Map<String, Value>) -> Result<Bytes, StorageError> {
        let plain = envelope(created, data);
        match &self.sealer {
            None => Ok(plain),
            Some(sealer) => sealer.seal(id, &plain).map_err(StorageError::Backend),
        }
    }

    /// The id the client sent, if it has the shape of one, and whether the session cookie is
    /// all its `Cookie` headers hold (see [`Self::strip_from_request`]).
    fn incoming(&self, req: &Request) -> Scanned {
        match &self.lookup {
            Lookup::Header(name) => {
                let raw = req.headers().get(name).and_then(|v| v.to_str().ok());
                Scanned { id: raw.filter(|raw| id::is_valid(raw)).map(str::to_owned), alone: false }
            }
            Lookup::Cookie(name) => {
                scan_cookies(req.headers().get_all(COOKIE).iter().filter_map(|v| v.to_str().ok()), name)
            }
        }
    }

    /// Removes the session cookie (or header) from the request; other cookies stay. `alone`:
    /// the scan found the session cookie and nothing else, so the headers go whole.
    fn strip_from_request(&self, req: &mut Request, alone: bool) {
        match &self.lookup {
            Lookup::Header(name) => {
                req.headers_mut().remove(name);
            }
            Lookup::Cookie(_) if alone => {
                req.headers_mut().remove(COOKIE);
            }
            Lookup::Cookie(name) => strip_cookie(req.headers_mut(), name),
        }
    }

    /// Applies and strips `X-Session-Set` / `X-Session-Destroy` of the response; returns
    /// whether `X-Session-Set` was applied.
    fn apply_response_headers(&self, session: &Session, response: &mut Response) -> bool {
        let mut set = false;
        if let Some(value) = response.headers_mut().remove(&self.set_header) {
            match serde_json::from_slice::<Value>(value.as_bytes()) {
                Ok(Value::Object(values)) => {
                    session.merge(values);
                    set = true;
                }
                Ok(_) | Err(_) => {
                    tracing::warn!("`{}` is not a JSON object; the session is left unchanged", self.set_header)
                }
            }
        }
        if let Some(value) = response.headers_mut().remove(&self.destroy_header)
            && value.as_bytes().eq_ignore_ascii_case(b"true")
        {
            session.destroy();
        }
        set
    }

    /// Removes the session control headers from a response without applying them.
    fn strip_response_headers(&self, response: &mut Response) {
        response.headers_mut().remove(&self.set_header);
        response.headers_mut().remove(&self.destroy_header);
    }

    /// Sends the id to the client (or expires it with `max_age` 0); `https` says whether the
    /// request arrived over HTTPS (the cookie is then `Secure` unless `cookieSecure: false`).
    fn send_id(&self, response: &mut Response, id: &str, expire: bool, https: bool) {
        match &self.lookup {
            Lookup::Header(name) => {
                if expire {
                    response.headers_mut().remove(name);
                } else if let Ok(value) = HeaderValue::from_str(id) {
                    response.headers_mut().insert(name.clone(), value);
                }
            }
            Lookup::Cookie(name) => {
                let config = &self.config;
                let mut cookie = Cookie::build((name.clone(), if expire { String::new() } else { id.to_owned() }))
                    .path(config.cookie_path.clone())
                    .http_only(config.cookie_http_only)
                    .secure(config.cookie_secure.unwrap_or(https))
                    .same_site(match config.cookie_same_site {
                        SameSite::Strict => cookie::SameSite::Strict,
                        SameSite::Lax => cookie::SameSite::Lax,
                        SameSite::None => cookie::SameSite::None,
                    });
                if let Some(domain) = &config.cookie_domain {
                    cookie = cookie.domain(domain.clone());
                }
                if expire {
                    cookie = cookie.max_age(cookie::time::Duration::ZERO);
                } else if !config.cookie_session_only {
                    let secs = i64::try_from(config.cookie_expiration.get().as_secs()).unwrap_or(i64::MAX);
                    cookie = cookie.max_age(cookie::time::Duration::seconds(secs));
                }
                if let Ok(value) = HeaderValue::from_str(&cookie.build().to_string()) {
                    response.headers_mut().append(SET_COOKIE, value);
                }
            }
        }
    }
}

#[async_trait]
impl Middleware for SessionMiddleware {
    async fn handle(&self, mut req: Request, next: Next) -> Response {
        let mut loaded: Option<(String, u64)> = None;
        let mut values = None;
        let Scanned { id: incoming, alone } = self.incoming(&req);
        if let Some(id) = incoming {
            match seam_core::storage::read(&*self.storage, &id).await {
                Ok(Some(bytes)) => {
                    if let Some((created, data)) = self.read(&id, &bytes) {
                        loaded = Some((id, created));
                        values = Some(data);
                    }
                }
                Ok(None) => {}
                Err(e) if self.config.fail_open => {
                    tracing::warn!("session storage unavailable, serving without a session (failOpen): {e}");
                    if self.config.disable_session_forward {
                        self.strip_from_request(&mut req, alone);
                    }
                    let mut response = next.run(req).await;
                    // Nothing is applied, and the client never sees the control headers.
                    self.strip_response_headers(&mut response);
                    return response;
                }
                Err(e) => return unavailable("loading the session", &e),
            }
        }
        if self.config.disable_session_forward {
            self.strip_from_request(&mut req, alone);
        }
        let https = req.extensions().get::<Client>().is_some_and(Client::https);
        let session = Session::shared(values.unwrap_or_default());
        req.extensions_mut().insert(session.clone());
        req.extensions_mut().insert(self.control.get().clone());
        let mut response = next.run(req).await;
        let set = self.apply_response_headers(&session, &mut response);
        if loaded.is_some() || set {
            // Made for this client's session: no shared cache in front may store it.
            response.extensions_mut().insert(PerClient);
        }

        let (changed, destroyed) = session.state();
        if destroyed || (changed && session.is_empty()) {
            if let Some((id, _)) = &loaded {
                self.opened.forget(id);
                if let Err(e) = self.storage.delete(id).await {
                    return unavailable("destroying the session", &e);
                }
                self.destroyed.inc();
                self.send_id(&mut response, id, true, https);
            }
            return response;
        }
        let renew_after = self.config.auto_renew_after.get().as_millis() as u64;
        // The clock is read only for a session that may be renewed or will be stored.
        let renewable = !self.config.disable_auto_renew && loaded.is_some();
        let now = if renewable || changed { unix_ms() } else { 0 };
        let aged = renewable && loaded.as_ref().is_some_and(|(_, created)| now.saturating_sub(*created) > renew_after);
        // An upstream that changes an existing session (a login) moves it to a new id, and the
        // old id is deleted at once: an id planted before the login never sees the new data.
        let rotate = aged || (set && changed && loaded.is_some());
        if !changed && !rotate {
            return response;
        }
        if session.is_empty() {
            return response;
        }
        let (id, created) = match (&loaded, rotate) {
            (Some((id, created)), false) => (id.clone(), *created),
            _ => match id::generate() {
                Ok(id) => (id, now),
                Err(e) => return unavailable("creating a session id", &StorageError::Backend(e)),
            },
        };
        let ttl = Some(self.config.cookie_expiration.get());
        let stored = match self.write(&id, created, &session.values()) {
            Ok(stored) => stored,
            Err(e) => return unavailable("sealing the session", &e),
        };
        if let Err(e) = self.storage.set(&id, stored, ttl).await {
            return unavailable("saving the session", &e);
        }
        if rotate && let Some((old, _)) = &loaded {
            self.opened.forget(old);
            if let Err(e) = self.storage.delete(old).await {
                return unavailable("retiring the renewed session id", &e);
            }
        }
        if loaded.is_none() {
            self.created.inc();
        } else if rotate {
            self.renewed.inc();
        }
        self.send_id(&mut response, &id, false, https);
        response
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn stripped(cookies: &[&str]) -> Vec<String> {
        let mut headers = http::HeaderMap::new();
        for value in cookies {
            headers.append(COOKIE, HeaderValue::from_str(value).unwrap());
        }
        strip_cookie(&mut headers, "session_id");
        headers.get_all(COOKIE).iter().map(|v| v.to_str().unwrap().to_owned()).collect()
    }

    #[test]
    fn only_the_session_cookie_is_stripped() {
        assert!(stripped(&["session_id=abc"]).is_empty());
        assert!(stripped(&[" session_id = abc "]).is_empty());
        assert_eq!(stripped(&["session_idx=abc"]), ["session_idx=abc"], "another cookie with a longer name stays");
        assert_eq!(stripped(&["session_id=abc; theme=dark"]), ["theme=dark"]);
        assert_eq!(stripped(&["theme=dark; session_id=abc; lang=en"]), ["theme=dark; lang=en"]);
        assert_eq!(stripped(&["session_id=abc", "theme=dark"]), ["theme=dark"], "two Cookie headers");
        assert!(stripped(&["session_id=abc", "session_id=def"]).is_empty());
        assert!(stripped(&[]).is_empty());
    }

    fn scanned(cookies: &[&str]) -> Scanned {
        scan_cookies(cookies.iter().copied(), "session_id")
    }

    #[test]
    fn the_scan_says_alone_only_when_the_session_cookie_is_all_there_is() {
        let id = "A".repeat(43);
        let alone = |cookies: &[&str]| scanned(cookies).alone;
        assert!(alone(&[&format!("session_id={id}")]));
        assert!(alone(&[&format!(" session_id = {id} ")]));
        assert!(alone(&[&format!("session_id={id}"), "session_id=other"]), "two session cookies go together");
        assert!(!alone(&[&format!("session_id={id}; theme=dark")]));
        assert!(!alone(&[&format!("session_id={id}"), "theme=dark"]), "a second Cookie header");
        assert!(!alone(&[&format!("session_id={id}; garbage")]), "a piece that does not parse is kept");
        assert!(!alone(&["session_idx=1"]));
        assert_eq!(scanned(&[&format!("theme=dark; session_id={id}")]).id.as_deref(), Some(id.as_str()));
        assert_eq!(scanned(&["session_id=short"]).id, None, "not the shape of an id");
    }

    proptest::proptest! {
        /// The shortcut (remove every `Cookie` header) is taken only where stripping cookie by
        /// cookie would have removed them all.
        #[test]
        fn alone_agrees_with_the_strip(
            cookies in proptest::collection::vec("( ?(session_id|theme|session_idx|)( ?= ?[a-zA-Z0-9]{0,4})?;?){0,3}", 0..3)
        ) {
            let cookies: Vec<&str> = cookies.iter().map(String::as_str).collect();
            if scanned(&cookies).alone {
                proptest::prop_assert!(stripped(&cookies).is_empty(), "{cookies:?}");
            }
        }
    }
}
