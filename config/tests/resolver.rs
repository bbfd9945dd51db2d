//! The resolver on documents that use test components registered in this binary.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use bytes::Bytes;
use http_body_util::BodyExt;
use seam_config::Diagnostic;
use seam_config::document::{self, Loaded};
use seam_config::resolver::{self, Gateway, Options};
use seam_core::{
    Action, Body, BuildContext, BuildError, Capabilities, Capability, Component, Middleware, Next, Request, Response,
    Storage, StorageError, async_trait,
};

seam_core::plugin_alias!("kit" => "testkit");

/// Builds per `counter` label (tests run concurrently, each counts under its own label).
static STORAGE_BUILDS: Mutex<Vec<String>> = Mutex::new(Vec::new());

fn builds(counter: &str) -> usize {
    STORAGE_BUILDS.lock().unwrap().iter().filter(|c| *c == counter).count()
}

/// A storage for these tests; `inner` makes it depend on another storage.
#[seam_core::component(name = "plugins.testkit.storages.MapStorage")]
struct MapStorageConfig {
    #[serde(default)]
    inner: Option<String>,
    /// Label its builds are counted under.
    #[serde(default)]
    counter: Option<String>,
}

#[derive(Default)]
struct MapStorage(Mutex<HashMap<String, Bytes>>);

#[async_trait]
impl Storage for MapStorage {
    async fn get(&self, key: &str) -> Result<Option<Bytes>, StorageError> {
        Ok(self.0.lock().unwrap().get(key).cloned())
    }
    async fn set(&self, key: &str, value: Bytes, _ttl: Option<Duration>) -> Result<(), StorageError> {
        self.0.lock().unwrap().insert(key.into(), value);
        Ok(())
    }
    async fn delete(&self, key: &str) -> Result<bool, StorageError> {
        Ok(self.0.lock().unwrap().remove(key).is_some())
    }
    fn capabilities(&self) -> Capabilities {
        Capabilities::NONE.with(Capability::Scan).with(Capability::Reset)
    }
    async fn scan(&self, _pattern: &str) -> Result<Vec<String>, StorageError> {
        Ok(self.0.lock().unwrap().keys().cloned().collect())
    }
    async fn reset(&self) -> Result<(), StorageError> {
        self.0.lock().unwrap().clear();
        Ok(())
    }
    async fn ping(&self) -> Result<(), StorageError> {
        Ok(())
    }
    async fn close(&self) -> Result<(), StorageError> {
        Ok(())
    }
}

#[async_trait]
impl Component for MapStorageConfig {
    type Output = dyn Storage;

    async fn build(&self, cx: &BuildContext<'_>) -> Result<Arc<dyn Storage>, BuildError> {
        if let Some(inner) = &self.inner {
            cx.storage(inner).await?;
        }
        if let Some(counter) = &self.counter {
            STORAGE_BUILDS.lock().unwrap().push(counter.clone());
        }
        Ok(Arc::new(MapStorage::default()))
    }
}

/// Appends its label to the request's `x-trail`.
#[seam_core::component(name = "plugins.testkit.middlewares.TrailMiddleware", aliases = ["plugins.testkit.middlewares.Trail"])]
struct TrailConfig {
    label: String,
    #[serde(default)]
    storage: Option<String>,
}

struct Trail {
    label: String,
    storage: Option<Arc<dyn Storage>>,
}

#[async_trait]
impl Middleware for Trail {
    async fn handle(&self, mut req: Request, next: Next) -> Response {
        let trail = req.headers().get("x-trail").map(|v| v.to_str().unwrap().to_owned()).unwrap_or_default();
        req.headers_mut().insert("x-trail", format!("{trail}{}>", self.label).parse().unwrap());
        if let Some(storage) = &self.storage {
            storage.set(&self.label, Bytes::from_static(b"seen"), None).await.unwrap();
        }
        next.run(req).await
    }
}

#[async_trait]
impl Component for TrailConfig {
    type Output = dyn Middleware;

    async fn build(&self, cx: &BuildContext<'_>) -> Result<Arc<dyn Middleware>, BuildError> {
        let storage = match &self.storage {
            Some(name) => Some(cx.storage(name).await?),
            None => None,
        };
        Ok(Arc::new(Trail { label: self.label.clone(), storage }))
    }
}

/// Answers with the request's `x-trail`.
#[seam_core::component(name = "plugins.testkit.actions.TrailAction")]
struct TrailActionConfig {}

struct TrailAction;

#[async_trait]
impl Action for TrailAction {
    async fn handle(&self, req: Request) -> Response {
        let trail = req.headers().get("x-trail").map(|v| v.to_str().unwrap().to_owned()).unwrap_or_default();
        Response::new(Body::from(trail))
    }
}

#[async_trait]
impl Component for TrailActionConfig {
    type Output = dyn Action;

    async fn build(&self, _cx: &BuildContext<'_>) -> Result<Arc<dyn Action>, BuildError> {
        Ok(Arc::new(TrailAction))
    }
}

fn load(text: &str) -> Loaded {
    let loaded = document::load_str("doc.yaml", text);
    assert!(!loaded.has_errors(), "load errors: {:#?}", loaded.diagnostics);
    loaded
}

async fn resolve_ok(text: &str) -> Gateway {
    let loaded = load(text);
    match resolver::resolve(&loaded.document, Options::default()).await {
        Ok(g) => g,
        Err(d) => panic!("resolve failed: {}", d.iter().map(ToString::to_string).collect::<String>()),
    }
}

async fn resolve_err(text: &str) -> Vec<Diagnostic> {
    let loaded = document::load_str("doc.yaml", text);
    let options = Options { offline: loaded.has_errors() };
    let mut all = loaded.diagnostics;
    match resolver::resolve(&loaded.document, options).await {
        Ok(_) => {}
        Err(d) => all.extend(d),
    }
    all.retain(Diagnostic::is_error);
    assert!(!all.is_empty(), "expected errors");
    all
}

fn position(d: &Diagnostic) -> (u32, u32) {
    let loc = d.loc.as_ref().expect("diagnostic has a position");
    (loc.line, loc.column)
}

const BASE: &str = "
storages:
  Shared:
    use: plugins.testkit.storages.MapStorage
actions:
  Show:
    use: plugins.testkit.actions.TrailAction
";

#[tokio::test]
async fn storages_are_built_once_and_shared() {
    let doc = format!(
        "{BASE}
middlewares:
  A:
    use: plugins.testkit.middlewares.TrailMiddleware
    config: {{ label: a, storage: Shared }}
  B:
    use: plugins.testkit.middlewares.Trail
    config: {{ label: b, storage: Shared }}
routes:
  R:
    gatewayPath: /r
    middlewares: [A, B]
    action: Show
"
    );
    let doc = doc.replace(
        "  Shared:\n    use: plugins.testkit.storages.MapStorage\n",
        "  Shared:\n    use: plugins.testkit.storages.MapStorage\n    config: { counter: built-once }\n",
    );
    let gateway = resolve_ok(&doc).await;
    assert_eq!(builds("built-once"), 1, "two users, one build");
    let shared = &gateway.storages["Shared"];
    assert_eq!(shared.users, ["middleware `A`", "middleware `B`"]);
    let route = &gateway.routes[0];
    route.pipeline.run(Request::new(Body::empty())).await;
    // Both middlewares wrote through the one instance.
    assert_eq!(shared.instance.scan("*").await.unwrap().len(), 2);
}

#[tokio::test]
async fn chain_order_is_global_then_service_then_route() {
    let doc = format!(
        "{BASE}
middlewares:
  G: {{ use: plugins.testkit.middlewares.Trail, config: {{ label: g, storage: Shared }} }}
  S: {{ use: plugins.testkit.middlewares.Trail, config: {{ label: s }} }}
  R: {{ use: plugins.testkit.middlewares.Trail, config: {{ label: r }} }}
globalMiddlewares: [G]
routes:
  Users:
    gatewayPath: /users/:id
    methods: [get, POST]
    middlewares: [R]
    action: Show
  Lonely:
    gatewayPath: /lonely
    action: Show
services:
  Api:
    gatewayBasePath: /api/
    middlewares: [S]
    routes: [Users]
  Admin:
    gatewayBasePath: /admin
    routes: [Users]
"
    );
    let gateway = resolve_ok(&doc).await;
    let paths: Vec<(&str, Option<&str>)> =
        gateway.routes.iter().map(|r| (r.path.as_str(), r.service.as_deref())).collect();
    assert_eq!(paths, [("/admin/users/:id", Some("Admin")), ("/api/users/:id", Some("Api"))]);
    let api = &gateway.routes[1];
    assert_eq!(api.middlewares, ["G", "S", "R"]);
    assert_eq!(api.methods, ["GET", "POST"]);
    let body = api.pipeline.run(Request::new(Body::empty())).await.into_body().collect().await.unwrap().to_bytes();
    assert_eq!(&body[..], b"g>s>r>");
    assert!(gateway.warnings.iter().any(|w| w.message.contains("route `Lonely` is listed by no service")));
}

#[tokio::test]
async fn undefined_storage_reference_points_at_the_value() {
    let doc = format!(
        "{BASE}
middlewares:
  A:
    use: plugins.testkit.middlewares.Trail
    config:
      label: a
      storage: Shard
routes:
  R: {{ gatewayPath: /r, middlewares: [A], action: Show }}
"
    );
    let errors = resolve_err(&doc).await;
    assert_eq!(errors.len(), 1, "{errors:#?}");
    let e = &errors[0];
    assert!(e.message.contains("middleware `A` refers to storage `Shard`"), "{}", e.message);
    assert_eq!(position(e), (14, 16));
    assert_eq!(e.help.as_deref(), Some("did you mean `Shared`?"));
}

#[tokio::test]
async fn undefined_storage_reference_is_reported_with_other_errors() {
    let doc = format!(
        "{BASE}
middlewares:
  A: {{ use: plugins.testkit.middlewares.Trail, config: {{ label: a, storage: Nope }} }}
routes:
  R: {{ gatewayPath: /r, middlewares: [A], action: Shw }}
"
    );
    let errors = resolve_err(&doc).await;
    let mut found: Vec<(&str, (u32, u32))> = errors.iter().map(|e| (e.message.as_str(), position(e))).collect();
    found.sort();
    assert_eq!(
        found,
        [
            ("middleware `A` refers to storage `Nope`, which is not defined in `storages:`", (10, 77)),
            ("route `R` refers to action `Shw`, which is not defined in `actions:`", (12, 51)),
        ],
        "{errors:#?}"
    );
}

#[tokio::test]
async fn reference_of_the_wrong_kind() {
    let doc = format!(
        "{BASE}
middlewares:
  A: {{ use: plugins.testkit.middlewares.Trail, config: {{ label: a, storage: B }} }}
  B: {{ use: plugins.testkit.middlewares.Trail, config: {{ label: b, storage: Shared }} }}
globalMiddlewares: [A, Show]
routes:
  R: {{ gatewayPath: /r, action: Shared }}
"
    );
    let errors = resolve_err(&doc).await;
    let messages: Vec<&str> = errors.iter().map(|e| e.message.as_str()).collect();
    assert!(messages.contains(&"`B` is a middleware; middleware `A` needs a storage here"), "{messages:#?}");
    assert!(messages.contains(&"`Show` is an action; `globalMiddlewares` needs a middleware here"), "{messages:#?}");
    assert!(messages.contains(&"`Shared` is a storage; route `R` needs an action here"), "{messages:#?}");
}

#[tokio::test]
async fn storage_cycles_are_reported_not_followed() {
    let doc = "
storages:
  A: { use: plugins.testkit.storages.MapStorage, config: { inner: B } }
  B: { use: plugins.testkit.storages.MapStorage, config: { inner: A } }
  C: { use: plugins.testkit.storages.MapStorage, config: { inner: C } }
";
    let errors = tokio::time::timeout(Duration::from_secs(10), resolve_err(doc)).await.expect("no endless loop");
    assert!(errors.iter().any(|e| e.message.contains("cycle: `A` → `B` → `A`")), "{errors:#?}");
    assert!(errors.iter().any(|e| e.message.contains("cycle: `C` → `C`")), "{errors:#?}");
}

#[tokio::test]
async fn unknown_component_wrong_kind_and_config_errors_together() {
    let doc = "
storages:
  S1: { use: plugins.testkit.storages.MapStorag }
  S2: { use: plugins.testkit.actions.TrailAction }
  S3:
    use: plugins.testkit.storages.MapStorage
    config:
      iner: x
middlewares:
  M: { use: plugins.testkit.middlewares.Trail, config: { label: [1] } }
  N: { use: plugins.testkit.middlewares.Trail }
";
    let errors = resolve_err(doc).await;
    let find = |needle: &str| {
        errors.iter().find(|e| e.message.contains(needle)).unwrap_or_else(|| panic!("no `{needle}` in {errors:#?}"))
    };
    let unknown = find("unknown component `plugins.testkit.storages.MapStorag`");
    assert_eq!(unknown.help.as_deref(), Some("did you mean `plugins.testkit.storages.MapStorage`?"));
    assert_eq!(position(unknown), (3, 14));
    let kind = find("`plugins.testkit.actions.TrailAction` is an action; `storages` needs a storage");
    assert_eq!(position(kind), (4, 14));
    let key = find("storage `S3`: unknown config key `iner`");
    assert_eq!(position(key), (8, 7));
    assert_eq!(key.help.as_deref(), Some("did you mean `inner`?"));
    let typed = find("middleware `M`: invalid type: sequence");
    assert_eq!(typed.path.as_deref(), Some("middlewares.M.config.label"));
    let missing = find("middleware `N`: missing field `label`");
    assert_eq!(position(missing), (11, 13));
}

#[tokio::test]
async fn plugins_list_restricts_components() {
    let doc = format!(
        "{BASE}
plugins:
  - path: /plugins/testkit.so
  - name: testkti
"
    );
    let errors = resolve_err(&doc).await;
    assert_eq!(errors.len(), 1, "{errors:#?}");
    assert_eq!(errors[0].message, "plugin `testkti` is not compiled into this build");
    assert_eq!(errors[0].help.as_deref(), Some("did you mean `testkit`?"));

    let doc = format!("{BASE}\nplugins: []\n");
    let errors = resolve_err(&doc).await;
    assert!(errors.iter().all(|e| e.message.contains("which `plugins:` does not list")), "{errors:#?}");
    assert_eq!(errors.len(), 2);

    // A plugin answers to its alias.
    let doc = format!("{BASE}\nplugins:\n  - path: /plugins/kit.so\n");
    let gateway = resolve_ok(&doc).await;
    assert!(gateway.storages.contains_key("Shared"));

    // A null `plugins:` (as in Seam's sample files) restricts nothing.
    resolve_ok(&format!("{BASE}\nplugins:\nroutes:\n  R: {{ gatewayPath: /, action: Show }}\n")).await;
}

#[tokio::test]
async fn conflicting_routes_are_an_error_naming_both() {
    let doc = format!(
        "{BASE}
routes:
  One: {{ gatewayPath: /users/:id, methods: [GET], action: Show }}
  Two: {{ gatewayPath: /users/:name, methods: [POST, GET], action: Show }}
  Three: {{ gatewayPath: /users/:id, methods: [DELETE], action: Show }}
"
    );
    let errors = resolve_err(&doc).await;
    assert_eq!(errors.len(), 1, "{errors:#?}");
    assert!(errors[0].message.contains("route `One` and route `Two` both claim"), "{}", errors[0].message);
    assert!(errors[0].related.is_some());
}

#[tokio::test]
async fn unused_storage_and_any_request_warn() {
    let doc = format!(
        "{BASE}
middlewares:
  Log: {{ use: plugins.testkit.middlewares.Trail, anyRequest: true, config: {{ label: l }} }}
routes:
  R: {{ gatewayPath: /r, middlewares: [Log], action: Show }}
"
    );
    let gateway = resolve_ok(&doc).await;
    let warnings: Vec<&str> = gateway.warnings.iter().map(|w| w.message.as_str()).collect();
    assert!(warnings.contains(&"storage `Shared` is defined but no component uses it"), "{warnings:?}");
    assert!(warnings.iter().any(|w| w.contains("`anyRequest` has no effect")), "{warnings:?}");
}

#[tokio::test]
async fn folder_merge_reports_names_defined_twice() {
    let dir = tempfile::tempdir().unwrap();
    let write = |name: &str, text: &str| std::fs::write(dir.path().join(name), text).unwrap();
    write("actions.yaml", "actions:\n  Show: { use: plugins.testkit.actions.TrailAction }\n");
    write("more.yml", "actions:\n  Show: { use: plugins.testkit.actions.TrailAction }\n");
    write("routes.yaml", "routes:\n  R: { gatewayPath: /, action: Show }\n");
    write("notes.txt", "not yaml: [");
    let loaded = document::load(&[dir.path().to_path_buf()]);
    let errors: Vec<&Diagnostic> = loaded.diagnostics.iter().filter(|d| d.is_error()).collect();
    assert_eq!(errors.len(), 1, "{errors:#?}");
    let e = errors[0];
    assert_eq!(e.message, "action `Show` is defined twice");
    assert!(e.loc.as_ref().unwrap().file.path.ends_with("more.yml"));
    assert!(e.related.as_ref().unwrap().1.file.path.ends_with("actions.yaml"));
    assert_eq!(loaded.document.routes.len(), 1);
}
