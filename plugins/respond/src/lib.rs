//! seam plugin `respond`: `plugins.respond.actions.RespondAction`, an action that answers
//! by itself — a fixed reply, or an echo of the request as an upstream would receive it.

mod action;
mod config;

pub use action::RespondAction;
pub use config::RespondActionConfig;
