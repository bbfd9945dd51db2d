use seam_example_custom_storage::HashMapStorage;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn hashmap_storage_passes_the_conformance_suite() {
    seam_core::testing::conformance(|_namespace| async { HashMapStorage::default() }).await;
}

#[test]
fn it_is_registered() {
    let registration = seam_core::registration::find("plugins.example.storages.HashMapStorage").expect("registered");
    assert_eq!(registration.plugin, "example");
    assert_eq!(
        registration.description,
        "A plain HashMap behind a mutex: the smallest complete storage, an example of `#[seam_core::component]`."
    );
}
