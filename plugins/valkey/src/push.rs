//! A RESP3 connection that receives pushes (invalidations, published messages), kept open:
//! checked with a PING every second, opened again after a loss with a growing pause. The
//! client cache's tracking connection and every subscription are one of these.

use std::time::{Duration, Instant};

use redis::aio::MultiplexedConnection;
use redis::{AsyncConnectionConfig, PushInfo, PushKind, RedisError};
use tokio::sync::mpsc;

/// How often the connection is checked with a PING.
const HEALTH_EVERY: Duration = Duration::from_secs(1);
/// Least time between two warnings that the connection cannot be opened.
const WARN_EVERY: Duration = Duration::from_secs(30);

/// What happened on the connection.
pub enum Event {
    /// It is open and set up.
    Up,
    /// A push arrived (not a disconnection).
    Push(PushInfo),
    /// It was lost.
    Down,
    /// It cannot be opened, and why (told at most every 30 s).
    Failed(String),
}

/// Keeps a connection of `client` open, running `setup` on each new one (`CLIENT TRACKING`,
/// `SUBSCRIBE`), and hands `handle` what happens; it ends when `handle` answers `false` or
/// `done` completes.
pub async fn keep<S, SF, H, HF>(
    client: redis::Client,
    (connect, command): (Duration, Duration),
    setup: S,
    mut handle: H,
    done: impl Future<Output = ()>,
) where
    S: Fn(MultiplexedConnection) -> SF,
    SF: Future<Output = Result<MultiplexedConnection, RedisError>>,
    H: FnMut(Event) -> HF,
    HF: Future<Output = bool>,
{
    tokio::pin!(done);
    let mut backoff = Duration::from_millis(100);
    let mut last_warning: Option<Instant> = None;
    loop {
        let (pushes, mut received) = mpsc::unbounded_channel::<PushInfo>();
        let config = AsyncConnectionConfig::new()
            .set_push_sender(pushes)
            .set_connection_timeout(Some(connect))
            .set_response_timeout(Some(command));
        let opened = async {
            let connection = client.get_multiplexed_async_connection_with_config(&config).await?;
            setup(connection).await
        };
        let outcome = tokio::select! {
            outcome = opened => outcome,
            () = &mut done => return,
        };
        match outcome {
            Ok(mut connection) => {
                if !handle(Event::Up).await {
                    return;
                }
                backoff = Duration::from_millis(100);
                let mut health = tokio::time::interval(HEALTH_EVERY);
                loop {
                    tokio::select! {
                        push = received.recv() => match push {
                            Some(PushInfo { kind: PushKind::Disconnection, .. }) | None => break,
                            Some(push) => {
                                if !handle(Event::Push(push)).await {
                                    return;
                                }
                            }
                        },
                        _ = health.tick() => {
                            let ping = redis::cmd("PING");
                            let ping = ping.query_async::<()>(&mut connection);
                            if !matches!(tokio::time::timeout(command, ping).await, Ok(Ok(()))) {
                                break;
                            }
                        }
                        () = &mut done => return,
                    }
                }
                if !handle(Event::Down).await {
                    return;
                }
            }
            Err(e) => {
                if last_warning.is_none_or(|at| at.elapsed() >= WARN_EVERY) {
                    last_warning = Some(Instant::now());
                    if !handle(Event::Failed(e.to_string())).await {
                        return;
                    }
                }
            }
        }
        tokio::select! {
            () = tokio::time::sleep(backoff) => {}
            () = &mut done => return,
        }
        backoff = (backoff * 2).min(Duration::from_secs(2));
    }
}
