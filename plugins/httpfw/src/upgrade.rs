//! Protocol upgrades through HttpAction (RFC 9110 §7.8), as nginx does with
//! `proxy_http_version 1.1` and the upgrade headers: a WebSocket handshake goes to the
//! upstream with its `Connection: upgrade` and `Upgrade`, and when the upstream answers
//! `101 Switching Protocols` the two connections are joined byte for byte.

use http::header::{CONNECTION, UPGRADE};
use http::{HeaderMap, HeaderValue, StatusCode};
use hyper::upgrade::OnUpgrade;
use hyper_util::rt::TokioIo;

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
/// it over, after the 101 is written) and the upstream's, until either side closes.
pub fn join(
    response: &mut http::Response<hyper::body::Incoming>,
    client: OnUpgrade,
    lifecycle: Option<seam_core::extensions::Lifecycle>,
) {
    if response.status() != StatusCode::SWITCHING_PROTOCOLS {
        return;
    }
    let upstream = hyper::upgrade::on(response);
    // Counted by the server until it ends; closed when the server shuts down.
    let hold = lifecycle.as_ref().map(seam_core::extensions::Lifecycle::hold);
    tokio::spawn(async move {
        let _hold = hold;
        let (client, upstream) = match tokio::try_join!(client, upstream) {
            Ok(pair) => pair,
            Err(e) => {
                tracing::debug!("upgrade not completed: {e}");
                return;
            }
        };
        let (mut client, mut upstream) = (TokioIo::new(client), TokioIo::new(upstream));
        let stopping = async {
            match &lifecycle {
                Some(lifecycle) => lifecycle.stopping().await,
                None => std::future::pending().await,
            }
        };
        tokio::select! {
            copied = tokio::io::copy_bidirectional(&mut client, &mut upstream) => {
                if let Err(e) = copied {
                    tracing::debug!("upgraded connection ended: {e}");
                }
            }
            () = stopping => tracing::debug!("upgraded connection closed: the server shuts down"),
        }
    });
}
