//! Connection safety: slow or silent clients are closed, connections are capped, a stalled
//! body gets 408.

mod support;

use std::time::{Duration, Instant};

use support::{Gateway, Upstream};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

/// Reads until the peer closes (or `limit` passes); returns what was read and how long it took.
async fn until_closed(stream: &mut TcpStream, limit: Duration) -> (String, Duration) {
    let started = Instant::now();
    let mut read = Vec::new();
    let _ = tokio::time::timeout(limit, stream.read_to_end(&mut read)).await;
    (String::from_utf8_lossy(&read).into_owned(), started.elapsed())
}

const ECHO: &str = "actions:\n  Me: { use: plugins.respond.actions.RespondAction, config: { body: me } }\nroutes:\n  R: { gatewayPath: \"/*\", action: Me }\n";

#[tokio::test]
async fn a_client_that_sends_half_a_request_line_is_closed() {
    let gateway = Gateway::start(&format!("server: {{ address: 127.0.0.1:0, headerTimeout: 1s }}\n{ECHO}")).await;
    let mut stream = TcpStream::connect(gateway.addr).await.unwrap();
    stream.write_all(b"GET /slow HT").await.unwrap();
    let (_, took) = until_closed(&mut stream, Duration::from_secs(10)).await;
    assert!(took < Duration::from_secs(5), "closed after {took:?}, headerTimeout is 1 s");
    assert!(took >= Duration::from_millis(900), "not before the timeout: {took:?}");
}

#[test]
fn the_header_timeout_is_on_by_default() {
    let loaded = seam_config::document::load_str("t.yaml", "server: { address: 127.0.0.1:0 }\n");
    assert_eq!(loaded.document.server.header_timeout.get(), Duration::from_secs(30));
    let loaded = seam_config::document::load_str("t.yaml", "server: { headerTimeout: 0s }\n");
    let mut diags = Vec::new();
    assert!(loaded.document.server.plan(None, &mut diags).is_none(), "0s is refused");
}

#[tokio::test]
async fn a_body_that_stalls_gets_408_within_read_timeout() {
    let upstream = Upstream::echo("up").await;
    let gateway = Gateway::start(&format!(
        "server: {{ address: 127.0.0.1:0, readTimeout: 1s }}
actions:
  Up: {{ use: plugins.httpfw.actions.HttpAction, config: {{ upstreamEndpoint: \"{}\" }} }}
routes:
  R: {{ gatewayPath: /upload, methods: [POST], action: Up }}
",
        upstream.url()
    ))
    .await;
    let mut stream = TcpStream::connect(gateway.addr).await.unwrap();
    stream.write_all(b"POST /upload HTTP/1.1\r\nhost: gw\r\ncontent-length: 100\r\n\r\nabc").await.unwrap();
    let (answer, took) = until_closed(&mut stream, Duration::from_secs(10)).await;
    assert!(answer.starts_with("HTTP/1.1 408"), "{answer}");
    assert!(took < Duration::from_secs(5), "answered after {took:?}");
}

#[tokio::test]
async fn connections_beyond_concurrency_wait_until_one_closes() {
    let gateway = Gateway::start(&format!("server: {{ address: 127.0.0.1:0, concurrency: 2 }}\n{ECHO}")).await;
    let request = b"GET /x HTTP/1.1\r\nhost: gw\r\n\r\n";
    let mut held = Vec::new();
    for _ in 0..2 {
        let mut stream = TcpStream::connect(gateway.addr).await.unwrap();
        stream.write_all(request).await.unwrap();
        let mut buf = [0u8; 256];
        let n = stream.read(&mut buf).await.unwrap();
        assert!(buf[..n].starts_with(b"HTTP/1.1 200"));
        held.push(stream);
    }
    let mut third = TcpStream::connect(gateway.addr).await.unwrap();
    third.write_all(request).await.unwrap();
    let mut buf = [0u8; 256];
    let early = tokio::time::timeout(Duration::from_millis(500), third.read(&mut buf)).await;
    assert!(early.is_err(), "a third connection is not served while two are open");
    drop(held.pop());
    let n = tokio::time::timeout(Duration::from_secs(5), third.read(&mut buf)).await.expect("served").unwrap();
    assert!(buf[..n].starts_with(b"HTTP/1.1 200"), "served once a connection closed");
}

#[tokio::test]
async fn a_silent_tls_client_is_closed_after_the_handshake_timeout() {
    let certs = seam_testkit::TestCerts::generate();
    let gateway = Gateway::start(&format!(
        "server: {{ address: 127.0.0.1:0, tls: true, certFile: {}, keyFile: {}, tlsHandshakeTimeout: 1s }}\n{ECHO}",
        certs.server_cert().display(),
        certs.server_key().display()
    ))
    .await;
    let mut stream = TcpStream::connect(gateway.addr).await.unwrap();
    let (_, took) = until_closed(&mut stream, Duration::from_secs(10)).await;
    assert!(took < Duration::from_secs(5), "closed after {took:?}");
}
