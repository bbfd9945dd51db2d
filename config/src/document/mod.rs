//! The YAML document: loading files and folders, the sections of DESIGN.md, and typed
//! access with positions.

pub mod env;
pub mod loader;
pub mod model;
pub mod node;
pub mod server;
pub mod shape;
pub mod typed;

pub use loader::{Loaded, load, load_str};
pub use model::{ComponentDef, Document, PluginEntry, Reference, RouteDef, ServiceDef};
pub use node::{Node, PathStep, Value};
pub use server::ServerConfig;

/// The top-level sections a document may have.
pub const SECTIONS: &[&str] =
    &["server", "plugins", "storages", "middlewares", "globalMiddlewares", "actions", "routes", "services"];

/// HTTP methods a route may list; `ALL` stands for every method.
pub const METHODS: &[&str] = &["GET", "HEAD", "POST", "PUT", "DELETE", "CONNECT", "OPTIONS", "TRACE", "PATCH", "ALL"];
