-- The sandbox, run once when an interpreter starts. It receives the hidden table of the
-- engine's primitives (`hidden`) and returns the protected global table scripts see.
-- Everything here is written against the real global table before it is locked.
local hidden = ...
local real = _G
local rawpcall, rawerror, rawtype, rawsetmt = pcall, error, type, setmetatable
local rawloadstring, rawtostring, rawselect = loadstring, tostring, select
local rawxpcall, rawset, rawget = xpcall, rawset, rawget
local dbg = debug
local setfenv = setfenv

-- Whole libraries and builtins scripts must not reach.
for _, name in ipairs({ "io", "package", "module", "require", "dofile", "loadfile", "print",
    "newproxy", "setfenv", "getfenv", "debug" }) do
  real[name] = nil
end
local clock = os.clock
real.os = { clock = clock }

-- Tables are read-only for scripts: each visible table is an empty proxy whose reads go to the
-- real table and whose writes fail.
local function readonly_write()
  rawerror("Attempt to modify a readonly table", 2)
end
local proxies = {}
local function protect(t)
  if proxies[t] then return proxies[t] end
  local proxy = {}
  proxies[t] = proxy
  for k, v in next, t do
    if rawtype(v) == "table" and k ~= "_G" then
      t[k] = protect(v)
    end
  end
  rawsetmt(proxy, { __index = t, __newindex = readonly_write, __metatable = false })
  return proxy
end

-- Errors become tables {err=, source=, line=}: the frame that failed is the first one that
-- belongs to a script (not C, not this prelude).
local function locate(level)
  while true do
    local info = dbg.getinfo(level, "Sl")
    if not info then return nil end
    if info.what ~= "C" and info.source ~= "=tern" then return info end
    level = level + 1
  end
end
hidden.locate = locate
local function handler(e)
  local info = locate(2)
  if rawtype(e) == "userdata" then
    local plain = hidden.plain(e)
    if plain then
      e = { err = plain }
    else
      local text = hidden.errtext(e)
      if info then text = info.short_src .. ":" .. info.currentline .. ": " .. text end
      e = { err = "ERR " .. text }
    end
  elseif rawtype(e) ~= "table" then
    e = { err = "ERR " .. hidden.errtext(e) }
  end
  if info then
    e.source = info.source
    e.line = info.currentline
  end
  return e
end
hidden.handler = handler
hidden.run_script = function(f, h)
  return rawxpcall(f, h)
end
hidden.run_function = function(f, keys, args, h)
  return rawxpcall(function() return f(keys, args) end, h)
end
real.__server__err__handler = handler
real.__redis__err__handler = handler

-- pcall returns the text of an error table, as scripts written for older versions expect.
local function pfix(ok, ...)
  if ok then return ok, ... end
  local e = ...
  if rawtype(e) == "table" then
    local text = e.err
    if rawtype(text) == "string" or rawtype(text) == "number" then return false, text end
  elseif rawtype(e) == "userdata" then
    return false, hidden.errtext(e)
  end
  return false, ...
end
real.pcall = function(...)
  return pfix(rawpcall(...))
end

-- load and loadstring take only text, and their chunks see the protected globals.
local env
local function loadtext(text, name)
  if rawtype(text) == "string" and text:byte(1) == 27 then
    return nil, "attempt to load a binary chunk"
  end
  local f, e = rawloadstring(text, name)
  if f then setfenv(f, env) end
  return f, e
end
real.loadstring = loadtext
real.load = function(reader, name)
  if rawtype(reader) ~= "function" then
    local got = rawtype(reader)
    if reader == nil then got = "no value" end
    rawerror("bad argument #1 to 'load' (function expected, got " .. got .. ")", 2)
  end
  local parts = {}
  while true do
    local piece = reader()
    if piece == nil or piece == "" then break end
    parts[#parts + 1] = piece
  end
  return loadtext(table.concat(parts), name)
end

-- server.* / redis.*: the engine's primitives answer (true, value) or (false, error table);
-- their `raise_` forms (functions of the engine, so a failing script line stays on the stack)
-- raise the error table's text instead.
local api = {
  call = hidden.raise_call,
  pcall = function(...)
    local _, v = hidden.call(...)
    return v
  end,
  sha1hex = hidden.raise_sha1hex,
  error_reply = hidden.error_reply,
  status_reply = hidden.status_reply,
  log = hidden.raise_log,
  setresp = hidden.raise_setresp,
  set_repl = hidden.raise_set_repl,
  replicate_commands = function() return true end,
  breakpoint = function() return false end,
  debug = function() end,
  acl_check_cmd = hidden.raise_acl_check_cmd,
  LOG_DEBUG = 0, LOG_VERBOSE = 1, LOG_NOTICE = 2, LOG_WARNING = 3,
  REPL_NONE = 0, REPL_AOF = 1, REPL_SLAVE = 2, REPL_REPLICA = 2, REPL_ALL = 3,
  REDIS_VERSION = "7.2.4", REDIS_VERSION_NUM = 459268,
  VALKEY_VERSION = hidden.version, VALKEY_VERSION_NUM = hidden.version_num,
  SERVER_NAME = "valkey",
}
hidden.api = api
real.server = api
real.redis = api

-- math.random from the engine's own generator, the same sequence on every platform.
real.math.random = hidden.random
real.math.randomseed = hidden.randomseed

-- The libraries written in Rust.
real.cjson = hidden.cjson
real.bit = hidden.bit
real.struct = hidden.struct
real.cmsgpack = hidden.cmsgpack

-- The global table: reading a missing name is an error, writing any name is an error.
rawsetmt(real, {
  __index = function(_, name)
    rawerror("Script attempted to access nonexistent global variable '" .. rawtostring(name) .. "'", 2)
  end,
})
env = protect(real)

-- Function libraries. While a library's code runs, `server`/`redis` is the registration API;
-- afterwards its functions see the full API like scripts do.
local function nonexistent(_, name)
  rawerror("Script attempted to access nonexistent global variable '" .. rawtostring(name) .. "'", 2)
end
local load_api = rawsetmt({
  LOG_DEBUG = 0, LOG_VERBOSE = 1, LOG_NOTICE = 2, LOG_WARNING = 3,
  REDIS_VERSION = api.REDIS_VERSION, REDIS_VERSION_NUM = api.REDIS_VERSION_NUM,
  VALKEY_VERSION = api.VALKEY_VERSION, VALKEY_VERSION_NUM = api.VALKEY_VERSION_NUM,
  SERVER_NAME = api.SERVER_NAME,
}, { __index = nonexistent, __newindex = readonly_write })
local known_flags = { ["no-writes"] = true, ["allow-oom"] = true, ["allow-stale"] = true,
  ["no-cluster"] = true, ["allow-cross-slot-keys"] = true }
local function fail(text) rawerror({ err = text }, 0) end
rawset(load_api, "register_function", function(...)
  local count = rawselect("#", ...)
  local name, callback, flags, description
  if count == 1 then
    local t = ...
    if rawtype(t) ~= "table" then
      fail("ERR calling server.register_function with a single argument is only applicable to Lua table (representing named arguments).")
    end
    for k, v in next, t do
      if k == "function_name" then name = v
      elseif k == "callback" then callback = v
      elseif k == "flags" then flags = v
      elseif k == "description" then description = v
      else fail("ERR unknown argument given to server.register_function") end
    end
  elseif count == 2 then
    name, callback = ...
  else
    fail("ERR wrong number of arguments to server.register_function")
  end
  if rawtype(name) ~= "string" then
    fail("ERR function_name argument given to server.register_function must be a string")
  end
  if rawtype(callback) ~= "function" then
    fail("ERR callback argument given to server.register_function must be a function")
  end
  if description ~= nil and rawtype(description) ~= "string" then
    fail("ERR description argument given to server.register_function must be a string")
  end
  local flag_list = {}
  if flags ~= nil then
    if rawtype(flags) ~= "table" then fail("ERR flags argument to server.register_function must be a table representing function flags") end
    for _, flag in next, flags do
      if rawtype(flag) ~= "string" or not known_flags[flag] then fail("ERR unknown flag given") end
      flag_list[#flag_list + 1] = flag
    end
  end
  local pending = hidden.pending
  pending[#pending + 1] = { name = name, callback = callback, flags = flag_list, description = description }
end)
rawset(load_api, "log", function(...) return api.log(...) end)
hidden.library_env = function()
  return rawsetmt({}, {
    __index = function(_, name)
      if hidden.loading and (name == "redis" or name == "server") then return load_api end
      local v = rawget(real, name)
      if v == nil then
        rawerror("Script attempted to access nonexistent global variable '" .. rawtostring(name) .. "'", 2)
      end
      return v
    end,
    __newindex = readonly_write,
    __metatable = false,
  })
end
hidden.run_load = function(f, h)
  hidden.pending = {}
  hidden.loading = true
  local ok, e = rawxpcall(f, h)
  hidden.loading = false
  return ok, e
end
real._G = env
hidden.real = real
hidden.env = env
hidden.protect = protect
return env
