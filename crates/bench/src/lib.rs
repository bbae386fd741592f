//! `tern-bench`: the load generator behind `tern bench`.
//!
//! What it is: a RESP client that drives any Valkey-compatible endpoint (or a cluster, with
//! `--cluster`) from a few OS threads, each running one `mio` event loop over many non-blocking
//! connections; it measures latency per command type with HDR histograms, throughput per
//! second, errors by kind, its own CPU time and optionally the server's, and writes a summary,
//! a JSON document and a report directory with SVG charts. `--compare` runs the same workload
//! against two endpoints in alternating rounds and reports ratios; `--scenario` runs a named
//! sequence of workloads from a small registry.
//!
//! What it is not: a client library (it never decodes a reply's value on the hot path, only
//! where replies end and whether they are errors), nor a correctness checker.
//!
//! Invariants:
//! - The hot path allocates nothing once buffers are warm: requests are encoded from
//!   pre-compiled templates into reused per-connection buffers, replies are framed by a
//!   resumable scanner that keeps no bytes, and each thread records into its own histograms.
//! - With `--rate`, latency is measured from the intended send time, never from the time the
//!   request actually left, so a stalled server cannot hide its queueing (coordinated omission).
//! - A run's figures are merged only after the threads finish (plus one interval per second per
//!   thread for the timeline): threads share nothing while they run.

pub mod cluster;
pub mod compare;
pub mod cpu;
pub mod engine;
pub mod keys;
pub mod rate;
pub mod reply;
pub mod report;
pub mod scenario;
pub mod stats;
pub mod template;
pub mod workload;

use std::path::PathBuf;
use std::time::Duration;

use clap::ArgAction;
use serde::Serialize;

use crate::keys::Distribution;
use crate::report::RunJson;
use crate::template::Template;
use crate::workload::{Load, Stop, Workload};

/// `tern bench`: measure a Valkey-compatible endpoint.
#[derive(clap::Args, Debug, Clone, Serialize)]
#[command(disable_help_flag = true)]
pub struct BenchArgs {
    /// Server host (-h as in valkey-benchmark; help is --help only).
    #[arg(short = 'h', long, default_value = "127.0.0.1")]
    pub host: String,
    /// Server port.
    #[arg(short = 'p', long, default_value_t = 6379)]
    pub port: u16,
    /// Load threads, each with its own event loop.
    #[arg(long, default_value_t = 1)]
    pub threads: usize,
    /// Connections per thread.
    #[arg(short = 'c', long, default_value_t = 50)]
    pub connections: usize,
    /// Requests in flight per connection.
    #[arg(short = 'P', long, default_value_t = 1)]
    pub pipeline: usize,
    /// Total requests (default 100000 when --duration is not given).
    #[arg(short = 'n', long, conflicts_with = "duration")]
    pub requests: Option<u64>,
    /// Run for this many seconds (fractions allowed).
    #[arg(long)]
    pub duration: Option<f64>,
    /// SET:GET weights for the built-in SET/GET mix (default 1:10).
    #[arg(long, conflicts_with = "commands")]
    pub ratio: Option<String>,
    /// A command template (repeatable): placeholders __key__ and __data__, e.g.
    /// 'HSET h:__key__ f __data__'. Commands separated by ' ; ' are sent together and count
    /// as one request: 'MULTI ; INCR a:__key__ ; GET a:__key__ ; EXEC'.
    #[arg(long = "command", value_name = "TEMPLATE")]
    pub commands: Vec<String>,
    /// Weights of the --command templates, in order, e.g. 1:3 (default: equal).
    #[arg(long, value_name = "W:W...")]
    pub command_ratio: Option<String>,
    /// Value size in bytes: N, or MIN-MAX for a uniform range.
    #[arg(short = 'd', long, default_value = "3")]
    pub data_size: String,
    /// Number of distinct keys.
    #[arg(short = 'r', long, default_value_t = 100_000)]
    pub keyspace: u64,
    /// Keys are this prefix followed by the key number.
    #[arg(long, default_value = "key:")]
    pub key_prefix: String,
    /// Key distribution: uniform, sequential, zipf:S, hot:SHARE:KEYS.
    #[arg(long, default_value = "uniform")]
    pub distribution: String,
    /// Fixed offered load in requests per second (in total); latency counts from the intended
    /// send time.
    #[arg(long)]
    pub rate: Option<f64>,
    /// Password (AUTH, or HELLO 3 AUTH with --resp3).
    #[arg(short = 'a', long)]
    pub auth: Option<String>,
    /// User name for --auth.
    #[arg(long)]
    pub user: Option<String>,
    /// Speak RESP3 (HELLO 3).
    #[arg(long)]
    pub resp3: bool,
    /// Cluster mode: route keys by CLUSTER SLOTS, follow MOVED and ASK.
    #[arg(long)]
    pub cluster: bool,
    /// Write every figure and the configuration as JSON to this file.
    #[arg(long, value_name = "FILE")]
    pub json: Option<PathBuf>,
    /// Write SVG charts and an index.html into this directory.
    #[arg(long, value_name = "DIR")]
    pub report: Option<PathBuf>,
    /// Also run against this endpoint, in alternating rounds, and report ratios.
    #[arg(long, value_name = "HOST:PORT")]
    pub compare: Option<String>,
    /// Rounds per endpoint with --compare.
    #[arg(long, default_value_t = 3)]
    pub rounds: usize,
    /// A server process to sample CPU time from (repeatable: one per endpoint, in order).
    #[arg(long = "server-pid", value_name = "PID")]
    pub server_pids: Vec<u32>,
    /// Names for the endpoints in reports (repeatable, in order).
    #[arg(long = "label")]
    pub labels: Vec<String>,
    /// SET every key once (sequentially, pipelined) before measuring.
    #[arg(long)]
    pub prefill: bool,
    /// Run a named scenario ('list' lists them).
    #[arg(long)]
    pub scenario: Option<String>,
    /// Random seed (default: from the clock).
    #[arg(long)]
    pub seed: Option<u64>,
    /// No progress line.
    #[arg(short = 'q', long)]
    pub quiet: bool,
    /// Print help.
    #[arg(long, action = ArgAction::Help)]
    #[serde(skip)]
    pub help: Option<bool>,
}

/// The endpoint given by --host/--port.
pub fn target(args: &BenchArgs) -> String {
    cluster::join_host_port(&args.host, args.port)
}

/// Turn the arguments into a [`Load`].
pub fn resolve(args: &BenchArgs) -> Result<Load, String> {
    if args.threads == 0 || args.connections == 0 || args.pipeline == 0 {
        return Err("--threads, --connections and --pipeline must be at least 1".into());
    }
    let (templates, weights) = if args.commands.is_empty() {
        let w = workload::parse_weights(args.ratio.as_deref().unwrap_or("1:10"))?;
        if w.len() != 2 {
            return Err("--ratio takes SET:GET, e.g. 1:10".into());
        }
        (
            vec![
                Template::parse("SET __key__ __data__")?,
                Template::parse("GET __key__")?,
            ],
            w,
        )
    } else {
        let t = args
            .commands
            .iter()
            .map(|c| Template::parse(c))
            .collect::<Result<Vec<_>, _>>()?;
        let w = match &args.command_ratio {
            Some(r) => workload::parse_weights(r)?,
            None => vec![1; t.len()],
        };
        if w.len() != t.len() {
            return Err(format!(
                "--command-ratio has {} weights for {} commands",
                w.len(),
                t.len()
            ));
        }
        (t, w)
    };
    let distribution: Distribution = args.distribution.parse()?;
    let data = workload::parse_data_size(&args.data_size)?;
    let wl = Workload::new(
        templates,
        weights,
        distribution,
        args.keyspace,
        &args.key_prefix,
        data,
    )?;
    let stop = match (args.requests, args.duration) {
        (Some(n), _) => Stop::Requests(n),
        (None, Some(d)) if d > 0.0 && d.is_finite() => Stop::Duration(Duration::from_secs_f64(d)),
        (None, Some(_)) => return Err("--duration must be > 0".into()),
        (None, None) => Stop::Requests(100_000),
    };
    if let Some(r) = args.rate {
        if !(r > 0.0 && r.is_finite()) {
            return Err("--rate must be > 0".into());
        }
    }
    if args.user.is_some() && args.auth.is_none() {
        return Err("--user needs --auth".into());
    }
    Ok(Load {
        threads: args.threads,
        connections: args.connections,
        pipeline: args.pipeline,
        stop,
        rate: args.rate,
        workload: wl,
        auth: args.auth.clone().map(|p| (args.user.clone(), p)),
        resp3: args.resp3,
        cluster: args.cluster,
        seed: args
            .seed
            .unwrap_or_else(|| cpu::now_ns() ^ std::process::id() as u64),
        progress: !args.quiet,
    })
}

/// The resolved configuration, for the JSON document.
#[derive(Serialize)]
pub struct ResolvedJson {
    pub threads: usize,
    pub connections_per_thread: usize,
    pub pipeline: usize,
    pub stop: Stop,
    pub rate: Option<f64>,
    pub commands: Vec<CommandSpecJson>,
    pub distribution: Distribution,
    pub keyspace: u64,
    pub data_size_min: usize,
    pub data_size_max: usize,
    pub seed: u64,
}

#[derive(Serialize)]
pub struct CommandSpecJson {
    pub name: String,
    pub template: String,
    pub weight: u32,
    /// Commands per request: a sequence template owes one reply per command.
    pub replies: u16,
}

impl ResolvedJson {
    pub fn new(load: &Load) -> ResolvedJson {
        let wl = &load.workload;
        ResolvedJson {
            threads: load.threads,
            connections_per_thread: load.connections,
            pipeline: load.pipeline,
            stop: load.stop,
            rate: load.rate,
            commands: wl
                .templates
                .iter()
                .zip(&wl.weights)
                .map(|(t, w)| CommandSpecJson {
                    name: t.name.clone(),
                    template: t.text.clone(),
                    weight: *w,
                    replies: t.replies,
                })
                .collect(),
            distribution: wl.distribution.clone(),
            keyspace: wl.keyspace,
            data_size_min: wl.data_min,
            data_size_max: wl.data_max,
            seed: load.seed,
        }
    }
}

/// The JSON document of a single run.
/// The fields every `--json` document starts with: what wrote it, how it was invoked, and the
/// workload as resolved.
#[derive(Serialize)]
pub(crate) struct DocHeader<'a> {
    tool: &'static str,
    version: &'static str,
    mode: &'static str,
    command_line: String,
    config: &'a BenchArgs,
    resolved: ResolvedJson,
}

impl<'a> DocHeader<'a> {
    pub(crate) fn new(mode: &'static str, args: &'a BenchArgs, load: &Load) -> DocHeader<'a> {
        DocHeader {
            tool: "tern bench",
            version: env!("CARGO_PKG_VERSION"),
            mode,
            command_line: command_line(),
            config: args,
            resolved: ResolvedJson::new(load),
        }
    }
}

/// Writes `index.html` for a `--report` directory and says where it is.
pub(crate) fn write_report_page(
    dir: &std::path::Path,
    title: &str,
    sections: &[String],
    charts: &[String],
) -> Result<(), String> {
    report::write_index(dir, title, &command_line(), sections, charts)?;
    eprintln!("report: {}", dir.join("index.html").display());
    Ok(())
}

#[derive(Serialize)]
struct SingleJson<'a> {
    #[serde(flatten)]
    header: DocHeader<'a>,
    result: &'a RunJson,
}

pub fn command_line() -> String {
    std::env::args()
        .map(|a| {
            if a.is_empty() || a.contains(|c: char| c.is_whitespace() || "'\"$\\".contains(c)) {
                format!("'{}'", a.replace('\'', "'\\''"))
            } else {
                a
            }
        })
        .collect::<Vec<_>>()
        .join(" ")
}

/// One line describing the load, for headers.
pub fn describe(load: &Load) -> String {
    let stop = match load.stop {
        Stop::Requests(n) => format!("{n} requests"),
        Stop::Duration(d) => format!("{:.1} s", d.as_secs_f64()),
    };
    let rate = load
        .rate
        .map_or(String::new(), |r| format!(", offered {r:.0} req/s"));
    let names: Vec<String> = load
        .workload
        .templates
        .iter()
        .zip(&load.workload.weights)
        .map(|(t, w)| format!("{}×{w}", t.name))
        .collect();
    format!(
        "{} thread(s) × {} connections, pipeline {}, {stop}{rate}; mix {}; {} keys {:?}",
        load.threads,
        load.connections,
        load.pipeline,
        names.join(" "),
        load.workload.keyspace,
        load.workload.distribution
    )
}

/// SET every key once, quietly (for `--prefill`).
pub fn prefill(load: &Load, endpoint: &str) -> Result<(), String> {
    let wl = &load.workload;
    let mut fill = load.clone();
    fill.workload = Workload::new(
        vec![Template::parse("SET __key__ __data__")?],
        vec![1],
        Distribution::Sequential,
        wl.keyspace,
        std::str::from_utf8(&wl.key_prefix).unwrap_or("key:"),
        (wl.data_min, wl.data_max),
    )?;
    fill.stop = Stop::Requests(wl.keyspace);
    fill.rate = None;
    fill.pipeline = 64;
    fill.progress = false;
    let r = engine::run(&fill, endpoint, None, "")?;
    if r.error_count() > 0 {
        return Err(format!("prefill of {endpoint}: {} errors", r.error_count()));
    }
    eprintln!(
        "prefilled {} keys on {endpoint} in {:.2} s",
        r.completed(),
        r.elapsed_s
    );
    Ok(())
}

/// `tern bench`. Returns the process exit code.
pub fn run(args: BenchArgs) -> i32 {
    match run_inner(&args) {
        Ok(code) => code,
        Err(e) => {
            eprintln!("tern bench: {e}");
            1
        }
    }
}

fn run_inner(args: &BenchArgs) -> Result<i32, String> {
    if args.scenario.as_deref() == Some("list") {
        for s in scenario::REGISTRY {
            println!("{:<14} {}", s.name, s.about);
        }
        return Ok(0);
    }
    let load = resolve(args)?;
    let target = target(args);
    if let Some(name) = &args.scenario {
        if args.compare.is_some() {
            return Err("--scenario and --compare cannot be combined yet".into());
        }
        return scenario::run(name, args, &load, &target);
    }
    if let Some(other) = &args.compare {
        return compare::run(args, &load, &target, other);
    }
    if args.server_pids.len() > 1 {
        return Err("more --server-pid than endpoints".into());
    }
    let pid = args.server_pids.first().copied();
    let label = args
        .labels
        .first()
        .cloned()
        .unwrap_or_else(|| target.clone());
    if args.prefill {
        prefill(&load, &target)?;
    }
    if load.progress {
        eprintln!("tern bench: {target}: {}", describe(&load));
    }
    let r = engine::run(&load, &target, pid, "")?;
    let run = RunJson::new(&label, &r, pid);
    print!("{}", report::summary_text(&run));
    if let Some(path) = &args.json {
        let doc = SingleJson {
            header: DocHeader::new("single", args, &load),
            result: &run,
        };
        report::write_json(path, &doc)?;
    }
    if let Some(dir) = &args.report {
        let charts = report::standard_charts(dir, &[(&label, &r.timeline, &r.all)])?;
        let sections = vec![
            format!("<p>{}</p>", report::html_escape(&describe(&load))),
            report::runs_table(&[&run]),
            format!(
                "<pre>{}</pre>",
                report::html_escape(&report::summary_text(&run))
            ),
        ];
        write_report_page(dir, &format!("tern bench: {label}"), &sections, &charts)?;
    }
    Ok(0)
}

#[cfg(test)]
pub(crate) mod tests_support {
    use super::*;
    use clap::Parser;

    #[derive(clap::Parser)]
    struct Cli {
        #[command(flatten)]
        args: BenchArgs,
    }

    pub fn parse(argv: &[&str]) -> Result<BenchArgs, clap::Error> {
        Cli::try_parse_from(std::iter::once("bench").chain(argv.iter().copied())).map(|c| c.args)
    }

    pub fn load_for_tests() -> Load {
        resolve(&parse(&[]).unwrap()).unwrap()
    }

    #[test]
    fn flags_parse_like_valkey_benchmark() {
        let a = parse(&[
            "-h", "10.1.2.3", "-p", "7000", "-c", "8", "-n", "50", "-P", "16",
        ])
        .unwrap();
        assert_eq!(
            (
                a.host.as_str(),
                a.port,
                a.connections,
                a.requests,
                a.pipeline
            ),
            ("10.1.2.3", 7000, 8, Some(50), 16)
        );
        assert!(parse(&["--help"]).is_err_and(|e| e.kind() == clap::error::ErrorKind::DisplayHelp));
        assert!(parse(&["-n", "5", "--duration", "2"]).is_err());
        let load =
            resolve(&parse(&["--ratio", "1:0", "--distribution", "zipf:0.99"]).unwrap()).unwrap();
        assert_eq!(load.workload.names(), vec!["SET"]);
        assert_eq!(load.stop, Stop::Requests(100_000));
        let load = resolve(
            &parse(&[
                "--command",
                "HSET h:__key__ f __data__",
                "--command",
                "HGET h:__key__ f",
                "--command-ratio",
                "1:3",
                "--duration",
                "1.5",
            ])
            .unwrap(),
        )
        .unwrap();
        assert_eq!(load.workload.weights, vec![1, 3]);
        assert_eq!(load.stop, Stop::Duration(Duration::from_millis(1500)));
        assert!(
            resolve(&parse(&["--command", "GET x", "--command-ratio", "1:2"]).unwrap()).is_err()
        );
        assert!(resolve(&parse(&["--distribution", "nope"]).unwrap()).is_err());
        assert!(resolve(&parse(&["--pipeline", "0"]).unwrap()).is_err());
    }
}
