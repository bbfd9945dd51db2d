//! The nodes of a Valkey Cluster, as `CLUSTER NODES` lists them.

/// One node of the cluster.
#[derive(Debug)]
pub struct ClusterNode {
    pub host: String,
    pub port: u16,
    /// A master (it owns slots, or may be given some), not a replica.
    pub master: bool,
    /// Flagged `fail`: the cluster agreed that it is down (its replica takes over).
    pub failed: bool,
    /// Flagged `fail?`: a node suspects it is down; the cluster has not agreed yet.
    pub suspected: bool,
}

/// The nodes with an address in `CLUSTER NODES`' answer (a node still in the handshake, or
/// without an address, is left out).
pub fn cluster_nodes(text: &str) -> Vec<ClusterNode> {
    let mut nodes = Vec::new();
    for line in text.lines() {
        let fields: Vec<&str> = line.split_whitespace().collect();
        let (Some(address), Some(flags)) = (fields.get(1), fields.get(2)) else { continue };
        let flag = |name: &str| flags.split(',').any(|f| f == name);
        if flag("noaddr") || flag("handshake") {
            continue;
        }
        // `host:port@cport[,hostname]`
        let address = address.split(['@', ',']).next().unwrap_or_default();
        if let Some((host, port)) = address.rsplit_once(':')
            && !host.is_empty()
            && let Ok(port) = port.parse::<u16>()
            && port > 0
        {
            nodes.push(ClusterNode {
                host: host.to_owned(),
                port,
                master: flag("master"),
                failed: flag("fail"),
                suspected: flag("fail?"),
            });
        }
    }
    nodes
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_node_with_an_address_and_its_role() {
        let text = "\
07c3 127.0.0.1:30004@40004 slave e7d1 0 1426238317239 4 connected
67ed 127.0.0.1:30002@40002,node-2 master - 0 1426238316232 2 connected 5461-10922
292f 127.0.0.1:30003@40003 myself,master - 0 0 3 connected 10923-16383
6ec2 127.0.0.1:30005@40005 master,fail - 1426238316232 1426238315000 5 disconnected
824f 127.0.0.1:30006@40006 slave,fail? 292f 0 1426238317741 6 connected
aa11 :0@0 master,noaddr - 0 0 0 disconnected
bb22 127.0.0.1:30007@40007 handshake - 0 0 0 connected
broken line
";
        let nodes = cluster_nodes(text);
        let seen: Vec<(u16, bool, bool, bool)> =
            nodes.iter().map(|n| (n.port, n.master, n.failed, n.suspected)).collect();
        assert_eq!(
            seen,
            [
                (30004, false, false, false),
                (30002, true, false, false),
                (30003, true, false, false),
                (30005, true, true, false),
                (30006, false, false, true),
            ]
        );
        assert!(nodes.iter().all(|n| n.host == "127.0.0.1"));
    }
}
