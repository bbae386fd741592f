//! Memory figures for INFO, from whichever allocator the binary installed.

use std::sync::OnceLock;

#[derive(Clone, Copy, Debug, Default)]
pub struct MemoryFigures {
    /// Bytes the allocator has handed out.
    pub allocated: u64,
    /// Resident set size of the process.
    pub resident: u64,
    /// Highest `allocated` seen.
    pub peak: u64,
    pub allocator: &'static str,
}

/// Reports the allocator's figures; installed once by the binary.
pub type Probe = fn() -> MemoryFigures;

static PROBE: OnceLock<Probe> = OnceLock::new();

pub fn install_probe(probe: Probe) {
    let _ = PROBE.set(probe);
}

pub fn probe() -> MemoryFigures {
    match PROBE.get() {
        Some(probe) => probe(),
        None => {
            let resident = resident_bytes();
            MemoryFigures {
                allocated: resident,
                resident,
                peak: resident,
                allocator: "libc",
            }
        }
    }
}

/// Resident set size from /proc/self/statm.
pub fn resident_bytes() -> u64 {
    let pages = std::fs::read_to_string("/proc/self/statm")
        .ok()
        .and_then(|text| text.split_whitespace().nth(1)?.parse::<u64>().ok())
        .unwrap_or(0);
    // SAFETY: sysconf has no preconditions.
    let page_size = unsafe { libc::sysconf(libc::_SC_PAGESIZE) }.max(4096) as u64;
    pages * page_size
}
