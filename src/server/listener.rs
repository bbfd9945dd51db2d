//! The listening sockets: one per worker, all on the same address (SO_REUSEPORT), so the
//! kernel spreads new connections over the workers and none is handed between threads.

use std::net::{SocketAddr, TcpListener};

use socket2::{Domain, Protocol, Socket, Type};

/// Pending connections the kernel queues per listener (nginx: 511 on Linux).
const BACKLOG: i32 = 1024;

/// Binds `workers` listeners on `address` (`host:port`; port 0 picks one for all).
pub fn bind(address: &str, workers: usize) -> Result<Vec<TcpListener>, String> {
    let addr = resolve(address)?;
    let shared = workers > 1;
    // Sockets that share a port accept any other process of this user that asks to share it
    // too; a port already taken is refused here, before the sharing sockets are made.
    if shared && addr.port() != 0 {
        drop(socket(addr, false).map_err(|e| in_use(address, &e))?);
    }
    let first = socket(addr, shared).map_err(|e| in_use(address, &e))?;
    let bound = first.local_addr().map_err(|e| format!("cannot read the bound address: {e}"))?;
    let mut listeners = vec![first];
    for _ in 1..workers {
        listeners.push(socket(bound, true).map_err(|e| in_use(address, &e))?);
    }
    Ok(listeners)
}

/// Whether an accepted socket already has its listener's TCP_NODELAY (Linux copies it at
/// accept); elsewhere the worker sets it on each connection.
pub const ACCEPTED_INHERIT_NODELAY: bool = cfg!(target_os = "linux");

fn resolve(address: &str) -> Result<SocketAddr, String> {
    use std::net::ToSocketAddrs;
    address
        .to_socket_addrs()
        .map_err(|e| format!("cannot listen on server.address `{address}`: {e}"))?
        .next()
        .ok_or_else(|| format!("cannot listen on server.address `{address}`: it names no address"))
}

fn in_use(address: &str, e: &std::io::Error) -> String {
    format!("cannot listen on server.address `{address}`: {e}")
}

fn socket(addr: SocketAddr, reuse_port: bool) -> std::io::Result<TcpListener> {
    let socket = Socket::new(Domain::for_address(addr), Type::STREAM, Some(Protocol::TCP))?;
    #[cfg(unix)]
    {
        socket.set_reuse_address(true)?;
        if reuse_port {
            socket.set_reuse_port(true)?;
        }
    }
    #[cfg(not(unix))]
    let _ = reuse_port;
    socket.set_nonblocking(true)?;
    // Answers go out as soon as they are written. Linux gives every accepted socket the
    // listener's TCP_NODELAY, which saves a system call per connection (see
    // `ACCEPTED_INHERIT_NODELAY`).
    socket.set_tcp_nodelay(true)?;
    socket.bind(&addr.into())?;
    socket.listen(BACKLOG)?;
    Ok(socket.into())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn workers_share_one_port_and_a_taken_port_is_refused() {
        let listeners = bind("127.0.0.1:0", 3).unwrap();
        let port = listeners[0].local_addr().unwrap().port();
        assert!(listeners.iter().all(|l| l.local_addr().unwrap().port() == port));
        let taken = format!("127.0.0.1:{port}");
        let err = bind(&taken, 2).unwrap_err();
        assert!(err.contains("in use"), "{err}");
        let err = bind(&taken, 1).unwrap_err();
        assert!(err.contains("in use"), "{err}");
    }

    #[test]
    fn accepted_connections_have_tcp_nodelay() {
        for workers in [1, 2] {
            let listeners = bind("127.0.0.1:0", workers).unwrap();
            let addr = listeners[0].local_addr().unwrap();
            let client = std::net::TcpStream::connect(addr).unwrap();
            assert!(!client.nodelay().unwrap(), "a plain client socket starts without it");
            // The kernel hands the connection to one of the listeners.
            let accepted = loop {
                if let Some(pair) = listeners.iter().find_map(|l| l.accept().ok()) {
                    break pair.0;
                }
                std::thread::sleep(std::time::Duration::from_millis(5));
            };
            if !ACCEPTED_INHERIT_NODELAY {
                accepted.set_nodelay(true).unwrap();
            }
            assert!(accepted.nodelay().unwrap(), "{workers} worker(s): TCP_NODELAY is off on an accepted socket");
        }
    }
}
