//! Names that sections give each other: `globalMiddlewares`, a route's middlewares and
//! action, a service's middlewares and routes.

use std::collections::BTreeSet;

use seam_core::Kind;

use crate::diagnostic::Diagnostic;
use crate::document::model::{Document, Reference};
use crate::document::typed::quote_list;
use crate::suggest;

/// Reports every reference to something undefined or of the wrong kind, and the routes that
/// no service serves.
pub fn check_all(document: &Document, diags: &mut Vec<Diagnostic>) {
    for reference in &document.global_middlewares {
        check(
            document,
            reference,
            Kind::Middleware,
            &|| ("`globalMiddlewares`".into(), "globalMiddlewares".into()),
            diags,
        );
    }
    for route in document.routes.values() {
        let what = || format!("route `{}`", route.name);
        let at = |key: String| (what(), format!("routes.{}.{key}", route.name));
        check(document, &route.action, Kind::Action, &|| at("action".into()), diags);
        for (i, m) in route.middlewares.iter().enumerate() {
            check(document, m, Kind::Middleware, &|| at(format!("middlewares[{i}]")), diags);
        }
    }
    let mut routed = BTreeSet::new();
    for service in document.services.iter().flat_map(|s| s.values()) {
        let what = format!("service `{}`", service.name);
        let path = format!("services.{}", service.name);
        for (i, m) in service.middlewares.iter().enumerate() {
            check(document, m, Kind::Middleware, &|| (what.clone(), format!("{path}.middlewares[{i}]")), diags);
        }
        for (i, r) in service.routes.iter().enumerate() {
            routed.insert(r.name.as_str());
            if !document.routes.contains_key(&r.name) && !document.broken.contains(&r.name) {
                let help = suggest::help_for(&r.name, document.routes.keys().map(String::as_str));
                diags.push(
                    Diagnostic::error(format!("{what} lists route `{}`, which is not defined in `routes:`", r.name))
                        .at(&r.loc)
                        .path(format!("{path}.routes[{i}]"))
                        .maybe_help(help),
                );
            }
        }
    }
    if document.services.is_some() {
        for route in document.routes.values().filter(|r| !routed.contains(r.name.as_str())) {
            diags.push(
                Diagnostic::warning(format!("route `{}` is listed by no service, so it is not served", route.name))
                    .at(&route.name_loc)
                    .help("add it to a service's `routes:`"),
            );
        }
    }
}

fn check(
    document: &Document,
    reference: &Reference,
    expected: Kind,
    place: &dyn Fn() -> (String, String),
    diags: &mut Vec<Diagnostic>,
) {
    if document.components(expected).contains_key(&reference.name) || document.broken.contains(&reference.name) {
        return;
    }
    // Who refers, and the document path of the reference: formatted only for a problem.
    let (who, path) = place();
    let candidates = document.components(expected).keys().map(String::as_str);
    let help = suggest::help_for(&reference.name, candidates.clone());
    let message = match document.kinds_defining(&reference.name).first() {
        Some(kind) => {
            format!("`{}` is {}; {who} needs {} here", reference.name, kind.with_article(), expected.with_article())
        }
        None => format!(
            "{who} refers to {expected} `{}`, which is not defined in `{}:`",
            reference.name,
            expected.section()
        ),
    };
    let list: Vec<&str> = candidates.collect();
    let help = help.unwrap_or_else(|| {
        if list.is_empty() {
            format!("define it under `{}:`", expected.section())
        } else {
            format!("the {}s are {}", expected.word(), quote_list(&list))
        }
    });
    diags.push(Diagnostic::error(message).at(&reference.loc).path(path).help(help));
}
