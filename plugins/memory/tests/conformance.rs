use seam_plugin_memory::{Bound, MemoryStorage};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn memory_storage_passes_the_conformance_suite() {
    seam_core::testing::conformance(|_namespace| async { MemoryStorage::new(Bound::Bytes(64 << 20)) }).await;
}

#[tokio::test]
async fn max_entries_evicts() {
    use seam_core::Storage;
    let storage = MemoryStorage::new(Bound::Entries(10));
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
    seam_core::testing::closed_refuses_operations(&MemoryStorage::new(Bound::Entries(10))).await;
}

#[tokio::test]
async fn max_bytes_bounds_memory_whatever_the_value_sizes() {
    use seam_core::Storage;
    let storage = MemoryStorage::new(Bound::Bytes(1024 * 1024));
    let value = bytes::Bytes::from(vec![b'v'; 64 * 1024]);
    for i in 0..100 {
        storage.set(&format!("k{i}"), value.clone(), None).await.unwrap();
    }
    // 100 values of 64 KiB are 6.4 MiB; at most 1 MiB of them stays.
    let mut kept = usize::MAX;
    for _ in 0..50 {
        kept = storage.scan("*").await.unwrap().len();
        if kept <= 16 {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
    assert!(kept <= 16, "{kept} values of 64 KiB kept within 1 MiB");
}
