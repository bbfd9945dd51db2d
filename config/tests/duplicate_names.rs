//! Two components claiming one name are a startup error that names both.

use std::sync::Arc;

use seam_config::document;
use seam_config::resolver::{self, Options};
use seam_core::{Action, BuildContext, BuildError, Component, Request, Response, async_trait};

struct Nothing;

#[async_trait]
impl Action for Nothing {
    async fn handle(&self, _req: Request) -> Response {
        Response::new(seam_core::Body::empty())
    }
}

/// The first.
#[seam_core::component(name = "plugins.one.actions.FirstAction", aliases = ["plugins.shared.actions.Legacy"])]
struct FirstConfig {}

/// The second, claiming the first's alias.
#[seam_core::component(name = "plugins.two.actions.SecondAction", aliases = ["plugins.shared.actions.Legacy"])]
struct SecondConfig {}

#[async_trait]
impl Component for FirstConfig {
    type Output = dyn Action;

    async fn build(&self, _cx: &BuildContext<'_>) -> Result<Arc<dyn Action>, BuildError> {
        Ok(Arc::new(Nothing))
    }
}

#[async_trait]
impl Component for SecondConfig {
    type Output = dyn Action;

    async fn build(&self, _cx: &BuildContext<'_>) -> Result<Arc<dyn Action>, BuildError> {
        Ok(Arc::new(Nothing))
    }
}

#[tokio::test]
async fn a_duplicate_alias_names_both_registrations() {
    let duplicates = seam_core::registration::duplicates();
    assert_eq!(duplicates.len(), 1, "{duplicates:?}");
    let message = &duplicates[0];
    assert!(message.contains("`plugins.shared.actions.Legacy` is registered twice"), "{message}");
    assert!(
        message.contains("plugins.one.actions.FirstAction") && message.contains("plugins.two.actions.SecondAction")
    );
    assert!(message.contains("duplicate_names"), "names the defining modules: {message}");

    let loaded = document::load_str("doc.yaml", "actions:\n  A: { use: plugins.one.actions.FirstAction }\n");
    let errors = match resolver::resolve(&loaded.document, Options::default()).await {
        Ok(_) => panic!("a build with duplicate names must not start"),
        Err(errors) => errors,
    };
    assert!(errors.iter().any(|e| e.message == *message));
}
