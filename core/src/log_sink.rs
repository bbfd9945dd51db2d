//! Log lines written off the request path: to stdout, stderr or a file, by a thread of its
//! own. The LoggerMiddleware's lines and the gateway's own access log go through it.
//!
//! A request only appends its line to its worker thread's buffer (no system call, no
//! wake-up, no lock another worker takes); the writer takes every buffer each `FLUSH_EVERY`
//! and writes them in one go, so lines of one worker keep their order and lines of different
//! workers are written in batches. When `BUFFERED_LINES` lines or `BUFFERED_BYTES` bytes are
//! waiting in a worker's buffer (the output cannot keep up: a full pipe, a slow terminal),
//! its new lines are dropped and counted (in the log once the output catches up, and in
//! `seam_log_lines_dropped_total`) instead of holding requests or growing without bound. A
//! writer that found nothing for a round sleeps until a line comes: an idle gateway's writer
//! does not wake a hundred times a second.

use std::io::Write;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use thread_local::ThreadLocal;

/// Lines waiting for the writer in one worker's buffer before its new ones are dropped.
pub const BUFFERED_LINES: usize = 65_536;

/// Bytes waiting in one worker's buffer before its new lines are dropped: long lines (a
/// hostile client's long paths) cannot make a stuck output cost more memory than this.
pub const BUFFERED_BYTES: usize = 16 * 1024 * 1024;

/// How often the writer takes what is waiting.
const FLUSH_EVERY: Duration = Duration::from_millis(10);

/// How long closing waits for the writer to write what is left: an output that takes no
/// more (a pipe nobody reads, a hung network file system) must not hold a shutdown or a
/// reload. Past it the writer thread is left to finish, or not, on its own.
pub const CLOSE_WAIT: Duration = Duration::from_secs(2);

struct Shared {
    /// Per writing thread: waiting text and how many lines it holds.
    pending: ThreadLocal<Mutex<(Vec<u8>, usize)>>,
    dropped: AtomicU64,
    /// `seam_log_lines_dropped_total` of this output.
    dropped_total: prometheus_client::metrics::counter::Counter,
    stopped: AtomicBool,
    /// The writer sleeps until a line comes (it found none in its last round).
    idle: AtomicBool,
    /// The writer's thread, to wake it.
    thread: std::sync::OnceLock<std::thread::Thread>,
    /// Rounds the writer has made (for tests of its sleep).
    rounds: AtomicU64,
}

/// The writer's end, shared by every request; closing or dropping it writes what is left.
pub struct Sink {
    shared: Arc<Shared>,
    writer: Mutex<Option<std::thread::JoinHandle<()>>>,
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
            pending: ThreadLocal::new(),
            dropped: AtomicU64::new(0),
            dropped_total: crate::metrics::log_lines_dropped(output),
            stopped: AtomicBool::new(false),
            idle: AtomicBool::new(false),
            thread: std::sync::OnceLock::new(),
            rounds: AtomicU64::new(0),
        });
        let theirs = shared.clone();
        let writer = std::thread::Builder::new()
            .name("seam-logger".into())
            .spawn(move || write_all(writer, &theirs))
            .map_err(|e| format!("cannot start the log writer: {e}"))?;
        let _ = shared.thread.set(writer.thread().clone());
        Ok(Sink { shared, writer: Mutex::new(Some(writer)) })
    }

    /// Queues `line` (its text, newline included) for the writer; never waits for the output.
    pub fn write(&self, line: &str) {
        self.write_bytes(line.as_bytes());
    }

    /// Queues one line given as bytes; never waits for the output.
    pub fn write_bytes(&self, line: &[u8]) {
        let mine = self.shared.pending.get_or(|| Mutex::new((Vec::with_capacity(16 * 1024), 0)));
        let mut pending = mine.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        if pending.1 >= BUFFERED_LINES || pending.0.len() + line.len() > BUFFERED_BYTES {
            drop(pending);
            self.shared.dropped.fetch_add(1, Ordering::Relaxed);
            self.shared.dropped_total.inc();
            return;
        }
        pending.0.extend_from_slice(line);
        pending.1 += 1;
        drop(pending);
        // A sleeping writer is woken by the line that ends its sleep, not by every line.
        if self.shared.idle.load(Ordering::SeqCst)
            && self.shared.idle.swap(false, Ordering::SeqCst)
            && let Some(writer) = self.shared.thread.get()
        {
            writer.unpark();
        }
    }

    /// How many rounds the writer has made.
    #[cfg(test)]
    fn rounds(&self) -> u64 {
        self.shared.rounds.load(Ordering::Relaxed)
    }

    /// Writes what is waiting and stops the writer, waiting for it at most `CLOSE_WAIT`;
    /// lines queued afterwards are not written. (For a sink that lives until the process
    /// exits: the gateway's own log.)
    pub fn close(&self) {
        self.shared.stopped.store(true, Ordering::Release);
        let writer = self.writer.lock().unwrap_or_else(std::sync::PoisonError::into_inner).take();
        if let Some(writer) = writer {
            writer.thread().unpark();
            let started = std::time::Instant::now();
            while !writer.is_finished() && started.elapsed() < CLOSE_WAIT {
                std::thread::sleep(Duration::from_millis(2));
            }
            if writer.is_finished() {
                let _ = writer.join();
            }
        }
    }
}

impl Drop for Sink {
    fn drop(&mut self) {
        self.close();
    }
}

fn write_all(writer: Box<dyn Write + Send>, shared: &Shared) {
    let mut out = std::io::BufWriter::with_capacity(64 * 1024, writer);
    let mut taken: Vec<u8> = Vec::with_capacity(64 * 1024);
    let mut wrote = true;
    loop {
        if wrote {
            std::thread::park_timeout(FLUSH_EVERY);
        } else {
            // Nothing came for a round: sleep until a line does (its writer wakes this one).
            // Set before the last look, so a line queued after the look sees it.
            shared.idle.store(true, Ordering::SeqCst);
            if !shared.stopped.load(Ordering::Acquire) && nothing_waiting(shared) {
                std::thread::park();
            }
            shared.idle.store(false, Ordering::SeqCst);
        }
        shared.rounds.fetch_add(1, Ordering::Relaxed);
        let stopping = shared.stopped.load(Ordering::Acquire);
        wrote = false;
        for buffer in shared.pending.iter() {
            {
                let mut pending = buffer.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
                std::mem::swap(&mut pending.0, &mut taken);
                pending.1 = 0;
            }
            if !taken.is_empty() {
                let _ = out.write_all(&taken);
                taken.clear();
                wrote = true;
            }
        }
        let lost = shared.dropped.swap(0, Ordering::Relaxed);
        if lost > 0 {
            wrote = true;
            let _ = writeln!(out, "seam logger: {lost} lines dropped, the output was too slow");
        }
        let _ = out.flush();
        if stopping {
            return;
        }
    }
}

/// Whether no thread has a line waiting.
fn nothing_waiting(shared: &Shared) -> bool {
    shared.pending.iter().all(|buffer| buffer.lock().unwrap_or_else(std::sync::PoisonError::into_inner).1 == 0)
}

#[cfg(test)]
mod tests {
    use std::time::Instant;

    use super::*;

    fn read(path: &std::path::Path) -> String {
        std::fs::read_to_string(path).unwrap_or_default()
    }

    fn until(what: &str, mut done: impl FnMut() -> bool) {
        let started = Instant::now();
        while !done() {
            assert!(started.elapsed() < Duration::from_secs(5), "{what} within 5 s");
            std::thread::sleep(Duration::from_millis(10));
        }
    }

    #[test]
    fn an_idle_writer_sleeps_and_the_next_line_wakes_it() {
        let dir = std::env::temp_dir().join(format!("seam-log-sink-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("idle.log");
        let sink = Sink::open(path.to_str().unwrap()).unwrap();
        sink.write("one\n");
        until("the first line written", || read(&path) == "one\n");
        // Idle: at most a round or two more, then no round at all.
        std::thread::sleep(Duration::from_millis(100));
        let asleep = sink.rounds();
        std::thread::sleep(Duration::from_millis(300));
        assert_eq!(sink.rounds(), asleep, "an idle writer made rounds (it polls every 10 ms)");
        // Lines from another thread wake it too.
        std::thread::scope(|scope| {
            scope.spawn(|| sink.write("two\n"));
        });
        until("the line after the sleep written", || read(&path) == "one\ntwo\n");
        for i in 0..1000 {
            sink.write(&format!("{i}\n"));
        }
        sink.close();
        assert_eq!(read(&path).lines().count(), 1002, "every line written by close");
        std::fs::remove_dir_all(&dir).unwrap();
    }

    /// A FIFO in a fresh directory, opened by a reader that never reads (the pipe is full
    /// after 64 KiB), and the directory and reader to keep.
    fn never_read_fifo(name: &str) -> (std::path::PathBuf, String, std::fs::File) {
        let dir = std::env::temp_dir().join(format!("seam-log-sink-{name}-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let fifo = dir.join("never-read");
        assert!(std::process::Command::new("mkfifo").arg(&fifo).status().unwrap().success(), "mkfifo");
        let reader = {
            let fifo = fifo.clone();
            std::thread::spawn(move || std::fs::File::open(fifo).unwrap())
        };
        // Opening for writing lets the reader's open return.
        let output = fifo.to_str().unwrap().to_owned();
        let writer = std::fs::OpenOptions::new().append(true).open(&fifo).unwrap();
        let reader = reader.join().unwrap();
        drop(writer);
        (dir, output, reader)
    }

    fn dropped(output: &str) -> u64 {
        let prefix = format!("seam_log_lines_dropped_total{{output=\"{output}\"}} ");
        crate::metrics::exposition().lines().find_map(|l| l.strip_prefix(&prefix)?.parse::<u64>().ok()).unwrap_or(0)
    }

    #[test]
    fn long_lines_an_output_cannot_take_are_dropped_past_the_byte_bound() {
        let (dir, output, _reader) = never_read_fifo("long");
        let sink = Sink::open(&output).unwrap();
        let line = format!("{}\n", "x".repeat(64 * 1024 - 1));
        for _ in 0..1000 {
            sink.write(&line);
        }
        // 64 MB written, far fewer lines than BUFFERED_LINES: at most two buffers of
        // BUFFERED_BYTES (the writer's and the worker's) and the pipe's 64 KiB are kept.
        let kept_at_most = 2 * BUFFERED_BYTES / line.len() + 2;
        assert!(dropped(&output) >= 1000 - kept_at_most as u64, "dropped {}", dropped(&output));
        sink.close();
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn lines_an_output_cannot_take_are_dropped_and_counted_and_close_does_not_hang() {
        let (dir, output, _reader) = never_read_fifo("full");
        let sink = Sink::open(&output).unwrap();
        let started = Instant::now();
        for i in 0..200_000 {
            sink.write(&format!("line {i} of a log nobody reads\n"));
        }
        assert!(started.elapsed() < Duration::from_secs(5), "writing never waits for the output");
        let dropped = dropped(&output);
        assert!(dropped >= 200_000 - 2 * BUFFERED_LINES as u64 - 10_000, "dropped {dropped}");
        let closing = Instant::now();
        sink.close();
        assert!(closing.elapsed() < CLOSE_WAIT + Duration::from_secs(1), "close waited {:?}", closing.elapsed());
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
