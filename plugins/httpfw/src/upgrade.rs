//! Protocol upgrades through HttpAction (RFC 9110 §7.8), as nginx does with
//! `proxy_http_version 1.1` and the upgrade headers: a WebSocket handshake goes to the
//! upstream with its `Connection: upgrade` and `Upgrade`, and when the upstream answers
//! `101 Switching Protocols` the two connections are joined byte for byte, with an idle bound.

use std::time::Duration;

use http::header::{CONNECTION, UPGRADE};
use http::{HeaderMap, HeaderValue, StatusCode};
use hyper::upgrade::OnUpgrade;
use hyper_util::rt::TokioIo;
use seam_core::extensions::Lifecycle;
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};

/// The `Upgrade` a request asks for (its `Connection` names `upgrade`), if any.
pub fn requested(headers: &HeaderMap) -> Option<HeaderValue> {
    let upgrade = headers.get(UPGRADE)?;
    let named = headers
        .get_all(CONNECTION)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .any(|token| token.trim().eq_ignore_ascii_case("upgrade"));
    named.then(|| upgrade.clone())
}

/// Puts the upgrade headers back on a request whose hop-by-hop headers were removed.
pub fn restore(headers: &mut HeaderMap, upgrade: HeaderValue) {
    headers.insert(CONNECTION, HeaderValue::from_static("upgrade"));
    headers.insert(UPGRADE, upgrade);
}

/// When the upstream switched protocols: joins the client's connection (once hyper hands
/// it over, after the 101 is written) and the upstream's, until either side closes, no byte
/// passes either way for `idle` (nginx's `proxy_read_timeout` on a tunnel), or the server
/// shuts down.
pub fn join(
    response: &mut http::Response<hyper::body::Incoming>,
    client: OnUpgrade,
    lifecycle: Option<Lifecycle>,
    idle: Duration,
) {
    if response.status() != StatusCode::SWITCHING_PROTOCOLS {
        return;
    }
    let upstream = hyper::upgrade::on(response);
    // Counted by the server until it ends.
    let hold = lifecycle.as_ref().map(Lifecycle::hold);
    tokio::spawn(async move {
        let _hold = hold;
        let (client, upstream) = match tokio::try_join!(client, upstream) {
            Ok(pair) => pair,
            Err(e) => {
                tracing::debug!("upgrade not completed: {e}");
                return;
            }
        };
        tokio::select! {
            ended = copy_until_idle(TokioIo::new(client), TokioIo::new(upstream), idle) => {
                if let Err(e) = ended {
                    tracing::debug!("upgraded connection ended: {e}");
                }
            }
            () = Lifecycle::stopping_of(lifecycle.as_ref()) => {
                tracing::debug!("upgraded connection closed: the server shuts down");
            }
        }
    });
}

/// Copies both ways until both sides have finished, or nothing passed for `idle`.
async fn copy_until_idle<A, B>(a: A, b: B, idle: Duration) -> std::io::Result<()>
where
    A: AsyncRead + AsyncWrite + Unpin,
    B: AsyncRead + AsyncWrite + Unpin,
{
    let (mut a_read, mut a_write) = tokio::io::split(a);
    let (mut b_read, mut b_write) = tokio::io::split(b);
    let (mut from_a, mut from_b) = (vec![0u8; 16 * 1024], vec![0u8; 16 * 1024]);
    let (mut a_open, mut b_open) = (true, true);
    let mut deadline = tokio::time::Instant::now() + idle;
    while a_open || b_open {
        tokio::select! {
            read = a_read.read(&mut from_a), if a_open => match read? {
                0 => {
                    a_open = false;
                    b_write.shutdown().await?;
                }
                n => b_write.write_all(&from_a[..n]).await?,
            },
            read = b_read.read(&mut from_b), if b_open => match read? {
                0 => {
                    b_open = false;
                    a_write.shutdown().await?;
                }
                n => a_write.write_all(&from_b[..n]).await?,
            },
            () = tokio::time::sleep_until(deadline) => {
                tracing::debug!("upgraded connection idle for {idle:?}: closed");
                return Ok(());
            }
        }
        deadline = tokio::time::Instant::now() + idle;
    }
    Ok(())
}
