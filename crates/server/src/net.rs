//! Start-up and the acceptor: binds the listeners, starts the workers, hands each accepted
//! connection to the next worker in turn, and waits for SIGTERM/SIGINT or SHUTDOWN.

use std::io::{ErrorKind, Write};
use std::net::{IpAddr, SocketAddr};
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::Duration;

use mio::net::TcpListener;
use mio::{Events, Interest, Poll, Token, Waker};
use socket2::{Domain, Socket, Type};

use crate::config::{Config, Directive};
use crate::server::{Server, WorkerHandle, WorkerMessage};
use crate::worker::{Worker, WAKER_TOKEN};

const ACCEPTOR_WAKER: Token = Token(usize::MAX);

/// Binds one listening address. `optional` addresses (written `-addr` in `bind`) may fail.
fn listen(address: IpAddr, port: u16, backlog: i32) -> std::io::Result<TcpListener> {
    let socket_address = SocketAddr::new(address, port);
    let socket = Socket::new(Domain::for_address(socket_address), Type::STREAM, None)?;
    socket.set_reuse_address(true)?;
    if address.is_ipv6() {
        socket.set_only_v6(true)?;
    }
    socket.set_nonblocking(true)?;
    socket.bind(&socket_address.into())?;
    socket.listen(backlog)?;
    Ok(TcpListener::from_std(socket.into()))
}

fn bind_all(config: &Config) -> std::io::Result<Vec<TcpListener>> {
    let port = config.int(Directive::Port) as u16;
    let backlog = config.int(Directive::TcpBacklog) as i32;
    let mut listeners = Vec::new();
    for word in config.text(Directive::Bind).split_whitespace() {
        let (optional, address) = match word.strip_prefix('-') {
            Some(rest) => (true, rest),
            None => (false, word),
        };
        let ip: IpAddr = match address {
            "*" => "0.0.0.0".parse().expect("valid address"),
            "::*" => "::".parse().expect("valid address"),
            other => other.parse().map_err(|_| {
                std::io::Error::new(
                    ErrorKind::InvalidInput,
                    format!("Invalid bind address '{other}'"),
                )
            })?,
        };
        match listen(ip, port, backlog) {
            Ok(listener) => listeners.push(listener),
            Err(error) if optional => {
                crate::verbose!("Skipping optional bind address {address}: {error}");
            }
            Err(error) => {
                return Err(std::io::Error::new(
                    error.kind(),
                    format!("Failed listening on port {port} (tcp), aborting: {address}: {error}"),
                ))
            }
        }
    }
    Ok(listeners)
}

/// The number of workers: `worker-threads`, or one per CPU this process may run on.
fn worker_count(config: &Config) -> usize {
    match config.int(Directive::WorkerThreads) {
        0 => std::thread::available_parallelism().map_or(1, |n| n.get()),
        n => n as usize,
    }
}

/// Runs a server until it is shut down. Returns the process exit code.
pub fn run(config: Config) -> i32 {
    crate::log::set_threshold(config.int(Directive::Loglevel) as usize);
    if let Err(error) = crate::log::set_file(&config.text(Directive::Logfile)) {
        eprintln!("Can't open the log file: {error}");
        return 1;
    }
    let dir = config.text(Directive::Dir);
    if !dir.is_empty() {
        if let Err(error) = std::env::set_current_dir(&dir) {
            crate::warning!("Can't chdir to '{dir}': {error}");
            return 1;
        }
    }
    let workers = worker_count(&config);
    crate::notice!(
        "Tern {} (Valkey {} compatible) starting, pid={}, {} worker threads",
        env!("CARGO_PKG_VERSION"),
        crate::VALKEY_VERSION,
        std::process::id(),
        workers
    );
    let mut listeners = match bind_all(&config) {
        Ok(listeners) if !listeners.is_empty() => listeners,
        Ok(_) => {
            crate::warning!("No address to listen on, aborting");
            return 1;
        }
        Err(error) => {
            crate::warning!("{error}");
            return 1;
        }
    };
    let port = listeners[0]
        .local_addr()
        .map(|a| a.port())
        .unwrap_or(config.int(Directive::Port) as u16);
    let pidfile = config.text(Directive::Pidfile);
    if !pidfile.is_empty() {
        let _ = std::fs::write(&pidfile, format!("{}\n", std::process::id()));
    }
    let server = Arc::new(Server::new(config, workers, port));
    crate::lazyfree::start();

    let mut handles = Vec::new();
    let mut polls = Vec::new();
    for _ in 0..workers {
        let poll = Poll::new().expect("creating a poll instance");
        let waker = Waker::new(poll.registry(), WAKER_TOKEN).expect("creating a waker");
        handles.push(WorkerHandle {
            inbox: parking_lot::Mutex::new(Vec::new()),
            waker,
        });
        polls.push(poll);
    }
    let _ = server.workers.set(handles);
    let mut threads = Vec::new();
    for (id, poll) in polls.into_iter().enumerate() {
        let server = server.clone();
        threads.push(
            std::thread::Builder::new()
                .name(format!("tern-worker-{id}"))
                .spawn(move || Worker::new(id, server, poll).run())
                .expect("spawning a worker"),
        );
    }

    let mut poll = Poll::new().expect("creating a poll instance");
    let acceptor_waker = Arc::new(Waker::new(poll.registry(), ACCEPTOR_WAKER).expect("waker"));
    for (index, listener) in listeners.iter_mut().enumerate() {
        poll.registry()
            .register(listener, Token(index), Interest::READABLE)
            .expect("registering a listener");
    }
    watch_signals(server.clone(), acceptor_waker.clone());
    crate::evict::apply_settings(&server.config);
    crate::memory::mark_startup();
    crate::notice!("Ready to accept connections tcp");

    let mut events = Events::with_capacity(64);
    let mut next_worker = 0;
    while !server.shutdown.load(Ordering::SeqCst) {
        if let Err(error) = poll.poll(&mut events, Some(Duration::from_millis(500))) {
            if error.kind() != ErrorKind::Interrupted {
                crate::warning!("Acceptor poll failed: {error}");
            }
            continue;
        }
        for event in events.iter() {
            let Some(listener) = listeners.get(event.token().0) else {
                continue;
            };
            accept_all(&server, listener, &mut next_worker);
        }
    }
    for thread in threads {
        let _ = thread.join();
    }
    if !pidfile.is_empty() {
        let _ = std::fs::remove_file(&pidfile);
    }
    crate::warning!("Tern is now ready to exit, bye bye...");
    0
}

fn accept_all(server: &Server, listener: &TcpListener, next_worker: &mut usize) {
    loop {
        match listener.accept() {
            Ok((mut stream, addr)) => {
                server
                    .total_connections_received
                    .fetch_add(1, Ordering::Relaxed);
                let max = server.config.int(Directive::Maxclients) as usize;
                if server.connected_clients.load(Ordering::Relaxed) >= max {
                    let _ = stream.write(b"-ERR max number of clients reached\r\n");
                    server.rejected_connections.fetch_add(1, Ordering::Relaxed);
                    continue;
                }
                server.connected_clients.fetch_add(1, Ordering::Relaxed);
                let workers = server.workers();
                let mut worker = *next_worker % workers.len();
                *next_worker = next_worker.wrapping_add(1);
                // The worker running a script serves its connections only once the script is
                // over: a new client (come to SCRIPT KILL it, say) goes to another worker,
                // where it gets BUSY replies and can kill it.
                if workers.len() > 1 && server.scripting.running_on() == Some(worker) {
                    worker = (worker + 1) % workers.len();
                }
                let id = server.next_client_id.fetch_add(1, Ordering::Relaxed);
                workers[worker].send(WorkerMessage::Connection(stream, addr, id));
            }
            Err(error) if error.kind() == ErrorKind::WouldBlock => return,
            Err(error) if error.kind() == ErrorKind::Interrupted => continue,
            Err(error) => {
                crate::warning!("Accepting a connection failed: {error}");
                return;
            }
        }
    }
}

/// SIGTERM and SIGINT start a clean shutdown.
fn watch_signals(server: Arc<Server>, waker: Arc<Waker>) {
    use signal_hook::consts::{SIGINT, SIGTERM};
    let mut signals = match signal_hook::iterator::Signals::new([SIGTERM, SIGINT]) {
        Ok(signals) => signals,
        Err(error) => {
            crate::warning!("Can't install signal handlers: {error}");
            return;
        }
    };
    std::thread::Builder::new()
        .name("tern-signals".into())
        .spawn(move || {
            if let Some(signal) = signals.forever().next() {
                let name = if signal == SIGTERM {
                    "SIGTERM"
                } else {
                    "SIGINT"
                };
                crate::warning!("Received {name} scheduling shutdown...");
                server.request_shutdown();
                let _ = waker.wake();
            }
        })
        .expect("spawning the signal thread");
}
