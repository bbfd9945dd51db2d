//! Reading a document from files and folders and checking its shape.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use super::model::{ComponentDef, Document, PluginEntry, Reference, RouteDef, ServiceDef};
use super::node::{self, Node, Value};
use super::server::{IGNORED_KEYS, ServerConfig};
use super::shape::{ComponentShape, MiddlewareShape, PluginShape, RouteShape, ServiceShape};
use super::typed::{check_shape, from_node, quote_list};
use super::{METHODS, SECTIONS};
use crate::diagnostic::{Diagnostic, Loc, SourceFile};
use crate::suggest;
use seam_core::Kind;

/// A document and every problem found while reading it. Entries with problems are left
/// out of the document, so later checks see only well-formed ones.
#[derive(Debug, Default)]
pub struct Loaded {
    /// What could be read.
    pub document: Document,
    /// Errors and warnings, in no particular order.
    pub diagnostics: Vec<Diagnostic>,
}

impl Loaded {
    /// Whether any diagnostic is an error.
    pub fn has_errors(&self) -> bool {
        self.diagnostics.iter().any(Diagnostic::is_error)
    }
}

/// The largest config file read (a real document of 10,000 routes is about 1 MiB).
pub const MAX_FILE_BYTES: u64 = 64 << 20;

/// Loads a document from files and folders. A folder contributes its `*.yaml` and `*.yml`
/// files (sorted by name); everything is merged into one document.
pub fn load(paths: &[PathBuf]) -> Loaded {
    let mut loaded = Loaded::default();
    let mut files = Vec::new();
    for path in paths {
        match collect_files(path) {
            Ok(found) => files.extend(found),
            Err(d) => loaded.diagnostics.push(d),
        }
    }
    let mut sources = Vec::new();
    for file in files {
        if let Ok(meta) = std::fs::metadata(&file)
            && meta.len() > MAX_FILE_BYTES
        {
            loaded.diagnostics.push(Diagnostic::error(format!(
                "{} is {} MiB; a config file may have at most {} MiB",
                file.display(),
                meta.len() >> 20,
                MAX_FILE_BYTES >> 20
            )));
            continue;
        }
        match std::fs::read_to_string(&file) {
            Ok(text) => sources.push(Arc::new(SourceFile { path: file, text })),
            Err(e) => loaded.diagnostics.push(Diagnostic::error(format!("cannot read {}: {e}", file.display()))),
        }
    }
    merge_sources(&mut loaded, sources);
    loaded
}

/// Loads a document from text, named `name` in diagnostics.
pub fn load_str(name: &str, text: &str) -> Loaded {
    let mut loaded = Loaded::default();
    merge_sources(&mut loaded, vec![Arc::new(SourceFile { path: name.into(), text: text.into() })]);
    loaded
}

fn collect_files(path: &Path) -> Result<Vec<PathBuf>, Diagnostic> {
    let meta = std::fs::metadata(path)
        .map_err(|e| Diagnostic::error(format!("cannot read config {}: {e}", path.display())))?;
    if !meta.is_dir() {
        return Ok(vec![path.to_path_buf()]);
    }
    let entries = std::fs::read_dir(path)
        .map_err(|e| Diagnostic::error(format!("cannot read config folder {}: {e}", path.display())))?;
    let mut files: Vec<PathBuf> = entries
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.is_file() && matches!(p.extension().and_then(|e| e.to_str()), Some("yaml" | "yml")))
        .collect();
    files.sort();
    if files.is_empty() {
        return Err(Diagnostic::error(format!("config folder {} has no *.yaml or *.yml file", path.display())));
    }
    Ok(files)
}

fn merge_sources(loaded: &mut Loaded, sources: Vec<Arc<SourceFile>>) {
    let mut server: Option<Node> = None;
    for source in sources {
        loaded.document.files.push(source.clone());
        for (key, value) in sections(loaded, &source) {
            read_section(loaded, key, value, &mut server);
        }
    }
    if loaded.document.services.as_ref().is_some_and(BTreeMap::is_empty) {
        loaded.document.services = None;
    }
    if let Some(node) = server {
        read_server(loaded, node);
    }
}

/// The top-level `section: value` entries of one file; problems go to `loaded`.
fn sections(loaded: &mut Loaded, source: &Arc<SourceFile>) -> Vec<(Node, Node)> {
    let root = match node::parse(source) {
        Ok(root) => root,
        Err(errors) => {
            loaded.diagnostics.extend(errors);
            return Vec::new();
        }
    };
    match root.value {
        Value::Null => Vec::new(),
        Value::Map(entries) => entries,
        _ => {
            loaded.diagnostics.push(
                Diagnostic::error(format!("a config file must be a mapping of sections, found {}", root.type_name()))
                    .at(&root.loc)
                    .help(format!("the sections are {}", quote_list(SECTIONS))),
            );
            Vec::new()
        }
    }
}

/// One top-level section of one file, merged into the document.
fn read_section(loaded: &mut Loaded, key: Node, value: Node, server: &mut Option<Node>) {
    let section = key.as_str().unwrap_or_default().to_owned();
    let mut sink = Sink { diagnostics: &mut loaded.diagnostics };
    let document = &mut loaded.document;
    match section.as_str() {
        "server" => match server {
            Some(first) if !value.is_null() => sink.push(
                Diagnostic::error("`server` is defined twice").at(&key.loc).related("first defined here", &first.loc),
            ),
            _ if value.is_null() => {}
            _ => *server = Some(value),
        },
        "plugins" if value.is_null() => {}
        "plugins" => {
            if let Some(list) = sink.seq(&value, "plugins") {
                let entries: Vec<_> =
                    list.iter().enumerate().filter_map(|(i, n)| plugin_entry(&mut sink, n, i)).collect();
                document.plugins.get_or_insert_with(Vec::new).extend(entries);
            }
        }
        "globalMiddlewares" => {
            if let Some(refs) = sink.string_list(&value, "globalMiddlewares", "`globalMiddlewares`") {
                document.global_middlewares.extend(refs);
            }
        }
        "storages" | "middlewares" | "actions" => {
            let Some(kind) = Kind::parse(&section) else { return };
            for (name, def) in sink.named_entries(value, &section) {
                let component = component_def(&mut sink, kind, &name, &def);
                insert(&mut sink, document, &section, name, component, |d| d.components_mut(kind));
            }
        }
        "routes" => {
            for (name, def) in sink.named_entries(value, &section) {
                let route = route_def(&mut sink, &name, &def);
                insert(&mut sink, document, &section, name, route, |d| &mut d.routes);
            }
        }
        "services" => {
            document.services.get_or_insert_with(BTreeMap::new);
            for (name, def) in sink.named_entries(value, &section) {
                let service = service_def(&mut sink, &name, &def);
                insert(&mut sink, document, &section, name, service, |d| d.services.get_or_insert_with(BTreeMap::new));
            }
        }
        other => sink.push(
            Diagnostic::error(format!("unknown section `{other}`"))
                .at(&key.loc)
                .maybe_help(suggest::help_for(other, SECTIONS.iter().copied()))
                .path(other.to_owned()),
        ),
    }
}

/// A named definition that has a position.
trait Named {
    fn name_loc(&self) -> &Loc;
}

impl Named for ComponentDef {
    fn name_loc(&self) -> &Loc {
        &self.name_loc
    }
}

impl Named for RouteDef {
    fn name_loc(&self) -> &Loc {
        &self.name_loc
    }
}

impl Named for ServiceDef {
    fn name_loc(&self) -> &Loc {
        &self.name_loc
    }
}

/// Adds a read definition to its section: `None` (it has problems) marks the name broken;
/// a name defined twice is an error naming both places.
fn insert<T: Named>(
    sink: &mut Sink<'_>,
    document: &mut Document,
    section: &str,
    name: Reference,
    def: Option<T>,
    entries: impl Fn(&mut Document) -> &mut BTreeMap<String, T>,
) {
    let Some(def) = def else {
        document.broken.insert(name.name);
        return;
    };
    match entries(document).get(&name.name) {
        Some(first) => {
            let first = first.name_loc().clone();
            sink.push(duplicate(section, &name, &first));
        }
        None => {
            entries(document).insert(name.name.clone(), def);
        }
    }
}

/// `server:`: Seam's ignored keys warned about and left out, the rest deserialized.
fn read_server(loaded: &mut Loaded, node: Node) {
    let mut kept = node.clone();
    if let Value::Map(entries) = &mut kept.value {
        entries.retain(|(key, _)| {
            let name = key.as_str().unwrap_or_default();
            let Some((_, note)) = IGNORED_KEYS.iter().find(|(k, _)| *k == name) else { return true };
            loaded.diagnostics.push(
                Diagnostic::warning(format!("server key `{name}` is a Seam/Fiber option that has no effect in seam"))
                    .at(&key.loc)
                    .path(format!("server.{name}"))
                    .maybe_help((!note.is_empty()).then(|| note.to_string())),
            );
            false
        });
    }
    match from_node::<ServerConfig>(&kept, "server", "server") {
        Ok(config) => loaded.document.server = config,
        Err(d) => loaded.diagnostics.push(d),
    }
    loaded.document.server_node = Some(node);
}

fn duplicate(section: &str, name: &Reference, first: &Loc) -> Diagnostic {
    let word = Kind::parse(section).map(Kind::word).unwrap_or(match section {
        "routes" => "route",
        _ => "service",
    });
    Diagnostic::error(format!("{word} `{}` is defined twice", name.name))
        .at(&name.loc)
        .path(format!("{section}.{}", name.name))
        .related(format!("`{}` is first defined here", name.name), first)
}

struct Sink<'a> {
    diagnostics: &'a mut Vec<Diagnostic>,
}

impl Sink<'_> {
    fn push(&mut self, d: Diagnostic) {
        self.diagnostics.push(d);
    }

    fn seq<'n>(&mut self, node: &'n Node, path: &str) -> Option<&'n [Node]> {
        match &node.value {
            Value::Null => Some(&[]),
            Value::Seq(items) => Some(items),
            _ => {
                self.push(
                    Diagnostic::error(format!("`{path}` must be a list, found {}", node.type_name()))
                        .at(&node.loc)
                        .path(path.to_owned()),
                );
                None
            }
        }
    }

    fn string(&mut self, node: &Node, path: &str, what: &str) -> Option<Reference> {
        match &node.value {
            Value::String(s) => Some(Reference { name: s.clone(), loc: node.loc.clone() }),
            _ => {
                self.push(
                    Diagnostic::error(format!("{what} must be a string, found {}", node.type_name()))
                        .at(&node.loc)
                        .path(path.to_owned()),
                );
                None
            }
        }
    }

    fn string_list(&mut self, node: &Node, path: &str, what: &str) -> Option<Vec<Reference>> {
        let items = self.seq(node, path)?;
        let mut out = Vec::new();
        let mut ok = true;
        for (i, item) in items.iter().enumerate() {
            match self.string(item, &format!("{path}[{i}]"), &format!("each entry of {what}")) {
                Some(r) => out.push(r),
                None => ok = false,
            }
        }
        ok.then_some(out)
    }

    /// The `name: value` entries of a section; null means none.
    fn named_entries(&mut self, node: Node, section: &str) -> Vec<(Reference, Node)> {
        match node.value {
            Value::Null => Vec::new(),
            Value::Map(entries) => entries
                .into_iter()
                .map(|(k, v)| (Reference { name: k.as_str().unwrap_or_default().to_owned(), loc: k.loc }, v))
                .collect(),
            _ => {
                self.push(
                    Diagnostic::error(format!(
                        "`{section}` must be a mapping of names to definitions, found {}",
                        node.type_name()
                    ))
                    .at(&node.loc)
                    .path(section.to_owned()),
                );
                Vec::new()
            }
        }
    }

    /// Checks `node` against the typed shape `T`: a mapping, its keys and their types.
    fn shape<T: serde::de::DeserializeOwned>(&mut self, node: &Node, path: &str, what: &str) -> Option<()> {
        if node.as_map().is_none() {
            self.push(
                Diagnostic::error(format!("{what} must be a mapping, found {}", node.type_name()))
                    .at(&node.loc)
                    .path(path.to_owned()),
            );
            return None;
        }
        check_shape::<T>(node, path, what).map_err(|d| self.push(d)).ok()
    }
}

fn plugin_entry(sink: &mut Sink<'_>, node: &Node, index: usize) -> Option<PluginEntry> {
    let path = format!("plugins[{index}]");
    sink.shape::<PluginShape>(node, &path, "plugin entry")?;
    let name = match (node.get("name").and_then(reference), node.get("path").and_then(reference)) {
        (Some(name), _) => name.name,
        (None, Some(file)) => {
            let stem = Path::new(&file.name).file_stem().and_then(|s| s.to_str()).unwrap_or_default();
            if stem.is_empty() {
                sink.push(Diagnostic::error("plugin `path` names no file").at(&file.loc).path(format!("{path}.path")));
                return None;
            }
            stem.to_owned()
        }
        (None, None) => {
            sink.push(
                Diagnostic::error("a plugin entry needs `name: <plugin>` or Seam's `path: /plugins/<plugin>.so`")
                    .at(&node.loc)
                    .path(path),
            );
            return None;
        }
    };
    Some(PluginEntry { name, loc: node.loc.clone(), config: node.get("config").filter(|c| !c.is_null()).cloned() })
}

/// A string value with its position (the shape was checked: strings are strings).
fn reference(node: &Node) -> Option<Reference> {
    node.as_str().map(|s| Reference { name: s.to_owned(), loc: node.loc.clone() })
}

/// The strings of a list that may be left out or null.
fn references(node: &Node, key: &str) -> Vec<Reference> {
    match node.get(key).map(|n| &n.value) {
        Some(Value::Seq(items)) => items.iter().filter_map(reference).collect(),
        _ => Vec::new(),
    }
}

fn component_def(sink: &mut Sink<'_>, kind: Kind, name: &Reference, node: &Node) -> Option<ComponentDef> {
    let path = format!("{}.{}", kind.section(), name.name);
    let what = format!("{} `{}`", kind.word(), name.name);
    match kind {
        Kind::Middleware => sink.shape::<MiddlewareShape>(node, &path, &what)?,
        _ => sink.shape::<ComponentShape>(node, &path, &what)?,
    }
    let uses = node.get("use").and_then(reference)?;
    let any_request = node.entry("anyRequest").map(|(k, _)| k.loc.clone());
    Some(ComponentDef {
        name: name.name.clone(),
        kind,
        name_loc: name.loc.clone(),
        uses,
        config: node.get("config").filter(|c| !c.is_null()).cloned(),
        any_request,
    })
}

fn route_def(sink: &mut Sink<'_>, name: &Reference, node: &Node) -> Option<RouteDef> {
    let path = format!("routes.{}", name.name);
    let what = format!("route `{}`", name.name);
    sink.shape::<RouteShape>(node, &path, &what)?;
    let gateway_path = node.get("gatewayPath").and_then(reference)?;
    let action = node.get("action").and_then(reference)?;
    let mut ok = true;
    if !gateway_path.name.starts_with('/') {
        ok = false;
        sink.push(
            Diagnostic::error(format!("{what}: `gatewayPath` must start with `/`"))
                .at(&gateway_path.loc)
                .path(format!("{path}.gatewayPath"))
                .help(format!("write `/{}`", gateway_path.name)),
        );
    }
    let mut methods = Vec::new();
    for (i, method) in references(node, "methods").into_iter().enumerate() {
        let upper = method.name.to_ascii_uppercase();
        if METHODS.contains(&upper.as_str()) {
            methods.push(Reference { name: upper, loc: method.loc });
        } else {
            ok = false;
            let help = suggest::help_for(&upper, METHODS.iter().copied())
                .unwrap_or_else(|| format!("the methods are {}", quote_list(METHODS)));
            sink.push(
                Diagnostic::error(format!("{what}: unknown HTTP method `{}`", method.name))
                    .at(&method.loc)
                    .path(format!("{path}.methods[{i}]"))
                    .help(help),
            );
        }
    }
    ok.then(|| RouteDef {
        name: name.name.clone(),
        name_loc: name.loc.clone(),
        gateway_path,
        methods,
        middlewares: references(node, "middlewares"),
        action,
    })
}

fn service_def(sink: &mut Sink<'_>, name: &Reference, node: &Node) -> Option<ServiceDef> {
    let path = format!("services.{}", name.name);
    let what = format!("service `{}`", name.name);
    sink.shape::<ServiceShape>(node, &path, &what)?;
    let base = node.get("gatewayBasePath").and_then(reference);
    if let Some(base) = &base
        && !base.name.starts_with('/')
    {
        sink.push(
            Diagnostic::error(format!("{what}: `gatewayBasePath` must start with `/`"))
                .at(&base.loc)
                .path(format!("{path}.gatewayBasePath")),
        );
        return None;
    }
    Some(ServiceDef {
        name: name.name.clone(),
        name_loc: name.loc.clone(),
        gateway_base_path: base,
        middlewares: references(node, "middlewares"),
        routes: references(node, "routes"),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sections_entries_and_errors() {
        let loaded = load_str(
            "t.yaml",
            "storages:\n  S:\n    use: x\nroutes:\n  R:\n    gatewayPath: /a\n    methods: [get, FETCH]\n    action: A\nservces: {}\n",
        );
        assert!(loaded.document.storages.contains_key("S"));
        let messages: Vec<_> = loaded.diagnostics.iter().map(|d| d.message.clone()).collect();
        assert!(messages.iter().any(|m| m.contains("unknown HTTP method `FETCH`")), "{messages:?}");
        let section = loaded.diagnostics.iter().find(|d| d.message.contains("unknown section")).unwrap();
        assert_eq!(section.help.as_deref(), Some("did you mean `services`?"));
        assert_eq!(section.loc.as_ref().unwrap().line, 9);
    }

    #[test]
    fn an_oversized_file_is_refused_before_it_is_read() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("huge.yaml");
        let file = std::fs::File::create(&path).unwrap();
        file.set_len(MAX_FILE_BYTES + 1).unwrap();
        let loaded = load(&[path]);
        assert!(loaded.diagnostics[0].message.contains("at most 64 MiB"), "{:?}", loaded.diagnostics);
    }

    #[test]
    fn null_sections_are_accepted() {
        let loaded = load_str("t.yaml", "middlewares:\n\nglobalMiddlewares:\nstorages:\n");
        assert!(loaded.diagnostics.is_empty(), "{:?}", loaded.diagnostics);
    }

    #[test]
    fn server_defaults_and_seam_keys() {
        let loaded =
            load_str("t.yaml", "server:\n  address: 127.0.0.1:9000\n  prefork: true\n  shutdownTimeout: 1m30s\n");
        assert_eq!(loaded.document.server.address, "127.0.0.1:9000");
        assert_eq!(loaded.document.server.body_limit, 4_194_304);
        assert_eq!(loaded.document.server.shutdown_timeout.get().as_secs(), 90);
        assert!(loaded.diagnostics.iter().all(|d| !d.is_error()));
        assert!(loaded.diagnostics.iter().any(|d| d.message.contains("`prefork`")));
    }
}
