//! Building components: the build traits a config struct implements, and the
//! [`BuildContext`] through which a component asks for the storages it needs.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::sync::{Arc, Mutex};

use async_trait::async_trait;
use schemars::JsonSchema;
use serde::de::DeserializeOwned;

use crate::document::typed::quote_list;
use crate::kind::Kind;
use crate::registration::{self, Component, ErasedConfig};
use crate::storage::Storage;
use crate::suggest;

/// The name of the storage used where a component's `storage` is left out.
pub const DEFAULT_STORAGE: &str = "plugins.memory.storages.MemoryStorage";

/// A problem with a config that its types cannot express ("host must be configured").
#[derive(Debug, Clone)]
pub struct ConfigError {
    /// The config key at fault, dotted for nested keys (`tls.caFile`); `None` for the whole config.
    pub field: Option<String>,
    /// What is wrong.
    pub message: String,
    /// How to fix it.
    pub help: Option<String>,
}

impl ConfigError {
    /// A problem with config key `field`.
    pub fn field(field: impl Into<String>, message: impl Into<String>) -> Self {
        ConfigError { field: Some(field.into()), message: message.into(), help: None }
    }

    /// A problem with the config as a whole.
    pub fn new(message: impl Into<String>) -> Self {
        ConfigError { field: None, message: message.into(), help: None }
    }

    /// Adds a `help:` line.
    pub fn help(mut self, help: impl Into<String>) -> Self {
        self.help = Some(help.into());
        self
    }
}

/// Why a component could not be built.
#[derive(Debug, Clone)]
pub struct BuildError {
    /// What went wrong.
    pub message: String,
    /// How to fix it.
    pub help: Option<String>,
    /// The name in the component's config that caused it (to point at it), if any.
    pub reference: Option<String>,
    /// A consequence of an error reported elsewhere (not reported again).
    pub(crate) quiet: bool,
}

impl BuildError {
    /// An error with `message`.
    pub fn new(message: impl Into<String>) -> Self {
        BuildError { message: message.into(), help: None, reference: None, quiet: false }
    }

    /// Adds a `help:` line.
    pub fn help(mut self, help: impl Into<String>) -> Self {
        self.help = Some(help.into());
        self
    }
}

impl std::fmt::Display for BuildError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.message)
    }
}

impl std::error::Error for BuildError {}

/// Implemented by a storage's config struct; `#[derive(Storage)]` registers it.
#[diagnostic::on_unimplemented(
    message = "`{Self}` derives `Storage` but does not implement `BuildStorage`",
    label = "`BuildStorage` is not implemented for `{Self}`",
    note = "add `#[async_trait] impl BuildStorage for {Self} {{ async fn build(&self, cx: &BuildContext<'_>) -> Result<Arc<dyn Storage>, BuildError> {{ .. }} }}`"
)]
#[async_trait]
pub trait BuildStorage: DeserializeOwned + JsonSchema + Send + Sync + 'static {
    /// Checks the config beyond its types; errors are reported at the config key.
    fn validate(&self) -> Result<(), ConfigError> {
        Ok(())
    }
    /// Builds the storage. When [`BuildContext::offline`] is set, it must not connect.
    async fn build(&self, cx: &BuildContext<'_>) -> Result<Arc<dyn Storage>, BuildError>;
}

/// Implemented by a middleware's config struct; `#[derive(Middleware)]` registers it.
#[diagnostic::on_unimplemented(
    message = "`{Self}` derives `Middleware` but does not implement `BuildMiddleware`",
    label = "`BuildMiddleware` is not implemented for `{Self}`",
    note = "add `#[async_trait] impl BuildMiddleware for {Self} {{ async fn build(&self, cx: &BuildContext<'_>) -> Result<Arc<dyn Middleware>, BuildError> {{ .. }} }}`"
)]
#[async_trait]
pub trait BuildMiddleware: DeserializeOwned + JsonSchema + Send + Sync + 'static {
    /// Checks the config beyond its types; errors are reported at the config key.
    fn validate(&self) -> Result<(), ConfigError> {
        Ok(())
    }
    /// Builds the middleware.
    async fn build(&self, cx: &BuildContext<'_>) -> Result<Arc<dyn crate::Middleware>, BuildError>;
}

/// Implemented by an action's config struct; `#[derive(Action)]` registers it.
#[diagnostic::on_unimplemented(
    message = "`{Self}` derives `Action` but does not implement `BuildAction`",
    label = "`BuildAction` is not implemented for `{Self}`",
    note = "add `#[async_trait] impl BuildAction for {Self} {{ async fn build(&self, cx: &BuildContext<'_>) -> Result<Arc<dyn Action>, BuildError> {{ .. }} }}`"
)]
#[async_trait]
pub trait BuildAction: DeserializeOwned + JsonSchema + Send + Sync + 'static {
    /// Checks the config beyond its types; errors are reported at the config key.
    fn validate(&self) -> Result<(), ConfigError> {
        Ok(())
    }
    /// Builds the action.
    async fn build(&self, cx: &BuildContext<'_>) -> Result<Arc<dyn crate::Action>, BuildError>;
}

/// A storage built, or `Err` when its build failed (already reported).
pub(crate) type BuildOutcome = Result<Arc<dyn Storage>, ()>;

/// What the resolver shares with every build: the storages' configs and the instances built.
pub(crate) struct Shared {
    pub offline: bool,
    pub storage_configs: BTreeMap<String, Box<dyn ErasedConfig>>,
    /// Names defined in the document whose definitions have errors (already reported).
    pub failed: BTreeSet<String>,
    /// Names defined in each section, for "did you mean" and wrong-kind messages.
    pub defined: BTreeMap<String, Vec<Kind>>,
    pub built: Mutex<HashMap<String, BuildOutcome>>,
    /// Storage name → components that asked for it.
    pub users: Mutex<BTreeMap<String, Vec<String>>>,
}

impl Shared {
    /// Builds the storage `name` (defined and parsed) and records the outcome; `stack` is the
    /// chain of storages being built, `name` last, for cycle detection.
    pub(crate) async fn build_storage(&self, name: &str, stack: Vec<String>) -> Result<Arc<dyn Storage>, BuildError> {
        let cx = BuildContext { shared: self, name: name.to_owned(), kind: Kind::Storage, stack };
        let built = match self.storage_configs[name].build(&cx).await {
            Ok(Component::Storage(s)) => Ok(s),
            Ok(_) => Err(BuildError::new(format!("storage `{name}` built something that is not a storage"))),
            Err(e) => Err(e),
        };
        self.built.lock().expect("built lock").insert(name.to_owned(), built.clone().map_err(|_| ()));
        built
    }
}

/// Handed to a component's `build`: who is being built, and access to storages by name.
pub struct BuildContext<'a> {
    pub(crate) shared: &'a Shared,
    pub(crate) name: String,
    pub(crate) kind: Kind,
    pub(crate) stack: Vec<String>,
}

impl BuildContext<'_> {
    /// The name of the component being built, as defined in the document.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// Whether this build must not contact any server (`seam check --offline`).
    pub fn offline(&self) -> bool {
        self.shared.offline
    }

    fn describe(&self) -> String {
        format!("{} `{}`", self.kind.word(), self.name)
    }

    /// The shared instance of the storage called `name` in `storages:`, built on first use.
    pub async fn storage(&self, name: &str) -> Result<Arc<dyn Storage>, BuildError> {
        let who = self.describe();
        let reference = Some(name.to_owned());
        if self.shared.failed.contains(name) {
            let message = format!("{who} needs storage `{name}`, whose definition has errors");
            return Err(BuildError { quiet: true, reference, ..BuildError::new(message) });
        }
        if !self.shared.storage_configs.contains_key(name) {
            let kinds = self.shared.defined.get(name).cloned().unwrap_or_default();
            let storages =
                self.shared.defined.iter().filter(|(_, k)| k.contains(&Kind::Storage)).map(|(n, _)| n.as_str());
            let storages: Vec<&str> = storages.collect();
            let error = match kinds.first() {
                Some(kind) if *kind != Kind::Storage => {
                    BuildError::new(format!("`{name}` is {}; {who} needs a storage here", kind.with_article()))
                }
                _ => BuildError::new(format!("{who} refers to storage `{name}`, which is not defined in `storages:`")),
            };
            let help = suggest::help_for(name, storages.iter().copied()).unwrap_or_else(|| {
                if storages.is_empty() {
                    "define it under `storages:`".to_owned()
                } else {
                    format!("the storages are {}", quote_list(&storages))
                }
            });
            return Err(BuildError { reference, ..error.help(help) });
        }
        self.shared.users.lock().expect("users lock").entry(name.to_owned()).or_default().push(who.clone());
        if let Some(done) = self.shared.built.lock().expect("built lock").get(name) {
            return done.clone().map_err(|()| BuildError {
                reference: reference.clone(),
                quiet: true,
                ..BuildError::new(format!("{who} needs storage `{name}`, which could not be built"))
            });
        }
        if self.stack.iter().any(|s| s == name) {
            let mut cycle = self.stack.clone();
            cycle.push(name.to_owned());
            let cycle: Vec<String> = cycle.iter().map(|s| format!("`{s}`")).collect();
            return Err(BuildError {
                reference,
                ..BuildError::new(format!("storages refer to each other in a cycle: {}", cycle.join(" → ")))
            });
        }
        self.shared.build_storage(name, self.stack.iter().cloned().chain([name.to_owned()]).collect()).await
    }

    /// The storage called `name`, or, when `name` is `None`, a private in-process
    /// MemoryStorage for this component alone. The flag tells whether the storage is shared.
    pub async fn storage_or_memory(&self, name: Option<&str>) -> Result<(Arc<dyn Storage>, bool), BuildError> {
        if let Some(name) = name {
            return self.storage(name).await.map(|s| (s, true));
        }
        let registration = registration::find(DEFAULT_STORAGE).ok_or_else(|| {
            BuildError::new(format!(
                "{} has no `storage` and this build has no {DEFAULT_STORAGE} to fall back on",
                self.describe()
            ))
            .help("name a storage with `storage:`")
        })?;
        let config = (registration.parse)(serde_json::json!({}))
            .map_err(|e| BuildError::new(format!("default storage: {}", e.message)))?;
        match config.build(self).await? {
            Component::Storage(s) => Ok((s, false)),
            _ => Err(BuildError::new("the default storage is not a storage")),
        }
    }
}
