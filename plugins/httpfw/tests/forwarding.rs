//! HttpAction and BalancerHttpAction against a raw TCP upstream that answers with the request
//! head it received.

use std::net::SocketAddr;

use http_body_util::BodyExt;
use seam_core::extensions::{Client, PathParams};
use seam_core::testing::Harness;
use seam_core::{Body, Request, Response};
use seam_plugin_httpfw::{BalancerHttpActionConfig, HttpActionConfig};
use serde_json::json;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpListener;

/// An upstream answering each request with its request head as the body (one request per
/// connection).
async fn mirror() -> SocketAddr {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        while let Ok((mut stream, _)) = listener.accept().await {
            tokio::spawn(async move {
                let mut head = Vec::new();
                let mut buf = [0u8; 4096];
                while !head.windows(4).any(|w| w == b"\r\n\r\n") {
                    match stream.read(&mut buf).await {
                        Ok(0) | Err(_) => return,
                        Ok(n) => head.extend_from_slice(&buf[..n]),
                    }
                }
                let reply = format!("HTTP/1.1 200 OK\r\ncontent-length: {}\r\nconnection: close\r\n\r\n", head.len());
                let _ = stream.write_all(reply.as_bytes()).await;
                let _ = stream.write_all(&head).await;
            });
        }
    });
    addr
}

fn request(path: &str, wildcard: &str) -> Request {
    let mut request = http::Request::get(path)
        .header("host", "gateway.example")
        .header("connection", "keep-alive, x-secret")
        .header("x-secret", "hop-by-hop")
        .body(Body::empty())
        .unwrap();
    request.extensions_mut().insert(PathParams(vec![("*".into(), wildcard.into())]));
    request.extensions_mut().insert(Client::new("203.0.113.9:4000".parse().unwrap(), "http"));
    request
}

async fn head_of(response: Response) -> String {
    String::from_utf8(response.into_body().collect().await.unwrap().to_bytes().to_vec()).unwrap().to_ascii_lowercase()
}

#[tokio::test]
async fn the_wildcard_joins_the_endpoint_path_and_forwarding_headers_are_set() {
    let up = mirror().await;
    let config = json!({ "upstreamEndpoint": format!("http://{up}/v1") });
    let action = Harness::new().build::<HttpActionConfig>(config).await.unwrap();
    let response = action.handle(request("/api/users/7?full=1", "users/7")).await;
    assert_eq!(response.status(), 200);
    let head = head_of(response).await;
    assert!(head.starts_with("get /v1/users/7?full=1 http/1.1\r\n"), "{head}");
    assert!(head.contains("x-forwarded-for: 203.0.113.9"), "{head}");
    assert!(head.contains("x-forwarded-host: gateway.example"), "{head}");
    assert!(!head.contains("x-secret"), "a header named by Connection is hop-by-hop: {head}");
}

#[tokio::test]
async fn an_upstream_that_refuses_gets_502_and_the_balancer_skips_it() {
    let closed = TcpListener::bind("127.0.0.1:0").await.unwrap().local_addr().unwrap();
    let action = Harness::new()
        .build::<HttpActionConfig>(json!({ "upstreamEndpoint": format!("http://{closed}") }))
        .await
        .unwrap();
    assert_eq!(action.handle(request("/", "")).await.status(), 502);

    let up = mirror().await;
    let endpoints = [format!("http://{closed}"), format!("http://{up}")];
    let balancer =
        Harness::new().build::<BalancerHttpActionConfig>(json!({ "upstreamEndpoints": endpoints })).await.unwrap();
    for _ in 0..3 {
        assert_eq!(balancer.handle(request("/", "")).await.status(), 200, "a body-less request is retried");
    }
}

#[tokio::test]
async fn every_mistake_of_the_config_is_reported() {
    let config = json!({ "upstreamEndpoints": ["ftp://x", "http://ok:80", "not a url"], "timeout": "0s" });
    let error = Harness::new().build::<BalancerHttpActionConfig>(config).await.err().expect("refused");
    assert_eq!(error.problems().len(), 3, "{error}");
}

/// An upstream that announces 100 bytes, sends 10, and closes.
async fn breaking() -> std::net::SocketAddr {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        while let Ok((mut stream, _)) = listener.accept().await {
            let mut buf = [0u8; 4096];
            let _ = stream.read(&mut buf).await;
            let _ = stream.write_all(b"HTTP/1.1 200 OK\r\ncontent-length: 100\r\n\r\n0123456789").await;
        }
    });
    addr
}

#[tokio::test]
async fn an_upstream_that_dies_mid_body_is_an_error_and_the_balancer_skips_it() {
    let (bad, good) = (breaking().await, mirror().await);
    let config = json!({ "upstreamEndpoints": [format!("http://{bad}"), format!("http://{good}")], "backoff": "1m" });
    let balancer = Harness::new().build::<BalancerHttpActionConfig>(config).await.unwrap();
    // Round robin starts with the breaking endpoint: the client's body fails, never hangs.
    let response = balancer.handle(request("/", "")).await;
    let body = tokio::time::timeout(std::time::Duration::from_secs(5), response.into_body().collect()).await;
    assert!(matches!(body, Ok(Err(_))), "the broken body is an error for the client");
    for _ in 0..4 {
        let response = balancer.handle(request("/", "")).await;
        assert!(head_of(response).await.starts_with("get / http/1.1"), "only the good endpoint answers now");
    }
}
