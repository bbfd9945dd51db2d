//! `seam run [CONFIG...]`: serve.

use std::process::ExitCode;

use seam_config::document;
use seam_config::resolver::{self, Options};

use crate::cli::ConfigArgs;
use crate::commands::check::report;
use crate::config_paths;
use crate::server::Server;

/// Loads, builds and serves the document until SIGINT or SIGTERM.
pub fn run(args: &ConfigArgs, workers: Option<usize>, watch: bool) -> Result<ExitCode, String> {
    let paths = config_paths::resolve(&args.configs, &args.config)?;
    let loaded = document::load(&paths);
    if loaded.has_errors() {
        report(loaded.diagnostics);
        return Ok(ExitCode::FAILURE);
    }
    let workers = match workers {
        Some(0) => return Err("--workers must be at least 1".into()),
        Some(n) => n,
        None => std::thread::available_parallelism().map_or(1, std::num::NonZero::get),
    };
    // This thread is the first worker; storages' background tasks run here too.
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|e| format!("cannot start the async runtime: {e}"))?;
    runtime.block_on(async {
        let mut diagnostics = loaded.diagnostics;
        let gateway = match resolver::resolve(&loaded.document, Options::default()).await {
            Ok(gateway) => gateway,
            Err(found) => {
                diagnostics.extend(found);
                report(diagnostics);
                return Ok(ExitCode::FAILURE);
            }
        };
        diagnostics.extend(gateway.warnings.iter().cloned());
        for d in &diagnostics {
            tracing::warn!("{}", d.to_string().trim_end());
        }
        let server = Server::bind_workers(&gateway, workers).await?;
        let plugins: std::collections::BTreeSet<&str> =
            seam_core::registration::all().iter().map(|r| r.plugin).collect();
        let plugins = plugins.into_iter().collect::<Vec<_>>().join(" ");
        seam_core::metrics::set_build_info(env!("CARGO_PKG_VERSION"), &plugins);
        seam_core::metrics::started();
        if let Some(at) = server.metrics_addr() {
            let path = gateway.server.metrics.as_ref().map_or("/metrics", |m| m.path.as_str());
            tracing::info!("metrics at http://{at}{path}");
        }
        if !gateway.server.disable_startup_message {
            let name = if gateway.server.app_name.is_empty() { "seam" } else { gateway.server.app_name.as_str() };
            let scheme = if gateway.server.tls { "https" } else { "http" };
            tracing::info!(
                address = %server.local_addr(),
                routes = server.route_count(),
                storages = gateway.storages.len(),
                workers,
                "{name} listening on {scheme}://{}",
                server.local_addr()
            );
        }
        let (stop_reloads, stopping) = tokio::sync::watch::channel(false);
        let reloads = tokio::spawn(super::reload::serve(paths, server.reloader(), gateway, watch, stopping));
        server.serve(shutdown_signal()).await;
        let _ = stop_reloads.send(true);
        let gateway = reloads.await.map_err(|e| format!("the reload task failed: {e}"))?;
        let bound = gateway.server.shutdown_timeout.get().max(std::time::Duration::from_secs(1));
        for problem in gateway.close(bound).await {
            tracing::warn!("{problem}");
        }
        tracing::info!("stopped");
        Ok(ExitCode::SUCCESS)
    })
}

/// Completes on SIGINT (Ctrl-C) or SIGTERM.
async fn shutdown_signal() {
    let ctrl_c = tokio::signal::ctrl_c();
    #[cfg(unix)]
    {
        let mut term = match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(term) => term,
            Err(_) => {
                let _ = ctrl_c.await;
                return;
            }
        };
        tokio::select! {
            _ = ctrl_c => {},
            _ = term.recv() => {},
        }
    }
    #[cfg(not(unix))]
    let _ = ctrl_c.await;
}
