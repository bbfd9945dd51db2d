//! `publish` and `subscribe`: Valkey pub/sub. Each subscription has a RESP3 connection of
//! its own that reconnects after a loss; every time it is (re)subscribed the subscriber gets
//! an empty message, since what was published meanwhile is lost.

use std::time::Duration;

use bytes::Bytes;
use redis::{PushInfo, PushKind, Value};
use tokio::sync::mpsc;

use crate::push::{self, Event};

/// Delivers the messages of `channel` (the full name, prefix included) to `tx` until the
/// receiver is dropped.
pub async fn listen(client: redis::Client, channel: String, tx: mpsc::Sender<Bytes>, timeouts: (Duration, Duration)) {
    let subscribe = |mut connection: redis::aio::MultiplexedConnection| {
        let channel = channel.clone();
        async move {
            connection.subscribe(&channel).await?;
            Ok(connection)
        }
    };
    let deliver = |event: Event| {
        let (tx, channel) = (tx.clone(), channel.clone());
        async move {
            match event {
                Event::Up => tx.send(Bytes::new()).await.is_ok(),
                Event::Push(PushInfo { kind: PushKind::Message, data }) => match data.get(1) {
                    Some(Value::BulkString(bytes)) if !bytes.is_empty() => {
                        tx.send(Bytes::from(bytes.clone())).await.is_ok()
                    }
                    _ => true,
                },
                Event::Push(_) => true,
                Event::Down => {
                    tracing::warn!(channel, "the subscription's connection was lost; subscribing again");
                    true
                }
                Event::Failed(e) => {
                    tracing::warn!(channel, "cannot subscribe ({e}); retrying");
                    true
                }
            }
        }
    };
    push::keep(client, timeouts, subscribe, deliver, tx.closed()).await;
}
