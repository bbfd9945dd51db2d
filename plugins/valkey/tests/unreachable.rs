//! A server that goes away: operations fail within commandTimeout, the same storage works
//! again once the server is back, and startup names the storage, address and cause.

mod support;

use std::time::{Duration, Instant};

use bytes::Bytes;
use seam_core::Storage;
use seam_plugin_valkey::ValkeyStorage;
use seam_testkit::{Server, free_port};
use serde_json::json;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn operations_fail_fast_while_down_and_recover_after_restart() {
    let mut server = Server::start();
    let config = support::config(json!({
        "host": "127.0.0.1", "port": server.port(), "prefix": "re:", "commandTimeout": "500ms", "connectTimeout": "500ms"
    }));
    let storage = ValkeyStorage::from_config("Flaky", &config).unwrap();
    storage.set("k", Bytes::from_static(b"before"), None).await.unwrap();

    server.kill();
    for _ in 0..5 {
        let started = Instant::now();
        let result = storage.get("k").await;
        let took = started.elapsed();
        assert!(result.is_err(), "the server is down");
        // 500 ms commandTimeout, plus a wide margin for a loaded 2-core machine.
        assert!(took < Duration::from_millis(1500), "an operation while down took {took:?}");
    }

    server.restart();
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        match storage.set("k", Bytes::from_static(b"after"), None).await {
            Ok(()) => break,
            Err(e) => {
                assert!(Instant::now() < deadline, "the storage did not recover: {e}");
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
        }
    }
    assert_eq!(storage.get("k").await.unwrap().as_deref(), Some(&b"after"[..]));
}

#[tokio::test]
async fn startup_names_the_storage_the_address_and_the_cause() {
    let port = free_port();
    let doc = format!(
        "storages:\n  Cache:\n    use: plugins.valkey.storages.ValkeyStorage\n    config: {{ host: 127.0.0.1, port: {port}, connectTimeout: 1s }}\n"
    );
    let started = Instant::now();
    let errors = match support::resolve_storage(&doc, "Cache").await {
        Ok(_) => panic!("nothing listens on {port}"),
        Err(errors) => errors,
    };
    assert!(started.elapsed() < Duration::from_secs(10));
    let message = support::first_error(&errors);
    assert!(message.contains("storage `Cache` does not answer"), "{message}");
    assert!(message.contains(&format!("127.0.0.1:{port}")), "{message}");
    assert!(message.contains("connection refused"), "{message}");
}

#[tokio::test]
async fn offline_resolves_without_connecting_and_online_pings() {
    // A listener that counts connections (and never answers).
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    let accepted = std::sync::Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let counter = accepted.clone();
    tokio::spawn(async move {
        let mut held = Vec::new();
        while let Ok((stream, _)) = listener.accept().await {
            counter.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
            held.push(stream);
        }
    });
    let doc = format!(
        "storages:\n  Cache:\n    use: plugins.valkey.storages.ValkeyStorage\n    config: {{ host: 127.0.0.1, port: {port}, connectTimeout: 300ms, commandTimeout: 300ms }}\n"
    );
    let loaded = seam_config::document::load_str("t.yaml", &doc);
    let offline = seam_config::resolver::Options { offline: true };
    assert!(seam_config::resolver::resolve(&loaded.document, offline).await.is_ok());
    tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    assert_eq!(accepted.load(std::sync::atomic::Ordering::SeqCst), 0, "--offline never connects");

    let online = seam_config::resolver::Options { offline: false };
    let errors = seam_config::resolver::resolve(&loaded.document, online).await.err().expect("no PONG");
    assert!(errors[0].message.contains("storage `Cache` does not answer"), "{}", errors[0].message);
    assert!(accepted.load(std::sync::atomic::Ordering::SeqCst) > 0, "without --offline the storage is pinged");
}

#[tokio::test]
async fn missing_host_or_port_is_a_config_error_at_its_line() {
    let doc = "storages:\n  ValkeySessionStorage:\n    use: plugins.valkey.storages.ValkeyStorage\n    config:\n      prefix: \"session_\"\n      port: 6379\n";
    let loaded = seam_config::document::load_str("t.yaml", doc);
    let options = seam_config::resolver::Options { offline: true };
    let errors = seam_config::resolver::resolve(&loaded.document, options).await.err().expect("an error");
    let e = errors.iter().find(|e| e.is_error()).unwrap();
    assert_eq!(e.message, "storage `ValkeySessionStorage`: host must be configured");
    assert_eq!(e.loc.as_ref().unwrap().line, 2, "a key that is not written is reported at the storage's name");

    let doc = "storages:\n  S:\n    use: plugins.valkey.storages.ValkeyStorage\n    config:\n      host: valkey\n      port: 0\n";
    let loaded = seam_config::document::load_str("t.yaml", doc);
    let errors = seam_config::resolver::resolve(&loaded.document, options).await.err().expect("an error");
    let e = errors.iter().find(|e| e.is_error()).unwrap();
    assert_eq!(e.message, "storage `S`: port must be configured");
    assert_eq!((e.loc.as_ref().unwrap().line, e.loc.as_ref().unwrap().column), (6, 13));
}

#[tokio::test]
async fn a_server_that_never_answers_times_out_with_a_clear_error() {
    // Accepts connections and never says a word.
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    let held = std::thread::spawn(move || {
        let mut sockets = Vec::new();
        for socket in listener.incoming().take(8) {
            sockets.push(socket);
        }
        std::thread::sleep(Duration::from_secs(5));
    });
    let config = support::config(json!({
        "host": "127.0.0.1", "port": port, "connectTimeout": "700ms", "commandTimeout": "500ms"
    }));
    let storage = ValkeyStorage::from_config("Silent", &config).unwrap();
    let started = Instant::now();
    let error = storage.ping().await.unwrap_err().to_string();
    let took = started.elapsed();
    assert!(took < Duration::from_millis(2500), "took {took:?}");
    assert!(error.contains(&format!("127.0.0.1:{port}")), "{error}");
    assert!(error.contains("timed out"), "{error}");
    drop(held);
}

#[tokio::test]
async fn passwords_of_any_scalar_type_are_text_never_printed_and_null_is_an_error() {
    // SAFETY: tests in this binary do not read these variables concurrently with the writes.
    unsafe {
        std::env::set_var("SEAM_TEST_NUMERIC_PASSWORD", "84629173");
        std::env::set_var("SEAM_TEST_BOOL_PASSWORD", "true");
        std::env::set_var("SEAM_TEST_NULL_PASSWORD", "~");
    }
    let doc = |var: &str| {
        format!(
            "storages:\n  S:\n    use: plugins.valkey.storages.ValkeyStorage\n    config:\n      host: 127.0.0.1\n      port: 6379\n      password: ${{{var}}}\n"
        )
    };
    let options = seam_config::resolver::Options { offline: true };
    for var in ["SEAM_TEST_NUMERIC_PASSWORD", "SEAM_TEST_BOOL_PASSWORD"] {
        let loaded = seam_config::document::load_str("t.yaml", &doc(var));
        let gateway = seam_config::resolver::resolve(&loaded.document, options).await;
        assert!(gateway.is_ok(), "{var}: {}", gateway.err().map(|e| format!("{e:?}")).unwrap_or_default());
    }
    let loaded = seam_config::document::load_str("t.yaml", &doc("SEAM_TEST_NULL_PASSWORD"));
    let errors = seam_config::resolver::resolve(&loaded.document, options).await.err().expect("a null password");
    let e = errors.iter().find(|e| e.is_error()).unwrap();
    assert!(e.message.contains("the secret is null"), "{}", e.message);
    assert_eq!(e.path.as_deref(), Some("storages.S.config.password"));

    // A wrong type never shows the value.
    let doc = "storages:\n  S:\n    use: plugins.valkey.storages.ValkeyStorage\n    config: { host: h, port: 1, password: [84629173] }\n";
    let loaded = seam_config::document::load_str("t.yaml", doc);
    let errors = seam_config::resolver::resolve(&loaded.document, options).await.err().expect("a list password");
    let text: String = errors.iter().map(|e| e.message.clone()).collect();
    assert!(!text.contains("84629173"), "{text}");
}

/// The next message within `bound`.
async fn next(rx: &mut tokio::sync::mpsc::Receiver<Bytes>, bound: Duration) -> Option<Bytes> {
    tokio::time::timeout(bound, rx.recv()).await.ok().flatten()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_subscription_comes_back_after_a_restart_and_says_what_it_may_have_missed() {
    let mut server = Server::start();
    let config = support::config(json!({
        "host": "127.0.0.1", "port": server.port(), "prefix": "ps:", "commandTimeout": "500ms", "connectTimeout": "500ms"
    }));
    let storage = ValkeyStorage::from_config("Flaky", &config).unwrap();
    let mut rx = storage.subscribe("purges").await.unwrap();
    assert_eq!(next(&mut rx, Duration::from_secs(5)).await.as_deref(), Some(&b""[..]), "subscribed");
    storage.publish("purges", Bytes::from_static(b"one")).await.unwrap();
    assert_eq!(next(&mut rx, Duration::from_secs(5)).await.as_deref(), Some(&b"one"[..]));

    server.kill();
    assert!(storage.publish("purges", Bytes::from_static(b"lost")).await.is_err(), "the server is down");
    server.restart();
    // Subscribed again: the empty mark tells the subscriber that messages may be lost.
    assert_eq!(next(&mut rx, Duration::from_secs(20)).await.as_deref(), Some(&b""[..]), "subscribed again");
    let deadline = Instant::now() + Duration::from_secs(20);
    while storage.publish("purges", Bytes::from_static(b"two")).await.is_err() {
        assert!(Instant::now() < deadline, "publishing did not recover");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert_eq!(next(&mut rx, Duration::from_secs(5)).await.as_deref(), Some(&b"two"[..]));

    storage.close().await.unwrap();
    assert_eq!(next(&mut rx, Duration::from_secs(5)).await, None, "closing the storage ends the subscription");
}
