use std::collections::BTreeMap;

use bytes::Bytes;
use http::header::CONTENT_TYPE;
use http::{HeaderMap, HeaderValue, StatusCode};
use seam_core::extensions::PathParams;
use seam_core::{Action, Body, Request, Response, async_trait};
use serde_json::{Value, json};

/// The runtime of `RespondAction`.
pub struct RespondAction {
    status: StatusCode,
    headers: HeaderMap,
    body: Bytes,
    echo: bool,
}

impl RespondAction {
    /// Answers every request with `status`, `headers` and `body`, or with an echo.
    pub fn new(status: StatusCode, headers: HeaderMap, body: Bytes, echo: bool) -> Self {
        RespondAction { status, headers, body, echo }
    }
}

/// The JSON an echo answers with.
pub fn echo_json(req: &Request) -> Value {
    let params: BTreeMap<&str, &str> = req
        .extensions()
        .get::<PathParams>()
        .map(|p| p.0.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect())
        .unwrap_or_default();
    let mut query: BTreeMap<String, Vec<String>> = BTreeMap::new();
    for (k, v) in form_urlencoded::parse(req.uri().query().unwrap_or("").as_bytes()) {
        query.entry(k.into_owned()).or_default().push(v.into_owned());
    }
    let mut headers: BTreeMap<&str, Vec<String>> = BTreeMap::new();
    for (name, value) in req.headers() {
        headers.entry(name.as_str()).or_default().push(String::from_utf8_lossy(value.as_bytes()).into_owned());
    }
    json!({
        "method": req.method().as_str(),
        "path": req.uri().path(),
        "rawQuery": req.uri().query().unwrap_or(""),
        "params": params,
        "query": query,
        "headers": headers,
    })
}

#[async_trait]
impl Action for RespondAction {
    async fn handle(&self, req: Request) -> Response {
        let (body, content_type) = if self.echo {
            let text = serde_json::to_vec_pretty(&echo_json(&req)).unwrap_or_default();
            (Body::from(text), Some(HeaderValue::from_static("application/json")))
        } else {
            (Body::from(self.body.clone()), None)
        };
        let mut response = Response::new(body);
        *response.status_mut() = self.status;
        *response.headers_mut() = self.headers.clone();
        if let Some(ct) = content_type {
            response.headers_mut().insert(CONTENT_TYPE, ct);
        }
        response
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use http_body_util::BodyExt;

    #[tokio::test]
    async fn echo_shows_the_request() {
        let action = RespondAction::new(StatusCode::OK, HeaderMap::new(), Bytes::new(), true);
        let mut req = Request::new(Body::empty());
        *req.uri_mut() = "/users/42?x=1&x=2".parse().unwrap();
        req.headers_mut().insert("x-test", HeaderValue::from_static("yes"));
        req.extensions_mut().insert(PathParams(vec![("id".into(), "42".into())]));
        let res = action.handle(req).await;
        let body = res.into_body().collect().await.unwrap().to_bytes();
        let v: Value = serde_json::from_slice(&body).unwrap();
        assert_eq!(v["path"], "/users/42");
        assert_eq!(v["params"]["id"], "42");
        assert_eq!(v["query"]["x"], json!(["1", "2"]));
        assert_eq!(v["headers"]["x-test"], json!(["yes"]));
    }

    #[tokio::test]
    async fn fixed_reply() {
        let mut headers = HeaderMap::new();
        headers.insert("x-a", HeaderValue::from_static("b"));
        let action = RespondAction::new(StatusCode::CREATED, headers, Bytes::from_static(b"hi"), false);
        let res = action.handle(Request::new(Body::empty())).await;
        assert_eq!(res.status(), StatusCode::CREATED);
        assert_eq!(res.headers()["x-a"], "b");
        assert_eq!(&res.into_body().collect().await.unwrap().to_bytes()[..], b"hi");
    }
}
