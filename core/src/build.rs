//! The [`BuildContext`] handed to a component's build: who is being built, whether servers
//! may be contacted, and the storages it asks for by name.

use std::sync::Arc;

use async_trait::async_trait;

use crate::component::Factory;
use crate::error::{BuildError, Problem};
use crate::kind::Kind;
use crate::registration;
use crate::storage::{Capability, Storage};

/// Where a build gets the storages it names: implemented by the resolver, which builds each
/// storage of the document once and shares it.
#[async_trait]
pub trait StorageSource: Send + Sync {
    /// The shared instance of the storage called `name` in `storages:`, asked for by `who`
    /// ("middleware `Limit`"), with the registered component it uses.
    async fn storage(&self, who: &str, name: &str) -> Result<(Arc<dyn Storage>, &'static str), BuildError>;

    /// The private default storage `who` had in the graph a reload replaces, so that what it
    /// holds (sessions, counters) survives the reload; `None` on a first build.
    fn previous_default(&self, who: &str) -> Option<Arc<dyn Storage>> {
        let _ = who;
        None
    }

    /// Records the private default storage `who` uses in the graph being built.
    fn used_default(&self, who: &str, storage: &Arc<dyn Storage>) {
        let _ = (who, storage);
    }
}

/// Handed to a component's `build`: who is being built, and access to storages by name.
pub struct BuildContext<'a> {
    name: &'a str,
    kind: Kind,
    offline: bool,
    storages: &'a dyn StorageSource,
}

impl<'a> BuildContext<'a> {
    /// The context for building the `kind` called `name`; `offline` forbids contacting servers.
    pub fn new(name: &'a str, kind: Kind, offline: bool, storages: &'a dyn StorageSource) -> Self {
        BuildContext { name, kind, offline, storages }
    }

    /// The name of the component being built, as defined in the document.
    pub fn name(&self) -> &str {
        self.name
    }

    /// Whether this build must not contact any server (`seam check --offline`, or a
    /// document with errors, built only to find more of them).
    pub fn offline(&self) -> bool {
        self.offline
    }

    /// "middleware `Limit`", for messages.
    pub fn describe(&self) -> String {
        format!("{} `{}`", self.kind.word(), self.name)
    }

    /// The shared instance of the storage called `name` in `storages:`, built on first use.
    pub async fn storage(&self, name: &str) -> Result<Arc<dyn Storage>, BuildError> {
        self.storages.storage(&self.describe(), name).await.map(|(s, _)| s)
    }

    /// Like [`BuildContext::storage`], for a component that needs `capabilities` of it:
    /// a storage that lacks one is refused here, naming both.
    pub async fn storage_with(&self, name: &str, capabilities: &[Capability]) -> Result<Arc<dyn Storage>, BuildError> {
        let (storage, component) = self.storages.storage(&self.describe(), name).await?;
        self.require(&storage, capabilities, &format!("storage `{name}` ({component})"), name)?;
        Ok(storage)
    }

    /// The storage called `name`, or, when `name` is `None`, a private instance of the
    /// build's default storage (in-process memory) for this component alone, with the
    /// `capabilities` it needs. The flag tells whether the storage is shared.
    pub async fn storage_or_default(
        &self,
        name: Option<&str>,
        capabilities: &[Capability],
    ) -> Result<(Arc<dyn Storage>, bool), BuildError> {
        if let Some(name) = name {
            return self.storage_with(name, capabilities).await.map(|s| (s, true));
        }
        let who = self.describe();
        if let Some(kept) = self.storages.previous_default(&who) {
            self.require(&kept, capabilities, "the default storage", "")?;
            self.storages.used_default(&who, &kept);
            return Ok((kept, false));
        }
        let registration = registration::default_storage().ok_or_else(|| {
            BuildError::new(format!("{} has no `storage` and this build has no default storage", self.describe()))
                .help("name a storage with `storage:`")
        })?;
        let Factory::Storage(parse) = registration.factory else {
            return Err(BuildError::new(format!("the default storage `{}` is not a storage", registration.name)));
        };
        let parsed = parse(serde_json::json!({}));
        let config = match (parsed.config, parsed.problems.first()) {
            (Some(config), None) => config,
            (_, problem) => {
                let why = problem.map(|p| p.message.clone()).unwrap_or_default();
                return Err(BuildError::new(format!(
                    "the default storage `{}` cannot be built: {why}",
                    registration.name
                )));
            }
        };
        let storage = config.build(self).await?;
        self.require(&storage, capabilities, &format!("the default storage ({})", registration.name), "")?;
        self.storages.used_default(&who, &storage);
        Ok((storage, false))
    }

    fn require(
        &self,
        storage: &Arc<dyn Storage>,
        capabilities: &[Capability],
        what: &str,
        reference: &str,
    ) -> Result<(), BuildError> {
        let offered = storage.capabilities();
        match capabilities.iter().find(|c| !offered.has(**c)) {
            None => Ok(()),
            Some(missing) => {
                let mut problem = Problem::new(format!("{} needs a storage that can {missing}; {what} cannot", self.describe()))
                    .help("use a storage that has it, such as plugins.valkey.storages.ValkeyStorage or plugins.memory.storages.MemoryStorage");
                if !reference.is_empty() {
                    problem = problem.reference(reference);
                }
                Err(problem.into())
            }
        }
    }
}
