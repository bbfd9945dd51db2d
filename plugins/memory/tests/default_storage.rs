//! A component whose `storage` is left out gets a private MemoryStorage.

use std::sync::{Arc, Mutex};

use seam_config::document;
use seam_config::resolver::{self, Options};
use seam_core::{Action, BuildContext, BuildError, Capability, Component, Request, Response, Storage, async_trait};
use seam_plugin_memory as _;

static SEEN: Mutex<Vec<(bool, usize)>> = Mutex::new(Vec::new());

/// Asks for its storage, or the default.
#[seam_core::component(name = "plugins.probe.actions.StorageProbeAction")]
struct ProbeConfig {
    #[serde(default)]
    storage: Option<String>,
}

struct Probe(#[allow(dead_code)] Arc<dyn Storage>);

#[async_trait]
impl Action for Probe {
    async fn handle(&self, _req: Request) -> Response {
        Response::new(seam_core::Body::empty())
    }
}

#[async_trait]
impl Component for ProbeConfig {
    type Output = dyn Action;

    async fn build(&self, cx: &BuildContext<'_>) -> Result<Arc<dyn Action>, BuildError> {
        let (storage, shared) = cx.storage_or_default(self.storage.as_deref(), &[Capability::Scan]).await?;
        storage
            .set(cx.name(), bytes::Bytes::from_static(b"1"), None)
            .await
            .map_err(|e| BuildError::new(e.to_string()))?;
        let keys = storage.scan("*").await.map_err(|e| BuildError::new(e.to_string()))?.len();
        SEEN.lock().unwrap().push((shared, keys));
        Ok(Arc::new(Probe(storage)))
    }
}

#[tokio::test]
async fn left_out_storage_falls_back_to_a_private_memory_storage() {
    let doc = "
storages:
  Shared: { use: plugins.memory.storages.MemoryStorage }
actions:
  A: { use: plugins.probe.actions.StorageProbeAction }
  B: { use: plugins.probe.actions.StorageProbeAction }
  C: { use: plugins.probe.actions.StorageProbeAction, config: { storage: Shared } }
  D: { use: plugins.probe.actions.StorageProbeAction, config: { storage: Shared } }
";
    let loaded = document::load_str("doc.yaml", doc);
    let gateway = resolver::resolve(&loaded.document, Options::default()).await.map_err(|d| format!("{d:#?}")).unwrap();
    assert_eq!(gateway.storages["Shared"].users, ["action `C`", "action `D`"]);
    let seen = SEEN.lock().unwrap().clone();
    // A and B each get a private storage (one key each); C and D share one (two keys at D).
    assert_eq!(seen, [(false, 1), (false, 1), (true, 1), (true, 2)]);
}
