//! seam's document front end: YAML files with source positions ([`document`]), rustc-style
//! [`diagnostic`]s with "did you mean" ([`suggest`]), and the [`resolver`] that turns a
//! document into built components and a route plan, reporting every problem in one run.
//!
//! Plugins never depend on this crate; the host (`seam`) and `seam-config-schema` do.

pub mod diagnostic;
pub mod document;
pub mod resolver;
pub mod suggest;
pub mod templates;

pub use diagnostic::{Diagnostic, Severity};
