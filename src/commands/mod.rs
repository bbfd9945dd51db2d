//! One file per command.

pub mod check;
pub mod list;
pub mod run;
pub mod schema;
pub mod storage;
