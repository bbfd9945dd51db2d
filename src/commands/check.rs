//! `seam check [CONFIG...] [--offline]`.

use std::fmt::Write as _;
use std::process::ExitCode;

use seam_config::diagnostic::{self, Diagnostic};
use seam_config::document;
use seam_config::resolver::{self, Gateway, Options};

use crate::cli::ConfigArgs;
use crate::config_paths;

/// How long each component may take to close after the check.
const CLOSE_BOUND: std::time::Duration = std::time::Duration::from_secs(5);

/// Loads, validates and builds the document; prints problems, or the resolved graph.
pub fn run(args: &ConfigArgs, offline: bool) -> Result<ExitCode, String> {
    let paths = config_paths::resolve(&args.configs, &args.config)?;
    let loaded = document::load(&paths);
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|e| format!("cannot start the async runtime: {e}"))?;
    // A document the loader already found errors in is built offline, only to find more.
    let invalid = loaded.has_errors();
    let options = Options { offline: offline || invalid };
    let mut diagnostics = loaded.diagnostics;
    match runtime.block_on(resolver::resolve(&loaded.document, options)) {
        Ok(gateway) if invalid => {
            diagnostics.extend(gateway.warnings.iter().cloned());
            report(diagnostics);
            runtime.block_on(gateway.close(CLOSE_BOUND));
            Ok(ExitCode::FAILURE)
        }
        Ok(gateway) => {
            diagnostics.extend(gateway.warnings.iter().cloned());
            report(diagnostics);
            print!("{}", graph(&gateway));
            runtime.block_on(gateway.close(CLOSE_BOUND));
            Ok(ExitCode::SUCCESS)
        }
        Err(found) => {
            diagnostics.extend(found);
            report(diagnostics);
            Ok(ExitCode::FAILURE)
        }
    }
}

/// Prints diagnostics to standard error, sorted by place, with a summary line.
pub fn report(mut diagnostics: Vec<Diagnostic>) {
    diagnostic::sort(&mut diagnostics);
    for d in &diagnostics {
        eprintln!("{d}");
    }
    let errors = diagnostics.iter().filter(|d| d.is_error()).count();
    let warnings = diagnostics.len() - errors;
    if errors > 0 {
        let plural = if errors == 1 { "" } else { "s" };
        let warned = if warnings > 0 { format!("; {warnings} warning(s)") } else { String::new() };
        eprintln!("error: the config has {errors} error{plural}{warned}");
    }
}

/// The resolved graph: storages with their users, then routes with their chains.
pub fn graph(gateway: &Gateway) -> String {
    let mut out = String::new();
    let _ = writeln!(out, "server: {}", gateway.server.address);
    let _ = writeln!(out, "storages ({}):", gateway.storages.len());
    for (name, s) in &gateway.storages {
        let users = if s.users.is_empty() { "unused".to_owned() } else { format!("used by {}", s.users.join(", ")) };
        let _ = writeln!(out, "  {name} [{}] {users}", s.component);
        if let Some(endpoint) = s.instance.endpoint() {
            let _ = writeln!(out, "    connected to {endpoint}");
        }
    }
    let _ = writeln!(out, "middlewares ({}):", gateway.middlewares.len());
    for (name, (component, _)) in &gateway.middlewares {
        let _ = writeln!(out, "  {name} [{component}]");
    }
    let _ = writeln!(out, "actions ({}):", gateway.actions.len());
    for (name, (component, _)) in &gateway.actions {
        let _ = writeln!(out, "  {name} [{component}]");
    }
    let _ = writeln!(out, "routes ({}):", gateway.routes.len());
    for r in &gateway.routes {
        let methods = if r.methods.is_empty() { "ALL".to_owned() } else { r.methods.join(",") };
        let via = r.service.as_ref().map(|s| format!(" via service {s}")).unwrap_or_default();
        let chain: Vec<&str> = r.middlewares.iter().map(String::as_str).chain([r.action.as_str()]).collect();
        let _ = writeln!(out, "  {methods} {} (route {}{via})", r.path, r.route);
        let _ = writeln!(out, "    -> {}", chain.join(" -> "));
    }
    out
}
