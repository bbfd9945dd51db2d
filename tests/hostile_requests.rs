//! Hostile requests against the front door's middlewares (requestid, cors, csrf, basicauth,
//! jwt), as properties: whatever method, target and headers a client sends, nothing panics,
//! an origin is echoed only when allowed, an unsafe request passes CSRF only with the issued
//! token, and basicauth and jwt open only for the right credentials. The rules are in
//! `hostile_requests/front_door.rs`, shared with the fuzz target `front_door`.

#[path = "hostile_requests/front_door.rs"]
mod front_door;

use front_door::{FrontDoor, Hostile, METHODS, NAMES, VALUES};
use proptest::prelude::*;

/// Mostly an entry of `pool`, else text of the `shaped` pattern, else up to `raw` bytes.
fn pooled(pool: &'static [&'static str], shaped: &'static str, raw: usize) -> impl Strategy<Value = Vec<u8>> {
    prop_oneof![
        4 => proptest::sample::select(pool).prop_map(|entry| entry.as_bytes().to_vec()),
        1 => shaped.prop_map(String::into_bytes),
        1 => proptest::collection::vec(any::<u8>(), 0..raw),
    ]
}

fn method() -> impl Strategy<Value = Vec<u8>> {
    pooled(METHODS, "[A-Za-z!#$%&'*+.^_`|~-]{1,10}", 8)
}

fn target() -> impl Strategy<Value = Vec<u8>> {
    prop_oneof![
        3 => "/[a-zA-Z0-9/._~%-]{0,24}(\\?[a-z0-9=&_%-]{0,16})?".prop_map(String::into_bytes),
        1 => proptest::collection::vec(any::<u8>(), 0..32),
    ]
}

fn name() -> impl Strategy<Value = Vec<u8>> {
    pooled(NAMES, "[A-Za-z-]{1,16}", 12)
}

fn value() -> impl Strategy<Value = Vec<u8>> {
    let known = proptest::sample::select(VALUES).prop_map(|v| v.as_bytes().to_vec());
    prop_oneof![
        4 => known.clone(),
        // A known value with one byte changed, dropped or added.
        2 => (known, any::<prop::sample::Index>(), any::<u8>(), 0..3u8).prop_map(|(mut v, at, byte, how)| {
            if v.is_empty() {
                return v;
            }
            let i = at.index(v.len());
            match how {
                0 => v[i] = byte,
                1 => { v.remove(i); }
                _ => v.insert(i, byte),
            }
            v
        }),
        1 => "[ -~]{0,40}".prop_map(String::into_bytes),
        1 => proptest::collection::vec(any::<u8>(), 0..40),
    ]
}

fn hostile() -> impl Strategy<Value = Hostile> {
    (method(), target(), proptest::collection::vec((name(), value()), 0..8), any::<bool>())
        .prop_map(|(method, target, headers, https)| Hostile { method, target, headers, https })
}

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap()
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 2000, ..ProptestConfig::default() })]

    #[test]
    fn no_hostile_request_walks_around_the_front_door(requests in proptest::collection::vec(hostile(), 1..8)) {
        let runtime = runtime();
        runtime.block_on(async {
            let door = FrontDoor::build().await;
            for request in &requests {
                door.check(request).await;
            }
        });
    }
}

/// The doors open for the right values: without this, the property above would hold for
/// chains that refuse everything.
#[test]
fn each_door_opens_for_its_key() {
    runtime().block_on(async {
        let door = FrontDoor::build().await;
        let request = |method: &str, headers: &[(&str, &str)]| Hostile {
            method: method.as_bytes().to_vec(),
            target: b"/form".to_vec(),
            headers: headers.iter().map(|(n, v)| (n.as_bytes().to_vec(), v.as_bytes().to_vec())).collect(),
            https: false,
        };
        let opened = door
            .check(&request(
                "POST",
                &[("x-csrf-token", "{csrf}"), ("cookie", "csrf_={csrf}"), ("authorization", "Basic am9objpkb2U=")],
            ))
            .await;
        assert_eq!(opened, Some([true, true, false]), "web and basic open; jwt wants a bearer token");
        let opened = door.check(&request("GET", &[("authorization", "Bearer {jwt}")])).await;
        assert_eq!(opened, Some([true, false, true]), "a GET passes CSRF; jwt opens for its token");
        let opened = door.check(&request("POST", &[("x-csrf-token", "{csrf}"), ("cookie", "csrf_=forged")])).await;
        assert_eq!(opened, Some([false, false, false]));
    });
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 500, ..ProptestConfig::default() })]

    /// The fuzz target's decoding of raw bytes, with the same rules.
    #[test]
    fn fuzzer_bytes_get_the_same_rules(data in proptest::collection::vec(any::<u8>(), 0..300)) {
        if let Some(request) = front_door::from_bytes(&data) {
            runtime().block_on(async { FrontDoor::build().await.check(&request).await });
        }
    }
}

/// The fuzz target's seeds open the doors they are named for, so the corpus keeps pointing
/// the fuzzer at the paths that pass (`fuzz/corpus/front_door`).
#[test]
fn the_fuzz_seeds_open_the_doors_they_are_named_for() {
    let corpus = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("fuzz/corpus/front_door");
    runtime().block_on(async {
        let door = FrontDoor::build().await;
        for (seed, opened) in [
            ("post-csrf", [true, false, false]),
            ("post-csrf-https", [true, false, false]),
            ("preflight", [false, false, false]),
            ("cors-sub", [true, false, false]),
            ("basic", [true, true, false]),
            ("jwt", [true, false, true]),
        ] {
            let data = std::fs::read(corpus.join(seed)).unwrap();
            let request = front_door::from_bytes(&data).unwrap();
            assert_eq!(door.check(&request).await, Some(opened), "{seed}");
        }
    });
}
