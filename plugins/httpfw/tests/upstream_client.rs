//! seam's HTTP/1.1 client to plain-HTTP upstreams, against scripted raw TCP upstreams: every
//! way an answer's body can be framed, connections kept alive and replaced when the upstream
//! closed them, early answers to uploads, and answers that must be refused.

use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use bytes::Bytes;
use http_body::Frame;
use http_body_util::{BodyExt, StreamBody};
use seam_core::testing::Harness;
use seam_core::{Action, Body, Request};
use seam_plugin_httpfw::HttpActionConfig;
use serde_json::json;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

/// What a scripted upstream does with a request.
enum Reply {
    /// Writes these bytes (in pieces of at most `split` bytes, flushed apart), keeps the
    /// connection open for the next request.
    Send(Vec<u8>, usize),
    /// Writes these bytes, then closes.
    SendAndClose(Vec<u8>),
    /// Closes without answering.
    Close,
}

/// How a scripted upstream answers request `n` (counted over all its connections), given
/// the request's head in lowercase.
type Script = Arc<dyn Fn(usize, &str) -> Reply + Send + Sync>;

/// An upstream that reads request heads (and `Content-Length` bodies) and answers each as
/// `script(n)` says, `n` counting requests from 0 over all connections. Returns its address
/// and the number of connections it accepted.
async fn scripted(script: impl Fn(usize, &str) -> Reply + Send + Sync + 'static) -> (SocketAddr, Arc<AtomicUsize>) {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let accepted = Arc::new(AtomicUsize::new(0));
    let requests = Arc::new(AtomicUsize::new(0));
    let script: Script = Arc::new(script);
    let counted = accepted.clone();
    tokio::spawn(async move {
        while let Ok((stream, _)) = listener.accept().await {
            counted.fetch_add(1, Ordering::SeqCst);
            tokio::spawn(serve(stream, script.clone(), requests.clone()));
        }
    });
    (addr, accepted)
}

async fn serve(mut stream: TcpStream, script: Script, requests: Arc<AtomicUsize>) {
    let mut buf = Vec::new();
    loop {
        let Some(end) = read_head(&mut stream, &mut buf).await else { return };
        let head = String::from_utf8_lossy(&buf[..end]).to_ascii_lowercase();
        let length = head
            .lines()
            .find_map(|l| l.strip_prefix("content-length: "))
            .and_then(|n| n.trim().parse::<usize>().ok())
            .unwrap_or(0);
        let n = requests.fetch_add(1, Ordering::SeqCst);
        let reply = script(n, &head);
        if !matches!(reply, Reply::Close | Reply::SendAndClose(_)) {
            // Read the body before answering, so the next request starts clean.
            while buf.len() < end + length {
                let mut more = [0u8; 8192];
                match stream.read(&mut more).await {
                    Ok(0) | Err(_) => return,
                    Ok(k) => buf.extend_from_slice(&more[..k]),
                }
            }
            buf.drain(..end + length);
        }
        match reply {
            Reply::Send(bytes, split) => {
                for piece in bytes.chunks(split.max(1)) {
                    if stream.write_all(piece).await.is_err() {
                        return;
                    }
                    let _ = stream.flush().await;
                    if split < bytes.len() {
                        tokio::time::sleep(Duration::from_millis(2)).await;
                    }
                }
            }
            Reply::SendAndClose(bytes) => {
                let _ = stream.write_all(&bytes).await;
                return;
            }
            Reply::Close => return,
        }
    }
}

/// Reads until a request head is complete; its length, or `None` at the end of the stream.
async fn read_head(stream: &mut TcpStream, buf: &mut Vec<u8>) -> Option<usize> {
    loop {
        if let Some(at) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
            return Some(at + 4);
        }
        let mut more = [0u8; 8192];
        match stream.read(&mut more).await {
            Ok(0) | Err(_) => return None,
            Ok(n) => buf.extend_from_slice(&more[..n]),
        }
    }
}

async fn action(up: SocketAddr) -> Arc<dyn Action> {
    Harness::new()
        .build::<HttpActionConfig>(json!({ "upstreamEndpoint": format!("http://{up}"), "timeout": "5s" }))
        .await
        .unwrap()
}

fn get(path: &str) -> Request {
    http::Request::get(path).header("host", "gw").body(Body::empty()).unwrap()
}

/// Status, headers and the whole body of an answer (or the body's error).
async fn answer(action: &dyn Action, request: Request) -> (u16, http::HeaderMap, Result<Bytes, String>) {
    let response = action.handle(request).await;
    let (parts, body) = response.into_parts();
    let body = body.collect().await.map(|c| c.to_bytes()).map_err(|e| e.to_string());
    (parts.status.as_u16(), parts.headers, body)
}

#[tokio::test]
async fn answers_framed_every_way_arrive_whole() {
    let chunked = b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\nX-Kind: chunked\r\n\r\n\
                    5;ext=1\r\nhello\r\n7\r\n, world\r\n0\r\nX-Trailer: dropped\r\n\r\n"
        .to_vec();
    let cases: Vec<(&str, Vec<u8>, u16, &str)> = vec![
        ("chunked", chunked.clone(), 200, "hello, world"),
        ("length", b"HTTP/1.1 200 OK\r\nContent-Length: 12\r\n\r\nhello, world".to_vec(), 200, "hello, world"),
        ("no content", b"HTTP/1.1 204 No Content\r\nX-A: 1\r\n\r\n".to_vec(), 204, ""),
        (
            "interim first",
            b"HTTP/1.1 103 Early Hints\r\nLink: </a>\r\n\r\nHTTP/1.1 201 Created\r\nContent-Length: 2\r\n\r\nok"
                .to_vec(),
            201,
            "ok",
        ),
    ];
    for (name, wire, status, body) in cases {
        // Whole, and written a few bytes at a time.
        for split in [usize::MAX, 3] {
            let reply = wire.clone();
            let (up, accepted) = scripted(move |_, _| Reply::Send(reply.clone(), split)).await;
            let action = action(up).await;
            for round in 0..3 {
                let (got, headers, got_body) = answer(&*action, get("/")).await;
                assert_eq!(
                    (got, got_body.as_deref()),
                    (status, Ok(body.as_bytes())),
                    "{name}, split {split}, round {round}"
                );
                assert!(headers.get("transfer-encoding").is_none(), "{name}: framing is hop-by-hop");
                assert!(headers.get("link").is_none(), "{name}: an interim answer's fields are not the final one's");
            }
            assert_eq!(accepted.load(Ordering::SeqCst), 1, "{name}: one connection, kept alive, carried every request");
        }
    }
}

#[tokio::test]
async fn an_answer_delimited_by_the_close_arrives_whole_and_its_connection_is_not_reused() {
    let (up, accepted) =
        scripted(|_, _| Reply::SendAndClose(b"HTTP/1.1 200 OK\r\nX-A: 1\r\n\r\nall of it, until the end".to_vec()))
            .await;
    let action = action(up).await;
    for _ in 0..2 {
        let (status, _, body) = answer(&*action, get("/")).await;
        assert_eq!((status, body.as_deref()), (200, Ok(&b"all of it, until the end"[..])));
    }
    assert_eq!(accepted.load(Ordering::SeqCst), 2);
}

#[tokio::test]
async fn a_head_request_gets_the_length_without_a_body() {
    let (up, accepted) = scripted(|_, head| {
        assert!(head.starts_with("head / http/1.1\r\n"), "{head}");
        Reply::Send(b"HTTP/1.1 200 OK\r\nContent-Length: 1234\r\n\r\n".to_vec(), usize::MAX)
    })
    .await;
    let action = action(up).await;
    for _ in 0..2 {
        let request = http::Request::head("/").header("host", "gw").body(Body::empty()).unwrap();
        let (status, headers, body) = answer(&*action, request).await;
        assert_eq!((status, body.as_deref()), (200, Ok(&b""[..])));
        assert_eq!(headers["content-length"], "1234");
    }
    assert_eq!(accepted.load(Ordering::SeqCst), 1);
}

#[tokio::test]
async fn a_pooled_connection_the_upstream_closed_is_replaced_and_the_request_sent_again() {
    // Request 0 is answered and its connection closed by the upstream a moment later (as an
    // idle timeout would); request 1 finds it closed in the pool. Request 2's connection is
    // closed by the upstream on receipt, unanswered (the race with an idle timeout): a GET
    // goes out again on a new connection.
    let ok = b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok".to_vec();
    let (up, accepted) = scripted(move |n, _| match n {
        0 => Reply::SendAndClose(ok.clone()),
        2 => Reply::Close,
        _ => Reply::Send(ok.clone(), usize::MAX),
    })
    .await;
    let action = action(up).await;
    assert_eq!(answer(&*action, get("/")).await.0, 200);
    tokio::time::sleep(Duration::from_millis(100)).await;
    assert_eq!(answer(&*action, get("/")).await.0, 200, "the closed connection was not used");
    assert_eq!(answer(&*action, get("/")).await.0, 200, "the GET was sent again");
    assert_eq!(accepted.load(Ordering::SeqCst), 3);
}

#[tokio::test]
async fn a_post_is_never_sent_twice() {
    // The upstream closes on receipt, after the request was written: it may have acted on it.
    let ok = b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok".to_vec();
    let (up, accepted) =
        scripted(move |n, _| if n == 1 { Reply::Close } else { Reply::Send(ok.clone(), usize::MAX) }).await;
    let action = action(up).await;
    assert_eq!(answer(&*action, get("/")).await.0, 200);
    let post = http::Request::post("/").header("host", "gw").body(Body::from("payload")).unwrap();
    let (status, _, _) = answer(&*action, post).await;
    assert_eq!(status, 502);
    assert_eq!(accepted.load(Ordering::SeqCst), 1, "no second connection for the POST");
}

#[tokio::test]
async fn answers_that_could_be_read_two_ways_are_502() {
    for wire in [
        &b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\nContent-Length: 3\r\n\r\n3\r\nabc\r\n0\r\n\r\n"[..],
        b"HTTP/1.1 200 OK\r\nContent-Length: 3\r\nContent-Length: 30\r\n\r\nabc",
        b"HTTP/1.1 200 OK\r\nTransfer-Encoding: gzip\r\n\r\nabc",
        b"HTTP/1.1 200 OK\r\nX-Bad\r\n\r\n",
        b"HTTX/1.1 200 OK\r\n\r\n",
    ] {
        let reply = wire.to_vec();
        let (up, _) = scripted(move |_, _| Reply::Send(reply.clone(), usize::MAX)).await;
        let (status, _, body) = answer(&*action(up).await, get("/")).await;
        assert_eq!(status, 502, "{}", String::from_utf8_lossy(wire));
        assert!(String::from_utf8_lossy(&body.unwrap()).contains("the upstream"), "the reason is given");
    }
    // A broken chunk, once the head has gone to the client: the body fails.
    let (up, _) = scripted(|_, _| {
        Reply::Send(b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabcdef".to_vec(), 1 << 20)
    })
    .await;
    let (status, _, body) = answer(&*action(up).await, get("/")).await;
    assert_eq!(status, 200);
    assert!(body.unwrap_err().contains("CRLF"));
}

#[tokio::test]
async fn bytes_beyond_an_answer_keep_its_connection_out_of_the_pool() {
    let (up, accepted) = scripted(|_, _| {
        Reply::Send(b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nokHTTP/1.1 200 OK\r\n".to_vec(), usize::MAX)
    })
    .await;
    let action = action(up).await;
    for _ in 0..2 {
        let (status, _, body) = answer(&*action, get("/")).await;
        assert_eq!((status, body.as_deref()), (200, Ok(&b"ok"[..])));
    }
    assert_eq!(accepted.load(Ordering::SeqCst), 2, "the unasked bytes were never taken for an answer");
}

#[tokio::test]
async fn an_answer_head_beyond_its_bound_is_502() {
    let huge = format!("HTTP/1.1 200 OK\r\nX-Big: {}\r\nContent-Length: 0\r\n\r\n", "a".repeat(80 * 1024));
    let (up, _) = scripted(move |_, _| Reply::Send(huge.clone().into_bytes(), usize::MAX)).await;
    let (status, _, _) = answer(&*action(up).await, get("/")).await;
    assert_eq!(status, 502);
}

#[tokio::test]
async fn an_early_answer_to_an_upload_is_passed_on() {
    // The upstream refuses after the head, without reading the body, and closes; the client
    // is still sending (8 MiB, more than the sockets buffer).
    let (up, _) = scripted(|_, _| {
        Reply::SendAndClose(
            b"HTTP/1.1 413 Payload Too Large\r\nContent-Length: 8\r\nConnection: close\r\n\r\ntoo big!".to_vec(),
        )
    })
    .await;
    let (tx, rx) = tokio::sync::mpsc::channel::<Result<Frame<Bytes>, std::io::Error>>(4);
    tokio::spawn(async move {
        for _ in 0..128 {
            if tx.send(Ok(Frame::data(Bytes::from(vec![b'x'; 64 * 1024])))).await.is_err() {
                return;
            }
        }
    });
    let body = Body::new(StreamBody::new(tokio_stream_from(rx)));
    let upload = http::Request::post("/").header("host", "gw").body(body).unwrap();
    let action = action(up).await;
    let (status, _, body) = tokio::time::timeout(Duration::from_secs(10), answer(&*action, upload)).await.unwrap();
    assert_eq!((status, body.as_deref()), (413, Ok(&b"too big!"[..])));
}

#[tokio::test]
async fn a_streamed_upload_goes_chunked_and_arrives_whole() {
    // The scripted upstream reads no chunked bodies: a listener of its own reads this one.
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let received = tokio::spawn(async move {
        let (mut stream, _) = listener.accept().await.unwrap();
        let mut wire = Vec::new();
        let mut buf = [0u8; 4096];
        while !wire.ends_with(b"0\r\n\r\n") {
            let n = stream.read(&mut buf).await.unwrap();
            assert!(n > 0, "closed early: {}", String::from_utf8_lossy(&wire));
            wire.extend_from_slice(&buf[..n]);
        }
        stream.write_all(b"HTTP/1.1 204 No Content\r\n\r\n").await.unwrap();
        wire
    });
    let (tx, rx) = tokio::sync::mpsc::channel::<Result<Frame<Bytes>, std::io::Error>>(4);
    tokio::spawn(async move {
        for part in ["first,", "second,", "third"] {
            tx.send(Ok(Frame::data(Bytes::from_static(part.as_bytes())))).await.unwrap();
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
    });
    let request =
        http::Request::post("/").header("host", "gw").body(Body::new(StreamBody::new(tokio_stream_from(rx)))).unwrap();
    let (status, _, _) = answer(&*action(addr).await, request).await;
    assert_eq!(status, 204);
    let wire = String::from_utf8(received.await.unwrap()).unwrap();
    assert!(wire.ends_with("\r\n\r\n6\r\nfirst,\r\n7\r\nsecond,\r\n5\r\nthird\r\n0\r\n\r\n"), "{wire}");
}

/// A stream of the frames a channel receives.
fn tokio_stream_from<T: Send + 'static>(mut rx: tokio::sync::mpsc::Receiver<T>) -> impl futures_util::Stream<Item = T> {
    futures_util::stream::poll_fn(move |cx| rx.poll_recv(cx))
}
