//! Helpers for the HTTP tests: a gateway served in-process on an ephemeral port, test
//! upstreams written with hyper, and a client.
#![allow(dead_code)]

use std::convert::Infallible;
use std::net::SocketAddr;
use std::sync::Arc;

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper::body::Incoming;
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::{TokioExecutor, TokioIo};
use seam::server::Server;
use seam_config::document;
use seam_config::resolver::{self, Options};
use tokio::sync::oneshot;

/// A gateway serving a document; stopped (gracefully) by `stop` or on drop.
pub struct Gateway {
    pub addr: SocketAddr,
    stop: Option<oneshot::Sender<()>>,
    pub done: Option<tokio::task::JoinHandle<()>>,
}

impl Gateway {
    /// Serves `yaml` (its `server.address` should be `127.0.0.1:0`).
    pub async fn start(yaml: &str) -> Gateway {
        Gateway::start_workers(yaml, 1).await
    }

    /// Serves `yaml` with `workers` workers (the test's runtime and `workers - 1` threads).
    pub async fn start_workers(yaml: &str, workers: usize) -> Gateway {
        let loaded = document::load_str("gateway.yaml", yaml);
        assert!(!loaded.has_errors(), "{}", loaded.diagnostics.iter().map(ToString::to_string).collect::<String>());
        let gateway = resolver::resolve(&loaded.document, Options::default())
            .await
            .unwrap_or_else(|d| panic!("{}", d.iter().map(ToString::to_string).collect::<String>()));
        let server = Server::bind_workers(&gateway, workers).await.expect("bind");
        let addr = server.local_addr();
        let (tx, rx) = oneshot::channel();
        let done = tokio::spawn(async move {
            server
                .serve(async {
                    let _ = rx.await;
                })
                .await;
            drop(gateway);
        });
        Gateway { addr, stop: Some(tx), done: Some(done) }
    }

    /// `http://127.0.0.1:<port><path>`.
    pub fn url(&self, path: &str) -> String {
        format!("http://{}{path}", self.addr)
    }

    /// Starts the graceful shutdown.
    pub fn stop(&mut self) {
        if let Some(tx) = self.stop.take() {
            let _ = tx.send(());
        }
    }
}

impl Drop for Gateway {
    fn drop(&mut self) {
        self.stop();
    }
}

/// `server:` lines for a test gateway on an ephemeral port.
pub const SERVER: &str = "server:\n  address: 127.0.0.1:0\n  disableStartupMessage: true\n";

/// A plain HTTP/1.1 client.
pub fn client() -> Client<HttpConnector, Full<Bytes>> {
    Client::builder(TokioExecutor::new()).build(HttpConnector::new())
}

/// Sends a request; returns status, headers and the whole body.
pub async fn send(req: http::Request<Full<Bytes>>) -> (http::StatusCode, http::HeaderMap, Bytes) {
    let response = client().request(req).await.expect("request");
    let (parts, body) = response.into_parts();
    (parts.status, parts.headers, body.collect().await.expect("body").to_bytes())
}

/// GET `url`.
pub async fn get(url: &str) -> (http::StatusCode, http::HeaderMap, Bytes) {
    send(http::Request::get(url).body(Full::default()).unwrap()).await
}

/// JSON of a body.
pub fn json(body: &Bytes) -> serde_json::Value {
    serde_json::from_slice(body).unwrap_or_else(|e| panic!("not JSON ({e}): {}", String::from_utf8_lossy(body)))
}

/// A test upstream: answers every request with `handler`.
pub struct Upstream {
    pub addr: SocketAddr,
    task: tokio::task::JoinHandle<()>,
}

impl Drop for Upstream {
    fn drop(&mut self) {
        self.task.abort();
    }
}

impl Upstream {
    /// Serves `handler` on an ephemeral port (HTTP/1.1, keep-alive); any body type.
    pub async fn start<F, Fut, B>(handler: F) -> Upstream
    where
        F: Fn(http::Request<Incoming>) -> Fut + Send + Sync + 'static,
        Fut: Future<Output = http::Response<B>> + Send + 'static,
        B: http_body::Body<Data = Bytes> + Send + 'static,
        B::Error: Into<Box<dyn std::error::Error + Send + Sync>>,
    {
        let handler = Arc::new(handler);
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let task = tokio::spawn(async move {
            loop {
                let Ok((stream, _)) = listener.accept().await else { continue };
                let handler = handler.clone();
                tokio::spawn(async move {
                    let service = hyper::service::service_fn(move |req| {
                        let handler = handler.clone();
                        async move { Ok::<_, Infallible>(handler(req).await) }
                    });
                    let _ = hyper::server::conn::http1::Builder::new()
                        .serve_connection(TokioIo::new(stream), service)
                        .await;
                });
            }
        });
        Upstream { addr, task }
    }

    /// An upstream answering with JSON of what it received (method, URI, headers, body size).
    pub async fn echo(name: &'static str) -> Upstream {
        Upstream::start(move |req: http::Request<Incoming>| async move {
            let (parts, body) = req.into_parts();
            let mut size = 0usize;
            let mut body = body;
            while let Some(frame) = body.frame().await {
                if let Ok(data) = frame.unwrap().into_data() {
                    size += data.len();
                }
            }
            let headers: serde_json::Map<String, serde_json::Value> = parts
                .headers
                .iter()
                .map(|(k, v)| (k.as_str().to_owned(), String::from_utf8_lossy(v.as_bytes()).into()))
                .collect();
            let value = serde_json::json!({
                "upstream": name, "method": parts.method.as_str(), "uri": parts.uri.to_string(),
                "headers": headers, "bodySize": size,
            });
            http::Response::builder()
                .header("content-type", "application/json")
                .header("connection", "x-upstream-hop")
                .header("x-upstream-hop", "secret")
                .header("keep-alive", "timeout=5")
                .body(Full::new(Bytes::from(value.to_string())))
                .unwrap()
        })
        .await
    }

    /// `http://127.0.0.1:<port>`.
    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }
}

/// `seam run` as a process of its own on a free port; killed on drop.
pub struct SeamProcess {
    pub port: u16,
    child: std::process::Child,
    dir: tempfile::TempDir,
    header: String,
}

impl SeamProcess {
    /// Runs the document `body` (everything but `server:`) on a free loopback port.
    pub async fn start(body: &str) -> SeamProcess {
        SeamProcess::start_with(body, &[], &[]).await
    }

    /// Like `start`, with more arguments to `seam run` and environment variables.
    pub async fn start_with(body: &str, args: &[&str], env: &[(&str, String)]) -> SeamProcess {
        SeamProcess::start_logging(body, args, env, std::process::Stdio::null()).await
    }

    /// Like `start`, with its Prometheus metrics served on a free port of their own:
    /// `http://127.0.0.1:<the returned port>/metrics`.
    pub async fn start_with_metrics(body: &str) -> (SeamProcess, u16) {
        let metrics = seam_testkit::free_port();
        let server = format!("  metrics: {{ address: \"127.0.0.1:{metrics}\", path: /metrics }}\n");
        (SeamProcess::spawn(body, &[], &[], std::process::Stdio::null(), &server).await, metrics)
    }

    /// Like `start_with`, its log (stderr) going to `stderr`.
    pub async fn start_logging(
        body: &str,
        args: &[&str],
        env: &[(&str, String)],
        stderr: std::process::Stdio,
    ) -> SeamProcess {
        SeamProcess::spawn(body, args, env, stderr, "").await
    }

    /// Runs `body` with `server_lines` added under `server:`.
    async fn spawn(
        body: &str,
        args: &[&str],
        env: &[(&str, String)],
        stderr: std::process::Stdio,
        server_lines: &str,
    ) -> SeamProcess {
        let port = seam_testkit::free_port();
        let dir = tempfile::tempdir().unwrap();
        let config = dir.path().join("seam.yaml");
        let header = format!("server:\n  address: 127.0.0.1:{port}\n  disableStartupMessage: true\n{server_lines}");
        std::fs::write(&config, format!("{header}{body}")).unwrap();
        let child = std::process::Command::new(env!("CARGO_BIN_EXE_seam"))
            .args(["run", config.to_str().unwrap()])
            .args(args)
            .envs(env.iter().map(|(k, v)| (k, v)))
            .stdout(std::process::Stdio::null())
            .stderr(stderr)
            .spawn()
            .unwrap();
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(20);
        while tokio::net::TcpStream::connect(("127.0.0.1", port)).await.is_err() {
            assert!(std::time::Instant::now() < deadline, "seam run did not start");
            tokio::time::sleep(std::time::Duration::from_millis(50)).await;
        }
        SeamProcess { port, child, dir, header }
    }

    /// The config file it runs.
    pub fn config_path(&self) -> std::path::PathBuf {
        self.dir.path().join("seam.yaml")
    }

    /// Replaces the document (same `server:` lines) by writing a new file and renaming it
    /// over the old one, as editors and Kubernetes do.
    pub fn rewrite(&self, body: &str) {
        let staged = self.dir.path().join(".seam.yaml.new");
        std::fs::write(&staged, format!("{}{body}", self.header)).unwrap();
        std::fs::rename(&staged, self.config_path()).unwrap();
    }

    /// Sends `signal` (`HUP`, `TERM`, ...).
    pub fn signal(&self, signal: &str) {
        let sent =
            std::process::Command::new("kill").args([&format!("-{signal}"), &self.child.id().to_string()]).status();
        assert!(sent.unwrap().success(), "kill -{signal} failed");
    }

    /// Sends SIGTERM and waits for the process to exit, at most `bound`; how long it took.
    pub async fn terminate(&mut self, bound: std::time::Duration) -> std::time::Duration {
        let started = std::time::Instant::now();
        self.signal("TERM");
        loop {
            if let Some(status) = self.child.try_wait().unwrap() {
                assert!(status.success(), "seam exited with {status}");
                return started.elapsed();
            }
            assert!(started.elapsed() < bound, "seam did not exit within {bound:?} of SIGTERM");
            tokio::time::sleep(std::time::Duration::from_millis(25)).await;
        }
    }

    /// `http://127.0.0.1:<port><path>`.
    pub fn url(&self, path: &str) -> String {
        format!("http://127.0.0.1:{}{path}", self.port)
    }
}

impl Drop for SeamProcess {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
