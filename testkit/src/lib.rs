//! Real servers for tests: each starts on a free loopback port in a temporary folder and
//! is stopped when dropped. A missing server binary fails the test with the command that
//! installs it; nothing is skipped.

mod certs;
mod cluster;
mod keeper;
mod sentinel;
mod server;

pub use certs::TestCerts;
pub use cluster::ValkeyCluster;
pub use sentinel::{MASTER_NAME, ValkeySentinel};
pub use server::{Server, ServerOptions, redis_server_binary, valkey_server_binary};

/// A key prefix no other test in this process uses: `<name>-<n>:`.
pub fn unique_prefix(name: &str) -> String {
    static NEXT: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);
    format!("{name}-{}-{}:", std::process::id(), NEXT.fetch_add(1, std::sync::atomic::Ordering::Relaxed))
}

/// A free TCP port on 127.0.0.1 (bound and released; servers retry on the rare collision).
pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0").expect("bind 127.0.0.1:0").local_addr().expect("local addr").port()
}
