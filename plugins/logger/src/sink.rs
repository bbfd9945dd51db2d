//! Where lines go: stdout, stderr or a file, written by a thread of its own. A request only
//! appends its line to a shared buffer (no system call, no wake-up); the writer takes the
//! buffer every `FLUSH_EVERY` and writes it in one go. When `BUFFERED_LINES` are waiting
//! (the output cannot keep up), new lines are dropped, counted, and the count is written
//! once the output catches up, instead of holding requests.

use std::io::Write;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// Lines waiting for the writer before new ones are dropped.
pub const BUFFERED_LINES: usize = 65_536;

/// How often the writer takes what is waiting.
const FLUSH_EVERY: Duration = Duration::from_millis(10);

struct Shared {
    /// Waiting text and how many lines it holds.
    pending: Mutex<(String, usize)>,
    dropped: AtomicU64,
    stopped: AtomicBool,
}

/// The writer's end, shared by every request; dropping it writes what is left.
pub struct Sink {
    shared: Arc<Shared>,
    writer: Option<std::thread::JoinHandle<()>>,
}

impl Sink {
    /// A writer thread for `output`: `stdout`, `stderr` or a file path (appended to).
    pub fn open(output: &str) -> Result<Sink, String> {
        let writer: Box<dyn Write + Send> = match output {
            "stdout" => Box::new(std::io::stdout()),
            "stderr" => Box::new(std::io::stderr()),
            path => Box::new(
                std::fs::OpenOptions::new()
                    .create(true)
                    .append(true)
                    .open(path)
                    .map_err(|e| format!("cannot open `{path}` for the log: {e}"))?,
            ),
        };
        let shared = Arc::new(Shared {
            pending: Mutex::new((String::with_capacity(64 * 1024), 0)),
            dropped: AtomicU64::new(0),
            stopped: AtomicBool::new(false),
        });
        let theirs = shared.clone();
        let writer = std::thread::Builder::new()
            .name("seam-logger".into())
            .spawn(move || write_all(writer, &theirs))
            .map_err(|e| format!("cannot start the log writer: {e}"))?;
        Ok(Sink { shared, writer: Some(writer) })
    }

    /// Queues `line` for the writer; never waits for the output.
    pub fn write(&self, line: &str) {
        let mut pending = self.shared.pending.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        if pending.1 >= BUFFERED_LINES {
            drop(pending);
            self.shared.dropped.fetch_add(1, Ordering::Relaxed);
            return;
        }
        pending.0.push_str(line);
        pending.1 += 1;
    }
}

impl Drop for Sink {
    fn drop(&mut self) {
        self.shared.stopped.store(true, Ordering::Release);
        if let Some(writer) = self.writer.take() {
            writer.thread().unpark();
            let _ = writer.join();
        }
    }
}

fn write_all(writer: Box<dyn Write + Send>, shared: &Shared) {
    let mut out = std::io::BufWriter::with_capacity(64 * 1024, writer);
    let mut taken = String::with_capacity(64 * 1024);
    loop {
        std::thread::park_timeout(FLUSH_EVERY);
        let stopping = shared.stopped.load(Ordering::Acquire);
        {
            let mut pending = shared.pending.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
            std::mem::swap(&mut pending.0, &mut taken);
            pending.1 = 0;
        }
        if !taken.is_empty() {
            let _ = out.write_all(taken.as_bytes());
            taken.clear();
        }
        let lost = shared.dropped.swap(0, Ordering::Relaxed);
        if lost > 0 {
            let _ = writeln!(out, "seam logger: {lost} lines dropped, the output was too slow");
        }
        let _ = out.flush();
        if stopping {
            return;
        }
    }
}
