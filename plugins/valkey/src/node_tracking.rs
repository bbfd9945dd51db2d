//! Where `clientCache`'s invalidations come from: a tracking connection to every server a
//! write can reach — the one standalone server, every node of a Valkey Cluster, or a
//! primary and its replicas behind sentinels.
//!
//! A write raises its invalidation on the server that takes it, and on that server's
//! replicas as they apply it. So the cache follows every server the topology lists,
//! primaries and replicas alike, each with `CLIENT TRACKING ON BCAST PREFIX <prefix>`: a
//! replica promoted by a failover, or a cluster node given slots by resharding, is already
//! followed when writes reach it. The list is read again every second (`CLUSTER NODES` of a
//! cluster node; `SENTINEL GET-MASTER-ADDR-BY-NAME` and `SENTINEL REPLICAS` of a sentinel; a
//! standalone server is its own list). Values are answered locally only while every listed
//! server's tracking connection is up: a lost connection, a listed server not followed yet,
//! or a list that cannot be read drops every entry until all is well again. A cluster node
//! the cluster has failed (`fail`), or a replica a sentinel sees down, is not waited for; a
//! replica that takes over is followed.

use std::collections::{HashMap, HashSet};
use std::sync::{Arc, Mutex, Weak};
use std::time::{Duration, Instant};

use redis::aio::MultiplexedConnection;
use redis::{AsyncConnectionConfig, PushInfo, PushKind, Value};

use crate::client_cache::ClientCache;
use crate::connect::{NodeSettings, host_port};
use crate::push::{self, Event};
use crate::topology::cluster_nodes;

/// How often the servers are listed again.
const REFRESH: Duration = Duration::from_secs(1);
/// Least time between two warnings of the listing loop (a server that cannot be listed or
/// followed is tried again every second).
const WARN_EVERY: Duration = Duration::from_secs(30);

/// A node's address.
type Address = (String, u16);

/// Where the list of servers comes from.
enum Source {
    /// One server, the whole list.
    Standalone(Address),
    /// Servers listed by the topology itself.
    Listed(Lister),
}

/// Who lists the servers.
enum Lister {
    /// A cluster's seed nodes, asked `CLUSTER NODES`.
    Cluster(Vec<Address>),
    /// Sentinels (RESP3 clients of them), asked for the primary and replicas of `master_name`.
    Sentinels { sentinels: Vec<redis::Client>, master_name: String },
}

/// The servers a cache follows: where they are listed, and how each is reached.
pub struct NodeTracking {
    source: Source,
    nodes: NodeSettings,
}

impl NodeTracking {
    /// The one server at `host:port`; `nodes` speaks RESP3.
    pub fn standalone(host: String, port: u16, nodes: NodeSettings) -> NodeTracking {
        NodeTracking { source: Source::Standalone((host, port)), nodes }
    }

    /// Every node of the cluster that `seeds` (`host:port`, already validated) belong to;
    /// `nodes` speaks RESP3.
    pub fn cluster(seeds: &[String], nodes: NodeSettings) -> Result<NodeTracking, String> {
        let seeds = seeds.iter().map(|seed| host_port(seed, "cluster node")).collect::<Result<_, _>>()?;
        Ok(NodeTracking { source: Source::Listed(Lister::Cluster(seeds)), nodes })
    }

    /// The primary named `master_name` by `sentinels`, and its replicas; `nodes` speaks RESP3.
    pub fn sentinels(sentinels: Vec<redis::Client>, master_name: String, nodes: NodeSettings) -> NodeTracking {
        NodeTracking { source: Source::Listed(Lister::Sentinels { sentinels, master_name }), nodes }
    }
}

/// The nodes last listed, each with whether its tracking connection is up.
#[derive(Default)]
struct State {
    nodes: HashMap<Address, bool>,
    /// Whether the last listing succeeded.
    listed: bool,
}

/// What the listing loop and the nodes' connections share.
struct Shared {
    cache: Weak<ClientCache>,
    state: Mutex<State>,
}

impl Shared {
    fn state(&self) -> std::sync::MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// Makes the cache live exactly while every listed node is followed (under the lock, so
    /// that the connections' reports and the listings are applied in one order).
    fn settle(&self, state: &State) {
        let Some(cache) = self.cache.upgrade() else { return };
        let live = state.listed && !state.nodes.is_empty() && state.nodes.values().all(|up| *up);
        if live != cache.is_live() {
            cache.set_live(live);
        }
    }

    /// Records whether `address`'s tracking connection is up (if it is still listed).
    fn report(&self, address: &Address, up: bool) {
        let mut state = self.state();
        if let Some(known) = state.nodes.get_mut(address) {
            *known = up;
        }
        self.settle(&state);
    }
}

/// A node's tracking task, ended when dropped.
struct Follower(tokio::task::JoinHandle<()>);

impl Drop for Follower {
    fn drop(&mut self) {
        self.0.abort();
    }
}

/// Follows the servers for as long as the cache lives (or until this future is
/// dropped, which ends every node's connection).
pub async fn track(
    cache: Weak<ClientCache>,
    tracking: Arc<NodeTracking>,
    prefix: String,
    timeouts: (Duration, Duration),
) {
    let shared = Arc::new(Shared { cache, state: Mutex::new(State::default()) });
    let mut followers: HashMap<Address, Follower> = HashMap::new();
    let mut last_asked: Option<MultiplexedConnection> = None;
    let mut last_warning: Option<Instant> = None;
    while shared.cache.strong_count() > 0 {
        let known: Vec<Address> = followers.keys().cloned().collect();
        let listed = match &tracking.source {
            Source::Standalone(address) => Ok(vec![address.clone()]),
            Source::Listed(lister) => list(lister, &tracking.nodes, &mut last_asked, &known, timeouts).await,
        };
        match listed {
            Ok(listed) => {
                let wanted: HashSet<Address> = listed.into_iter().collect();
                // Dropping a follower ends its connection.
                followers.retain(|address, _| wanted.contains(address));
                let mut state = shared.state();
                state.nodes.retain(|address, _| wanted.contains(address));
                for address in wanted {
                    if followers.contains_key(&address) {
                        continue;
                    }
                    // Not live until this node's connection reports that it is up.
                    state.nodes.insert(address.clone(), false);
                    match tracking.nodes.client(&address.0, address.1) {
                        Ok(client) => {
                            let task = follow(shared.clone(), address.clone(), client, prefix.clone(), timeouts);
                            followers.insert(address, Follower(tokio::spawn(task)));
                        }
                        // Tried again at every listing; said at most every WARN_EVERY.
                        Err(e) if last_warning.is_none_or(|at| at.elapsed() >= WARN_EVERY) => {
                            last_warning = Some(Instant::now());
                            tracing::warn!(
                                "clientCache: cannot follow Valkey at {}:{} ({e}); not caching",
                                address.0,
                                address.1
                            );
                        }
                        Err(_) => {}
                    }
                }
                state.listed = true;
                shared.settle(&state);
            }
            Err(e) => {
                let mut state = shared.state();
                state.listed = false;
                shared.settle(&state);
                drop(state);
                if last_warning.is_none_or(|at| at.elapsed() >= WARN_EVERY) {
                    last_warning = Some(Instant::now());
                    tracing::warn!("clientCache: cannot list the Valkey servers to follow ({e}); not caching");
                }
            }
        }
        tokio::time::sleep(REFRESH).await;
    }
}

/// One node's tracking connection, kept open; its invalidations go to the cache.
async fn follow(
    shared: Arc<Shared>,
    address: Address,
    client: redis::Client,
    prefix: String,
    timeouts: (Duration, Duration),
) {
    let setup = |connection| turn_tracking_on(connection, prefix.clone());
    let handle = |event: Event| {
        let shared = shared.clone();
        let address = address.clone();
        async move {
            let Some(cache) = shared.cache.upgrade() else { return false };
            match event {
                Event::Up => shared.report(&address, true),
                Event::Push(PushInfo { kind: PushKind::Invalidate, data }) => cache.invalidated(&data),
                Event::Push(_) => {}
                Event::Down => {
                    shared.report(&address, false);
                    tracing::warn!(
                        "clientCache: the invalidation connection to Valkey at {}:{} was lost; answering from Valkey until it is back",
                        address.0,
                        address.1
                    );
                }
                Event::Failed(e) => tracing::warn!(
                    "clientCache: cannot open the invalidation connection to Valkey at {}:{} ({e}); not caching",
                    address.0,
                    address.1
                ),
            }
            true
        }
    };
    push::keep(client, timeouts, setup, handle, std::future::pending()).await;
}

/// Asks the server on `connection` to push the name of every key under `prefix` that any
/// client writes, deletes or lets expire.
async fn turn_tracking_on(
    mut connection: redis::aio::MultiplexedConnection,
    prefix: String,
) -> Result<redis::aio::MultiplexedConnection, redis::RedisError> {
    let mut tracking = redis::cmd("CLIENT");
    tracking.arg("TRACKING").arg("ON").arg("BCAST");
    if !prefix.is_empty() {
        tracking.arg("PREFIX").arg(&prefix);
    }
    tracking.query_async::<()>(&mut connection).await?;
    Ok(connection)
}

/// The servers to follow, asked of the server asked last, else (a cluster) of any node
/// followed, else of the seeds or the sentinels.
async fn list(
    lister: &Lister,
    nodes: &NodeSettings,
    last_asked: &mut Option<MultiplexedConnection>,
    known: &[Address],
    (connect, command): (Duration, Duration),
) -> Result<Vec<Address>, String> {
    let ask = |mut connection: MultiplexedConnection| async move {
        match tokio::time::timeout(command, servers(lister, &mut connection)).await {
            Ok(Ok(servers)) => Ok((servers, connection)),
            Ok(Err(e)) => Err(e),
            Err(_) => Err(format!("the listing timed out after {command:?}")),
        }
    };
    if let Some(connection) = last_asked.take()
        && let Ok((servers, connection)) = ask(connection).await
    {
        *last_asked = Some(connection);
        return Ok(servers);
    }
    let clients: Vec<(String, Result<redis::Client, redis::RedisError>)> = match lister {
        Lister::Cluster(seeds) => known
            .iter()
            .chain(seeds)
            .map(|(host, port)| (format!("{host}:{port}"), nodes.client(host, *port)))
            .collect(),
        Lister::Sentinels { sentinels, .. } => sentinels
            .iter()
            .map(|client| (client.get_connection_info().addr().to_string(), Ok(client.clone())))
            .collect(),
    };
    let config = AsyncConnectionConfig::new().set_connection_timeout(Some(connect)).set_response_timeout(Some(command));
    let mut failure = String::from("no server to ask");
    for (address, client) in clients {
        let opened = match client {
            Ok(client) => client.get_multiplexed_async_connection_with_config(&config).await,
            Err(e) => Err(e),
        };
        let asked = match opened {
            Ok(connection) => ask(connection).await,
            Err(e) => Err(e.to_string()),
        };
        match asked {
            Ok((servers, connection)) => {
                *last_asked = Some(connection);
                return Ok(servers);
            }
            Err(e) => failure = format!("{address}: {e}"),
        }
    }
    Err(failure)
}

/// The servers `source` lists now, asked on `connection`.
async fn servers(lister: &Lister, connection: &mut MultiplexedConnection) -> Result<Vec<Address>, String> {
    match lister {
        Lister::Cluster(_) => {
            let mut nodes = redis::cmd("CLUSTER");
            nodes.arg("NODES");
            let text = text(nodes.query_async::<Value>(connection).await.map_err(|e| e.to_string())?)?;
            Ok(cluster_nodes(&text)
                .into_iter()
                .filter(|node| !node.failed)
                .map(|node| (node.host, node.port))
                .collect())
        }
        Lister::Sentinels { master_name, .. } => {
            let mut primary = redis::cmd("SENTINEL");
            primary.arg("GET-MASTER-ADDR-BY-NAME").arg(master_name);
            let primary: Option<(String, String)> = primary.query_async(connection).await.map_err(|e| e.to_string())?;
            let (host, port) = primary.ok_or_else(|| format!("the sentinel does not know `{master_name}`"))?;
            let port = port.parse().map_err(|_| format!("the sentinel named the primary's port `{port}`"))?;
            let mut replicas = redis::cmd("SENTINEL");
            replicas.arg("REPLICAS").arg(master_name);
            let replicas: Value = replicas.query_async(connection).await.map_err(|e| e.to_string())?;
            let mut servers = vec![(host, port)];
            servers.extend(sentinel_replicas(&replicas));
            Ok(servers)
        }
    }
}

/// The text of a bulk or verbatim string reply.
fn text(value: Value) -> Result<String, String> {
    match value {
        Value::BulkString(bytes) => Ok(String::from_utf8_lossy(&bytes).into_owned()),
        Value::VerbatimString { text, .. } => Ok(text),
        other => Err(format!("expected text, got {other:?}")),
    }
}

/// The replicas of `SENTINEL REPLICAS`' answer (each a map, or under RESP2 a flat list of
/// fields and values) that the sentinel does not see down or disconnected.
fn sentinel_replicas(reply: &Value) -> Vec<Address> {
    let Value::Array(replicas) = reply else { return Vec::new() };
    let field_text = |value: &Value| match value {
        Value::BulkString(bytes) => Some(String::from_utf8_lossy(bytes).into_owned()),
        Value::SimpleString(text) => Some(text.clone()),
        Value::VerbatimString { text, .. } => Some(text.clone()),
        _ => None,
    };
    let mut servers = Vec::new();
    for replica in replicas {
        let pairs: Vec<(String, String)> = match replica {
            Value::Map(pairs) => pairs.iter().filter_map(|(k, v)| Some((field_text(k)?, field_text(v)?))).collect(),
            Value::Array(flat) => flat
                .chunks(2)
                .filter_map(|pair| Some((field_text(pair.first()?)?, field_text(pair.get(1)?)?)))
                .collect(),
            _ => continue,
        };
        let field = |name: &str| pairs.iter().find(|(k, _)| k == name).map(|(_, v)| v.as_str());
        let down = field("flags")
            .is_none_or(|flags| flags.split(',').any(|flag| matches!(flag, "s_down" | "o_down" | "disconnected")));
        if let (false, Some(host), Some(Ok(port))) = (down, field("ip"), field("port").map(str::parse::<u16>)) {
            servers.push((host.to_owned(), port));
        }
    }
    servers
}

#[cfg(test)]
mod tests {
    use super::*;

    fn bulk(text: &str) -> Value {
        Value::BulkString(text.as_bytes().to_vec())
    }

    #[test]
    fn replicas_the_sentinel_sees_up_in_resp2_and_resp3() {
        let flat = |ip: &str, port: &str, flags: &str| {
            Value::Array(vec![
                bulk("name"),
                bulk("x"),
                bulk("ip"),
                bulk(ip),
                bulk("port"),
                bulk(port),
                bulk("flags"),
                bulk(flags),
            ])
        };
        let map = |ip: &str, port: &str, flags: &str| {
            Value::Map(vec![(bulk("ip"), bulk(ip)), (bulk("port"), bulk(port)), (bulk("flags"), bulk(flags))])
        };
        let reply = Value::Array(vec![
            flat("10.0.0.2", "6379", "slave"),
            flat("10.0.0.3", "6379", "s_down,slave"),
            map("10.0.0.4", "6380", "slave"),
            map("10.0.0.5", "6380", "slave,disconnected"),
            map("10.0.0.6", "not a port", "slave"),
            Value::Nil,
        ]);
        assert_eq!(sentinel_replicas(&reply), [("10.0.0.2".to_owned(), 6379), ("10.0.0.4".to_owned(), 6380)]);
        assert!(sentinel_replicas(&Value::Nil).is_empty());
    }
}
