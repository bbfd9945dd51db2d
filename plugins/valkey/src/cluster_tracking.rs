//! `clientCache` on a Valkey Cluster: a tracking connection to every node.
//!
//! A write raises its invalidation on the node that holds the key, and on that node's
//! replicas as they apply it. So the cache follows every node the cluster lists, masters and
//! replicas alike, each with `CLIENT TRACKING ON BCAST PREFIX <prefix>`: a replica promoted
//! by a failover, or a node given slots by resharding, is already followed when writes reach
//! it. The list is read again every second (`CLUSTER NODES`). Values are answered locally
//! only while every listed node's tracking connection is up: a lost connection, a listed
//! node not followed yet, or a list that cannot be read drops every entry until all is well
//! again. A node the cluster has failed (`fail`) is no longer followed; its replica took
//! over and is.

use std::collections::{HashMap, HashSet};
use std::sync::{Arc, Mutex, Weak};
use std::time::{Duration, Instant};

use redis::aio::MultiplexedConnection;
use redis::{AsyncConnectionConfig, PushInfo, PushKind, Value};

use crate::client_cache::{ClientCache, turn_tracking_on};
use crate::connect::NodeSettings;
use crate::push::{self, Event};
use crate::topology::cluster_nodes;

/// How often the cluster's nodes are listed again.
const REFRESH: Duration = Duration::from_secs(1);
/// Least time between two warnings that the nodes cannot be listed.
const WARN_EVERY: Duration = Duration::from_secs(30);

/// A node's address.
type Address = (String, u16);

/// How to reach a cluster's nodes: its seed nodes, and the settings of every node.
pub struct ClusterTracking {
    seeds: Vec<Address>,
    nodes: NodeSettings,
}

impl ClusterTracking {
    /// Starts from `seeds` (`host:port`, already validated); `nodes` speaks RESP3.
    pub fn new(seeds: &[String], nodes: NodeSettings) -> Result<ClusterTracking, String> {
        let seeds = seeds
            .iter()
            .map(|seed| {
                let (host, port) =
                    seed.rsplit_once(':').ok_or_else(|| format!("cluster node `{seed}` is not `host:port`"))?;
                let port = port.parse().map_err(|_| format!("cluster node `{seed}` has no valid port"))?;
                Ok((host.to_owned(), port))
            })
            .collect::<Result<_, String>>()?;
        Ok(ClusterTracking { seeds, nodes })
    }
}

/// The nodes last listed, each with whether its tracking connection is up.
#[derive(Default)]
struct State {
    nodes: HashMap<Address, bool>,
    /// Whether the last listing succeeded.
    listed: bool,
}

/// What the lister and the nodes' connections share.
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

/// Follows the cluster's nodes for as long as the cache lives (or until this future is
/// dropped, which ends every node's connection).
pub async fn track(
    cache: Weak<ClientCache>,
    cluster: Arc<ClusterTracking>,
    prefix: String,
    timeouts: (Duration, Duration),
) {
    let shared = Arc::new(Shared { cache, state: Mutex::new(State::default()) });
    let mut followers: HashMap<Address, Follower> = HashMap::new();
    let mut lister: Option<MultiplexedConnection> = None;
    let mut last_warning: Option<Instant> = None;
    while shared.cache.strong_count() > 0 {
        let known: Vec<Address> = followers.keys().cloned().collect();
        match list(&cluster, &mut lister, &known, timeouts).await {
            Ok(listed) => {
                let wanted: HashSet<Address> =
                    listed.into_iter().filter(|node| !node.failed).map(|node| (node.host, node.port)).collect();
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
                    match cluster.nodes.client(&address.0, address.1) {
                        Ok(client) => {
                            let task = follow(shared.clone(), address.clone(), client, prefix.clone(), timeouts);
                            followers.insert(address, Follower(tokio::spawn(task)));
                        }
                        Err(e) => tracing::warn!(
                            "clientCache: cannot follow cluster node {}:{} ({e}); not caching",
                            address.0,
                            address.1
                        ),
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
                    tracing::warn!("clientCache: cannot list the cluster's nodes ({e}); not caching");
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
                        "clientCache: the invalidation connection to cluster node {}:{} was lost; answering from Valkey until it is back",
                        address.0,
                        address.1
                    );
                }
                Event::Failed(e) => tracing::warn!(
                    "clientCache: cannot open the invalidation connection to cluster node {}:{} ({e}); not caching",
                    address.0,
                    address.1
                ),
            }
            true
        }
    };
    push::keep(client, timeouts, setup, handle, std::future::pending()).await;
}

/// The cluster's nodes, asked of the node asked last, else of any node followed, else of
/// the seeds.
async fn list(
    cluster: &ClusterTracking,
    lister: &mut Option<MultiplexedConnection>,
    known: &[Address],
    (connect, command): (Duration, Duration),
) -> Result<Vec<crate::topology::ClusterNode>, String> {
    let ask = |mut connection: MultiplexedConnection| async move {
        let mut nodes = redis::cmd("CLUSTER");
        nodes.arg("NODES");
        let asked = nodes.query_async::<Value>(&mut connection);
        match tokio::time::timeout(command, asked).await {
            Ok(Ok(Value::BulkString(bytes))) => Ok((cluster_nodes(&String::from_utf8_lossy(&bytes)), connection)),
            Ok(Ok(Value::VerbatimString { text, .. })) => Ok((cluster_nodes(&text), connection)),
            Ok(Ok(other)) => Err(format!("CLUSTER NODES answered {other:?}")),
            Ok(Err(e)) => Err(e.to_string()),
            Err(_) => Err(format!("CLUSTER NODES timed out after {command:?}")),
        }
    };
    if let Some(connection) = lister.take()
        && let Ok((nodes, connection)) = ask(connection).await
    {
        *lister = Some(connection);
        return Ok(nodes);
    }
    let config = AsyncConnectionConfig::new().set_connection_timeout(Some(connect)).set_response_timeout(Some(command));
    let mut failure = String::from("no node to ask");
    for (host, port) in known.iter().chain(&cluster.seeds) {
        let opened = match cluster.nodes.client(host, *port) {
            Ok(client) => client.get_multiplexed_async_connection_with_config(&config).await,
            Err(e) => Err(e),
        };
        let asked = match opened {
            Ok(connection) => ask(connection).await,
            Err(e) => Err(e.to_string()),
        };
        match asked {
            Ok((nodes, connection)) => {
                *lister = Some(connection);
                return Ok(nodes);
            }
            Err(e) => failure = format!("{host}:{port}: {e}"),
        }
    }
    Err(failure)
}
