//! Where lines go: stdout, stderr or a file, written by a thread of its own. Requests only
//! hand a line over; when the output cannot keep up and `BUFFERED_LINES` are waiting, new
//! lines are dropped (counted, and reported on the output once it catches up) instead of
//! holding requests.

use std::io::Write;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::mpsc::{Receiver, SyncSender, TrySendError, sync_channel};

/// Lines waiting for the writer before new ones are dropped.
pub const BUFFERED_LINES: usize = 65_536;

/// The writer's end, shared by every request.
pub struct Sink {
    lines: SyncSender<String>,
    dropped: Arc<AtomicU64>,
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
        let (lines, received) = sync_channel(BUFFERED_LINES);
        let dropped = Arc::new(AtomicU64::new(0));
        let counter = dropped.clone();
        std::thread::Builder::new()
            .name("seam-logger".into())
            .spawn(move || write_all(writer, received, counter))
            .map_err(|e| format!("cannot start the log writer: {e}"))?;
        Ok(Sink { lines, dropped })
    }

    /// Hands `line` to the writer; never waits.
    pub fn write(&self, line: String) {
        match self.lines.try_send(line) {
            Ok(()) => {}
            Err(TrySendError::Full(_) | TrySendError::Disconnected(_)) => {
                self.dropped.fetch_add(1, Ordering::Relaxed);
            }
        }
    }
}

fn write_all(writer: Box<dyn Write + Send>, lines: Receiver<String>, dropped: Arc<AtomicU64>) {
    let mut out = std::io::BufWriter::with_capacity(64 * 1024, writer);
    while let Ok(line) = lines.recv() {
        let _ = out.write_all(line.as_bytes());
        // Everything that is already waiting goes out in the same write.
        while let Ok(line) = lines.try_recv() {
            let _ = out.write_all(line.as_bytes());
        }
        let lost = dropped.swap(0, Ordering::Relaxed);
        if lost > 0 {
            let _ = writeln!(out, "seam logger: {lost} lines dropped, the output was too slow");
        }
        let _ = out.flush();
    }
}
