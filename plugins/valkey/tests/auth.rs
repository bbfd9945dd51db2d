//! Passwords and ACL users, and the startup error of a wrong password.

mod support;

use bytes::Bytes;
use seam_plugin_valkey as _;
use seam_testkit::{Server, ServerOptions};

#[tokio::test]
async fn acl_user_and_password_work_and_a_wrong_password_is_a_clear_startup_error() {
    let server =
        Server::start_with(ServerOptions { password: Some("admin-secret".into()), ..ServerOptions::default() });
    let mut admin = server.client();
    redis::cmd("ACL")
        .arg("SETUSER")
        .arg("gateway")
        .arg("on")
        .arg(">gw-pass")
        .arg("~sess:*")
        .arg("+@all")
        .query::<()>(&mut admin)
        .unwrap();
    let doc = |user: &str, password: &str| {
        format!(
            "storages:\n  Sessions:\n    use: plugins.valkey.storages.ValkeyStorage\n    config:\n      prefix: \"sess:\"\n      host: 127.0.0.1\n      port: {}\n      username: {user}\n      password: {password}\n",
            server.port()
        )
    };
    let storage = support::resolve_storage(&doc("gateway", "gw-pass"), "Sessions").await.unwrap();
    storage.set("a", Bytes::from_static(b"1"), None).await.unwrap();
    assert_eq!(storage.get("a").await.unwrap().as_deref(), Some(&b"1"[..]));
    storage.reset().await.unwrap();

    // The default user with requirepass.
    let plain = format!(
        "storages:\n  S:\n    use: plugins.valkey.storages.ValkeyStorage\n    config: {{ host: 127.0.0.1, port: {}, password: admin-secret }}\n",
        server.port()
    );
    support::resolve_storage(&plain, "S").await.unwrap().ping().await.unwrap();

    let errors = match support::resolve_storage(&doc("gateway", "not-the-password"), "Sessions").await {
        Ok(_) => panic!("a wrong password must fail at startup"),
        Err(errors) => errors,
    };
    let message = support::first_error(&errors);
    assert!(message.contains("storage `Sessions`"), "{message}");
    assert!(message.contains(&format!("127.0.0.1:{}", server.port())), "{message}");
    assert!(message.contains("authentication failed"), "{message}");
    assert!(!message.contains("not-the-password"), "the password must never be printed: {message}");
}

#[test]
fn the_password_never_appears_in_debug_output() {
    let config = support::config(serde_json::json!({"host": "h", "port": 1, "password": "hunter2"}));
    let printed = format!("{config:?}");
    assert!(!printed.contains("hunter2"), "{printed}");
    assert!(printed.contains("***"));
}
