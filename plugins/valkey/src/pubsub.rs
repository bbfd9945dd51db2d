//! `publish` and `subscribe`: Valkey pub/sub. Each subscription has a RESP3 connection of
//! its own that reconnects after a loss; every time it is (re)subscribed the subscriber gets
//! an empty message, since what was published meanwhile is lost.

use std::time::{Duration, Instant};

use bytes::Bytes;
use redis::{AsyncConnectionConfig, PushInfo, PushKind, Value};
use tokio::sync::mpsc;

/// How often a subscription's connection is checked with a PING.
const HEALTH_EVERY: Duration = Duration::from_secs(1);

/// Delivers the messages of `channel` (the full name, prefix included) to `tx` until the
/// receiver is dropped.
pub async fn listen(
    client: redis::Client,
    channel: String,
    tx: mpsc::Sender<Bytes>,
    (connect, command): (Duration, Duration),
) {
    let mut backoff = Duration::from_millis(100);
    let mut last_warning: Option<Instant> = None;
    loop {
        let (pushes, mut received) = mpsc::unbounded_channel::<PushInfo>();
        let config = AsyncConnectionConfig::new()
            .set_push_sender(pushes)
            .set_connection_timeout(Some(connect))
            .set_response_timeout(Some(command));
        let outcome = async {
            let mut connection = client.get_multiplexed_async_connection_with_config(&config).await?;
            connection.subscribe(&channel).await?;
            Ok::<_, redis::RedisError>(connection)
        }
        .await;
        match outcome {
            Ok(mut connection) => {
                if tx.send(Bytes::new()).await.is_err() {
                    return;
                }
                backoff = Duration::from_millis(100);
                let mut health = tokio::time::interval(HEALTH_EVERY);
                loop {
                    tokio::select! {
                        push = received.recv() => match push {
                            Some(PushInfo { kind: PushKind::Message, data }) => {
                                let payload = match data.get(1) {
                                    Some(Value::BulkString(bytes)) => Bytes::from(bytes.clone()),
                                    _ => continue,
                                };
                                if payload.is_empty() {
                                    continue;
                                }
                                if tx.send(payload).await.is_err() {
                                    return;
                                }
                            }
                            Some(PushInfo { kind: PushKind::Disconnection, .. }) | None => break,
                            Some(_) => {}
                        },
                        _ = health.tick() => {
                            let ping = redis::cmd("PING");
                            let ping = ping.query_async::<()>(&mut connection);
                            if !matches!(tokio::time::timeout(command, ping).await, Ok(Ok(()))) {
                                break;
                            }
                        }
                        () = tx.closed() => return,
                    }
                }
                tracing::warn!(channel, "the subscription's connection was lost; subscribing again");
            }
            Err(e) => {
                if last_warning.is_none_or(|at| at.elapsed() >= Duration::from_secs(30)) {
                    tracing::warn!(channel, "cannot subscribe ({e}); retrying");
                    last_warning = Some(Instant::now());
                }
            }
        }
        if tx.is_closed() {
            return;
        }
        tokio::time::sleep(backoff).await;
        backoff = (backoff * 2).min(Duration::from_secs(2));
    }
}
