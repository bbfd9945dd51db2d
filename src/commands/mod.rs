//! One file per command.

pub mod check;
pub mod list;
mod reload;
pub mod run;
pub mod schema;
pub mod storage;
