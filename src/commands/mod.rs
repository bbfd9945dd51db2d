//! One file per command.

#[cfg(feature = "cache")]
pub mod cache;
pub mod check;
pub mod list;
mod reload;
pub mod run;
pub mod schema;
pub mod storage;
