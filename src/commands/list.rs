//! `seam list [--kind K] [--json]`.

use std::process::ExitCode;

use seam_core::Kind;
use seam_core::registration;

/// Prints the registered components.
pub fn run(kind: Option<&str>, json: bool) -> Result<ExitCode, String> {
    let kind = match kind {
        Some(text) => Some(
            Kind::parse(text)
                .ok_or_else(|| format!("unknown kind `{text}`; the kinds are `storage`, `middleware` and `action`"))?,
        ),
        None => None,
    };
    let regs: Vec<_> = registration::all().iter().filter(|r| kind.is_none_or(|k| r.kind() == k)).collect();
    if json {
        let items: Vec<serde_json::Value> = regs
            .iter()
            .map(|r| {
                serde_json::json!({
                    "name": r.name,
                    "kind": r.kind().word(),
                    "plugin": r.plugin,
                    "aliases": r.aliases,
                    "description": r.description,
                })
            })
            .collect();
        println!("{}", serde_json::to_string_pretty(&items).expect("JSON"));
        return Ok(ExitCode::SUCCESS);
    }
    let width = regs.iter().map(|r| r.name.len()).max().unwrap_or(4).max(4);
    println!("{:<width$}  {:<10}  {:<10}  DESCRIPTION", "NAME", "KIND", "PLUGIN");
    for r in &regs {
        println!("{:<width$}  {:<10}  {:<10}  {}", r.name, r.kind().word(), r.plugin, r.description);
        for alias in r.aliases {
            println!("  alias: {alias}");
        }
    }
    Ok(ExitCode::SUCCESS)
}
