//! `tern`: the one binary. `tern server [valkey.conf] [--directive value ...]` runs a node with
//! the same command line as `valkey-server`. Later subcommands (proxy, controller, up, bench)
//! join here.

use std::sync::atomic::{AtomicU64, Ordering};

use clap::{Parser, Subcommand};
use tern_server::config::{args_to_text, Config};
use tern_server::memory::{install_probe, resident_bytes, MemoryFigures};

// jemalloc: fast for many threads allocating small objects, and it reports exact statistics.
#[global_allocator]
static ALLOCATOR: tikv_jemallocator::Jemalloc = tikv_jemallocator::Jemalloc;

#[derive(Parser)]
#[command(
    name = "tern",
    version,
    about = "A Valkey-compatible in-memory data store"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Runs a cache node: `tern server [config-file] [--directive value ...]`.
    Server {
        /// An optional config file, then `--directive value` pairs, as for valkey-server.
        #[arg(trailing_var_arg = true, allow_hyphen_values = true)]
        args: Vec<String>,
    },
    /// Load generator and scenario runner: `tern bench -h HOST -p PORT ...` (see --help).
    #[command(disable_help_flag = true)]
    Bench(Box<tern_bench::BenchArgs>),
}

/// jemalloc's start-up options. Transparent huge pages for its memory: a cache's working set is
/// spread over many small allocations, and with 4 KiB pages most random lookups also miss the
/// TLB (measured: about 40% more GETs and SETs per CPU second with this on).
#[repr(transparent)]
struct MallocConf(*const std::ffi::c_char);
// SAFETY: the pointer is to a static, immutable, NUL-terminated string.
unsafe impl Sync for MallocConf {}

#[used]
#[export_name = "_rjem_malloc_conf"]
static MALLOC_CONF: MallocConf = MallocConf(c"thp:always,metadata_thp:always".as_ptr());

static PEAK_ALLOCATED: AtomicU64 = AtomicU64::new(0);

fn jemalloc_figures() -> MemoryFigures {
    let _ = tikv_jemalloc_ctl::epoch::advance();
    let allocated = tikv_jemalloc_ctl::stats::allocated::read().unwrap_or(0) as u64;
    let peak = PEAK_ALLOCATED
        .fetch_max(allocated, Ordering::Relaxed)
        .max(allocated);
    MemoryFigures {
        allocated,
        resident: resident_bytes(),
        peak,
        allocator: "jemalloc",
    }
}

fn main() {
    let cli = Cli::parse();
    match cli.command {
        Command::Server { args } => std::process::exit(server(&args)),
        Command::Bench(args) => std::process::exit(tern_bench::run(*args)),
    }
}

fn server(args: &[String]) -> i32 {
    let (file, text) = args_to_text(args);
    let mut config = Config::new();
    let mut full_text = String::new();
    if let Some(path) = &file {
        let contents = if path == "-" {
            std::io::read_to_string(std::io::stdin())
        } else {
            std::fs::read_to_string(path)
        };
        match contents {
            Ok(contents) => full_text.push_str(&contents),
            Err(error) => {
                eprintln!("Fatal error, can't open config file '{path}': {error}");
                return 1;
            }
        }
        if path != "-" {
            config.file = std::fs::canonicalize(path).ok();
        }
        full_text.push('\n');
    }
    full_text.push_str(&text);
    if let Err(error) = config.load_text(&full_text) {
        eprintln!();
        eprintln!(
            "*** FATAL CONFIG FILE ERROR (Tern {}) ***",
            env!("CARGO_PKG_VERSION")
        );
        eprintln!(
            "Reading the configuration file, at line {}",
            error.line_number
        );
        eprintln!(">>> '{}'", error.line);
        eprintln!("{}", error.reason);
        return 1;
    }
    install_probe(jemalloc_figures);
    tern_server::run(config)
}
