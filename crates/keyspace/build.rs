//! Builds the C shim for extended precision floating point (see `src/num.rs`).
fn main() {
    println!("cargo:rerun-if-changed=csrc/longdouble.c");
    cc::Build::new()
        .file("csrc/longdouble.c")
        .warnings(true)
        .compile("tern_longdouble");
}
