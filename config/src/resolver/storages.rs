//! Building the document's storages, each once, on first use: the resolver's
//! [`StorageSource`], with cycle detection and "did you mean" for unknown names.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::sync::{Arc, Mutex};

use async_trait::async_trait;
use seam_core::metrics::InstrumentedStorage;
use seam_core::{BuildContext, BuildError, Kind, Problem, Storage, StorageSource};

use super::components::{ParsedComponent, place_all};
use crate::diagnostic::Diagnostic;
use crate::document::model::Document;
use crate::document::typed::quote_list;
use crate::suggest;

/// A storage built, or `Err` when its build failed (already reported).
type Outcome = Result<(Arc<dyn Storage>, &'static str), ()>;

/// The storages of a document, built on demand.
pub struct Storages<'d> {
    offline: bool,
    /// Whether operations are counted and timed (`server.metrics` is set).
    instrumented: bool,
    parsed: BTreeMap<String, ParsedComponent<'d, dyn Storage>>,
    /// Names defined in `storages:` that cannot be built (their problems are reported).
    failed: BTreeSet<String>,
    /// Names defined in each section, for "did you mean" and wrong-kind messages.
    defined: BTreeMap<String, Vec<Kind>>,
    built: Mutex<HashMap<String, Outcome>>,
    /// Storage name → the components that asked for it.
    users: Mutex<BTreeMap<String, Vec<String>>>,
    diagnostics: Mutex<Vec<Diagnostic>>,
    /// Instances of a running graph, kept when their fingerprint is unchanged.
    previous: BTreeMap<String, (String, Arc<dyn Storage>)>,
    /// The private default storages of a running graph's components, by component.
    previous_defaults: BTreeMap<String, Arc<dyn Storage>>,
    /// The private default storages of this graph's components.
    defaults: Mutex<BTreeMap<String, Arc<dyn Storage>>>,
}

impl<'d> Storages<'d> {
    /// The storages of `document` that parsed; with `offline`, nothing is contacted.
    pub fn new(document: &'d Document, parsed: Vec<ParsedComponent<'d, dyn Storage>>, offline: bool) -> Self {
        let parsed: BTreeMap<String, _> = parsed.into_iter().map(|p| (p.def.name.clone(), p)).collect();
        let failed = document
            .storages
            .keys()
            .filter(|n| parsed.get(*n).is_none_or(|p| p.broken || p.config.is_none()))
            .chain(document.broken.iter())
            .cloned()
            .collect();
        let mut defined: BTreeMap<String, Vec<Kind>> = BTreeMap::new();
        for kind in Kind::ALL {
            for name in document.components(kind).keys() {
                defined.entry(name.clone()).or_default().push(kind);
            }
        }
        Storages {
            offline,
            instrumented: document.server.metrics.is_some(),
            parsed,
            failed,
            defined,
            built: Mutex::new(HashMap::new()),
            users: Mutex::new(BTreeMap::new()),
            diagnostics: Mutex::new(Vec::new()),
            previous: BTreeMap::new(),
            previous_defaults: BTreeMap::new(),
            defaults: Mutex::new(BTreeMap::new()),
        }
    }

    /// Keeps the instances of `previous` whose component and config are unchanged.
    pub fn reusing(
        mut self,
        previous: &BTreeMap<String, super::BuiltStorage>,
        defaults: &BTreeMap<String, Arc<dyn Storage>>,
    ) -> Self {
        self.previous =
            previous.iter().map(|(n, b)| (n.clone(), (b.fingerprint.clone(), b.instance.clone()))).collect();
        self.previous_defaults = defaults.clone();
        self
    }

    /// The private default storages the components of this graph use, by component.
    pub fn defaults(&self) -> BTreeMap<String, Arc<dyn Storage>> {
        self.defaults.lock().unwrap_or_else(|p| p.into_inner()).clone()
    }

    /// Builds every storage (those with problems too, offline, to report all of theirs), and
    /// returns the ones built.
    pub async fn build_all(&self) -> BTreeMap<String, (Arc<dyn Storage>, &'static str, String)> {
        let mut out = BTreeMap::new();
        for (name, parsed) in &self.parsed {
            if let Ok((storage, component)) = self.build(name, vec![name.clone()]).await {
                out.insert(name.clone(), (storage, component, parsed.fingerprint.clone()));
            }
        }
        out
    }

    /// The problems found while building storages.
    pub fn take_diagnostics(&self) -> Vec<Diagnostic> {
        std::mem::take(&mut *self.diagnostics.lock().unwrap_or_else(|p| p.into_inner()))
    }

    /// Storage name → who uses it (sorted, deduplicated).
    pub fn users(&self) -> BTreeMap<String, Vec<String>> {
        let mut users = self.users.lock().unwrap_or_else(|p| p.into_inner()).clone();
        for who in users.values_mut() {
            who.sort();
            who.dedup();
        }
        users
    }

    /// Builds `name` once; `stack` is the chain of storages being built, `name` last.
    async fn build(&self, name: &str, stack: Vec<String>) -> Result<(Arc<dyn Storage>, &'static str), ()> {
        if let Some(done) = self.built.lock().unwrap_or_else(|p| p.into_inner()).get(name) {
            return done.clone();
        }
        let Some(parsed) = self.parsed.get(name) else { return Err(()) };
        let Some(config) = &parsed.config else { return Err(()) };
        if let Some((fingerprint, instance)) = self.previous.get(name)
            && *fingerprint == parsed.fingerprint
            && !parsed.broken
        {
            let kept = Ok((instance.clone(), parsed.registration.name));
            self.built.lock().unwrap_or_else(|p| p.into_inner()).insert(name.to_owned(), kept.clone());
            return kept;
        }
        let nested = Nested { storages: self, stack };
        let offline = self.offline || parsed.broken;
        let cx = BuildContext::new(&parsed.def.name, Kind::Storage, offline, &nested);
        let outcome = match config.build(&cx).await {
            Ok(storage) if !parsed.broken => {
                let storage = if self.instrumented { InstrumentedStorage::wrap(name, storage) } else { storage };
                Ok((storage, parsed.registration.name))
            }
            Ok(_) => Err(()),
            Err(e) => {
                let placed = place_all(parsed, e.problems());
                self.diagnostics.lock().unwrap_or_else(|p| p.into_inner()).extend(placed);
                Err(())
            }
        };
        self.built.lock().unwrap_or_else(|p| p.into_inner()).insert(name.to_owned(), outcome.clone());
        outcome
    }

    async fn lookup(
        &self,
        who: &str,
        name: &str,
        stack: &[String],
    ) -> Result<(Arc<dyn Storage>, &'static str), BuildError> {
        if self.failed.contains(name) {
            let message = format!("{who} needs storage `{name}`, whose definition has errors");
            return Err(Problem::new(message).reference(name).consequence().into());
        }
        if !self.parsed.contains_key(name) {
            return Err(self.undefined(who, name));
        }
        self.users.lock().unwrap_or_else(|p| p.into_inner()).entry(name.to_owned()).or_default().push(who.to_owned());
        if stack.iter().any(|s| s == name) {
            let cycle: Vec<String> = stack.iter().map(String::as_str).chain([name]).map(|s| format!("`{s}`")).collect();
            let message = format!("storages refer to each other in a cycle: {}", cycle.join(" → "));
            return Err(Problem::new(message).reference(name).into());
        }
        let stack = stack.iter().cloned().chain([name.to_owned()]).collect();
        self.build(name, stack).await.map_err(|()| {
            let message = format!("{who} needs storage `{name}`, which could not be built");
            Problem::new(message).reference(name).consequence().into()
        })
    }

    fn undefined(&self, who: &str, name: &str) -> BuildError {
        let storages: Vec<&str> =
            self.defined.iter().filter(|(_, k)| k.contains(&Kind::Storage)).map(|(n, _)| n.as_str()).collect();
        let message = match self.defined.get(name).and_then(|k| k.first()) {
            Some(kind) => format!("`{name}` is {}; {who} needs a storage here", kind.with_article()),
            None => format!("{who} refers to storage `{name}`, which is not defined in `storages:`"),
        };
        let help = suggest::help_for(name, storages.iter().copied()).unwrap_or_else(|| {
            if storages.is_empty() {
                "define it under `storages:`".to_owned()
            } else {
                format!("the storages are {}", quote_list(&storages))
            }
        });
        Problem::new(message).reference(name).help(help).into()
    }
}

#[async_trait]
impl StorageSource for Storages<'_> {
    async fn storage(&self, who: &str, name: &str) -> Result<(Arc<dyn Storage>, &'static str), BuildError> {
        self.lookup(who, name, &[]).await
    }

    fn previous_default(&self, who: &str) -> Option<Arc<dyn Storage>> {
        self.previous_defaults.get(who).cloned()
    }

    fn used_default(&self, who: &str, storage: &Arc<dyn Storage>) {
        self.defaults.lock().unwrap_or_else(|p| p.into_inner()).insert(who.to_owned(), storage.clone());
    }
}

/// The source a storage's own build sees: it knows which storages are being built.
struct Nested<'s, 'd> {
    storages: &'s Storages<'d>,
    stack: Vec<String>,
}

#[async_trait]
impl StorageSource for Nested<'_, '_> {
    async fn storage(&self, who: &str, name: &str) -> Result<(Arc<dyn Storage>, &'static str), BuildError> {
        self.storages.lookup(who, name, &self.stack).await
    }
}
