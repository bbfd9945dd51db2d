//! `seam run` as its own process: 256 MiB streamed up and down through HttpAction with a
//! flat peak RSS, then SIGTERM and a clean exit.

mod support;

use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use bytes::Bytes;
use http_body_util::{BodyExt, Full, StreamBody};
use hyper::body::Frame;
use support::Upstream;

const TOTAL: usize = 256 * 1024 * 1024;
const CHUNK: usize = 64 * 1024;

fn peak_rss_kib(pid: u32) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap();
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmHWM:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .expect("VmHWM")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_256_mib_upload_and_download_stream_with_flat_memory() {
    // The upstream counts what it receives, and for GET sends 256 MiB back, chunk by chunk.
    let upstream = Upstream::start(|req: http::Request<hyper::body::Incoming>| async move {
        if req.method() == http::Method::GET {
            return http::Response::new(Full::new(Bytes::from_static(b"use the streaming route")));
        }
        let mut body = req.into_body();
        let mut size = 0usize;
        while let Some(frame) = body.frame().await {
            if let Ok(data) = frame.unwrap().into_data() {
                size += data.len();
            }
        }
        http::Response::new(Full::new(Bytes::from(size.to_string())))
    })
    .await;
    let download = download_upstream().await;

    let port = seam_testkit::free_port();
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("seam.yaml");
    std::fs::write(
        &config,
        format!(
            "server:\n  address: 127.0.0.1:{port}\n  bodyLimit: {}\nactions:\n  Up: {{ use: plugins.httpfw.actions.HttpAction, config: {{ upstreamEndpoint: \"{}\" }} }}\n  Down: {{ use: plugins.httpfw.actions.HttpAction, config: {{ upstreamEndpoint: \"{}\" }} }}\nroutes:\n  Upload: {{ gatewayPath: /upload, methods: [POST], action: Up }}\n  Download: {{ gatewayPath: /download, methods: [GET], action: Down }}\n",
            TOTAL + 1,
            upstream.url(),
            download.url()
        ),
    )
    .unwrap();
    let mut child = Command::new(env!("CARGO_BIN_EXE_seam"))
        .args(["run", config.to_str().unwrap()])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let deadline = Instant::now() + Duration::from_secs(20);
    while tokio::net::TcpStream::connect(("127.0.0.1", port)).await.is_err() {
        assert!(Instant::now() < deadline, "seam run did not start");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let client = hyper_util::client::legacy::Client::builder(hyper_util::rt::TokioExecutor::new())
        .build(hyper_util::client::legacy::connect::HttpConnector::new());

    let chunks = (0..TOTAL / CHUNK).map(|_| Ok::<_, std::io::Error>(Frame::data(Bytes::from_static(&[7u8; CHUNK]))));
    let upload = http::Request::post(format!("http://127.0.0.1:{port}/upload"))
        .body(StreamBody::new(futures_util::stream::iter(chunks)).boxed())
        .unwrap();
    let response = client.request(upload).await.unwrap();
    assert_eq!(response.status(), 200);
    let received = response.into_body().collect().await.unwrap().to_bytes();
    assert_eq!(String::from_utf8_lossy(&received), TOTAL.to_string(), "the upstream received every byte");

    let empty = http_body_util::Empty::<Bytes>::new().map_err(|never| match never {}).boxed();
    let get = http::Request::get(format!("http://127.0.0.1:{port}/download")).body(empty).unwrap();
    let response = client.request(get).await.unwrap();
    assert_eq!(response.status(), 200);
    let mut body = response.into_body();
    let mut size = 0usize;
    while let Some(frame) = body.frame().await {
        if let Ok(data) = frame.unwrap().into_data() {
            size += data.len();
        }
    }
    assert_eq!(size, TOTAL, "the client received every byte");

    let peak = peak_rss_kib(child.id());
    eprintln!("seam peak RSS: {} KiB", peak);
    assert!(peak < 64 * 1024, "seam's peak RSS was {} MiB for 2 × 256 MiB streamed", peak / 1024);

    // SIGTERM: graceful shutdown, exit status 0.
    unsafe_kill_term(child.id());
    let deadline = Instant::now() + Duration::from_secs(10);
    let status = loop {
        if let Some(status) = child.try_wait().unwrap() {
            break status;
        }
        assert!(Instant::now() < deadline, "seam did not stop on SIGTERM");
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    assert!(status.success(), "exit status {status}");
}

fn unsafe_kill_term(pid: u32) {
    let status = Command::new("kill").args(["-TERM", &pid.to_string()]).status().unwrap();
    assert!(status.success());
}

/// An upstream that answers with 256 MiB, streamed in chunks.
async fn download_upstream() -> Upstream {
    Upstream::start(|_req| async {
        let chunks =
            (0..TOTAL / CHUNK).map(|_| Ok::<_, std::io::Error>(Frame::data(Bytes::from_static(&[9u8; CHUNK]))));
        http::Response::new(StreamBody::new(futures_util::stream::iter(chunks)))
    })
    .await
}
