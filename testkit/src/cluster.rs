//! A 3-master Valkey Cluster: cluster-enabled servers, slots assigned, state ok.

use std::time::{Duration, Instant};

use crate::server::{Server, ServerOptions};

/// Three cluster-enabled valkey-servers, each master of a third of the slots (and, with
/// [`ValkeyCluster::start_with_replicas`], a replica each).
pub struct ValkeyCluster {
    /// The masters, in slot order.
    pub nodes: Vec<Server>,
    /// The replica of each master, in the same order (none with [`ValkeyCluster::start`]).
    pub replicas: Vec<Server>,
}

fn cluster_options(node_timeout_ms: u32) -> ServerOptions {
    let timeout = node_timeout_ms.to_string();
    ServerOptions {
        args: ["--cluster-enabled", "yes", "--cluster-node-timeout", &timeout, "--cluster-config-file", "nodes.conf"]
            .map(String::from)
            .to_vec(),
        ..ServerOptions::default()
    }
}

impl ValkeyCluster {
    /// Starts the servers, assigns slots, joins them and waits for `cluster_state:ok`.
    pub fn start() -> ValkeyCluster {
        let nodes: Vec<Server> = (0..3).map(|_| Server::start_with(cluster_options(5000))).collect();
        ValkeyCluster::join(nodes, Vec::new())
    }

    /// Three masters with a replica each; a master not heard from for 1 s is failed over.
    pub fn start_with_replicas() -> ValkeyCluster {
        let nodes: Vec<Server> = (0..3).map(|_| Server::start_with(cluster_options(1000))).collect();
        let replicas: Vec<Server> = (0..3).map(|_| Server::start_with(cluster_options(1000))).collect();
        ValkeyCluster::join(nodes, replicas)
    }

    fn join(nodes: Vec<Server>, replicas: Vec<Server>) -> ValkeyCluster {
        let ranges = [(0, 5460), (5461, 10922), (10923, 16383)];
        for (node, (from, to)) in nodes.iter().zip(ranges) {
            let mut c = node.client();
            redis::cmd("CLUSTER").arg("ADDSLOTSRANGE").arg(from).arg(to).query::<()>(&mut c).expect("ADDSLOTSRANGE");
        }
        let mut first = nodes[0].client();
        for node in nodes[1..].iter().chain(&replicas) {
            redis::cmd("CLUSTER").arg("MEET").arg("127.0.0.1").arg(node.port()).query::<()>(&mut first).expect("MEET");
        }
        let total = nodes.len() + replicas.len();
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
                if info.contains("cluster_state:ok") && known == total {
                    break;
                }
                assert!(Instant::now() < deadline, "cluster did not become ok within 30 s:\n{info}");
                std::thread::sleep(Duration::from_millis(100));
            }
        }
        for (replica, master) in replicas.iter().zip(&nodes) {
            let id: String = redis::cmd("CLUSTER").arg("MYID").query(&mut master.client()).expect("MYID");
            let mut c = replica.client();
            loop {
                // The replica may not know the master's id yet (gossip): try again.
                if redis::cmd("CLUSTER").arg("REPLICATE").arg(&id).query::<()>(&mut c).is_ok() {
                    break;
                }
                assert!(Instant::now() < deadline, "CLUSTER REPLICATE did not succeed within 30 s");
                std::thread::sleep(Duration::from_millis(100));
            }
            loop {
                let info: String = redis::cmd("INFO").arg("replication").query(&mut c).unwrap_or_default();
                if info.contains("master_link_status:up") {
                    break;
                }
                assert!(Instant::now() < deadline, "a replica did not sync within 30 s");
                std::thread::sleep(Duration::from_millis(100));
            }
        }
        ValkeyCluster { nodes, replicas }
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
