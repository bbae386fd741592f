//! `server.call` and `server.pcall`'s primitive, a C function: the arguments are read off the
//! interpreter's stack into a buffer kept between calls, the host runs the command into another
//! kept buffer, and the reply is pushed back onto the stack as Lua values (`convert.rs`). A
//! command from a script costs no binding handle, no owned copy of its arguments and no
//! allocation once the buffers have grown.

use std::any::Any;
use std::cell::{Cell, UnsafeCell};
use std::ffi::{c_int, c_void};
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

use mlua::{ffi, Function, Lua};
use tern_resp::Request;

use crate::{convert, num, Host};

/// What the primitives reach during a run: the run's host, the protocol `server.setresp`
/// chose, the kept buffers, and a panic of the host's to resume once the run is over.
pub(crate) struct Caller {
    host: Cell<Option<*mut (dyn Host + 'static)>>,
    resp3: Arc<AtomicBool>,
    buffers: UnsafeCell<Buffers>,
    panic: Cell<Option<Box<dyn Any + Send>>>,
}

#[derive(Default)]
struct Buffers {
    /// The command's arguments, one after the other, at `ranges`.
    args: Vec<u8>,
    ranges: Vec<(u32, u32)>,
    reply: Vec<u8>,
}

// SAFETY: the engine is used by one thread at a time (it sits behind the server's lock); the
// host pointer is set only for the length of a run on that thread, and the buffers are touched
// only by the primitive, which the interpreter never enters twice at once (a script's command
// cannot run a script).
unsafe impl Send for Caller {}
unsafe impl Sync for Caller {}

impl Caller {
    pub(crate) fn new(resp3: Arc<AtomicBool>) -> Caller {
        Caller {
            host: Cell::new(None),
            resp3,
            buffers: UnsafeCell::new(Buffers::default()),
            panic: Cell::new(None),
        }
    }

    /// The run's host, or None outside a run.
    pub(crate) fn with_host<R>(&self, body: impl FnOnce(&mut dyn Host) -> R) -> Option<R> {
        let pointer = self.host.get()?;
        // SAFETY: set by `Engine::run` from a `&mut dyn Host` that outlives the run and that
        // nothing else uses meanwhile; cleared before the run returns.
        Some(body(unsafe { &mut *pointer }))
    }

    /// Makes `host` the current host until the guard is dropped.
    pub(crate) fn enter<'a>(&'a self, host: &'a mut dyn Host) -> HostGuard<'a> {
        let host: *mut (dyn Host + 'a) = host;
        // SAFETY: the lifetime is erased only while the guard lives, and the guard, which
        // borrows the host for as long, clears the pointer when it is dropped.
        let host: *mut (dyn Host + 'static) = unsafe { std::mem::transmute(host) };
        self.host.set(Some(host));
        HostGuard {
            caller: self,
            _host: std::marker::PhantomData,
        }
    }

    /// The panic a command raised during the run, to resume on the caller's side.
    pub(crate) fn take_panic(&self) -> Option<Box<dyn Any + Send>> {
        self.panic.take()
    }

    /// Runs the command on the stack and pushes its reply; false when the reply is an error
    /// (then the pushed value is its `{err=}` table).
    ///
    /// # Safety
    /// `state` is the state of a call of the primitive in progress.
    unsafe fn call(&self, state: *mut ffi::lua_State) -> bool {
        let count = ffi::lua_gettop(state);
        if count == 0 {
            let text = b"Please specify at least one argument for this call";
            convert::push_error_table(state, text, false);
            return false;
        }
        // SAFETY: see `Caller`'s Send: nothing else holds the buffers now.
        let buffers = &mut *self.buffers.get();
        buffers.args.clear();
        buffers.ranges.clear();
        for index in 1..=count {
            let start = buffers.args.len() as u32;
            match ffi::lua_type(state, index) {
                ffi::LUA_TSTRING => {
                    let mut len = 0;
                    let text = ffi::lua_tolstring(state, index, &mut len);
                    let bytes = std::slice::from_raw_parts(text.cast::<u8>(), len);
                    buffers.args.extend_from_slice(bytes);
                }
                ffi::LUA_TNUMBER => {
                    let n = ffi::lua_tonumber(state, index);
                    buffers.args.extend_from_slice(num::arg_text(n).as_bytes());
                }
                _ => {
                    let text = b"Command arguments must be strings or integers";
                    convert::push_error_table(state, text, false);
                    return false;
                }
            }
            buffers.ranges.push((start, buffers.args.len() as u32));
        }
        let Some(host) = self.host.get() else {
            convert::push_error_table(state, b"-ERR no script is running", false);
            return false;
        };
        let resp3 = self.resp3.load(Ordering::Relaxed);
        buffers.reply.clear();
        let request = Request::new(&buffers.args, &buffers.ranges);
        // SAFETY: as in `with_host`.
        let host = &mut *host;
        let outcome = catch_unwind(AssertUnwindSafe(|| {
            host.call(&request, resp3, &mut buffers.reply)
        }));
        match outcome {
            Ok(Ok(())) => {
                let mut pos = 0;
                convert::push_reply(state, &buffers.reply, &mut pos);
                buffers.reply.first() != Some(&b'-')
            }
            Ok(Err(text)) => {
                // Refused before it ran: the text keeps (or gets) its dash, and moves to the
                // kept buffer so nothing owned is live while the interpreter allocates.
                buffers.reply.clear();
                if !text.starts_with(b"-") {
                    buffers.reply.push(b'-');
                }
                buffers.reply.extend_from_slice(&text);
                drop(text);
                convert::push_error_table(state, &buffers.reply, true);
                false
            }
            Err(payload) => {
                self.panic.set(Some(payload));
                convert::push_error_table(state, b"-ERR the command failed", false);
                false
            }
        }
    }
}

/// Clears the current host when a run ends, however it ends.
pub(crate) struct HostGuard<'a> {
    caller: &'a Caller,
    _host: std::marker::PhantomData<&'a mut dyn Host>,
}

impl Drop for HostGuard<'_> {
    fn drop(&mut self) {
        self.caller.host.set(None);
    }
}

/// The primitive: upvalue 1 is the `Caller`, upvalue 2 whether an error reply is raised
/// (`server.call`) rather than returned after `false` (the `(ok, value)` form under
/// `server.pcall`). Raising from here keeps the calling script's frame on the stack (even for
/// `return server.call(...)`), so the error names the script's line.
unsafe extern "C-unwind" fn primitive(state: *mut ffi::lua_State) -> c_int {
    let caller = ffi::lua_touserdata(state, ffi::lua_upvalueindex(1)).cast::<Caller>();
    let raising = ffi::lua_toboolean(state, ffi::lua_upvalueindex(2)) != 0;
    // SAFETY: the upvalue points at the engine's `Caller`, which outlives the interpreter's
    // use of this function (the engine drops the interpreter first).
    let ok = (*caller).call(state);
    if raising {
        if !ok {
            // Nothing with a destructor is live in this frame.
            ffi::lua_error(state);
        }
        1
    } else {
        ffi::lua_pushboolean(state, c_int::from(ok));
        ffi::lua_insert(state, -2);
        2
    }
}

/// The primitive bound to `caller`: raising (`server.call`) or answering `(ok, value)`.
pub(crate) fn primitive_function(
    lua: &Lua,
    caller: &Arc<Caller>,
    raising: bool,
) -> mlua::Result<Function> {
    let pointer = Arc::as_ptr(caller).cast_mut().cast::<c_void>();
    // SAFETY: the closure pushes two upvalues and a C closure over them; `primitive` follows
    // the C function protocol.
    unsafe {
        lua.exec_raw::<Function>((), |state| {
            ffi::lua_pushlightuserdata(state, pointer);
            ffi::lua_pushboolean(state, c_int::from(raising));
            ffi::lua_pushcclosure(state, primitive, 2);
        })
    }
}
