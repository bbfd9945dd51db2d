use seam_plugin_memory::MemoryStorage;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn memory_storage_passes_the_conformance_suite() {
    seam_core::testing::conformance(|_namespace| async { MemoryStorage::new(100_000) }).await;
}

#[tokio::test]
async fn max_entries_evicts() {
    use seam_core::Storage;
    let storage = MemoryStorage::new(10);
    for i in 0..200 {
        storage.set(&format!("k{i}"), bytes::Bytes::from_static(b"v"), None).await.unwrap();
    }
    // moka applies the bound asynchronously; reading triggers its maintenance.
    let mut kept = usize::MAX;
    for _ in 0..50 {
        kept = storage.scan("*").await.unwrap().len();
        if kept <= 10 {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
    assert!(kept <= 10, "{kept} keys kept with maxEntries 10");
}

#[tokio::test]
async fn a_closed_memory_storage_refuses_operations() {
    seam_core::testing::closed_refuses_operations(&MemoryStorage::new(10)).await;
}
