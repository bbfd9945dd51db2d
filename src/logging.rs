//! The gateway's own log, on stderr: the access log (one line per request, target
//! `seam::access`) and every other event. While `seam run` serves, lines go through a
//! [`Sink`]: writing them never holds a request or the shutdown (a pipe nobody reads, a
//! slow terminal or log collector), and a worker writes no system call per line.

use std::io;
use std::sync::Arc;

use seam_core::log_sink::Sink;
use tracing_subscriber::fmt::MakeWriter;

/// Writes the lines still waiting when dropped (at the end of `seam run`).
#[must_use = "dropped, it writes the log's last lines"]
pub struct LogGuard(Option<Arc<Sink>>);

impl Drop for LogGuard {
    fn drop(&mut self) {
        if let Some(sink) = &self.0 {
            sink.close();
        }
    }
}

/// Logs at the level from `RUST_LOG`, else Seam's `LOG_LEVEL`, else `default`; with
/// `buffered`, through a writer thread.
pub fn init(default: &str, json: bool, buffered: bool) -> LogGuard {
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .or_else(|_| match std::env::var("LOG_LEVEL") {
            Ok(level) => tracing_subscriber::EnvFilter::try_new(level.to_ascii_lowercase()),
            Err(_) => Ok(tracing_subscriber::EnvFilter::new(default)),
        })
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new(default));
    // Colours only on a terminal: a log file or a container's log gets no escape codes.
    let terminal = std::io::IsTerminal::is_terminal(&std::io::stderr());
    let sink = if buffered { Sink::open("stderr").ok().map(Arc::new) } else { None };
    let builder =
        tracing_subscriber::fmt().with_env_filter(filter).with_writer(Lines(sink.clone())).with_ansi(terminal);
    let _ = if json { builder.json().try_init() } else { builder.try_init() };
    if let Some(sink) = &sink
        && !terminal
    {
        crate::access_log::write_directly(sink.clone(), json);
    }
    LogGuard(sink)
}

/// Where lines go: the sink, or stderr directly when there is none.
struct Lines(Option<Arc<Sink>>);

/// One line on its way.
enum Line<'a> {
    Buffered(&'a Sink),
    Direct(io::Stderr),
}

impl<'a> MakeWriter<'a> for Lines {
    type Writer = Line<'a>;

    fn make_writer(&'a self) -> Line<'a> {
        match &self.0 {
            Some(sink) => Line::Buffered(sink),
            None => Line::Direct(std::io::stderr()),
        }
    }
}

impl io::Write for Line<'_> {
    // The formatter writes each event whole, in one call: one line.
    fn write(&mut self, line: &[u8]) -> io::Result<usize> {
        match self {
            Line::Buffered(sink) => {
                sink.write_bytes(line);
                Ok(line.len())
            }
            Line::Direct(stderr) => stderr.write(line),
        }
    }

    fn flush(&mut self) -> io::Result<()> {
        match self {
            Line::Buffered(_) => Ok(()),
            Line::Direct(stderr) => stderr.flush(),
        }
    }
}
