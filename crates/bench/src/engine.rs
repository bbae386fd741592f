//! The load engine: a few OS threads, each driving many non-blocking connections with one
//! `mio` event loop.
//!
//! Per connection and request the hot path is: encode the request into the connection's reused
//! output buffer, one `write` for everything that connection has to send, one `read` into the
//! thread's one read buffer when the socket is readable, and the reply scanner over what came
//! back. Sockets are registered once for both readiness kinds (edge triggered), so no
//! re-registration happens per request; a read shorter than the buffer means the socket was
//! drained, so no extra read is spent to see `EWOULDBLOCK`. Nothing on this path allocates once
//! the buffers and in-flight queues have reached their working size.
//!
//! A request whose template is a sequence of commands is sent in one piece and owes one reply
//! per command; it is recorded once, when its last reply arrives, and is an error when any of
//! its replies is one (the first error names its kind). In cluster mode a redirect of any of its
//! commands sends the whole sequence again, after its last reply, to the node named.
//!
//! With `--rate` each thread follows a [`Schedule`]: request k is due at a fixed time and goes
//! to connection k mod C; a timerfd wakes the loop when the next one is due, and its latency is
//! counted from that time.

use std::collections::VecDeque;
use std::io::{ErrorKind, Read, Write};
use std::net::{SocketAddr, ToSocketAddrs};
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::mpsc;
use std::sync::{Arc, Barrier};
use std::time::Duration;

use mio::net::TcpStream;
use mio::unix::SourceFd;
use mio::{Events, Interest, Poll, Registry, Token};
use rand::rngs::SmallRng;
use rand::{Rng, SeedableRng};

use crate::cluster::{self, Redirect, SlotMap};
use crate::cpu::{self, CpuTime};
use crate::keys::KeyGen;
use crate::rate::Schedule;
use crate::reply::{decode, Done, Scanner, Value, ERROR_CAPTURE};
use crate::stats::{self, ErrorCounts, Hist, Interval, ThreadStats, TimePoint, Timeline};
use crate::workload::{Load, Stop};

const TIMER: Token = Token(usize::MAX);
const NONE: u32 = u32::MAX;
const READ_BUFFER: usize = 64 * 1024;
const MAX_REDIRECTS: u8 = 5;
/// How long replies are waited for after the run stops issuing.
const GRACE_NS: u64 = 5_000_000_000;
const ASKING: &[u8] = b"*1\r\n$6\r\nASKING\r\n";

/// The figures of one run against one endpoint.
pub struct RunResult {
    pub endpoint: String,
    pub names: Vec<String>,
    /// Per command type, and all together.
    pub hists: Vec<Hist>,
    pub all: Hist,
    pub ok: Vec<u64>,
    pub errors: Vec<u64>,
    pub error_kinds: ErrorCounts,
    pub moved: u64,
    pub ask: u64,
    /// Connections that broke during the run.
    pub broken: u64,
    /// Requests that were due (with `--rate`) but never sent because the run ended.
    pub unsent: u64,
    pub timeline: Vec<TimePoint>,
    pub elapsed_s: f64,
    pub client_cpu: CpuTime,
    pub server_cpu_ns: Option<u64>,
}

impl RunResult {
    pub fn completed(&self) -> u64 {
        self.ok.iter().sum::<u64>() + self.errors.iter().sum::<u64>()
    }
    pub fn error_count(&self) -> u64 {
        self.error_kinds.total()
    }
    pub fn ops_per_sec(&self) -> f64 {
        if self.elapsed_s > 0.0 {
            self.completed() as f64 / self.elapsed_s
        } else {
            0.0
        }
    }
}

enum Msg {
    Interval(Interval),
    Done(Box<ThreadOut>),
}

struct ThreadOut {
    stats: ThreadStats,
    unsent: u64,
    end_ns: u64,
}

/// Run `load` against `endpoint` (`host:port`). `server_pid`: sample that process's CPU time
/// before and after. `label` prefixes the progress line.
pub fn run(
    load: &Load,
    endpoint: &str,
    server_pid: Option<u32>,
    label: &str,
) -> Result<RunResult, String> {
    let map = if load.cluster {
        let map = fetch_slot_map(load, endpoint)?;
        if load.progress {
            let counts = map.slots_per_node();
            let nodes: Vec<String> = map
                .nodes
                .iter()
                .zip(&counts)
                .map(|(n, c)| format!("{n} ({c} slots)"))
                .collect();
            eprintln!("cluster: {}", nodes.join(", "));
        }
        map
    } else {
        SlotMap::single(endpoint.to_string())
    };
    let names = load.workload.names();
    let kinds = names.len();
    let shared = Arc::new(Shared {
        load: load.clone(),
        map,
        barrier: Barrier::new(load.threads + 1),
        failed: AtomicBool::new(false),
        failure: std::sync::Mutex::new(None),
        start_ns: AtomicU64::new(0),
    });
    let (tx, rx) = mpsc::channel();
    let mut handles = Vec::new();
    for t in 0..load.threads {
        let shared = shared.clone();
        let tx = tx.clone();
        let handle = std::thread::Builder::new()
            .name(format!("bench-{t}"))
            .spawn(move || thread_main(t, shared, tx))
            .map_err(|e| format!("cannot start a thread: {e}"))?;
        handles.push(handle);
    }
    drop(tx);

    // All connected (or failed): take the starting figures and release the threads.
    shared.barrier.wait();
    let failed = shared.failed.load(Ordering::SeqCst);
    let cpu0 = cpu::self_cpu();
    let server0 = match server_pid {
        Some(pid) if !failed => Some(cpu::process_cpu_ns(pid)?),
        _ => None,
    };
    let start_ns = cpu::now_ns();
    shared.start_ns.store(start_ns, Ordering::SeqCst);
    shared.barrier.wait();
    if failed {
        for h in handles {
            let _ = h.join();
        }
        let why = shared.failure.lock().unwrap().take();
        return Err(why.unwrap_or_else(|| "connection failed".into()));
    }

    let mut timeline = Timeline::new();
    let mut outs: Vec<ThreadOut> = Vec::new();
    let mut next_tick = start_ns + 1_000_000_000;
    let tty = load.progress && unsafe { libc::isatty(2) } == 1;
    let mut printed = false;
    while outs.len() < load.threads {
        let now = cpu::now_ns();
        // A little after each second, so every thread has shipped that second.
        let wake = next_tick + 50_000_000;
        let wait = Duration::from_nanos(wake.saturating_sub(now));
        match rx.recv_timeout(wait) {
            Ok(Msg::Interval(iv)) => timeline.add(iv),
            Ok(Msg::Done(out)) => outs.push(*out),
            Err(mpsc::RecvTimeoutError::Timeout) => {}
            Err(mpsc::RecvTimeoutError::Disconnected) => break,
        }
        if cpu::now_ns() >= wake {
            let sec = (next_tick - start_ns) / 1_000_000_000;
            if load.progress {
                let ops = timeline.ops_in(sec - 1).unwrap_or(0);
                let p99 = if timeline.cumulative.is_empty() {
                    0.0
                } else {
                    stats::us(timeline.cumulative.value_at_quantile(0.99)) / 1000.0
                };
                let line = format!(
                    "{label}[{sec:>4}s] {ops:>10} ops/s  p99 so far {p99:.3} ms  errors {}",
                    timeline.errors
                );
                if tty {
                    eprint!("\r{line}\x1b[K");
                    printed = true;
                } else {
                    eprintln!("{line}");
                }
            }
            next_tick += 1_000_000_000;
        }
    }
    if printed {
        eprintln!();
    }
    // Late intervals (the final partial ones) may still be queued.
    while let Ok(msg) = rx.try_recv() {
        match msg {
            Msg::Interval(iv) => timeline.add(iv),
            Msg::Done(out) => outs.push(*out),
        }
    }
    let cpu1 = cpu::self_cpu();
    let server1 = match server_pid {
        Some(pid) => Some(cpu::process_cpu_ns(pid)?),
        None => None,
    };
    for h in handles {
        let _ = h.join();
    }
    if outs.len() < load.threads {
        return Err("a load thread stopped unexpectedly".into());
    }

    let end_ns = outs.iter().map(|o| o.end_ns).max().unwrap_or(start_ns);
    let elapsed_s = (end_ns.saturating_sub(start_ns)) as f64 / 1e9;
    let mut hists: Vec<Hist> = (0..kinds).map(|_| stats::new_hist()).collect();
    let mut all = stats::new_hist();
    let mut ok = vec![0; kinds];
    let mut errors = vec![0; kinds];
    let mut error_kinds = ErrorCounts::default();
    let (mut moved, mut ask, mut unsent, mut broken) = (0, 0, 0, 0);
    for o in &outs {
        for k in 0..kinds {
            stats::merge(&mut hists[k], &o.stats.hists[k]);
            stats::merge(&mut all, &o.stats.hists[k]);
            ok[k] += o.stats.ok[k];
            errors[k] += o.stats.errors[k];
        }
        error_kinds.merge(&o.stats.error_kinds);
        moved += o.stats.moved;
        ask += o.stats.ask;
        broken += o.stats.broken;
        unsent += o.unsent;
    }
    Ok(RunResult {
        endpoint: endpoint.to_string(),
        names,
        hists,
        all,
        ok,
        errors,
        error_kinds,
        moved,
        ask,
        broken,
        unsent,
        timeline: timeline.points(elapsed_s),
        elapsed_s,
        client_cpu: cpu1.since(&cpu0),
        server_cpu_ns: match (server0, server1) {
            (Some(a), Some(b)) => Some(b.saturating_sub(a)),
            _ => None,
        },
    })
}

struct Shared {
    load: Load,
    map: SlotMap,
    barrier: Barrier,
    failed: AtomicBool,
    failure: std::sync::Mutex<Option<String>>,
    start_ns: AtomicU64,
}

fn thread_main(index: usize, shared: Arc<Shared>, tx: mpsc::Sender<Msg>) {
    // Timers with 1 µs slack instead of the default 50 µs: `--rate` wants punctual wake-ups.
    unsafe { libc::prctl(libc::PR_SET_TIMERSLACK, 1000 as libc::c_ulong) };
    let setup = Engine::new(index, &shared);
    if let Err(e) = &setup {
        if !shared.failed.swap(true, Ordering::SeqCst) {
            *shared.failure.lock().unwrap() = Some(e.clone());
        }
    }
    shared.barrier.wait();
    shared.barrier.wait();
    let (Ok((mut engine, mut poll)), false) = (setup, shared.failed.load(Ordering::SeqCst)) else {
        return;
    };
    engine.start_ns = shared.start_ns.load(Ordering::SeqCst);
    engine.main_loop(&mut poll, &tx);
    let out = ThreadOut {
        unsent: engine.unsent + engine.clients.iter().map(|c| c.owed).sum::<u64>(),
        end_ns: engine.end_ns,
        stats: engine.stats,
    };
    let _ = tx.send(Msg::Done(Box::new(out)));
}

/// A request in flight: enough to record it and, after a redirect, to send it again.
#[derive(Clone, Copy, Debug)]
struct Pending {
    intended: u64,
    key: u64,
    data_len: u32,
    kind: u16,
    /// Replies still owed (a sequence template owes one per command).
    left: u16,
    redirects: u8,
    /// The `ASKING` that precedes an asked request (its reply is not counted).
    asking: bool,
    /// One of its replies was an error (already counted by kind).
    failed: bool,
    /// One of its replies redirected it: the node and whether to ask, for when the last
    /// reply is in.
    to: Option<(u16, bool)>,
}

struct Conn {
    sock: TcpStream,
    client: u32,
    node: u16,
    out: Vec<u8>,
    out_pos: usize,
    scanner: Scanner,
    pending: VecDeque<Pending>,
    dirty: bool,
    dead: bool,
}

struct Client {
    /// Connection index per node (`NONE`: not connected yet).
    conns: Vec<u32>,
    inflight: u32,
    /// `--rate`: requests due but not sent yet, the oldest being request `next_owed_k`.
    owed: u64,
    next_owed_k: u64,
    dead: bool,
}

struct Engine {
    load: Load,
    index: usize,
    registry: Registry,
    conns: Vec<Conn>,
    clients: Vec<Client>,
    dead_clients: usize,
    map: SlotMap,
    rng: SmallRng,
    keys: KeyGen,
    data: Vec<u8>,
    stats: ThreadStats,
    readbuf: Vec<u8>,
    dirty: Vec<u32>,
    issued: u64,
    budget: u64,
    stopping: bool,
    stop_ns: u64,
    start_ns: u64,
    end_ns: u64,
    inflight: u64,
    unsent: u64,
    sched: Option<Schedule>,
    next_k: u64,
    timer: Option<OwnedFd>,
    timer_armed_for: u64,
}

impl Engine {
    fn new(index: usize, shared: &Shared) -> Result<(Engine, Poll), String> {
        let load = shared.load.clone();
        let poll = Poll::new().map_err(|e| format!("poll: {e}"))?;
        let registry = poll
            .registry()
            .try_clone()
            .map_err(|e| format!("poll: {e}"))?;
        let mut rng = SmallRng::seed_from_u64(load.seed.wrapping_add(index as u64 * 0x9E37_79B9));
        let data: Vec<u8> = (0..load.workload.data_max.max(1))
            .map(|_| b"abcdefghijklmnopqrstuvwxyz0123456789"[rng.random_range(0..36)])
            .collect();
        let budget = match load.stop {
            Stop::Requests(n) => load.share(n, index),
            Stop::Duration(_) => u64::MAX,
        };
        let nodes = shared.map.nodes.len();
        let mut engine = Engine {
            keys: KeyGen::new(
                &load.workload.distribution,
                load.workload.keyspace,
                index,
                load.threads,
            ),
            stats: ThreadStats::new(load.workload.templates.len()),
            index,
            registry,
            conns: Vec::new(),
            clients: Vec::new(),
            dead_clients: 0,
            map: shared.map.clone(),
            rng,
            data,
            readbuf: vec![0; READ_BUFFER],
            dirty: Vec::with_capacity(64),
            issued: 0,
            budget,
            stopping: budget == 0,
            stop_ns: u64::MAX,
            start_ns: 0,
            end_ns: 0,
            inflight: 0,
            unsent: 0,
            sched: None,
            next_k: 0,
            timer: None,
            timer_armed_for: 0,
            load,
        };
        for c in 0..engine.load.connections {
            engine.clients.push(Client {
                conns: vec![NONE; nodes],
                inflight: 0,
                owed: 0,
                next_owed_k: 0,
                dead: false,
            });
            // Connect to every node up front so the first requests do not wait for it.
            for node in 0..nodes {
                engine.connect(c as u32, node as u16)?;
            }
        }
        if engine.load.rate.is_some() {
            // SAFETY: plain syscall; the fd is owned right after.
            let fd = unsafe {
                libc::timerfd_create(
                    libc::CLOCK_MONOTONIC,
                    libc::TFD_NONBLOCK | libc::TFD_CLOEXEC,
                )
            };
            if fd < 0 {
                return Err(format!(
                    "timerfd_create: {}",
                    std::io::Error::last_os_error()
                ));
            }
            let fd = unsafe { OwnedFd::from_raw_fd(fd) };
            engine
                .registry
                .register(&mut SourceFd(&fd.as_raw_fd()), TIMER, Interest::READABLE)
                .map_err(|e| format!("register timer: {e}"))?;
            engine.timer = Some(fd);
        }
        Ok((engine, poll))
    }

    /// Open, greet and register a connection of client `c` to `node`.
    fn connect(&mut self, c: u32, node: u16) -> Result<u32, String> {
        let addr = self.map.nodes[node as usize].clone();
        let std_sock = open(&addr, &self.load)?;
        std_sock
            .set_nonblocking(true)
            .map_err(|e| format!("{addr}: {e}"))?;
        let mut sock = TcpStream::from_std(std_sock);
        let ci = self.conns.len() as u32;
        self.registry
            .register(
                &mut sock,
                Token(ci as usize),
                Interest::READABLE | Interest::WRITABLE,
            )
            .map_err(|e| format!("register: {e}"))?;
        self.conns.push(Conn {
            sock,
            client: c,
            node,
            out: Vec::with_capacity(4096),
            out_pos: 0,
            scanner: Scanner::new(),
            pending: VecDeque::with_capacity(self.load.pipeline.max(16) * 2),
            dirty: false,
            dead: false,
        });
        let client = &mut self.clients[c as usize];
        if client.conns.len() <= node as usize {
            client.conns.resize(node as usize + 1, NONE);
        }
        client.conns[node as usize] = ci;
        Ok(ci)
    }

    fn main_loop(&mut self, poll: &mut Poll, tx: &mpsc::Sender<Msg>) {
        let mut events = Events::with_capacity(1024);
        let mut interval_index = 0u64;
        let mut next_interval = self.start_ns + 1_000_000_000;
        if let Stop::Duration(d) = self.load.stop {
            self.stop_ns = self.start_ns + d.as_nanos() as u64;
        }
        if let Some(rate) = self.load.rate {
            self.sched = Some(Schedule::new(
                self.start_ns,
                rate,
                self.index,
                self.load.threads,
            ));
        }
        let now = cpu::now_ns();
        if self.sched.is_none() {
            for c in 0..self.clients.len() {
                self.fill(c, now);
            }
            self.flush_dirty();
        }
        let mut stopped_at = if self.stopping { now } else { u64::MAX };
        loop {
            let now = cpu::now_ns();
            if !self.stopping && now >= self.stop_ns {
                self.stopping = true;
            }
            if self.stopping && stopped_at == u64::MAX {
                stopped_at = now;
            }
            if self.sched.is_some() {
                self.generate_due(now);
                self.flush_dirty();
            }
            if self.stopping && (self.inflight == 0 || now > stopped_at.saturating_add(GRACE_NS)) {
                break;
            }
            if self.dead_clients == self.clients.len() {
                break;
            }
            // Wake for the next interval boundary, the end of the run, the grace period, and
            // (through the timerfd) the next request due.
            let mut wake = next_interval;
            if stopped_at == u64::MAX {
                wake = wake.min(self.stop_ns);
            } else {
                wake = wake.min(stopped_at + GRACE_NS);
            }
            if let Some(s) = self.sched {
                if !self.stopping {
                    self.arm_timer(s.due(self.next_k));
                }
            }
            let timeout = Duration::from_nanos(wake.saturating_sub(now).clamp(0, 100_000_000));
            if let Err(e) = poll.poll(&mut events, Some(timeout)) {
                if e.kind() == ErrorKind::Interrupted {
                    continue;
                }
                eprintln!("tern bench: poll: {e}");
                break;
            }
            for ev in events.iter() {
                let token = ev.token();
                if token == TIMER {
                    self.drain_timer();
                    continue;
                }
                let ci = token.0;
                let now = cpu::now_ns();
                if ev.is_readable() || ev.is_read_closed() || ev.is_error() {
                    self.read(ci, now);
                }
                if ev.is_writable() && !self.conns[ci].dead {
                    self.write(ci);
                }
                self.flush_dirty();
            }
            let now = cpu::now_ns();
            while now >= next_interval {
                let _ = tx.send(Msg::Interval(self.stats.take_interval(interval_index)));
                interval_index += 1;
                next_interval += 1_000_000_000;
            }
        }
        // Whatever is still in flight after the grace period timed out.
        for ci in 0..self.conns.len() {
            let c = self.conns[ci].client as usize;
            while let Some(p) = self.conns[ci].pending.pop_front() {
                self.fail_request(c, p, b"timeout");
            }
        }
        self.end_ns = cpu::now_ns();
        let _ = tx.send(Msg::Interval(self.stats.take_interval(interval_index)));
    }

    /// `--rate`: hand the requests due by `now` to their connections and send what can go.
    fn generate_due(&mut self, now: u64) {
        let Some(s) = self.sched else { return };
        if self.stopping {
            return;
        }
        let upto = s.due_count(now).min(self.budget);
        let n = self.clients.len() as u64;
        while self.next_k < upto {
            let k = self.next_k;
            self.next_k += 1;
            let c = (k % n) as usize;
            let client = &mut self.clients[c];
            if client.dead {
                self.unsent += 1;
                continue;
            }
            if client.owed == 0 {
                client.next_owed_k = k;
            }
            client.owed += 1;
            self.issued += 1;
            self.fill(c, now);
        }
        if self.next_k >= self.budget {
            self.stopping = true;
        }
    }

    fn arm_timer(&mut self, at_ns: u64) {
        let Some(fd) = &self.timer else { return };
        if at_ns == self.timer_armed_for {
            return;
        }
        self.timer_armed_for = at_ns;
        let spec = libc::itimerspec {
            it_interval: libc::timespec {
                tv_sec: 0,
                tv_nsec: 0,
            },
            it_value: libc::timespec {
                tv_sec: (at_ns / 1_000_000_000) as libc::time_t,
                tv_nsec: (at_ns % 1_000_000_000) as libc::c_long,
            },
        };
        // SAFETY: a valid timerfd and itimerspec.
        unsafe {
            libc::timerfd_settime(
                fd.as_raw_fd(),
                libc::TFD_TIMER_ABSTIME,
                &spec,
                std::ptr::null_mut(),
            )
        };
    }

    fn drain_timer(&mut self) {
        if let Some(fd) = &self.timer {
            let mut buf = [0u8; 8];
            // SAFETY: reading 8 bytes into an 8-byte buffer.
            unsafe { libc::read(fd.as_raw_fd(), buf.as_mut_ptr().cast(), 8) };
            // The edge-triggered registration fires again only after a new expiry: re-arm.
            self.timer_armed_for = 0;
        }
    }

    /// Send what client `c` may send now: up to the pipeline depth, and with `--rate` only what
    /// is due.
    #[inline]
    fn fill(&mut self, c: usize, now: u64) {
        let depth = self.load.pipeline as u32;
        if let Some(s) = self.sched {
            let n = self.clients.len() as u64;
            loop {
                let client = &mut self.clients[c];
                if client.dead || client.owed == 0 || client.inflight >= depth {
                    return;
                }
                let k = client.next_owed_k;
                client.owed -= 1;
                client.next_owed_k += n;
                self.issue(c, s.due(k));
            }
        } else {
            loop {
                let client = &self.clients[c];
                if client.dead || client.inflight >= depth || self.stopping {
                    return;
                }
                if self.issued >= self.budget {
                    self.stopping = true;
                    return;
                }
                self.issued += 1;
                self.issue(c, now);
            }
        }
    }

    /// A new request for client `c`, counted from `intended`.
    #[inline]
    fn issue(&mut self, c: usize, intended: u64) {
        let wl = &self.load.workload;
        let kind = wl.pick(&mut self.rng);
        let key = self.keys.next(&mut self.rng);
        let data_len = wl.data_len(&mut self.rng);
        let p = Pending {
            intended,
            key,
            data_len: data_len as u32,
            kind: kind as u16,
            left: 0,
            redirects: 0,
            asking: false,
            failed: false,
            to: None,
        };
        self.clients[c].inflight += 1;
        self.inflight += 1;
        self.send(c, p, None);
    }

    /// Encode `p` onto the right connection of client `c` (`to`: a node chosen by a redirect,
    /// and whether to send `ASKING` first).
    #[inline]
    fn send(&mut self, c: usize, mut p: Pending, to: Option<(u16, bool)>) {
        let mut kbuf = [0u8; 128];
        let klen = self.load.workload.key(p.key, &mut kbuf);
        let (node, asking) = match to {
            Some(x) => x,
            None if self.load.cluster => {
                let t = &self.load.workload.templates[p.kind as usize];
                (
                    t.slot(&kbuf[..klen]).map_or(0, |s| self.map.owner(s)),
                    false,
                )
            }
            None => (0, false),
        };
        let mut ci = self.clients[c]
            .conns
            .get(node as usize)
            .copied()
            .unwrap_or(NONE);
        if ci == NONE {
            match self.connect(c as u32, node) {
                Ok(i) => ci = i,
                Err(_) => return self.fail_request(c, p, b"connection"),
            }
        }
        if self.conns[ci as usize].dead {
            return self.fail_request(c, p, b"connection");
        }
        let t = &self.load.workload.templates[p.kind as usize];
        let conn = &mut self.conns[ci as usize];
        p.failed = false;
        p.to = None;
        if asking {
            conn.out.extend_from_slice(ASKING);
            conn.pending.push_back(Pending {
                asking: true,
                left: 1,
                ..p
            });
        }
        p.left = t.replies;
        t.encode(
            &mut conn.out,
            &kbuf[..klen],
            &self.data[..p.data_len as usize],
        );
        conn.pending.push_back(p);
        if !conn.dirty {
            conn.dirty = true;
            self.dirty.push(ci);
        }
    }

    /// A request that cannot complete: counted as an error of `kind`, without a latency.
    fn fail_request(&mut self, c: usize, p: Pending, kind: &[u8]) {
        if p.asking {
            return;
        }
        // A sequence that already had an error reply was counted by that error's kind.
        if !p.failed {
            self.stats.error_kinds.add_n(kind, 1);
        }
        self.stats.record_failure(p.kind as usize);
        self.clients[c].inflight -= 1;
        self.inflight -= 1;
    }

    fn flush_dirty(&mut self) {
        if self.dirty.is_empty() {
            return;
        }
        let mut dirty = std::mem::take(&mut self.dirty);
        for &ci in &dirty {
            self.conns[ci as usize].dirty = false;
            self.write(ci as usize);
        }
        dirty.clear();
        self.dirty = dirty;
    }

    fn write(&mut self, ci: usize) {
        let conn = &mut self.conns[ci];
        while conn.out_pos < conn.out.len() {
            match conn.sock.write(&conn.out[conn.out_pos..]) {
                Ok(0) => return self.kill(ci, b"connection"),
                Ok(n) => conn.out_pos += n,
                // The writable edge comes when the socket has room again.
                Err(e) if e.kind() == ErrorKind::WouldBlock => return,
                Err(e) if e.kind() == ErrorKind::Interrupted => {}
                Err(_) => return self.kill(ci, b"connection"),
            }
        }
        conn.out.clear();
        conn.out_pos = 0;
    }

    fn read(&mut self, ci: usize, now: u64) {
        let mut buf = std::mem::take(&mut self.readbuf);
        loop {
            if self.conns[ci].dead {
                break;
            }
            let n = match self.conns[ci].sock.read(&mut buf) {
                Ok(0) => {
                    self.kill(ci, b"connection");
                    break;
                }
                Ok(n) => n,
                Err(e) if e.kind() == ErrorKind::WouldBlock => break,
                Err(e) if e.kind() == ErrorKind::Interrupted => continue,
                Err(_) => {
                    self.kill(ci, b"connection");
                    break;
                }
            };
            let mut pos = 0;
            while pos < n {
                match self.conns[ci].scanner.feed(&buf[pos..n]) {
                    Ok((used, done)) => {
                        pos += used;
                        if let Some(done) = done {
                            self.on_reply(ci, done, now);
                        }
                    }
                    Err(_) => {
                        self.kill(ci, b"protocol");
                        break;
                    }
                }
            }
            // A short read drained the socket; the next byte raises a new readable edge.
            if n < buf.len() {
                break;
            }
        }
        self.readbuf = buf;
        let c = self.conns[ci].client as usize;
        self.fill(c, now);
    }

    #[inline]
    fn on_reply(&mut self, ci: usize, done: Done, now: u64) {
        let error = match done {
            Done::Push => return,
            Done::Reply { error } => error,
        };
        let conn = &mut self.conns[ci];
        let c = conn.client as usize;
        let Some(mut p) = conn.pending.front().copied() else {
            // A reply to nothing: the stream is out of step.
            self.kill(ci, b"protocol");
            return;
        };
        // The first error of a request decides its fate: a redirect, or an error of its kind.
        if error && !p.asking && !p.failed && p.to.is_none() {
            let to = if self.load.cluster {
                self.redirect_target(ci)
            } else {
                None
            };
            match to {
                Some(to) => p.to = Some(to),
                None => {
                    p.failed = true;
                    self.stats
                        .error_kinds
                        .add_reply(self.conns[ci].scanner.error_text());
                }
            }
        }
        p.left -= 1;
        let conn = &mut self.conns[ci];
        if p.left > 0 {
            *conn.pending.front_mut().expect("just read") = p;
            return;
        }
        conn.pending.pop_front();
        if p.asking {
            // The asked command's own reply tells whether it worked.
            return;
        }
        if let Some(to) = p.to {
            p.redirects += 1;
            if p.redirects > MAX_REDIRECTS {
                self.fail_request(c, p, b"redirect-loop");
            } else {
                self.send(c, p, Some(to));
            }
            return;
        }
        self.clients[c].inflight -= 1;
        self.inflight -= 1;
        self.stats
            .record(p.kind as usize, now.saturating_sub(p.intended), p.failed);
    }

    /// The node a `MOVED`/`ASK` in the error just scanned on `ci` names, and whether to ask
    /// (counted, and a `MOVED` updates the slot map). `None` if it was another error.
    fn redirect_target(&mut self, ci: usize) -> Option<(u16, bool)> {
        let mut text = [0u8; ERROR_CAPTURE];
        let src = self.conns[ci].scanner.error_text();
        text[..src.len()].copy_from_slice(src);
        let text = &text[..src.len()];
        let r = cluster::parse_redirect(text)?;
        let (slot, addr, ask) = match r {
            Redirect::Moved { slot, addr } => (slot, addr, false),
            Redirect::Ask { slot, addr } => (slot, addr, true),
        };
        // `:port` with no host: the host of the node that answered.
        let full;
        let addr = if addr.starts_with(':') {
            let from = &self.map.nodes[self.conns[ci].node as usize];
            let host = from.rsplit_once(':').map_or("", |(h, _)| h);
            full = format!("{host}{addr}");
            full.as_str()
        } else {
            addr
        };
        let node = if ask {
            self.stats.ask += 1;
            self.map.node_index(addr)
        } else {
            self.stats.moved += 1;
            self.map.moved(slot, addr)
        };
        Some((node, ask))
    }

    /// A connection broke: its requests fail as `kind` and its client stops.
    fn kill(&mut self, ci: usize, kind: &[u8]) {
        let conn = &mut self.conns[ci];
        if conn.dead {
            return;
        }
        conn.dead = true;
        self.stats.broken += 1;
        let _ = self.registry.deregister(&mut conn.sock);
        let c = conn.client as usize;
        conn.out.clear();
        conn.out_pos = 0;
        while let Some(p) = self.conns[ci].pending.pop_front() {
            self.fail_request(c, p, kind);
        }
        if !self.clients[c].dead {
            self.dead_clients += 1;
        }
        self.clients[c].dead = true;
        self.unsent += self.clients[c].owed;
        self.clients[c].owed = 0;
    }
}

/// Resolve `host:port` (IPv6 in brackets, or bare with the port after the last colon).
pub fn resolve(addr: &str) -> Result<SocketAddr, String> {
    if let Ok(a) = addr.parse::<SocketAddr>() {
        return Ok(a);
    }
    let (host, port) = addr
        .rsplit_once(':')
        .ok_or_else(|| format!("'{addr}' is not host:port"))?;
    let host = host.trim_start_matches('[').trim_end_matches(']');
    let port: u16 = port.parse().map_err(|_| format!("bad port in '{addr}'"))?;
    (host, port)
        .to_socket_addrs()
        .map_err(|e| format!("{addr}: {e}"))?
        .next()
        .ok_or_else(|| format!("{addr}: no address"))
}

/// A blocking connection, greeted (`HELLO 3` / `AUTH`) and ready for requests.
fn open(addr: &str, load: &Load) -> Result<std::net::TcpStream, String> {
    let sa = resolve(addr)?;
    let mut sock = std::net::TcpStream::connect_timeout(&sa, Duration::from_secs(5))
        .map_err(|e| format!("cannot connect to {addr}: {e}"))?;
    sock.set_nodelay(true).map_err(|e| format!("{addr}: {e}"))?;
    let mut hello: Vec<&str> = Vec::new();
    let auth: Vec<&str> = match &load.auth {
        Some((Some(user), pass)) => vec![user, pass],
        Some((None, pass)) => vec!["default", pass],
        None => vec![],
    };
    if load.resp3 {
        hello.extend(["HELLO", "3"]);
        if !auth.is_empty() {
            hello.push("AUTH");
            hello.extend(&auth);
        }
        call(&mut sock, &hello).map_err(|e| format!("{addr}: HELLO 3: {e}"))?;
    } else if let Some((user, pass)) = &load.auth {
        let mut cmd = vec!["AUTH"];
        if let Some(u) = user {
            cmd.push(u);
        }
        cmd.push(pass);
        call(&mut sock, &cmd).map_err(|e| format!("{addr}: AUTH: {e}"))?;
    }
    sock.set_read_timeout(None).ok();
    Ok(sock)
}

/// Send one command on a blocking socket and decode the reply (set-up time only).
pub fn call(sock: &mut std::net::TcpStream, args: &[&str]) -> Result<Value, String> {
    let mut req = format!("*{}\r\n", args.len()).into_bytes();
    for a in args {
        req.extend_from_slice(format!("${}\r\n", a.len()).as_bytes());
        req.extend_from_slice(a.as_bytes());
        req.extend_from_slice(b"\r\n");
    }
    sock.set_read_timeout(Some(Duration::from_secs(10))).ok();
    sock.write_all(&req).map_err(|e| e.to_string())?;
    let mut buf = Vec::new();
    let mut chunk = [0u8; 16384];
    loop {
        if let Some((v, _)) = decode(&buf).map_err(|e| e.to_string())? {
            return match v {
                Value::Error(e) => Err(String::from_utf8_lossy(&e).into_owned()),
                v => Ok(v),
            };
        }
        let n = sock.read(&mut chunk).map_err(|e| e.to_string())?;
        if n == 0 {
            return Err("connection closed".into());
        }
        buf.extend_from_slice(&chunk[..n]);
    }
}

fn fetch_slot_map(load: &Load, seed: &str) -> Result<SlotMap, String> {
    let mut sock = open(seed, load)?;
    let reply = call(&mut sock, &["CLUSTER", "SLOTS"])
        .map_err(|e| format!("{seed}: CLUSTER SLOTS: {e}"))?;
    let seed_host = seed.rsplit_once(':').map_or(seed, |(h, _)| h);
    let ranges = cluster::parse_cluster_slots(&reply, seed_host)?;
    if ranges.is_empty() {
        return Err(format!("{seed}: CLUSTER SLOTS lists no slots"));
    }
    Ok(SlotMap::from_ranges(&ranges))
}
