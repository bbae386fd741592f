//! The engine end to end against small in-process fake servers: request counts, error kinds,
//! sequence templates, and cluster redirects (`MOVED`, `ASK` with `ASKING`), without any real
//! server.

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use clap::Parser;
use tern_bench::{engine, resolve, BenchArgs};

#[derive(Parser)]
struct Cli {
    #[command(flatten)]
    args: BenchArgs,
}

fn args(argv: &[&str]) -> BenchArgs {
    Cli::parse_from(std::iter::once("bench").chain(argv.iter().copied())).args
}

/// Parse complete RESP arrays of bulk strings from `buf`; returns the commands and the bytes used.
fn parse_commands(buf: &[u8]) -> (Vec<Vec<String>>, usize) {
    fn line(buf: &[u8], pos: usize) -> Option<(&[u8], usize)> {
        let p = buf.get(pos..)?.windows(2).position(|w| w == b"\r\n")?;
        Some((&buf[pos..pos + p], pos + p + 2))
    }
    let mut out = Vec::new();
    let mut pos = 0;
    'next: while let Some((head, mut p)) = line(buf, pos) {
        assert_eq!(head[0], b'*', "fake server expects arrays");
        let n: usize = std::str::from_utf8(&head[1..]).unwrap().parse().unwrap();
        let mut args = Vec::new();
        for _ in 0..n {
            let Some((h, q)) = line(buf, p) else {
                break 'next;
            };
            let len: usize = std::str::from_utf8(&h[1..]).unwrap().parse().unwrap();
            if buf.len() < q + len + 2 {
                break 'next;
            }
            args.push(String::from_utf8_lossy(&buf[q..q + len]).into_owned());
            p = q + len + 2;
        }
        out.push(args);
        pos = p;
    }
    (out, pos)
}

/// A fake server: `reply(command, previous command of this connection)` gives the reply bytes.
fn fake_server<F>(reply: F) -> u16
where
    F: Fn(&[String], Option<&[String]>) -> Vec<u8> + Send + Sync + 'static,
{
    fake_server_on(TcpListener::bind("127.0.0.1:0").unwrap(), reply)
}

fn fake_server_on<F>(listener: TcpListener, reply: F) -> u16
where
    F: Fn(&[String], Option<&[String]>) -> Vec<u8> + Send + Sync + 'static,
{
    let port = listener.local_addr().unwrap().port();
    let reply = Arc::new(reply);
    std::thread::spawn(move || {
        for sock in listener.incoming() {
            let Ok(mut sock) = sock else { return };
            let reply = reply.clone();
            std::thread::spawn(move || {
                let mut buf = Vec::new();
                let mut chunk = [0u8; 65536];
                let mut prev: Option<Vec<String>> = None;
                loop {
                    let n = match sock.read(&mut chunk) {
                        Ok(0) | Err(_) => return,
                        Ok(n) => n,
                    };
                    buf.extend_from_slice(&chunk[..n]);
                    let (cmds, used) = parse_commands(&buf);
                    buf.drain(..used);
                    let mut out = Vec::new();
                    for c in cmds {
                        out.extend(reply(&c, prev.as_deref()));
                        prev = Some(c);
                    }
                    if sock.write_all(&out).is_err() {
                        return;
                    }
                }
            });
        }
    });
    port
}

fn slots_reply(port: u16) -> Vec<u8> {
    format!("*1\r\n*3\r\n:0\r\n:16383\r\n*2\r\n$9\r\n127.0.0.1\r\n:{port}\r\n").into_bytes()
}

#[test]
fn counts_requests_and_errors() {
    let seen = Arc::new(AtomicU64::new(0));
    let s = seen.clone();
    let port = fake_server(move |c, _| {
        s.fetch_add(1, Ordering::Relaxed);
        if c[0] == "GET" && c[1].ends_with('7') {
            b"-WRONGTYPE no\r\n".to_vec()
        } else if c[0] == "GET" {
            b"$3\r\nabc\r\n".to_vec()
        } else {
            b"+OK\r\n".to_vec()
        }
    });
    let p = port.to_string();
    let a = args(&[
        "-p",
        &p,
        "-n",
        "5000",
        "--threads",
        "2",
        "-c",
        "4",
        "-P",
        "8",
        "--ratio",
        "1:1",
        "--distribution",
        "sequential",
        "-r",
        "1000",
        "-q",
    ]);
    let load = resolve(&a).unwrap();
    let r = engine::run(&load, &format!("127.0.0.1:{port}"), None, "").unwrap();
    assert_eq!(r.completed(), 5000);
    assert_eq!(seen.load(Ordering::Relaxed), 5000);
    let wrongtype: u64 = r.errors.iter().sum();
    assert!(wrongtype > 0);
    assert_eq!(
        r.error_kinds.sorted(),
        vec![("WRONGTYPE".to_string(), wrongtype)]
    );
    assert_eq!(r.all.len(), 5000);
    assert!(r.client_cpu.total_ns() > 0);
}

#[test]
fn cluster_mode_follows_moved_and_ask() {
    // Node B answers everything, but a key ending in 1 only right after ASKING.
    let asked = Arc::new(AtomicU64::new(0));
    let a2 = asked.clone();
    let b = fake_server(move |c, prev| match c[0].as_str() {
        "ASKING" => b"+OK\r\n".to_vec(),
        _ if c[1].ends_with('1') => {
            if prev.is_some_and(|p| p[0] == "ASKING") {
                a2.fetch_add(1, Ordering::Relaxed);
                b"+OK\r\n".to_vec()
            } else {
                b"-ERR not asked\r\n".to_vec()
            }
        }
        _ => b"+OK\r\n".to_vec(),
    });
    // Node A claims every slot, then redirects: keys ending in 1 with ASK (each time),
    // everything else with MOVED (once per slot, then the client goes to B directly).
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let a_port = listener.local_addr().unwrap().port();
    fake_server_on(listener, move |c, _| match c[0].as_str() {
        "CLUSTER" => slots_reply(a_port),
        _ if c[1].ends_with('1') => format!("-ASK 5 127.0.0.1:{b}\r\n").into_bytes(),
        _ => {
            let slot = tern_bench::cluster::key_slot(c[1].as_bytes());
            format!("-MOVED {slot} 127.0.0.1:{b}\r\n").into_bytes()
        }
    });
    let pa = a_port.to_string();
    let argv = [
        "-p",
        &pa,
        "--cluster",
        "-n",
        "3000",
        "-c",
        "3",
        "-P",
        "4",
        "--ratio",
        "1:1",
        "-r",
        "50",
        "-q",
    ];
    let load = resolve(&args(&argv)).unwrap();
    let r = engine::run(&load, &format!("127.0.0.1:{a_port}"), None, "").unwrap();
    assert_eq!(r.completed(), 3000);
    assert_eq!(r.error_count(), 0, "{:?}", r.error_kinds.sorted());
    assert!(r.moved > 0, "no MOVED followed");
    // At most one MOVED per slot and connection: 50 keys, 3 connections.
    assert!(r.moved <= 150, "{} MOVED", r.moved);
    assert!(r.ask > 0);
    assert_eq!(asked.load(Ordering::Relaxed), r.ask);
}

#[test]
fn connection_refused_is_an_error() {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    drop(listener);
    let load = resolve(&args(&["-n", "10", "-q"])).unwrap();
    let e = engine::run(&load, &format!("127.0.0.1:{port}"), None, "")
        .err()
        .unwrap();
    assert!(e.contains("cannot connect"), "{e}");
    // A server that closes every connection: requests fail as `connection` errors.
    let closer = TcpListener::bind("127.0.0.1:0").unwrap();
    let cport = closer.local_addr().unwrap().port();
    std::thread::spawn(move || {
        for s in closer.incoming() {
            let mut s = s.unwrap();
            let mut b = [0u8; 64];
            let _ = s.read(&mut b);
            drop(s);
        }
    });
    let load = resolve(&args(&["-n", "10", "-c", "2", "-q"])).unwrap();
    let r = engine::run(&load, &format!("127.0.0.1:{cport}"), None, "").unwrap();
    assert_eq!(r.completed(), 2);
    assert_eq!(r.error_kinds.sorted(), vec![("connection".to_string(), 2)]);
    assert_eq!(r.broken, 2);
    let _ = TcpStream::connect(("127.0.0.1", cport));
}

#[test]
fn a_sequence_counts_once_and_fails_once() {
    // Every command is answered; GET and DEL of a key ending in 7 are errors.
    let seen = Arc::new(AtomicU64::new(0));
    let s = seen.clone();
    let port = fake_server(move |c, _| {
        s.fetch_add(1, Ordering::Relaxed);
        match c[0].as_str() {
            "GET" | "DEL" if c[1].ends_with('7') => b"-WRONGTYPE no\r\n".to_vec(),
            "GET" => b"$1\r\n1\r\n".to_vec(),
            "DEL" => b":1\r\n".to_vec(),
            "EXEC" => b"*2\r\n-ERR inner errors are not top-level\r\n+OK\r\n".to_vec(),
            _ => b"+OK\r\n".to_vec(),
        }
    });
    let p = port.to_string();
    let argv = [
        "-p",
        &p,
        "-n",
        "2000",
        "--threads",
        "2",
        "-c",
        "3",
        "-P",
        "5",
        "--distribution",
        "sequential",
        "-r",
        "100",
        "--command",
        "MULTI ; SET __key__ 1 ; GET __key__ ; DEL __key__ ; EXEC",
        "-q",
    ];
    let load = resolve(&args(&argv)).unwrap();
    assert_eq!(load.workload.templates[0].replies, 5);
    let r = engine::run(&load, &format!("127.0.0.1:{port}"), None, "").unwrap();
    assert_eq!(r.completed(), 2000);
    assert_eq!(r.all.len(), 2000);
    // Five commands per request reached the server.
    assert_eq!(seen.load(Ordering::Relaxed), 10_000);
    // Sequential keys 0..99 per thread: a tenth end in 7, each request with two error replies
    // counted once, by the first error's kind.
    let errors: u64 = r.errors.iter().sum();
    assert_eq!(errors, 200);
    assert_eq!(r.ok[0], 1800);
    assert_eq!(r.error_kinds.sorted(), vec![("WRONGTYPE".to_string(), 200)]);
}

#[test]
fn cluster_mode_sends_a_redirected_sequence_again_whole() {
    // Node B answers everything and counts what it got.
    let at_b = Arc::new(AtomicU64::new(0));
    let b2 = at_b.clone();
    let b = fake_server(move |c, _| {
        b2.fetch_add(1, Ordering::Relaxed);
        match c[0].as_str() {
            "EXEC" => b"*2\r\n+OK\r\n+OK\r\n".to_vec(),
            _ => b"+OK\r\n".to_vec(),
        }
    });
    // Node A claims every slot, then redirects each keyed command, as a transaction does:
    // MULTI is fine, the queued commands are moved, and EXEC aborts.
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let a_port = listener.local_addr().unwrap().port();
    fake_server_on(listener, move |c, _| match c[0].as_str() {
        "CLUSTER" => slots_reply(a_port),
        "MULTI" => b"+OK\r\n".to_vec(),
        "EXEC" => b"-EXECABORT Transaction discarded because of previous errors.\r\n".to_vec(),
        _ => {
            let slot = tern_bench::cluster::key_slot(c[1].as_bytes());
            format!("-MOVED {slot} 127.0.0.1:{b}\r\n").into_bytes()
        }
    });
    let pa = a_port.to_string();
    let argv = [
        "-p",
        &pa,
        "--cluster",
        "-n",
        "1000",
        "-c",
        "2",
        "-P",
        "3",
        "-r",
        "20",
        "--command",
        "MULTI ; SET {__key__}:a 1 ; SET {__key__}:b 2 ; EXEC",
        "-q",
    ];
    let load = resolve(&args(&argv)).unwrap();
    let r = engine::run(&load, &format!("127.0.0.1:{a_port}"), None, "").unwrap();
    assert_eq!(r.completed(), 1000);
    assert_eq!(r.error_count(), 0, "{:?}", r.error_kinds.sorted());
    // Each MOVED sequence is counted once (its two moved commands agree), at most once per slot
    // and connection.
    assert!(r.moved > 0 && r.moved <= 40, "{} MOVED", r.moved);
    // B saw every request whole, exactly once.
    assert_eq!(at_b.load(Ordering::Relaxed), 4000);
}
