//! Drives ValkeyStorage `get`/`set` from C concurrent tasks sharing one storage (as a
//! gateway's requests share it) and prints one JSON line per run:
//! `{"op","concurrency","size","ops_per_sec","p50_ms","p99_ms"}`.
//!
//! Usage: seam-bench-storage PORT OP CONCURRENCY VALUE_SIZE REQUESTS [WORKERS]

use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::Bytes;
use hdrhistogram::Histogram;
use seam_core::Storage;
use seam_plugin_valkey::{ValkeyStorage, ValkeyStorageConfig};

const KEYS: u64 = 10_000;

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let usage = "usage: seam-bench-storage PORT get|set CONCURRENCY VALUE_SIZE REQUESTS [WORKERS]";
    let arg = |i: usize| args.get(i).unwrap_or_else(|| panic!("{usage}"));
    let port: u16 = arg(1).parse().expect("PORT");
    let op = arg(2).clone();
    let concurrency: u64 = arg(3).parse().expect("CONCURRENCY");
    let size: usize = arg(4).parse().expect("VALUE_SIZE");
    let requests: u64 = arg(5).parse().expect("REQUESTS");
    let workers: usize = args.get(6).map(|w| w.parse().expect("WORKERS")).unwrap_or(2);

    let runtime = tokio::runtime::Builder::new_multi_thread().worker_threads(workers).enable_all().build().unwrap();
    runtime.block_on(async move {
        let config: ValkeyStorageConfig = serde_json::from_value(serde_json::json!({
            "host": "127.0.0.1", "port": port, "prefix": "bench:", "commandTimeout": "10s"
        }))
        .unwrap();
        let storage = Arc::new(ValkeyStorage::from_config("Bench", &config).unwrap());
        let value = Bytes::from(vec![b'x'; size]);
        // Warm up the connection and fill the key space for `get`.
        for k in 0..KEYS {
            storage.set(&format!("k{k}"), value.clone(), None).await.unwrap();
        }
        let per_task = requests / concurrency;
        let started = Instant::now();
        let tasks: Vec<_> = (0..concurrency)
            .map(|t| {
                let storage = storage.clone();
                let value = value.clone();
                let op = op.clone();
                tokio::spawn(async move {
                    let mut histogram = Histogram::<u64>::new_with_bounds(1, 60_000_000, 3).unwrap();
                    let mut key = t.wrapping_mul(7919) % KEYS;
                    for _ in 0..per_task {
                        key = (key + 7) % KEYS;
                        let name = format!("k{key}");
                        let begin = Instant::now();
                        match op.as_str() {
                            "get" => {
                                storage.get(&name).await.unwrap();
                            }
                            _ => storage.set(&name, value.clone(), None).await.unwrap(),
                        }
                        histogram.record(begin.elapsed().as_micros().max(1) as u64).unwrap();
                    }
                    histogram
                })
            })
            .collect();
        let mut all = Histogram::<u64>::new_with_bounds(1, 60_000_000, 3).unwrap();
        for task in tasks {
            all.add(task.await.unwrap()).unwrap();
        }
        let elapsed = started.elapsed().max(Duration::from_micros(1));
        let done = per_task * concurrency;
        storage.reset().await.unwrap();
        println!(
            "{}",
            serde_json::json!({
                "op": op,
                "concurrency": concurrency,
                "size": size,
                "requests": done,
                "ops_per_sec": done as f64 / elapsed.as_secs_f64(),
                "p50_ms": all.value_at_quantile(0.50) as f64 / 1000.0,
                "p99_ms": all.value_at_quantile(0.99) as f64 / 1000.0,
            })
        );
    });
}
