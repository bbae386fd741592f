//! `tern`: the one binary. `tern server [valkey.conf] [--directive value ...]` runs a node with
//! the same command line as `valkey-server`. Later subcommands (proxy, controller, up, bench)
//! join here.

use std::sync::OnceLock;

use clap::{Parser, Subcommand};
use tern_server::config::{args_to_text, Config};
use tern_server::memory::{self, Allocator, AllocatorStats};

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

/// jemalloc's totals, after refreshing its statistics.
fn jemalloc_stats() -> AllocatorStats {
    use tikv_jemalloc_ctl::{epoch, raw, stats};
    let _ = epoch::advance();
    let read = |value: tikv_jemalloc_ctl::Result<usize>| value.unwrap_or(0) as u64;
    // SAFETY (this and the next reads): NUL-terminated names of statistics of type size_t;
    // arena 4096 is all arenas merged.
    let muzzy_pages = read(unsafe { raw::read::<usize>(b"stats.arenas.4096.pmuzzy\0") });
    let cached = read(unsafe { raw::read::<usize>(b"stats.arenas.4096.tcache_bytes\0") })
        + read(unsafe { raw::read::<usize>(b"stats.arenas.4096.tcache_stashed_bytes\0") });
    let page = read(unsafe { raw::read::<usize>(b"arenas.page\0") });
    AllocatorStats {
        allocated: read(stats::allocated::read()),
        cached,
        active: read(stats::active::read()),
        resident: read(stats::resident::read()),
        muzzy: muzzy_pages * page,
    }
}

thread_local! {
    /// This thread's allocation counters in jemalloc (read once per thread; the pointers stay
    /// valid for the thread's life).
    static THREAD_COUNTERS: Option<(
        tikv_jemalloc_ctl::thread::ThreadLocal<u64>,
        tikv_jemalloc_ctl::thread::ThreadLocal<u64>,
    )> = {
        use tikv_jemalloc_ctl::thread::{allocatedp, deallocatedp};
        allocatedp::read().ok().zip(deallocatedp::read().ok())
    };
}

fn jemalloc_thread_counters() -> (u64, u64) {
    THREAD_COUNTERS.with(|counters| match counters {
        Some((allocated, freed)) => (allocated.get(), freed.get()),
        None => (0, 0),
    })
}

/// Gives unused dirty pages back to the system: every thread cache, then every arena.
fn jemalloc_purge() -> bool {
    let control = |name: &[u8]| {
        // SAFETY: a NUL-terminated name of a control that takes and returns nothing.
        unsafe {
            tikv_jemalloc_sys::mallctl(
                name.as_ptr().cast(),
                std::ptr::null_mut(),
                std::ptr::null_mut(),
                std::ptr::null_mut(),
                0,
            ) == 0
        }
    };
    control(b"thread.tcache.flush\0");
    control(b"arena.4096.purge\0")
}

fn jemalloc_report() -> String {
    let mut text = Vec::new();
    let _ = tikv_jemalloc_ctl::stats_print::stats_print(&mut text, Default::default());
    String::from_utf8_lossy(&text).into_owned()
}

/// `jemalloc-<version>` as INFO shows the allocator.
fn jemalloc_name() -> &'static str {
    static NAME: OnceLock<String> = OnceLock::new();
    NAME.get_or_init(|| {
        let version = tikv_jemalloc_ctl::version::read().unwrap_or("0");
        format!("jemalloc-{}", version.split('-').next().unwrap_or(version))
    })
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
    memory::install(Allocator {
        name: jemalloc_name(),
        stats: jemalloc_stats,
        thread_counters: jemalloc_thread_counters,
        purge: jemalloc_purge,
        report: jemalloc_report,
    });
    tern_server::run(config)
}
