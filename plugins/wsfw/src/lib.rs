//! seam plugin `wsfw`: `plugins.wsfw.actions.WebSocketAction` forwards a WebSocket
//! connection to an upstream frame by frame (text, binary, ping/pong, close codes), with
//! keep-alive pings, dead-peer detection, an inactivity close and, with `enableCompression`,
//! permessage-deflate towards the client; and
//! `plugins.wsfw.middlewares.CheckWebSocketUpgradeMiddleware` answers 426 to anything that
//! is not a WebSocket handshake.

mod action;
mod check;
mod config;
mod deflate;
mod pump;

pub use check::CheckWebSocketUpgradeMiddlewareConfig;
pub use config::WebSocketActionConfig;
