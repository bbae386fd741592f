//! The redis-rs client against a real `tern server`: commands, pipelines, expiry and RESP3, as
//! an application would use them.

use std::io::{BufRead, BufReader};
use std::net::TcpListener;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use redis::{Commands, Value};

/// A `tern server` on a free loopback port, killed when dropped.
struct Server {
    child: Child,
    port: u16,
}

impl Server {
    fn start() -> Server {
        let port = TcpListener::bind("127.0.0.1:0")
            .and_then(|listener| listener.local_addr())
            .map(|addr| addr.port())
            .expect("a free port");
        let mut child = Command::new(env!("CARGO_BIN_EXE_tern"))
            .args(["server", "--bind", "127.0.0.1", "--port", &port.to_string()])
            .args(["--save", "", "--worker-threads", "2"])
            .stdout(Stdio::piped())
            .spawn()
            .expect("tern starts");
        let stdout = child.stdout.take().expect("piped stdout");
        let mut lines = BufReader::new(stdout).lines();
        let deadline = Instant::now() + Duration::from_secs(10);
        while Instant::now() < deadline {
            match lines.next() {
                Some(Ok(line)) if line.contains("Ready to accept connections") => break,
                Some(_) => continue,
                None => panic!("tern exited before it was ready"),
            }
        }
        Server { child, port }
    }

    fn client(&self, resp3: bool) -> redis::Connection {
        let protocol = if resp3 { "?protocol=resp3" } else { "" };
        redis::Client::open(format!("redis://127.0.0.1:{}/{protocol}", self.port))
            .and_then(|client| client.get_connection())
            .expect("connects")
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

#[test]
fn strings_counters_and_multi_key_commands() {
    let server = Server::start();
    let mut con = server.client(false);
    let _: () = con.set("greeting", "hello").unwrap();
    assert_eq!(con.get::<_, String>("greeting").unwrap(), "hello");
    assert_eq!(con.append::<_, _, i64>("greeting", " world").unwrap(), 11);
    assert_eq!(con.incr::<_, _, i64>("counter", 5).unwrap(), 5);
    assert_eq!(con.decr::<_, _, i64>("counter", 2).unwrap(), 3);
    let _: () = con.mset(&[("a", "1"), ("b", "2"), ("{x}c", "3")]).unwrap();
    let values: Vec<Option<String>> = con.mget(&["a", "b", "missing", "{x}c"]).unwrap();
    assert_eq!(
        values,
        vec![Some("1".into()), Some("2".into()), None, Some("3".into())]
    );
    assert_eq!(con.del::<_, i64>(&["a", "b", "missing"]).unwrap(), 2);
    let error = con.incr::<_, _, i64>("greeting", 1).unwrap_err();
    assert_eq!(error.code(), Some("ERR"));
    assert!(error.to_string().contains("not an integer"));
}

#[test]
fn pipelines_keep_order_across_many_commands() {
    let server = Server::start();
    let mut con = server.client(false);
    let mut pipe = redis::pipe();
    for i in 0..1000 {
        pipe.set(format!("key:{i}"), i).ignore();
    }
    for i in 0..1000 {
        pipe.get(format!("key:{i}"));
    }
    let values: Vec<i64> = pipe.query(&mut con).unwrap();
    assert_eq!(values, (0..1000).collect::<Vec<i64>>());
    assert_eq!(redis::cmd("DBSIZE").query::<i64>(&mut con).unwrap(), 1000);
}

#[test]
fn keys_expire_and_report_their_ttl() {
    let server = Server::start();
    let mut con = server.client(false);
    let _: () = con.set_ex("short", "v", 100).unwrap();
    let ttl: i64 = con.ttl("short").unwrap();
    assert!((99..=100).contains(&ttl), "ttl {ttl}");
    let _: () = con.pset_ex("gone", "v", 50).unwrap();
    std::thread::sleep(Duration::from_millis(120));
    assert_eq!(con.get::<_, Option<String>>("gone").unwrap(), None);
    assert_eq!(con.ttl::<_, i64>("gone").unwrap(), -2);
    assert_eq!(con.persist::<_, i64>("short").unwrap(), 1);
    assert_eq!(con.ttl::<_, i64>("short").unwrap(), -1);
}

#[test]
fn resp3_hello_and_typed_replies() {
    let server = Server::start();
    let mut con = server.client(true);
    let hello: Value = redis::cmd("HELLO").arg(3).query(&mut con).unwrap();
    let Value::Map(fields) = hello else {
        panic!("HELLO 3 answers a map, got {hello:?}");
    };
    assert!(fields
        .iter()
        .any(|(k, v)| *k == Value::BulkString(b"proto".to_vec()) && *v == Value::Int(3)));
    let _: () = con.set("k", "v").unwrap();
    let missing: Value = redis::cmd("GET").arg("nope").query(&mut con).unwrap();
    assert_eq!(missing, Value::Nil);
    let config: Value = redis::cmd("CONFIG")
        .arg("GET")
        .arg("timeout")
        .query(&mut con)
        .unwrap();
    assert!(matches!(config, Value::Map(_)), "{config:?}");
}
