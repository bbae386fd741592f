//! The state every worker shares: configuration, keyspace, the client registry, statistics and
//! the handles to wake other workers. Nothing here is locked on the data path except the stats of
//! the worker that runs the command (uncontended; other threads read it only for INFO).

use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, OnceLock};
use std::time::{Instant, SystemTime, UNIX_EPOCH};

use hashbrown::HashMap;
use hdrhistogram::Histogram;
use parking_lot::Mutex;
use tern_keyspace::Keyspace;

use crate::client::ClientShared;
use crate::config::{Config, Directive};
use crate::dispatch::Table;

/// Milliseconds since the Unix epoch.
pub fn unix_ms() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_millis() as u64)
        .unwrap_or(0)
}

/// Microseconds since the Unix epoch.
pub fn unix_us() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_micros() as u64)
        .unwrap_or(0)
}

/// A message to a worker, delivered through its inbox and waker.
pub enum WorkerMessage {
    /// A new connection for this worker to own, with its client id (given in accept order).
    Connection(mio::net::TcpStream, std::net::SocketAddr, u64),
    /// Close a client (CLIENT KILL from another worker, shutdown).
    Kill(u64),
    /// A line for a MONITOR client of this worker.
    Monitor(u64, Arc<[u8]>),
    /// CLIENT UNPAUSE or a pause's end: re-run held commands.
    Unpause,
    /// A waiting client's wait is over: its reply, then it runs commands again.
    Unblocked(u64, Vec<u8>),
    /// Published messages for subscribers of this worker, in publish order.
    PubSub(crate::pubsub::Batch),
}

pub struct WorkerHandle {
    pub inbox: Mutex<Vec<WorkerMessage>>,
    pub waker: mio::Waker,
}

impl WorkerHandle {
    pub fn send(&self, message: WorkerMessage) {
        self.inbox.lock().push(message);
        let _ = self.waker.wake();
    }
}

/// Per-command statistics of one worker.
pub struct CommandStats {
    pub calls: u64,
    pub usec: u64,
    pub rejected_calls: u64,
    pub failed_calls: u64,
    pub latency_us: Option<Histogram<u64>>,
}

/// One worker's statistics, written by that worker only.
#[derive(Default)]
pub struct WorkerStats {
    pub commands: Vec<CommandStats>,
    /// Error code (the first word of an error reply) → count.
    pub errors: HashMap<String, u64>,
    pub keyspace_hits: u64,
    pub keyspace_misses: u64,
    pub net_input_bytes: u64,
    pub net_output_bytes: u64,
    pub reads_processed: u64,
    pub writes_processed: u64,
    pub query_buffer_limit_disconnections: u64,
    pub output_buffer_limit_disconnections: u64,
}

impl WorkerStats {
    pub fn new(command_count: usize) -> WorkerStats {
        WorkerStats {
            commands: (0..command_count)
                .map(|_| CommandStats {
                    calls: 0,
                    usec: 0,
                    rejected_calls: 0,
                    failed_calls: 0,
                    latency_us: None,
                })
                .collect(),
            ..WorkerStats::default()
        }
    }

    pub fn count_error(&mut self, reply: &[u8]) {
        let code_end = reply
            .iter()
            .position(|&b| b == b' ' || b == b'\r')
            .unwrap_or(reply.len());
        let code = String::from_utf8_lossy(&reply[1.min(reply.len())..code_end]).into_owned();
        // Valkey caps the number of distinct error codes it tracks at 128.
        if self.errors.len() < 128 || self.errors.contains_key(&code) {
            *self.errors.entry(code).or_insert(0) += 1;
        }
    }
}

/// A pause set by CLIENT PAUSE.
#[derive(Default)]
pub struct Pause {
    /// Unix ms until which clients are paused; 0 when not paused.
    pub until_ms: AtomicU64,
    /// Whether only writes are held (WRITE) rather than all commands (ALL).
    pub writes_only: AtomicBool,
}

pub struct Server {
    pub config: Config,
    pub keyspace: Keyspace,
    pub table: Table,
    pub clients: Mutex<HashMap<u64, Arc<ClientShared>>>,
    pub next_client_id: AtomicU64,
    pub connected_clients: AtomicUsize,
    pub total_connections_received: AtomicU64,
    pub rejected_connections: AtomicU64,
    pub workers: OnceLock<Vec<WorkerHandle>>,
    pub worker_stats: Vec<Mutex<WorkerStats>>,
    pub monitors: Mutex<Vec<(usize, u64)>>,
    pub monitor_count: AtomicUsize,
    pub pause: Pause,
    pub blocking: crate::blocking::Blocking,
    pub watches: crate::watch::Watches,
    pub pubsub: crate::pubsub::Registry,
    pub lanes: crate::atomic::Lanes,
    pub shutdown: AtomicBool,
    /// Whether the active expiry cycle runs (DEBUG SET-ACTIVE-EXPIRE).
    pub active_expire: AtomicBool,
    pub started: Instant,
    pub started_unix_ms: u64,
    pub run_id: String,
    pub tcp_port: u16,
    pub executable: String,
    pub config_file: String,
    /// Instantaneous ops/sec samples, filled by worker 0's cron.
    pub ops_samples: Mutex<OpsSampler>,
}

#[derive(Default)]
pub struct OpsSampler {
    last_ms: u64,
    last_commands: u64,
    samples: [u64; 16],
    next: usize,
}

impl OpsSampler {
    pub fn sample(&mut self, now_ms: u64, total_commands: u64) {
        if self.last_ms != 0 && now_ms > self.last_ms {
            let per_sec = (total_commands - self.last_commands.min(total_commands)) * 1000
                / (now_ms - self.last_ms);
            self.samples[self.next] = per_sec;
            self.next = (self.next + 1) % self.samples.len();
        }
        self.last_ms = now_ms;
        self.last_commands = total_commands;
    }

    pub fn per_second(&self) -> u64 {
        self.samples.iter().sum::<u64>() / self.samples.len() as u64
    }
}

impl Server {
    pub fn new(config: Config, workers: usize, tcp_port: u16) -> Server {
        let databases = config.int(Directive::Databases) as usize;
        let table = Table::build();
        let command_count = table.commands.len();
        let mut run_id = String::with_capacity(40);
        for _ in 0..40 {
            run_id.push(char::from_digit(rand::random_range(0..16u32), 16).unwrap_or('0'));
        }
        Server {
            keyspace: Keyspace::new(databases),
            table,
            clients: Mutex::new(HashMap::new()),
            next_client_id: AtomicU64::new(1),
            connected_clients: AtomicUsize::new(0),
            total_connections_received: AtomicU64::new(0),
            rejected_connections: AtomicU64::new(0),
            workers: OnceLock::new(),
            worker_stats: (0..workers)
                .map(|_| Mutex::new(WorkerStats::new(command_count)))
                .collect(),
            monitors: Mutex::new(Vec::new()),
            monitor_count: AtomicUsize::new(0),
            pause: Pause::default(),
            blocking: Default::default(),
            watches: Default::default(),
            pubsub: Default::default(),
            lanes: crate::atomic::Lanes::new(workers),
            shutdown: AtomicBool::new(false),
            active_expire: AtomicBool::new(true),
            started: Instant::now(),
            started_unix_ms: unix_ms(),
            run_id,
            tcp_port,
            executable: std::env::current_exe()
                .map(|p| p.display().to_string())
                .unwrap_or_default(),
            config_file: config
                .file
                .as_ref()
                .map(|p| p.display().to_string())
                .unwrap_or_default(),
            config,
            ops_samples: Mutex::new(OpsSampler::default()),
        }
    }

    pub fn workers(&self) -> &[WorkerHandle] {
        self.workers.get().map(Vec::as_slice).unwrap_or(&[])
    }

    pub fn wake_all(&self, message: impl Fn() -> WorkerMessage) {
        for worker in self.workers() {
            worker.send(message());
        }
    }

    pub fn request_shutdown(&self) {
        self.shutdown.store(true, Ordering::SeqCst);
        for worker in self.workers() {
            let _ = worker.waker.wake();
        }
    }

    pub fn total_commands(&self) -> u64 {
        self.worker_stats
            .iter()
            .map(|stats| stats.lock().commands.iter().map(|c| c.calls).sum::<u64>())
            .sum()
    }

    /// Whether commands are currently held by CLIENT PAUSE; returns (paused, writes_only).
    #[inline]
    pub fn paused(&self, now_ms: u64) -> Option<bool> {
        let until = self.pause.until_ms.load(Ordering::Relaxed);
        (until != 0 && now_ms < until).then(|| self.pause.writes_only.load(Ordering::Relaxed))
    }

    pub fn requirepass(&self) -> Option<String> {
        let pass = self.config.text(Directive::Requirepass);
        (!pass.is_empty()).then_some(pass)
    }
}
