//! HttpAction and BalancerHttpAction against test upstreams written with hyper.

mod support;

use std::collections::HashMap;
use std::time::Duration;

use bytes::Bytes;
use http::StatusCode;
use http_body_util::Full;
use support::{Gateway, SERVER, Upstream, get, json, send};

fn forward_doc(server: &str, action: &str, routes: &str) -> String {
    format!("{server}actions:\n  Fw: {action}\nroutes:\n{routes}")
}

#[tokio::test]
async fn path_remainder_params_and_query_are_forwarded() {
    let up = Upstream::echo("u").await;
    let doc = format!(
        "{SERVER}actions:
  Files: {{ use: plugins.httpfw.actions.HttpAction, config: {{ upstreamEndpoint: \"{0}/storage\" }} }}
  User: {{ use: plugins.httpfw.actions.HttpAction, config: {{ upstreamEndpoint: \"{0}/v2/users/:id/profile\" }} }}
routes:
  Files: {{ gatewayPath: /files/*, action: Files }}
  User: {{ gatewayPath: /users/:id, action: User }}
",
        up.url()
    );
    let gw = Gateway::start(&doc).await;
    let (_, _, body) = get(&gw.url("/files/a/b%20c.txt?x=1&y=2")).await;
    assert_eq!(json(&body)["uri"], "/storage/a/b%20c.txt?x=1&y=2");
    let (_, _, body) = get(&gw.url("/files")).await;
    assert_eq!(json(&body)["uri"], "/storage");
    let (_, _, body) = get(&gw.url("/users/42?full=true")).await;
    assert_eq!(json(&body)["uri"], "/v2/users/42/profile?full=true");
}

#[tokio::test]
async fn hop_by_hop_headers_are_removed_both_ways_and_forwarded_headers_set() {
    let up = Upstream::echo("u").await;
    let action =
        format!("{{ use: plugins.httpfw.actions.HttpAction, config: {{ upstreamEndpoint: \"{}\" }} }}", up.url());
    let gw = Gateway::start(&forward_doc(SERVER, &action, "  R: { gatewayPath: /r, action: Fw }\n")).await;
    let request = http::Request::get(gw.url("/r"))
        .header("connection", "x-client-hop")
        .header("x-client-hop", "1")
        .header("keep-alive", "timeout=5")
        .header("te", "trailers")
        .header("x-kept", "yes")
        .header("x-forwarded-for", "203.0.113.9")
        .header("host", "gateway.example")
        .body(Full::default())
        .unwrap();
    let (status, headers, body) = send(request).await;
    assert_eq!(status, StatusCode::OK);
    let seen = &json(&body)["headers"];
    for hop in ["x-client-hop", "keep-alive", "te"] {
        assert!(seen.get(hop).is_none(), "`{hop}` reached the upstream: {seen}");
    }
    assert_eq!(seen["x-kept"], "yes");
    assert_eq!(seen["x-forwarded-for"], "127.0.0.1", "a client that is no trusted proxy cannot inject addresses");
    assert_eq!(seen["x-forwarded-proto"], "http");
    assert_eq!(seen["x-forwarded-host"], "gateway.example");
    assert_eq!(seen["host"], up.addr.to_string(), "Host becomes the upstream's");
    assert!(headers.get("x-upstream-hop").is_none(), "hop-by-hop headers of the response are removed");
    assert!(headers.get("keep-alive").is_none());
}

#[tokio::test]
async fn trusted_proxies_keep_forwarded_headers_and_preserve_host() {
    let up = Upstream::echo("u").await;
    let action = format!(
        "{{ use: plugins.httpfw.actions.HttpAction, config: {{ upstreamEndpoint: \"{}\", preserveHost: true }} }}",
        up.url()
    );
    let server = "server:\n  address: 127.0.0.1:0\n  trustedProxies: [127.0.0.0/8]\n";
    let gw = Gateway::start(&forward_doc(server, &action, "  R: { gatewayPath: /r, action: Fw }\n")).await;
    let request = http::Request::get(gw.url("/r"))
        .header("x-forwarded-for", "203.0.113.9")
        .header("x-forwarded-proto", "https")
        .header("host", "api.example")
        .body(Full::default())
        .unwrap();
    let (_, _, body) = send(request).await;
    let seen = &json(&body)["headers"];
    assert_eq!(seen["x-forwarded-for"], "203.0.113.9, 127.0.0.1");
    assert_eq!(seen["x-forwarded-proto"], "https");
    assert_eq!(seen["host"], "api.example");
}

#[tokio::test]
async fn balancer_spreads_round_robin_and_skips_a_dead_endpoint() {
    let (a, b, c) = (Upstream::echo("a").await, Upstream::echo("b").await, Upstream::echo("c").await);
    let dead = seam_testkit::free_port();
    let action = format!(
        "{{ use: plugins.httpfw.actions.BalancerHttpAction, config: {{ upstreamEndpoints: [\"{}\", \"{}\", \"http://127.0.0.1:{dead}\", \"{}\"], backoff: 30s }} }}",
        a.url(),
        b.url(),
        c.url()
    );
    let gw = Gateway::start(&forward_doc(SERVER, &action, "  R: { gatewayPath: /r, action: Fw }\n")).await;
    let mut counts: HashMap<String, usize> = HashMap::new();
    for _ in 0..12 {
        let (status, _, body) = get(&gw.url("/r")).await;
        assert_eq!(status, StatusCode::OK, "a request without a body is retried on the next endpoint");
        *counts.entry(json(&body)["upstream"].as_str().unwrap().to_owned()).or_default() += 1;
    }
    assert_eq!(counts.len(), 3, "{counts:?}");
    assert!(counts.values().all(|&n| n >= 3), "spread evenly: {counts:?}");
}

#[tokio::test]
async fn connect_failure_is_502_and_a_slow_upstream_504() {
    let dead = seam_testkit::free_port();
    let slow = Upstream::start(|_req| async {
        tokio::time::sleep(Duration::from_secs(3)).await;
        http::Response::new(Full::new(Bytes::from_static(b"late")))
    })
    .await;
    let doc = format!(
        "{SERVER}actions:
  Dead: {{ use: plugins.httpfw.actions.HttpAction, config: {{ upstreamEndpoint: \"http://127.0.0.1:{dead}\" }} }}
  Slow: {{ use: plugins.httpfw.actions.HttpAction, config: {{ upstreamEndpoint: \"{}\", timeout: 300ms }} }}
  AllDead: {{ use: plugins.httpfw.actions.BalancerHttpAction, config: {{ upstreamEndpoints: [\"http://127.0.0.1:{dead}\"] }} }}
routes:
  Dead: {{ gatewayPath: /dead, action: Dead }}
  Slow: {{ gatewayPath: /slow, action: Slow }}
  AllDead: {{ gatewayPath: /all-dead, action: AllDead }}
",
        slow.url()
    );
    let gw = Gateway::start(&doc).await;
    assert_eq!(get(&gw.url("/dead")).await.0, StatusCode::BAD_GATEWAY);
    let started = std::time::Instant::now();
    assert_eq!(get(&gw.url("/slow")).await.0, StatusCode::GATEWAY_TIMEOUT);
    assert!(started.elapsed() < Duration::from_secs(2));
    assert_eq!(get(&gw.url("/all-dead")).await.0, StatusCode::BAD_GATEWAY);
    assert_eq!(get(&gw.url("/all-dead")).await.0, StatusCode::BAD_GATEWAY, "still 502 while backing off");
}

/// A gateway serving every path through HttpAction to `addr`.
async fn proxy_to(addr: std::net::SocketAddr) -> Gateway {
    Gateway::start(&forward_doc(
        SERVER,
        &format!("{{ use: plugins.httpfw.actions.HttpAction, config: {{ upstreamEndpoint: \"http://{addr}\" }} }}"),
        "  R: { gatewayPath: /*, action: Fw }",
    ))
    .await
}

/// An HTTP/1.1 upstream that counts the connections it accepts; `/bye` answers with
/// `Connection: close`, `/big` streams 1 MiB slowly.
async fn counting_upstream() -> (std::net::SocketAddr, std::sync::Arc<std::sync::atomic::AtomicUsize>) {
    use std::sync::Arc;
    use std::sync::atomic::{AtomicUsize, Ordering};
    let accepted = Arc::new(AtomicUsize::new(0));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let counter = accepted.clone();
    tokio::spawn(async move {
        loop {
            let Ok((stream, _)) = listener.accept().await else { continue };
            counter.fetch_add(1, Ordering::SeqCst);
            tokio::spawn(async move {
                let service = hyper::service::service_fn(|req: http::Request<hyper::body::Incoming>| async move {
                    let response = match req.uri().path() {
                        "/bye" => {
                            http::Response::builder().header("connection", "close").body(seam_core::Body::from("bye"))
                        }
                        "/big" => {
                            let chunks = futures_util::stream::unfold(0, |i| async move {
                                if i == 256 {
                                    return None;
                                }
                                tokio::time::sleep(Duration::from_millis(2)).await;
                                Some((
                                    Ok::<_, std::io::Error>(http_body::Frame::data(Bytes::from(vec![b'x'; 4096]))),
                                    i + 1,
                                ))
                            });
                            http::Response::builder()
                                .body(seam_core::Body::new(http_body_util::StreamBody::new(chunks)))
                        }
                        path => http::Response::builder().body(seam_core::Body::from(path.to_owned())),
                    };
                    Ok::<_, std::convert::Infallible>(response.unwrap())
                });
                let _ = hyper::server::conn::http1::Builder::new()
                    .serve_connection(hyper_util::rt::TokioIo::new(stream), service)
                    .await;
            });
        }
    });
    (addr, accepted)
}

#[tokio::test]
async fn upstream_connections_are_reused_and_one_the_upstream_closed_is_replaced() {
    use std::sync::atomic::Ordering;
    let (addr, accepted) = counting_upstream().await;
    let gateway = proxy_to(addr).await;
    for i in 0..20 {
        let (status, _, body) = get(&gateway.url(&format!("/n{i}"))).await;
        assert_eq!((status, body), (StatusCode::OK, Bytes::from(format!("/n{i}"))));
    }
    assert_eq!(accepted.load(Ordering::SeqCst), 1, "sequential requests share one upstream connection");
    assert_eq!(get(&gateway.url("/bye")).await.0, StatusCode::OK);
    tokio::time::sleep(Duration::from_millis(100)).await;
    let (status, _, body) = get(&gateway.url("/after")).await;
    assert_eq!((status, body), (StatusCode::OK, Bytes::from("/after")), "a closed connection is not reused");
    assert_eq!(accepted.load(Ordering::SeqCst), 2);
}

#[tokio::test]
async fn a_response_abandoned_half_way_does_not_leave_its_connection_in_the_pool() {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let (addr, _) = counting_upstream().await;
    let gateway = proxy_to(addr).await;
    for _ in 0..3 {
        let mut stream = tokio::net::TcpStream::connect(gateway.addr).await.unwrap();
        stream.write_all(b"GET /big HTTP/1.1\r\nhost: gw\r\n\r\n").await.unwrap();
        let mut buf = vec![0u8; 16384];
        let n = stream.read(&mut buf).await.unwrap();
        assert!(buf[..n].starts_with(b"HTTP/1.1 200"));
        drop(stream);
    }
    tokio::time::sleep(Duration::from_millis(100)).await;
    for i in 0..10 {
        let (status, _, body) = get(&gateway.url(&format!("/ok{i}"))).await;
        assert_eq!(
            (status, body),
            (StatusCode::OK, Bytes::from(format!("/ok{i}"))),
            "a clean answer, not the rest of /big"
        );
    }
    let (status, _, body) = get(&gateway.url("/big")).await;
    assert_eq!((status, body.len()), (StatusCode::OK, 256 * 4096), "a whole body is forwarded");
}

/// An upstream that switches to a byte-echo protocol on `Upgrade: echo`.
/// Asks `gateway` for an `Upgrade: echo` on `/ws` over a raw connection; the connection and
/// the answer's head (read within 5 s).
async fn upgrade_through(gateway: &Gateway) -> (tokio::net::TcpStream, String) {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let mut stream = tokio::net::TcpStream::connect(gateway.addr).await.unwrap();
    stream.write_all(b"GET /ws HTTP/1.1\r\nhost: gw\r\nconnection: Upgrade\r\nupgrade: echo\r\n\r\n").await.unwrap();
    let mut head = Vec::new();
    let mut byte = [0u8; 1];
    while !head.ends_with(b"\r\n\r\n") {
        assert_eq!(tokio::time::timeout(Duration::from_secs(5), stream.read(&mut byte)).await.unwrap().unwrap(), 1);
        head.push(byte[0]);
    }
    (stream, String::from_utf8_lossy(&head).into_owned())
}

async fn upgrading_upstream() -> std::net::SocketAddr {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        loop {
            let Ok((stream, _)) = listener.accept().await else { continue };
            tokio::spawn(async move {
                let service = hyper::service::service_fn(|mut req: http::Request<hyper::body::Incoming>| async move {
                    let asked = req.headers().get("upgrade").map(|v| v.to_str().unwrap().to_owned());
                    if asked.as_deref() != Some("echo") {
                        return Ok::<_, std::convert::Infallible>(
                            http::Response::builder().status(426).body(seam_core::Body::empty()).unwrap(),
                        );
                    }
                    let on = hyper::upgrade::on(&mut req);
                    tokio::spawn(async move {
                        use tokio::io::{AsyncReadExt, AsyncWriteExt};
                        let mut io = hyper_util::rt::TokioIo::new(on.await.unwrap());
                        let mut buf = [0u8; 1024];
                        while let Ok(n) = io.read(&mut buf).await {
                            if n == 0 || io.write_all(&buf[..n]).await.is_err() {
                                break;
                            }
                        }
                    });
                    Ok(http::Response::builder()
                        .status(101)
                        .header("connection", "upgrade")
                        .header("upgrade", "echo")
                        .body(seam_core::Body::empty())
                        .unwrap())
                });
                let _ = hyper::server::conn::http1::Builder::new()
                    .serve_connection(hyper_util::rt::TokioIo::new(stream), service)
                    .with_upgrades()
                    .await;
            });
        }
    });
    addr
}

#[tokio::test]
async fn an_upgrade_passes_through_http_action_and_bytes_flow_both_ways() {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let addr = upgrading_upstream().await;
    let gateway = proxy_to(addr).await;
    let (mut stream, head) = upgrade_through(&gateway).await;
    let head = head.to_lowercase();
    assert!(head.starts_with("http/1.1 101"), "{head}");
    assert!(head.contains("upgrade: echo"), "the 101 keeps its upgrade headers: {head}");
    for message in [&b"hello"[..], b"\x00\x01binary\xff", b"bye"] {
        stream.write_all(message).await.unwrap();
        let mut echoed = vec![0u8; message.len()];
        tokio::time::timeout(Duration::from_secs(5), stream.read_exact(&mut echoed)).await.unwrap().unwrap();
        assert_eq!(echoed, message);
    }
    // A plain request on the same route still gets the upstream's ordinary answer.
    let (status, _, _) = get(&gateway.url("/plain")).await;
    assert_eq!(status, 426);
}

#[tokio::test]
async fn an_upgraded_tunnel_ends_when_the_server_shuts_down() {
    use tokio::io::AsyncReadExt;
    let addr = upgrading_upstream().await;
    let mut gateway = proxy_to(addr).await;
    let (mut stream, head) = upgrade_through(&gateway).await;
    assert!(head.starts_with("HTTP/1.1 101"));
    gateway.stop();
    let mut rest = Vec::new();
    let ended = tokio::time::timeout(Duration::from_secs(5), stream.read_to_end(&mut rest)).await;
    assert!(ended.is_ok(), "the tunnel is closed when the server shuts down");
    let done = gateway.done.take().unwrap();
    tokio::time::timeout(Duration::from_secs(10), done).await.expect("the server stopped").unwrap();
}

#[tokio::test]
async fn an_idle_upgraded_tunnel_is_closed_after_the_action_timeout() {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let addr = upgrading_upstream().await;
    let gateway = Gateway::start(&forward_doc(
        SERVER,
        &format!("{{ use: plugins.httpfw.actions.HttpAction, config: {{ upstreamEndpoint: \"http://{addr}\", timeout: 1s }} }}"),
        "  R: { gatewayPath: /*, action: Fw }",
    ))
    .await;
    let (mut stream, head) = upgrade_through(&gateway).await;
    assert!(head.starts_with("HTTP/1.1 101"));
    // Traffic keeps it open past the bound...
    for _ in 0..3 {
        tokio::time::sleep(Duration::from_millis(500)).await;
        stream.write_all(b"ping").await.unwrap();
        let mut echoed = [0u8; 4];
        stream.read_exact(&mut echoed).await.unwrap();
    }
    // ...silence closes it.
    let started = std::time::Instant::now();
    let mut rest = Vec::new();
    tokio::time::timeout(Duration::from_secs(5), stream.read_to_end(&mut rest))
        .await
        .expect("closed when idle")
        .unwrap();
    assert!(started.elapsed() >= Duration::from_millis(800), "not before the bound: {:?}", started.elapsed());
}
