//! `seam-bench-ws SEAM_BINARY [SECONDS] [ROUNDS] [CONNECTIONS]`: starts a WebSocket echo
//! server, a seam in front of it (`WebSocketAction`, and a plain `HttpAction` route that
//! passes the upgrade through; `--workers 1`) and the peer, an nginx with one worker proxying
//! WebSockets (`proxy_pass` with the `Upgrade` headers). In interleaved rounds it drives
//! CONNECTIONS clients, each sending a 64-byte message and waiting for its echo: straight at
//! the echo server, through seam's two routes, through nginx. Prints a Markdown table of the
//! medians, and a second of the CPU time per message of the relay and of this process (the
//! clients and the echo server); a third with 8 messages in flight on each connection (a
//! stream of messages, where a relay meets bursts); then opens 1000 idle connections
//! through seam and reports its RSS growth.
//! A second table does the same with 1 KiB text messages (JSON-like, compressible), adding
//! a route with `enableCompression` driven by clients that offer permessage-deflate (yawc),
//! and the RSS of 1000 idle compressing connections.

use std::time::{Duration, Instant};

use futures_util::{SinkExt, StreamExt};
use tokio_tungstenite::tungstenite::Message;

async fn echo_server() -> u16 {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    tokio::spawn(async move {
        loop {
            let Ok((stream, _)) = listener.accept().await else { continue };
            let _ = stream.set_nodelay(true);
            tokio::spawn(async move {
                let Ok(mut ws) = tokio_tungstenite::accept_async(stream).await else { return };
                while let Some(Ok(message)) = ws.next().await {
                    let echoed = matches!(message, Message::Text(_) | Message::Binary(_));
                    if echoed && ws.send(message).await.is_err() {
                        break;
                    }
                }
            });
        }
    });
    port
}

/// A 1 KiB text message shaped like what WebSocket APIs send (JSON with repeated keys).
fn json_text() -> String {
    let mut text = String::from("[");
    let mut i = 0;
    while text.len() < 1000 {
        text.push_str(&format!(
            "{{\"id\":{i},\"symbol\":\"BTCUSDT\",\"price\":\"{}.{:02}\",\"side\":\"buy\"}},",
            40_000 + i * 7,
            i % 100
        ));
        i += 1;
    }
    text.pop();
    text.push(']');
    text
}

/// Like [`drive`], with the text message `text`, from clients that offer permessage-deflate.
async fn drive_deflate(url: &str, connections: usize, seconds: u64, text: &str) -> (f64, f64) {
    let deadline = Instant::now() + Duration::from_secs(seconds);
    let mut tasks = Vec::new();
    for _ in 0..connections {
        let (url, text) = (url.to_owned(), text.to_owned());
        tasks.push(tokio::spawn(async move {
            let options = yawc::Options::default().with_compression_level(yawc::CompressionLevel::fast());
            let mut ws = yawc::WebSocket::connect(url.parse().unwrap()).with_options(options).await.expect("connect");
            let mut histogram = hdrhistogram::Histogram::<u64>::new(3).unwrap();
            while Instant::now() < deadline {
                let sent = Instant::now();
                ws.send(yawc::Frame::text(text.clone())).await.unwrap();
                loop {
                    let frame = ws.next().await.expect("an echo");
                    if frame.opcode() == yawc::OpCode::Text {
                        break;
                    }
                }
                histogram.record(sent.elapsed().as_micros() as u64).unwrap();
            }
            let _ = ws.close().await;
            histogram
        }));
    }
    merged(tasks, seconds).await
}

/// (messages per second, p99 in ms) of `connections` clients for `seconds` against `url`,
/// each sending a 64-byte message and waiting for its echo.
async fn drive(url: &str, connections: usize, seconds: u64) -> (f64, f64) {
    drive_with(url, connections, seconds, Message::Binary(vec![b'x'; 64].into()), 1).await
}

/// Like [`drive`], with `message`, and `window` messages in flight on each connection (more
/// than one: a stream of messages rather than one at a time): each client sends `window`,
/// then one more for each echo; the latency is from a message's send to its echo.
async fn drive_with(url: &str, connections: usize, seconds: u64, message: Message, window: usize) -> (f64, f64) {
    let deadline = Instant::now() + Duration::from_secs(seconds);
    let mut tasks = Vec::new();
    for _ in 0..connections {
        let (url, message) = (url.to_owned(), message.clone());
        tasks.push(tokio::spawn(async move {
            let (mut ws, _) = tokio_tungstenite::connect_async(url).await.expect("connect");
            let mut histogram = hdrhistogram::Histogram::<u64>::new(3).unwrap();
            let mut sent = std::collections::VecDeque::with_capacity(window);
            for _ in 0..window {
                sent.push_back(Instant::now());
                ws.feed(message.clone()).await.unwrap();
            }
            ws.flush().await.unwrap();
            while Instant::now() < deadline {
                match ws.next().await {
                    Some(Ok(Message::Binary(_) | Message::Text(_))) => {}
                    other => panic!("no echo: {other:?}"),
                }
                let at: Instant = sent.pop_front().expect("a message in flight");
                histogram.record(at.elapsed().as_micros() as u64).unwrap();
                sent.push_back(Instant::now());
                ws.send(message.clone()).await.unwrap();
            }
            let _ = ws.close(None).await;
            histogram
        }));
    }
    merged(tasks, seconds).await
}

/// (messages per second, p99 in ms) of the clients' histograms over `seconds`.
async fn merged(tasks: Vec<tokio::task::JoinHandle<hdrhistogram::Histogram<u64>>>, seconds: u64) -> (f64, f64) {
    let mut all = hdrhistogram::Histogram::<u64>::new(3).unwrap();
    for task in tasks {
        all.add(task.await.unwrap()).unwrap();
    }
    (all.len() as f64 / seconds as f64, all.value_at_quantile(0.99) as f64 / 1000.0)
}

/// CPU time (ns) the threads of process `pid` have run, from `/proc/PID/task/*/schedstat`
/// (nanoseconds, unlike the clock ticks of `/proc/PID/stat`).
fn cpu_ns(pid: u32) -> u64 {
    let Ok(tasks) = std::fs::read_dir(format!("/proc/{pid}/task")) else { return 0 };
    tasks
        .filter_map(Result::ok)
        .filter_map(|task| std::fs::read_to_string(task.path().join("schedstat")).ok())
        .filter_map(|stat| stat.split_whitespace().next().and_then(|ns| ns.parse::<u64>().ok()))
        .sum()
}

/// `pid` and its children (nginx's master and its worker).
fn with_children(pid: u32) -> Vec<u32> {
    let mut all = vec![pid];
    for entry in std::fs::read_dir("/proc").into_iter().flatten().filter_map(Result::ok) {
        let Some(child) = entry.file_name().to_str().and_then(|n| n.parse::<u32>().ok()) else { continue };
        let stat = std::fs::read_to_string(entry.path().join("stat")).unwrap_or_default();
        // The parent is the second field after the command, which is in parentheses.
        let parent = stat.rsplit_once(')').and_then(|(_, rest)| rest.split_whitespace().nth(1)?.parse::<u32>().ok());
        if parent == Some(pid) {
            all.push(child);
        }
    }
    all
}

fn rss_kib(pid: u32) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.split_whitespace().next())
        .and_then(|v| v.parse().ok())
        .unwrap_or(0)
}

/// Seam's RSS (KiB) before and after `open` made 1000 connections, held until measured.
async fn idle_rss<T, F, Fut>(pid: u32, mut open: F) -> (u64, u64)
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = T>,
{
    let before = rss_kib(pid);
    let mut idle = Vec::new();
    for _ in 0..1000 {
        idle.push(open().await);
    }
    tokio::time::sleep(Duration::from_millis(500)).await;
    (before, rss_kib(pid))
}

/// The peer: nginx with one worker proxying WebSockets to the echo server, as its manual
/// shows (`proxy_http_version 1.1` and the `Upgrade`/`Connection` headers); stopped on drop.
struct Nginx {
    port: u16,
    child: std::process::Child,
}

impl Nginx {
    fn start(dir: &std::path::Path, echo: u16) -> Nginx {
        let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
        let root = dir.join("nginx");
        std::fs::create_dir_all(&root).unwrap();
        let conf = root.join("nginx.conf");
        std::fs::write(
            &conf,
            format!(
                "worker_processes 1;\npid {root}/nginx.pid;\nerror_log stderr error;\n\
                 events {{ worker_connections 8192; }}\n\
                 http {{\n  access_log off;\n\
                 \x20 map $http_upgrade $connection_upgrade {{ default upgrade; '' close; }}\n\
                 \x20 server {{\n    listen 127.0.0.1:{port};\n    location / {{\n\
                 \x20     proxy_pass http://127.0.0.1:{echo};\n      proxy_http_version 1.1;\n\
                 \x20     proxy_set_header Upgrade $http_upgrade;\n      proxy_set_header Connection $connection_upgrade;\n\
                 \x20     proxy_read_timeout 10m;\n    }}\n  }}\n}}\n",
                root = root.display()
            ),
        )
        .unwrap();
        let child = std::process::Command::new("nginx")
            .args(["-p", root.to_str().unwrap(), "-c", conf.to_str().unwrap(), "-g", "daemon off;"])
            .spawn()
            .expect("nginx runs (apt-get install -y nginx)");
        wait_for_port(port, "nginx");
        Nginx { port, child }
    }
}

impl Drop for Nginx {
    fn drop(&mut self) {
        // TERM, not KILL: the master then stops its worker (a killed master leaves it running).
        let _ = std::process::Command::new("kill").arg(self.child.id().to_string()).status();
        let _ = self.child.wait();
    }
}

/// Waits (at most 20 s) until `what` listens on 127.0.0.1:`port`.
fn wait_for_port(port: u16, what: &str) {
    let started = Instant::now();
    while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
        assert!(started.elapsed() < Duration::from_secs(20), "{what} did not start");
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// The table of the medians of each path's rounds (direct first, nginx fourth).
fn print_paths(paths: &[(&str, String)], runs: &[Vec<(f64, f64)>]) {
    let medians: Vec<(f64, f64)> = runs
        .iter()
        .map(|r| (median(r.iter().map(|r| r.0).collect()), median(r.iter().map(|r| r.1).collect())))
        .collect();
    let (direct_rate, nginx_rate) = (medians[0].0, medians[3].0);
    println!("| path | messages/s | p99 ms | vs direct | vs nginx |");
    println!("|---|---:|---:|---:|---:|");
    for ((name, _), (rate, p99)) in paths.iter().zip(&medians) {
        println!("| {name} | {rate:.0} | {p99:.2} | {:.2}× | {:.2}× |", rate / direct_rate, rate / nginx_rate);
    }
}

fn median(mut values: Vec<f64>) -> f64 {
    values.sort_by(f64::total_cmp);
    values[values.len() / 2]
}

#[tokio::main(flavor = "current_thread")]
async fn main() {
    let args: Vec<String> = std::env::args().collect();
    let seam = args.get(1).expect("SEAM_BINARY").clone();
    let seconds: u64 = args.get(2).map_or(5, |a| a.parse().unwrap());
    let rounds: usize = args.get(3).map_or(3, |a| a.parse().unwrap());
    let connections: usize = args.get(4).map_or(32, |a| a.parse().unwrap());
    let echo = echo_server().await;
    let gateway = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    let dir = std::env::temp_dir().join(format!("seam-bench-ws-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let config = dir.join("seam.yaml");
    std::fs::write(
        &config,
        format!(
            "server: {{ address: 127.0.0.1:{gateway}, disableStartupMessage: true, concurrency: 100000 }}\n\
             actions:\n  Ws: {{ use: plugins.wsfw.actions.WebSocketAction, config: {{ upstreamEndpoint: \"ws://127.0.0.1:{echo}\", pingInterval: 1m, maxInactivity: 10m }} }}\n\
             \x20 Deflate: {{ use: plugins.wsfw.actions.WebSocketAction, config: {{ upstreamEndpoint: \"ws://127.0.0.1:{echo}\", pingInterval: 1m, maxInactivity: 10m, enableCompression: true }} }}\n\
             \x20 Pass: {{ use: plugins.httpfw.actions.HttpAction, config: {{ upstreamEndpoint: \"http://127.0.0.1:{echo}\", timeout: 10m }} }}\n\
             routes:\n  Z: {{ gatewayPath: /z/*, action: Deflate }}\n  H: {{ gatewayPath: /h/*, action: Pass }}\n  R: {{ gatewayPath: /*, action: Ws }}\n"
        ),
    )
    .unwrap();
    let mut child = std::process::Command::new(&seam)
        .args(["run", config.to_str().unwrap(), "--workers", "1"])
        .env("RUST_LOG", "warn")
        .spawn()
        .expect("seam runs");
    wait_for_port(gateway, "seam");
    let nginx = Nginx::start(&dir, echo);
    let direct_url = format!("ws://127.0.0.1:{echo}/");
    let seam_url = format!("ws://127.0.0.1:{gateway}/");
    let paths = [
        ("echo server direct", direct_url.clone()),
        ("through seam's WebSocketAction (--workers 1)", seam_url.clone()),
        ("through seam's HttpAction, upgrade passed through (--workers 1)", format!("ws://127.0.0.1:{gateway}/h/")),
        ("through nginx (1 worker, `proxy_pass` with `Upgrade`)", format!("ws://127.0.0.1:{}/", nginx.port)),
    ];
    // Whose CPU each path costs: nothing in between, seam, seam, nginx (master and worker).
    let relays: [Vec<u32>; 4] = [Vec::new(), vec![child.id()], vec![child.id()], with_children(nginx.child.id())];
    let mut runs = vec![Vec::new(); paths.len()];
    // Per path: (messages, relay CPU ns, this process's CPU ns: the clients and the echo server).
    let mut cpu = vec![(0f64, 0u64, 0u64); paths.len()];
    for _ in 0..rounds {
        for (((runs, cpu), relay), (_, url)) in runs.iter_mut().zip(&mut cpu).zip(&relays).zip(&paths) {
            let (relay_before, own_before) =
                (relay.iter().map(|p| cpu_ns(*p)).sum::<u64>(), cpu_ns(std::process::id()));
            let run = drive(url, connections, seconds).await;
            cpu.0 += run.0 * seconds as f64;
            cpu.1 += relay.iter().map(|p| cpu_ns(*p)).sum::<u64>() - relay_before;
            cpu.2 += cpu_ns(std::process::id()) - own_before;
            runs.push(run);
        }
    }
    print_paths(&paths, &runs);
    println!(
        "\nCPU per message, all rounds together (`/proc/PID/task/*/schedstat`): the relay's own, and the \
         load generator's and echo server's (one process, one thread)."
    );
    println!("\n| path | relay µs/message | load generator + echo server µs/message |");
    println!("|---|---:|---:|");
    for ((name, _), (messages, relay, own)) in paths.iter().zip(&cpu) {
        let relay = if *relay == 0 { "—".to_owned() } else { format!("{:.2}", *relay as f64 / 1000.0 / messages) };
        println!("| {name} | {relay} | {:.2} |", *own as f64 / 1000.0 / messages);
    }
    // The same paths with a stream of messages on each connection: what a relay does with a
    // burst (several messages read at once) shows here, and not with one message at a time.
    let window = 8;
    let mut streamed = vec![Vec::new(); paths.len()];
    for _ in 0..rounds {
        for (runs, (_, url)) in streamed.iter_mut().zip(&paths) {
            runs.push(drive_with(url, connections, seconds, Message::Binary(vec![b'x'; 64].into()), window).await);
        }
    }
    println!("\n64-byte messages, {window} in flight on each connection:\n");
    print_paths(&paths, &streamed);
    drop(nginx);

    let (before, after) = idle_rss(child.id(), || async {
        tokio_tungstenite::connect_async(seam_url.clone()).await.expect("idle connection").0
    })
    .await;
    println!(
        "\n1000 idle WebSocket connections through seam: RSS {before} KiB → {after} KiB, {:.1} KiB per connection (both legs: client and upstream).",
        (after.saturating_sub(before)) as f64 / 1000.0
    );

    let text = json_text();
    let deflate_url = format!("ws://127.0.0.1:{gateway}/z/");
    let (mut direct, mut plain, mut deflated) = (Vec::new(), Vec::new(), Vec::new());
    for _ in 0..rounds {
        direct.push(drive_with(&direct_url, connections, seconds, Message::Text(text.clone().into()), 1).await);
        plain.push(drive_with(&seam_url, connections, seconds, Message::Text(text.clone().into()), 1).await);
        deflated.push(drive_deflate(&deflate_url, connections, seconds, &text).await);
    }
    let rate = |runs: &Vec<(f64, f64)>| median(runs.iter().map(|r| r.0).collect());
    let p99 = |runs: &Vec<(f64, f64)>| median(runs.iter().map(|r| r.1).collect());
    println!("\n{}-byte JSON text messages:\n", text.len());
    println!("| path | messages/s | p99 ms | vs direct |");
    println!("|---|---:|---:|---:|");
    for (label, runs) in [
        ("echo server direct", &direct),
        ("through seam, plain", &plain),
        ("through seam, permessage-deflate to the client (`enableCompression`)", &deflated),
    ] {
        println!("| {label} | {:.0} | {:.2} | {:.2}× |", rate(runs), p99(runs), rate(runs) / rate(&direct));
    }
    tokio::time::sleep(Duration::from_millis(500)).await;
    let (before, after) = idle_rss(child.id(), || async {
        let options = yawc::Options::default().with_compression_level(yawc::CompressionLevel::fast());
        yawc::WebSocket::connect(deflate_url.parse().unwrap()).with_options(options).await.expect("idle")
    })
    .await;
    println!(
        "\n1000 idle compressing connections through seam: RSS {before} KiB → {after} KiB, {:.1} KiB per connection.",
        (after.saturating_sub(before)) as f64 / 1000.0
    );
    let _ = child.kill();
    let _ = child.wait();
    let _ = std::fs::remove_dir_all(&dir);
}
