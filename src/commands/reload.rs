//! Reloading the document while serving: on SIGHUP, or on a change of the config files
//! with `--watch`. The new document is loaded, checked and built off the request path; on
//! success the whole graph is swapped at once, and the old one is retired once the last
//! request that started on it has been answered.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use seam_config::document;
use seam_config::resolver::{self, Gateway, Options};
use seam_core::Storage;
use tokio::sync::{mpsc, watch};

use crate::commands::check::report;
use crate::server::{App, Reloader};

/// Serves reloads until `stopping` turns true; returns the graph current at that time.
pub async fn serve(
    paths: Vec<PathBuf>,
    reloader: Reloader,
    mut current: Gateway,
    watch_files: bool,
    mut stopping: watch::Receiver<bool>,
) -> Gateway {
    let (tx, mut asked) = mpsc::channel::<&'static str>(1);
    #[cfg(unix)]
    {
        let tx = tx.clone();
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::hangup()) {
            Ok(mut hangup) => {
                tokio::spawn(async move {
                    while hangup.recv().await.is_some() {
                        let _ = tx.try_send("SIGHUP");
                    }
                });
            }
            Err(e) => tracing::warn!("cannot listen for SIGHUP: {e}"),
        }
    }
    let _watcher = if watch_files { watch(&paths, tx) } else { None };
    loop {
        tokio::select! {
            () = stopped(&mut stopping) => return current,
            Some(why) = asked.recv() => {
                if let Some((next, previous_app)) = reload(&paths, &reloader, &current, why).await {
                    let old = std::mem::replace(&mut current, next);
                    tokio::spawn(retire(old, previous_app, kept(&current)));
                }
            }
        }
    }
}

async fn stopped(stopping: &mut watch::Receiver<bool>) {
    let _ = stopping.wait_for(|stop| *stop).await;
}

/// One reload: the new graph when it loaded, built and is now served.
async fn reload(paths: &[PathBuf], reloader: &Reloader, current: &Gateway, why: &str) -> Option<(Gateway, Arc<App>)> {
    tracing::info!("reloading the config ({why})");
    let loaded = document::load(paths);
    let mut diagnostics = loaded.diagnostics;
    let built = if diagnostics.iter().any(|d| d.is_error()) {
        None
    } else {
        match resolver::resolve_reusing(&loaded.document, Options::default(), current).await {
            Ok(gateway) => {
                diagnostics.extend(gateway.warnings.iter().cloned());
                Some(gateway)
            }
            Err(found) => {
                diagnostics.extend(found);
                None
            }
        }
    };
    let Some(gateway) = built else {
        report(diagnostics);
        tracing::error!("reload failed: the config has errors; still serving the previous one");
        seam_core::metrics::reloaded("error");
        return None;
    };
    for d in &diagnostics {
        tracing::warn!("{}", d.to_string().trim_end());
    }
    match reloader.swap(&gateway) {
        Ok((restart_only, previous_app)) => {
            for key in restart_only {
                tracing::warn!("server.{key} changed: it applies on a restart only, the running value is kept");
            }
            let kept = gateway.storages.values().filter(|s| current.storages.values().any(|o| same(o, s))).count();
            tracing::info!(
                routes = gateway.routes.len(),
                storages_kept = kept,
                storages_new = gateway.storages.len() - kept,
                "reloaded"
            );
            seam_core::metrics::reloaded("success");
            Some((gateway, previous_app))
        }
        Err(e) => {
            tracing::error!("reload failed: {e}; still serving the previous config");
            seam_core::metrics::reloaded("error");
            None
        }
    }
}

fn same(a: &resolver::BuiltStorage, b: &resolver::BuiltStorage) -> bool {
    Arc::ptr_eq(&a.instance, &b.instance)
}

/// Every storage instance `gateway` uses: named ones and components' private defaults.
fn kept(gateway: &Gateway) -> Vec<Arc<dyn Storage>> {
    let named = gateway.storages.values().map(|s| s.instance.clone());
    named.chain(gateway.defaults.values().cloned()).collect()
}

/// Waits for the requests still running on `old`'s graph, then closes its components, and
/// the storages the new graph did not keep.
async fn retire(mut old: Gateway, app: Arc<App>, kept: Vec<Arc<dyn Storage>>) {
    while Arc::strong_count(&app) > 1 {
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    drop(app);
    let in_use = |s: &Arc<dyn Storage>| kept.iter().any(|k| Arc::ptr_eq(k, s));
    old.storages.retain(|_, s| !in_use(&s.instance));
    old.defaults.retain(|_, s| !in_use(s));
    for problem in old.close(Duration::from_secs(5)).await {
        tracing::warn!("retiring the previous config: {problem}");
    }
}

/// Watches the folders holding `paths`; a change to a YAML file (or a Kubernetes ConfigMap
/// `..data` swap) asks for a reload, at most every 250 ms.
fn watch(paths: &[PathBuf], asked: mpsc::Sender<&'static str>) -> Option<notify::RecommendedWatcher> {
    use notify::Watcher as _;
    let (tx, mut rx) = mpsc::unbounded_channel::<()>();
    let handler = move |event: notify::Result<notify::Event>| {
        if let Ok(event) = event
            && !event.kind.is_access()
            && event.paths.iter().any(|p| relevant(p))
        {
            let _ = tx.send(());
        }
    };
    let mut watcher = match notify::recommended_watcher(handler) {
        Ok(watcher) => watcher,
        Err(e) => {
            tracing::warn!("--watch: cannot watch the config: {e}");
            return None;
        }
    };
    let mut folders: Vec<PathBuf> = paths.iter().map(|p| if p.is_dir() { p.clone() } else { folder_of(p) }).collect();
    folders.sort();
    folders.dedup();
    for folder in &folders {
        if let Err(e) = watcher.watch(folder, notify::RecursiveMode::NonRecursive) {
            tracing::warn!("--watch: cannot watch {}: {e}", folder.display());
        }
    }
    tokio::spawn(async move {
        while rx.recv().await.is_some() {
            // One reload for a burst of events (an editor's save is several).
            tokio::time::sleep(Duration::from_millis(250)).await;
            while rx.try_recv().is_ok() {}
            let _ = asked.try_send("file changed");
        }
    });
    Some(watcher)
}

fn folder_of(path: &Path) -> PathBuf {
    match path.parent() {
        Some(parent) if !parent.as_os_str().is_empty() => parent.to_path_buf(),
        _ => PathBuf::from("."),
    }
}

fn relevant(path: &Path) -> bool {
    let name = path.file_name().and_then(|n| n.to_str()).unwrap_or_default();
    name.ends_with(".yaml") || name.ends_with(".yml") || name.starts_with("..data")
}
