//! Spawns server processes that die with the test process.
//!
//! Each child is started with `PR_SET_PDEATHSIG(SIGKILL)`, which fires when the *thread*
//! that spawned it exits. Spawning from one thread that lives as long as the process means
//! a server outlives neither its test binary nor a panic that aborts it, even when it is
//! held in a `static` that is never dropped.

use std::process::{Child, Command};
use std::sync::Mutex;
use std::sync::OnceLock;
use std::sync::mpsc::{Sender, channel};

type Job = (Command, Sender<std::io::Result<Child>>);

fn keeper() -> &'static Mutex<Sender<Job>> {
    static KEEPER: OnceLock<Mutex<Sender<Job>>> = OnceLock::new();
    KEEPER.get_or_init(|| {
        let (tx, rx) = channel::<Job>();
        std::thread::Builder::new()
            .name("seam-testkit-keeper".into())
            .spawn(move || {
                for (mut command, reply) in rx {
                    let _ = reply.send(command.spawn());
                }
                // The sender lives in a static: this loop ends only with the process.
            })
            .expect("spawn keeper thread");
        Mutex::new(tx)
    })
}

/// Spawns `command` so that the child is killed when this process ends.
pub fn spawn(mut command: Command) -> std::io::Result<Child> {
    use std::os::unix::process::CommandExt;
    // SAFETY: prctl is async-signal-safe; the closure touches no memory of the parent.
    unsafe {
        command.pre_exec(|| {
            if libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGKILL) != 0 {
                return Err(std::io::Error::last_os_error());
            }
            Ok(())
        });
    }
    let (tx, rx) = channel();
    keeper().lock().expect("keeper lock").send((command, tx)).expect("keeper thread alive");
    rx.recv().expect("keeper reply")
}
