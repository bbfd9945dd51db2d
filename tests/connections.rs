//! Connection safety: slow, silent or idle clients are closed, connections are capped, a
//! stalled body gets 408.

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

#[tokio::test]
async fn a_client_that_connects_and_sends_nothing_is_closed_after_the_header_timeout() {
    let gateway = Gateway::start(&format!("server: {{ address: 127.0.0.1:0, headerTimeout: 1s }}\n{ECHO}")).await;
    let mut stream = TcpStream::connect(gateway.addr).await.unwrap();
    let (read, took) = until_closed(&mut stream, Duration::from_secs(10)).await;
    assert!(took < Duration::from_secs(5), "closed after {took:?}, headerTimeout is 1 s");
    assert!(took >= Duration::from_millis(900), "not before the timeout: {took:?}");
    assert!(read.is_empty(), "nothing to answer: {read}");
}

#[tokio::test]
async fn a_client_that_sends_its_request_a_byte_at_a_time_is_served() {
    // HTTP/1.1 and h2c alike: the protocol is told from the first bytes, however they arrive.
    let gateway = Gateway::start(&format!("server: {{ address: 127.0.0.1:0 }}\n{ECHO}")).await;
    let mut stream = TcpStream::connect(gateway.addr).await.unwrap();
    for byte in b"GET /x HTTP/1.1\r\nhost: gw\r\nconnection: close\r\n\r\n" {
        stream.write_all(&[*byte]).await.unwrap();
        tokio::time::sleep(Duration::from_millis(2)).await;
    }
    let (answer, _) = until_closed(&mut stream, Duration::from_secs(10)).await;
    assert!(answer.starts_with("HTTP/1.1 200"), "{answer}");
    assert!(answer.ends_with("me"), "{answer}");

    let mut stream = TcpStream::connect(gateway.addr).await.unwrap();
    for byte in b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n" {
        stream.write_all(&[*byte]).await.unwrap();
        tokio::time::sleep(Duration::from_millis(2)).await;
    }
    // An HTTP/2 server answers the preface with its SETTINGS frame (type 4, on stream 0).
    let mut head = [0u8; 9];
    tokio::time::timeout(Duration::from_secs(5), stream.read_exact(&mut head)).await.expect("a frame").unwrap();
    assert_eq!(head[3], 4, "a SETTINGS frame: {head:?}");
    assert_eq!(&head[5..9], &[0, 0, 0, 0], "on stream 0: {head:?}");
}

#[test]
fn the_header_timeout_is_on_by_default() {
    let loaded = seam_config::document::load_str("t.yaml", "server: { address: 127.0.0.1:0 }\n");
    assert_eq!(loaded.document.server.header_timeout.get(), Duration::from_secs(30));
    let loaded = seam_config::document::load_str("t.yaml", "server: { headerTimeout: 0s }\n");
    let mut diags = Vec::new();
    assert!(loaded.document.server.plan(None, &mut diags).is_none(), "0s is refused");
}

/// A request with `filler` bytes of one header, the connection closed after it.
fn head_of(filler: usize) -> String {
    format!("GET /x HTTP/1.1\r\nhost: gw\r\nx-filler: {}\r\nconnection: close\r\n\r\n", "a".repeat(filler))
}

#[tokio::test]
async fn a_request_head_past_http1_max_header_size_gets_431() {
    let gateway =
        Gateway::start(&format!("server: {{ address: 127.0.0.1:0, http1MaxHeaderSize: 16384 }}\n{ECHO}")).await;
    // `head_of(n)` is n + 60 bytes: exactly the limit is served, a byte more is not.
    for (filler, status) in [(16_324, "200"), (16_325, "431"), (20_000, "431"), (300_000, "431")] {
        let mut stream = TcpStream::connect(gateway.addr).await.unwrap();
        // The server may answer and close before a huge head is all written.
        let _ = stream.write_all(head_of(filler).as_bytes()).await;
        let (answer, took) = until_closed(&mut stream, Duration::from_secs(10)).await;
        assert!(answer.starts_with(&format!("HTTP/1.1 {status}")), "{filler} bytes: {answer}");
        assert!(took < Duration::from_secs(5), "and the connection is closed: {took:?}");
    }

    // The default is 64 KiB (hyper's own would take 400 KiB).
    let gateway = Gateway::start(&format!("server: {{ address: 127.0.0.1:0 }}\n{ECHO}")).await;
    for (filler, status) in [(60_000, "200"), (70_000, "431")] {
        let mut stream = TcpStream::connect(gateway.addr).await.unwrap();
        stream.write_all(head_of(filler).as_bytes()).await.unwrap();
        let (answer, _) = until_closed(&mut stream, Duration::from_secs(10)).await;
        assert!(answer.starts_with(&format!("HTTP/1.1 {status}")), "{filler} bytes: {answer}");
    }
    // And at most 100 headers, however small.
    for (count, status) in [(90, "200"), (120, "431")] {
        let headers: String = (0..count).map(|i| format!("x-h{i}: 1\r\n")).collect();
        let mut stream = TcpStream::connect(gateway.addr).await.unwrap();
        stream
            .write_all(format!("GET /x HTTP/1.1\r\nhost: gw\r\n{headers}connection: close\r\n\r\n").as_bytes())
            .await
            .unwrap();
        let (answer, _) = until_closed(&mut stream, Duration::from_secs(10)).await;
        assert!(answer.starts_with(&format!("HTTP/1.1 {status}")), "{count} headers: {answer}");
    }
}

#[test]
fn http1_max_header_size_below_hypers_minimum_is_a_load_error() {
    let loaded = seam_config::document::load_str("t.yaml", "server:\n  http1MaxHeaderSize: 4096\n");
    let mut diags = Vec::new();
    let server = &loaded.document.server;
    assert!(server.plan(loaded.document.server_node.as_ref(), &mut diags).is_none(), "4096 is refused");
    assert_eq!(diags.len(), 1, "{diags:?}");
    assert!(diags[0].message.contains("http1MaxHeaderSize 4096 is below 8192"), "{}", diags[0]);
    assert_eq!(diags[0].loc.as_ref().map(|l| (l.line, l.column)), Some((2, 23)), "placed at the value: {}", diags[0]);
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

/// Opens a connection and completes one request on it, leaving it kept alive.
async fn served_connection(addr: std::net::SocketAddr) -> TcpStream {
    let mut stream = TcpStream::connect(addr).await.unwrap();
    served_on(&mut stream).await;
    stream
}

/// Sends a request on `stream` and checks that it is answered 200.
async fn served_on(stream: &mut TcpStream) {
    stream.write_all(b"GET /x HTTP/1.1\r\nhost: gw\r\n\r\n").await.unwrap();
    let mut buf = [0u8; 512];
    let n = tokio::time::timeout(Duration::from_secs(5), stream.read(&mut buf)).await.expect("answered").unwrap();
    assert!(buf[..n].starts_with(b"HTTP/1.1 200"), "{}", String::from_utf8_lossy(&buf[..n]));
}

/// True when the peer closed `stream` (or reset it) within `limit`.
async fn closed_within(stream: &mut TcpStream, limit: Duration) -> bool {
    let mut buf = [0u8; 64];
    matches!(tokio::time::timeout(limit, stream.read(&mut buf)).await, Ok(Ok(0) | Err(_)))
}

#[tokio::test]
async fn past_concurrency_the_connection_idle_the_longest_makes_room() {
    let gateway = Gateway::start(&format!("server: {{ address: 127.0.0.1:0, concurrency: 2 }}\n{ECHO}")).await;
    let mut oldest = served_connection(gateway.addr).await;
    tokio::time::sleep(Duration::from_millis(50)).await;
    let mut newer = served_connection(gateway.addr).await;
    let _third = served_connection(gateway.addr).await;
    assert!(closed_within(&mut oldest, Duration::from_secs(5)).await, "the longest idle one is closed");
    assert!(!closed_within(&mut newer, Duration::from_millis(300)).await, "the other one stays open");
}

#[tokio::test]
async fn past_concurrency_with_every_connection_busy_new_ones_are_refused_and_requests_in_flight_finish() {
    let upstream = Upstream::echo("up").await;
    let gateway = Gateway::start(&format!(
        "server: {{ address: 127.0.0.1:0, concurrency: 1 }}\n\
         actions:\n  Up: {{ use: plugins.httpfw.actions.HttpAction, config: {{ upstreamEndpoint: {} }} }}\n\
         routes:\n  R: {{ gatewayPath: \"/*\", action: Up, methods: [POST] }}\n",
        upstream.url()
    ))
    .await;
    // A request in flight: its body is still arriving.
    let mut busy = TcpStream::connect(gateway.addr).await.unwrap();
    busy.write_all(b"POST /x HTTP/1.1\r\nhost: gw\r\ncontent-length: 6\r\n\r\nabc").await.unwrap();
    tokio::time::sleep(Duration::from_millis(200)).await;
    let mut refused = TcpStream::connect(gateway.addr).await.unwrap();
    let _ = refused.write_all(b"POST /x HTTP/1.1\r\nhost: gw\r\ncontent-length: 0\r\n\r\n").await;
    let started = Instant::now();
    assert!(closed_within(&mut refused, Duration::from_secs(5)).await, "refused");
    assert!(started.elapsed() < Duration::from_secs(3), "refused at once, not after a wait");
    busy.write_all(b"def").await.unwrap();
    let mut buf = [0u8; 1024];
    let n = tokio::time::timeout(Duration::from_secs(5), busy.read(&mut buf)).await.expect("answered").unwrap();
    let answer = String::from_utf8_lossy(&buf[..n]);
    assert!(answer.starts_with("HTTP/1.1 200"), "the request in flight finished: {answer}");
}

#[tokio::test]
async fn an_idle_http1_connection_is_closed_after_idle_timeout() {
    let gateway = Gateway::start(&format!("server: {{ address: 127.0.0.1:0, idleTimeout: 1s }}\n{ECHO}")).await;
    let mut stream = served_connection(gateway.addr).await;
    let started = Instant::now();
    assert!(closed_within(&mut stream, Duration::from_secs(10)).await);
    let took = started.elapsed();
    assert!(took >= Duration::from_millis(800) && took < Duration::from_secs(5), "closed after {took:?}");
}

#[tokio::test]
async fn a_kept_alive_connection_whose_next_head_trickles_is_closed_after_the_header_timeout() {
    let gateway = Gateway::start(&format!("server: {{ address: 127.0.0.1:0, headerTimeout: 1s }}\n{ECHO}")).await;
    let mut stream = served_connection(gateway.addr).await;
    stream.write_all(b"GET /slow HT").await.unwrap();
    let (_, took) = until_closed(&mut stream, Duration::from_secs(10)).await;
    assert!(took >= Duration::from_millis(800) && took < Duration::from_secs(5), "closed after {took:?}");
}

#[tokio::test]
async fn a_first_head_that_keeps_trickling_is_cut_at_the_header_timeout() {
    // A byte every 100 ms: data keeps arriving, a whole head never does.
    let gateway = Gateway::start(&format!("server: {{ address: 127.0.0.1:0, headerTimeout: 2s }}\n{ECHO}")).await;
    let mut stream = TcpStream::connect(gateway.addr).await.unwrap();
    let started = Instant::now();
    let head = b"GET /x HTTP/1.1\r\nhost: gw\r\n".iter().chain(std::iter::repeat(b"x-pad: 1\r\n").flatten());
    let mut buf = [0u8; 64];
    for byte in head {
        if stream.write_all(&[*byte]).await.is_err() {
            break;
        }
        // A closed connection reads as its end (or a reset).
        match tokio::time::timeout(Duration::from_millis(100), stream.read(&mut buf)).await {
            Ok(Ok(0) | Err(_)) => break,
            Ok(Ok(_)) => panic!("answered a head that never ended: {}", String::from_utf8_lossy(&buf)),
            Err(_) => {}
        }
        assert!(started.elapsed() < Duration::from_secs(10), "still open after 10 s of trickling");
    }
    // At the timeout, not at twice it: no answer can be left to flush on a connection that
    // has not had a whole request yet.
    let took = started.elapsed();
    assert!(took >= Duration::from_millis(1800) && took < Duration::from_millis(3500), "closed after {took:?}");
}

#[tokio::test]
async fn requests_that_come_within_the_header_timeout_keep_a_connection_open() {
    let gateway = Gateway::start(&format!("server: {{ address: 127.0.0.1:0, headerTimeout: 1s }}\n{ECHO}")).await;
    let mut stream = served_connection(gateway.addr).await;
    // Five more, 500 ms apart: 2.5 s on one connection, never idle for the whole second.
    for _ in 0..5 {
        tokio::time::sleep(Duration::from_millis(500)).await;
        served_on(&mut stream).await;
    }
}

#[tokio::test]
async fn a_slow_request_is_not_cut_by_idle_timeout() {
    let upstream = Upstream::echo("up").await;
    let gateway = Gateway::start(&format!(
        "server: {{ address: 127.0.0.1:0, idleTimeout: 1s }}\n\
         actions:\n  Up: {{ use: plugins.httpfw.actions.HttpAction, config: {{ upstreamEndpoint: {} }} }}\n\
         routes:\n  R: {{ gatewayPath: \"/*\", action: Up, methods: [POST] }}\n",
        upstream.url()
    ))
    .await;
    let mut stream = TcpStream::connect(gateway.addr).await.unwrap();
    stream.write_all(b"POST /x HTTP/1.1\r\nhost: gw\r\ncontent-length: 6\r\n\r\nabc").await.unwrap();
    tokio::time::sleep(Duration::from_millis(2500)).await;
    stream.write_all(b"def").await.unwrap();
    let mut buf = [0u8; 1024];
    let n = tokio::time::timeout(Duration::from_secs(5), stream.read(&mut buf)).await.expect("answered").unwrap();
    assert!(String::from_utf8_lossy(&buf[..n]).starts_with("HTTP/1.1 200"), "in flight, so not idle");
}

#[tokio::test]
async fn an_idle_http2_connection_is_closed_after_idle_timeout_despite_pings() {
    let gateway = Gateway::start(&format!(
        "server: {{ address: 127.0.0.1:0, idleTimeout: 1s, http2KeepAliveInterval: 200ms }}\n{ECHO}"
    ))
    .await;
    let stream = TcpStream::connect(gateway.addr).await.unwrap();
    let (mut sender, conn) = hyper::client::conn::http2::Builder::new(hyper_util::rt::TokioExecutor::new())
        .handshake::<_, http_body_util::Empty<bytes::Bytes>>(hyper_util::rt::TokioIo::new(stream))
        .await
        .expect("h2c handshake");
    let started = Instant::now();
    let conn = tokio::spawn(conn);
    let request = http::Request::get(format!("http://{}/x", gateway.addr)).body(http_body_util::Empty::new()).unwrap();
    let response = sender.send_request(request).await.expect("h2 answer");
    assert_eq!(response.status(), 200);
    drop(response);
    tokio::time::timeout(Duration::from_secs(10), conn).await.expect("the gateway closed the connection").unwrap().ok();
    let took = started.elapsed();
    assert!(took >= Duration::from_millis(800) && took < Duration::from_secs(5), "closed after {took:?}");
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

#[tokio::test]
async fn three_workers_share_the_port_and_all_drain_on_shutdown() {
    let upstream = Upstream::echo("up").await;
    let mut gateway = Gateway::start_workers(
        &format!(
            "server: {{ address: 127.0.0.1:0, shutdownTimeout: 20s }}\n\
             actions:\n  Up: {{ use: plugins.httpfw.actions.HttpAction, config: {{ upstreamEndpoint: {} }} }}\n\
             routes:\n  R: {{ gatewayPath: \"/*\", action: Up, methods: [GET, POST] }}\n",
            upstream.url()
        ),
        3,
    )
    .await;
    // New connections land on any worker; every one is served.
    for _ in 0..60 {
        drop(served_connection(gateway.addr).await);
    }
    // Requests in flight on several connections (so on several workers, most likely)...
    let mut busy = Vec::new();
    for _ in 0..6 {
        let mut stream = TcpStream::connect(gateway.addr).await.unwrap();
        stream.write_all(b"POST /x HTTP/1.1\r\nhost: gw\r\ncontent-length: 6\r\n\r\nabc").await.unwrap();
        busy.push(stream);
    }
    tokio::time::sleep(Duration::from_millis(300)).await;
    // ...finish after the shutdown started, and then the server stops.
    gateway.stop();
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert!(TcpStream::connect(gateway.addr).await.is_err(), "no longer accepting");
    for stream in &mut busy {
        stream.write_all(b"def").await.unwrap();
        let mut buf = [0u8; 1024];
        let n = tokio::time::timeout(Duration::from_secs(5), stream.read(&mut buf)).await.expect("answered").unwrap();
        assert!(String::from_utf8_lossy(&buf[..n]).starts_with("HTTP/1.1 200"));
    }
    let done = gateway.done.take().unwrap();
    tokio::time::timeout(Duration::from_secs(10), done).await.expect("every worker stopped").unwrap();
}
