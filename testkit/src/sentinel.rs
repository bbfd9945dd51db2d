//! A primary with two replicas, watched by three sentinels (quorum 2): the topology a
//! failover test kills the primary of (a replica is left to the new primary).

use std::time::{Duration, Instant};

use crate::server::{Server, ServerOptions};

/// The name the sentinels monitor the primary under.
pub const MASTER_NAME: &str = "seam-primary";

/// A primary, its replicas and three sentinels.
pub struct ValkeySentinel {
    pub primary: Server,
    pub replicas: Vec<Server>,
    pub sentinels: Vec<Server>,
}

impl ValkeySentinel {
    /// Starts the six servers and waits until the replicas are in sync and every sentinel
    /// knows the replicas and the other sentinels.
    pub fn start() -> ValkeySentinel {
        let primary = Server::start();
        let replicas: Vec<Server> = (0..2)
            .map(|_| {
                Server::start_with(ServerOptions {
                    args: vec!["--replicaof".into(), "127.0.0.1".into(), primary.port().to_string()],
                    ..ServerOptions::default()
                })
            })
            .collect();
        for replica in &replicas {
            wait_until("the replicas to sync", || {
                let info: String =
                    redis::cmd("INFO").arg("replication").query(&mut replica.client()).unwrap_or_default();
                info.contains("master_link_status:up")
            });
        }
        let options =
            ServerOptions { sentinel_of: Some((primary.port(), MASTER_NAME.into())), ..ServerOptions::default() };
        let sentinels: Vec<Server> = (0..3).map(|_| Server::start_with(options.clone())).collect();
        for sentinel in &sentinels {
            wait_until("the sentinels to know each other and the replica", || {
                let mut c = sentinel.client();
                let master: Vec<String> =
                    redis::cmd("SENTINEL").arg("MASTER").arg(MASTER_NAME).query(&mut c).unwrap_or_default();
                let field = |name: &str| {
                    master.iter().position(|f| f == name).and_then(|i| master.get(i + 1)).cloned().unwrap_or_default()
                };
                field("num-slaves") == "2" && field("num-other-sentinels") == "2"
            });
        }
        ValkeySentinel { primary, replicas, sentinels }
    }

    /// `host:port` of every sentinel.
    pub fn sentinel_addresses(&self) -> Vec<String> {
        self.sentinels.iter().map(Server::address).collect()
    }

    /// The server the sentinels name as primary now (the first, if it was not replaced).
    pub fn current_primary(&self) -> Option<&Server> {
        let port = self.primary_port()?;
        std::iter::once(&self.primary).chain(&self.replicas).find(|s| s.port() == port)
    }

    /// The port of the primary the sentinels name now.
    pub fn primary_port(&self) -> Option<u16> {
        let mut c = self.sentinels[0].client();
        let addr: Option<(String, u16)> =
            redis::cmd("SENTINEL").arg("GET-MASTER-ADDR-BY-NAME").arg(MASTER_NAME).query(&mut c).ok()?;
        addr.map(|(_, port)| port)
    }
}

fn wait_until(what: &str, mut done: impl FnMut() -> bool) {
    let deadline = Instant::now() + Duration::from_secs(30);
    while !done() {
        assert!(Instant::now() < deadline, "waited 30 s for {what}");
        std::thread::sleep(Duration::from_millis(100));
    }
}
