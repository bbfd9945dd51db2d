//! A 3-master Valkey Cluster: cluster-enabled servers, slots assigned, state ok.

use std::time::{Duration, Instant};

use crate::server::{Server, ServerOptions};

/// Three cluster-enabled valkey-servers, each master of a third of the slots.
pub struct ValkeyCluster {
    /// The masters, in slot order.
    pub nodes: Vec<Server>,
}

impl ValkeyCluster {
    /// Starts the servers, assigns slots, joins them and waits for `cluster_state:ok`.
    pub fn start() -> ValkeyCluster {
        let options = ServerOptions {
            args: ["--cluster-enabled", "yes", "--cluster-node-timeout", "5000", "--cluster-config-file", "nodes.conf"]
                .map(String::from)
                .to_vec(),
            ..ServerOptions::default()
        };
        let nodes: Vec<Server> = (0..3).map(|_| Server::start_with(options.clone())).collect();
        let ranges = [(0, 5460), (5461, 10922), (10923, 16383)];
        for (node, (from, to)) in nodes.iter().zip(ranges) {
            let mut c = node.client();
            redis::cmd("CLUSTER").arg("ADDSLOTSRANGE").arg(from).arg(to).query::<()>(&mut c).expect("ADDSLOTSRANGE");
        }
        let mut first = nodes[0].client();
        for node in &nodes[1..] {
            redis::cmd("CLUSTER").arg("MEET").arg("127.0.0.1").arg(node.port()).query::<()>(&mut first).expect("MEET");
        }
        let deadline = Instant::now() + Duration::from_secs(30);
        for node in &nodes {
            let mut c = node.client();
            loop {
                let info: String = redis::cmd("CLUSTER").arg("INFO").query(&mut c).expect("CLUSTER INFO");
                let known: usize = info
                    .lines()
                    .find_map(|l| l.strip_prefix("cluster_known_nodes:"))
                    .and_then(|v| v.trim().parse().ok())
                    .unwrap_or(0);
                if info.contains("cluster_state:ok") && known == 3 {
                    break;
                }
                assert!(Instant::now() < deadline, "cluster did not become ok within 30 s:\n{info}");
                std::thread::sleep(Duration::from_millis(100));
            }
        }
        ValkeyCluster { nodes }
    }

    /// `host:port` of every node.
    pub fn addresses(&self) -> Vec<String> {
        self.nodes.iter().map(Server::address).collect()
    }

    /// Keys stored on each node (DBSIZE), in node order.
    pub fn key_counts(&self) -> Vec<usize> {
        self.nodes.iter().map(|n| redis::cmd("DBSIZE").query::<usize>(&mut n.client()).expect("DBSIZE")).collect()
    }
}
