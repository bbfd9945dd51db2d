//! Moving frames between the client and the upstream until one side closes.

use std::time::Duration;

use futures_util::{FutureExt, Sink, SinkExt, Stream, StreamExt};
use tokio::time::Instant;
use tokio_tungstenite::tungstenite::protocol::CloseFrame;
use tokio_tungstenite::tungstenite::protocol::frame::coding::CloseCode;
use tokio_tungstenite::tungstenite::{Error, Message};

/// The connection's clocks.
#[derive(Clone, Copy, Debug)]
pub struct Timers {
    /// Ping the client this often.
    pub ping_interval: Duration,
    /// Close a client that has not answered a ping within this.
    pub pong_timeout: Duration,
    /// Close when no message went either way for this long.
    pub max_inactivity: Option<Duration>,
    /// Longest one write to a side may wait for that side to take it (the messages passed
    /// on at once, or a ping); past it the side is taken as gone.
    pub write_timeout: Duration,
}

/// One side of the relay: the messages it sends, and a sink for the messages it gets. A
/// tungstenite `WebSocketStream` is one, and so is a compressing client
/// ([`crate::deflate::Deflating`]).
pub trait Side: Stream<Item = Result<Message, Error>> + Sink<Message, Error = Error> + Unpin {}

impl<T> Side for T where T: Stream<Item = Result<Message, Error>> + Sink<Message, Error = Error> + Unpin {}

/// What one received message did.
enum Relay {
    /// Messages passed on.
    Data,
    /// A ping, pong or raw frame: nothing to pass on (the library answers pings).
    Control,
    /// One side closed or failed; the other was told.
    End,
}

/// One side of the connection as the relay names it, with the reasons the other side is
/// given when it ends.
struct Peer {
    name: &'static str,
    /// Its connection failed or ended without a close frame.
    went_away: &'static str,
    /// It took nothing written to it for `writeTimeout`.
    stopped_reading: &'static str,
}

const CLIENT: Peer =
    Peer { name: "client", went_away: "the client went away", stopped_reading: "the client stopped reading" };
const UPSTREAM: Peer =
    Peer { name: "upstream", went_away: "the upstream went away", stopped_reading: "the upstream stopped reading" };

/// How long a close frame, or the answer to one, may take to go out: a peer that reads
/// nothing cannot hold the connection, or the gateway's shutdown, with it.
const CLOSE_WAIT: Duration = Duration::from_secs(1);

/// Most messages passed on with one write: the ones `from` has already read beside the first.
const BATCH: usize = 64;

/// Passes what `from` (`names.0`) sent on to `to` (`names.1`): data as is,
/// a close frame with its code and reason; when either side fails, the other is told it went
/// away (1001). Messages `from` has already read after the first (a burst that came in one
/// read) go out with it in one write, as a byte relay would pass them, up to [`BATCH`];
/// looking for them costs no system call that waiting for the next message would not make.
/// A pong from the client sets `ponged`.
async fn relay(
    mut received: Option<Result<Message, Error>>,
    to: &mut impl Side,
    from: &mut impl Side,
    names: (&Peer, &Peer),
    ponged: &mut bool,
) -> Relay {
    let mut passed = 0;
    loop {
        match received {
            Some(Ok(Message::Pong(_))) => *ponged = true,
            Some(Ok(Message::Ping(_) | Message::Frame(_))) => {}
            Some(Ok(Message::Close(frame))) => {
                // `send` flushes what was passed before it, in order.
                let _ = to.send(Message::Close(frame)).await;
                let _ = tokio::time::timeout(CLOSE_WAIT, to.close()).await;
                // The library queued `from`'s answer to its close (the same code): sent (a
                // flush sends it with either library), the closing handshake completes, rather
                // than ending in a reset (1006).
                let answered = async {
                    let _ = from.flush().await;
                    let _ = from.close().await;
                };
                let _ = tokio::time::timeout(CLOSE_WAIT, answered).await;
                return Relay::End;
            }
            Some(Ok(message)) => {
                if to.feed(message).await.is_err() {
                    tell(from, closing(CloseCode::Away, names.1.went_away)).await;
                    return Relay::End;
                }
                passed += 1;
            }
            Some(Err(e)) => {
                tracing::debug!("WebSocket {} error: {e}", names.0.name);
                tell(to, closing(CloseCode::Away, names.0.went_away)).await;
                return Relay::End;
            }
            None => {
                tell(to, closing(CloseCode::Away, names.0.went_away)).await;
                return Relay::End;
            }
        }
        if passed == 0 || passed >= BATCH {
            break;
        }
        match from.next().now_or_never() {
            Some(next) => received = next,
            None => break,
        }
    }
    if passed == 0 {
        return Relay::Control;
    }
    if to.flush().await.is_err() {
        tell(from, closing(CloseCode::Away, names.1.went_away)).await;
        return Relay::End;
    }
    Relay::Data
}

/// [`relay`] with the write deadline: when `to` has not taken what is written to it within
/// `limit` (a peer that stops reading, whose socket buffers are full), it is taken as gone
/// and `from` is told so (1001), instead of the relay waiting on it for ever, with neither
/// the connection's timers nor a shutdown able to end it.
async fn relay_within(
    limit: Duration,
    received: Option<Result<Message, Error>>,
    to: &mut impl Side,
    from: &mut impl Side,
    names: (&Peer, &Peer),
    ponged: &mut bool,
) -> Relay {
    match tokio::time::timeout(limit, relay(received, to, from, names, ponged)).await {
        Ok(relayed) => relayed,
        Err(_) => {
            tracing::debug!("WebSocket {} took nothing written to it for {limit:?}", names.1.name);
            tell(from, closing(CloseCode::Away, names.1.stopped_reading)).await;
            Relay::End
        }
    }
}

fn closing(code: CloseCode, reason: &'static str) -> Message {
    Message::Close(Some(CloseFrame { code, reason: reason.into() }))
}

/// Sends a close frame, waiting at most [`CLOSE_WAIT`] for `side` to take it.
async fn tell(side: &mut impl Side, close: Message) {
    let _ = tokio::time::timeout(CLOSE_WAIT, side.send(close)).await;
}

/// Forwards messages both ways. Each side's writes are awaited before the next read, so a
/// slow reader holds its sender back instead of growing a buffer; a side that takes nothing
/// for `write_timeout` is taken as gone. Close frames are passed on with their code and
/// reason.
pub async fn pump(
    mut client: impl Side,
    mut upstream: impl Side,
    timers: Timers,
    lifecycle: Option<seam_core::extensions::Lifecycle>,
) {
    let far = Duration::from_secs(86_400 * 365);
    let mut ping = tokio::time::interval_at(Instant::now() + timers.ping_interval, timers.ping_interval);
    let mut awaiting_pong = false;
    let mut last_message = Instant::now();
    let max_inactivity = timers.max_inactivity.unwrap_or(far);
    // Two timers for the connection's life, moved only when they fire or a ping goes out (a
    // timer made anew per message would cost two timer-wheel entries per message).
    let pong_due = tokio::time::sleep(far);
    let inactive = tokio::time::sleep(max_inactivity);
    let stopping = seam_core::extensions::Lifecycle::stopping_of(lifecycle.as_ref());
    tokio::pin!(stopping, pong_due, inactive);
    loop {
        tokio::select! {
            from_client = client.next() => {
                let mut ponged = false;
                let relayed = relay_within(
                    timers.write_timeout, from_client, &mut upstream, &mut client, (&CLIENT, &UPSTREAM), &mut ponged,
                ).await;
                if ponged {
                    awaiting_pong = false;
                }
                match relayed {
                    Relay::Data => last_message = Instant::now(),
                    Relay::Control => {}
                    Relay::End => return,
                }
            }
            from_upstream = upstream.next() => {
                // The upstream's pongs answer no ping of the gateway's.
                let mut ponged = false;
                let relayed = relay_within(
                    timers.write_timeout, from_upstream, &mut client, &mut upstream, (&UPSTREAM, &CLIENT), &mut ponged,
                ).await;
                match relayed {
                    Relay::Data => last_message = Instant::now(),
                    Relay::Control => {}
                    Relay::End => return,
                }
            }
            _ = ping.tick() => {
                if !awaiting_pong {
                    awaiting_pong = true;
                    pong_due.as_mut().reset(Instant::now() + timers.pong_timeout);
                }
                let why = match tokio::time::timeout(timers.write_timeout, client.send(Message::Ping(Vec::new().into()))).await {
                    Ok(Ok(())) => continue,
                    Ok(Err(_)) => CLIENT.went_away,
                    Err(_) => CLIENT.stopped_reading,
                };
                tell(&mut upstream, closing(CloseCode::Away, why)).await;
                return;
            }
            () = &mut pong_due, if awaiting_pong => {
                tracing::debug!("WebSocket client did not answer a ping in {:?}", timers.pong_timeout);
                tell(&mut upstream, closing(CloseCode::Away, "the client stopped answering")).await;
                let _ = tokio::time::timeout(CLOSE_WAIT, client.close()).await;
                return;
            }
            () = &mut stopping => {
                // The server shuts down: both sides are told it is going away (1001).
                tell(&mut client, closing(CloseCode::Away, "the gateway is shutting down")).await;
                tell(&mut upstream, closing(CloseCode::Away, "the gateway is shutting down")).await;
                let _ = tokio::time::timeout(CLOSE_WAIT, client.close()).await;
                return;
            }
            () = &mut inactive => {
                let quiet_until = last_message + max_inactivity;
                if quiet_until > Instant::now() {
                    // Messages went by since it was set: it fires at the new end of the quiet.
                    inactive.as_mut().reset(quiet_until);
                    continue;
                }
                tell(&mut client, closing(CloseCode::Normal, "inactive")).await;
                tell(&mut upstream, closing(CloseCode::Normal, "inactive")).await;
                return;
            }
        }
    }
}
