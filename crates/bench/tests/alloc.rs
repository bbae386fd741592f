//! Encoding a request allocates nothing once the output buffer is warm, for a sequence
//! template too: counted by a global allocator that tallies this thread's allocations.

use std::alloc::{GlobalAlloc, Layout, System};
use std::cell::Cell;

use tern_bench::template::Template;

struct Counting;

thread_local! {
    static ALLOCS: Cell<u64> = const { Cell::new(0) };
}

// SAFETY: forwards to the system allocator; the count is a thread-local cell with const
// initialisation, which itself never allocates.
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        let _ = ALLOCS.try_with(|c| c.set(c.get() + 1));
        unsafe { System.alloc(layout) }
    }
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        unsafe { System.dealloc(ptr, layout) }
    }
    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        let _ = ALLOCS.try_with(|c| c.set(c.get() + 1));
        unsafe { System.realloc(ptr, layout, new_size) }
    }
}

#[global_allocator]
static GLOBAL: Counting = Counting;

fn allocs() -> u64 {
    ALLOCS.with(|c| c.get())
}

#[test]
fn encoding_allocates_nothing_once_warm() {
    let t = Template::parse(
        "MULTI ; INCR a:__key__ ; SET c:{__key__} __data__ ; GET \"x y\" ; EXEC ; PING",
    )
    .unwrap();
    let mut out = Vec::new();
    // Warm: the buffer grows to one request's size.
    t.encode(&mut out, b"key:99999", b"0123456789");
    let before = allocs();
    for i in 0..1000u64 {
        out.clear();
        let key = if i % 2 == 0 {
            &b"key:1"[..]
        } else {
            b"key:99999"
        };
        t.encode(&mut out, key, &b"0123456789"[..(i % 11) as usize]);
        assert!(t.slot(key).is_some());
    }
    assert_eq!(allocs() - before, 0);
    // The counter does count: a buffer that must grow is seen.
    let mut cold = Vec::new();
    let before = allocs();
    t.encode(&mut cold, b"k", b"v");
    assert!(allocs() > before);
}
