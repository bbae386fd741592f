"""Differential tests of scripting against Valkey, RESP2 and RESP3 callers.

* ``test_case[name-respN]``: command tables compared byte for byte: scripts returning every
  type (with and without ``redis.setresp(3)``), errors inside scripts (call vs pcall,
  error_reply, runtime errors, arity, unknown and not-allowed commands, writes from read-only
  scripts), the number-of-keys errors, the sandbox, shebang flags, SCRIPT subcommands,
  FUNCTION and FCALL.
* ``test_function_dump_restore_between_terns``: FUNCTION DUMP from one tern restored into
  another (Tern's payload is its own; see docs/compatibility.md).
* ``test_register_script``: redis-py's ``register_script`` (EVALSHA, then EVAL on NOSCRIPT).
* ``test_script_kill_from_another_connection``, ``test_busy_reply_while_a_script_runs``: other
  connections (on other worker threads) get BUSY and can kill the script.
"""

from __future__ import annotations

import threading
import time

import pytest

from difftools import run_commands
from harness import decode


def e(body: str, *rest):
    """EVAL body with the given numkeys and arguments (default numkeys 0)."""
    rest = rest or (0,)
    return ["EVAL", body, *[str(r) for r in rest]]


def ero(body: str, *rest):
    rest = rest or (0,)
    return ["EVAL_RO", body, *[str(r) for r in rest]]


SETRESP3 = "redis.setresp(3); "

CASES = {
    "returns": [
        e("return 1"), e("return -3.99"), e("return 3.99"), e("return 'abc'"), e("return ''"),
        e("return true"), e("return false"), e("return nil"), e("return"),
        e("return {1, 2, 3.7, 'a', nil, 5}"), e("return {1, {2, {3, 'x'}}, false, true}"),
        e("return {ok='fine'}"), e("return {err='bad thing'}"), e("return {err='x\\ny'}"),
        e("return {ok='a\\r\\nb'}"), e("return {1, {err='inner'}, {ok='o'}}"),
        e("return {double=3.14}"), e("return {double=1e20}"), e("return {double=1e-7}"),
        e("return {double=3}"), e("return {double=1/0}"), e("return {double=-1/0}"),
        e("return {big_number='12345678901234567890'}"),
        e("return {verbatim_string={format='txt', string='hi'}}"),
        e("return {map={a=1}}"), e("return {set={a=true}}"),
        e("return redis.status_reply('hi')"), e("return redis.error_reply('x y')"),
        e("return redis.error_reply('-X y')"), e("return redis.error_reply('X')"),
        e("return redis.error_reply(1, 2)"), e("return redis.status_reply()"),
        e("return 2^53"), e("return -(2^31)"), e("return 0/0 ~= 0/0"),
        e("local t = {} t[1] = 1 t[3] = 3 return t"), e("return {a=1, b=2}"),
        e("return KEYS[1] .. ARGV[1] .. #KEYS .. #ARGV", 2, "k1", "k2", "a1"),
        e("return {KEYS, ARGV}", 1, "k", "a", "b"),
        e("return redis.sha1hex('')"), e("return redis.sha1hex('abc')"), e("return redis.sha1hex()"),
        e("return {redis.REDIS_VERSION, redis.REDIS_VERSION_NUM, server.REDIS_VERSION}"),
        e("return {redis.LOG_DEBUG, redis.LOG_VERBOSE, redis.LOG_NOTICE, redis.LOG_WARNING}"),
        e("return {redis.REPL_NONE, redis.REPL_AOF, redis.REPL_SLAVE, redis.REPL_REPLICA, redis.REPL_ALL}"),
        e("return {redis.replicate_commands(), redis.breakpoint(), redis.debug('x')}"),
        e("return redis.log(redis.LOG_DEBUG, 'hello', 'there')"),
        e("return redis.set_repl(redis.REPL_ALL)"),
        e("return _VERSION"), e("return tostring(1e100) .. tostring(0.1) .. tostring(123456789012345)"),
        e("return type(os.clock())"),
    ],
    "calls": [
        ["SET", "s", "v"], ["RPUSH", "l", "a", "b"], ["HSET", "h", "f", "1"], ["SADD", "st", "m"],
        ["ZADD", "z", "1.5", "m"],
        e("return redis.call('get', 's')"), e("return redis.call('get', 'nokey')"),
        e("return redis.call('lrange', 'l', 0, -1)"), e("return redis.call('hgetall', 'h')"),
        e("return redis.call('smembers', 'st')"), e("return redis.call('zscore', 'z', 'm')"),
        e("return redis.call('ping')"), e("return redis.call('incr', 'n')"),
        e("return redis.call('set', 'x', 'y')"), e("return redis.call('del', 'nokey')"),
        e("return redis.call('hgetall', 'nokey')"),
        e(SETRESP3 + "return redis.call('hgetall', 'h')"),
        e(SETRESP3 + "return redis.call('smembers', 'st')"),
        e(SETRESP3 + "return redis.call('zscore', 'z', 'm')"),
        e(SETRESP3 + "return redis.call('get', 'nokey')"),
        e(SETRESP3 + "return redis.call('sismember', 'st', 'm')"),
        e(SETRESP3 + "return redis.call('zrange', 'z', 0, -1, 'withscores')"),
        e(SETRESP3 + "return true"), e(SETRESP3 + "return false"),
        e(SETRESP3 + "return {double=2.5}"),
        e("local r = redis.call('hgetall', 'h') return type(r)"),
        e(SETRESP3 + "local r = redis.call('hgetall', 'h') return r.map.f"),
        e(SETRESP3 + "local r = redis.call('smembers', 'st') return tostring(r.set.m)"),
        e(SETRESP3 + "local r = redis.call('zscore', 'z', 'm') return tostring(r.double)"),
        e("return redis.call('set', 'k', 0.1) and redis.call('get', 'k')"),
        e("return redis.call('set', 'k', 1e20) and redis.call('get', 'k')"),
        e("return redis.call('set', 'k', 2^63) and redis.call('get', 'k')"),
        e("return redis.call('set', 'k', 1e15 + 0.5) and redis.call('get', 'k')"),
        e("return redis.call('set', 'k', -0.0) and redis.call('get', 'k')"),
        e("return redis.call('set', 'k', 1/0) and redis.call('get', 'k')"),
        e("return redis.call('set', KEYS[1], ARGV[1])", 1, "kk", "vv"), ["GET", "kk"],
        e("redis.call('select', 3); return redis.call('set', 'in3', 'x')"),
        ["EXISTS", "in3"], ["SELECT", "3"], ["EXISTS", "in3"], ["SELECT", "0"],
        e("return redis.call('blpop', 'nolist', 0)"),
        e("return redis.call('object', 'encoding', 's')"),
    ],
    "errors": [
        ["SET", "x", "a"],
        e("return redis.call('incr', 'x')"), e("return redis.pcall('incr', 'x')"),
        e("return redis.call('nosuch')"), e("return redis.pcall('nosuch')"),
        e("return redis.call('get')"), e("return redis.call('client')"),
        e("return redis.call('client', 'nosuch')"),
        e("return redis.call('eval', 'return 1', '0')"), e("return redis.call('hello')"),
        e("return redis.call('monitor')"), e("return redis.call('script', 'load', 'return 1')"),
        e("return redis.call()"), e("return redis.call({})"), e("return redis.pcall({})"),
        e("return redis.call('ping', {})"), e("return redis.call('ping', 1.5, 2)"),
        e("return redis.setresp(4)"), e("return redis.setresp()"),
        e("return redis.log()"), e("return redis.log('x', 'y')"), e("return redis.log(9, 'y')"),
        e("return redis.set_repl(8)"), e("return redis.set_repl()"),
        e("return redis.acl_check_cmd('set', 'a', 'b')"), e("return redis.acl_check_cmd('nosuch')"),
        e("return foo"), e("return nosuch()"), e("return ("), e("return 'a' + 1"),
        e("error('boom')"), e("error({err='MY boom'})"), e("error({err='nocode'})"),
        e("error()"), e("error(42)"), e("local x = nil; return x.y"),
        e("\n\nreturn redis.call('nosuch')"),
        e("local function f()\n  return redis.call('nosuch')\nend\nreturn f()"),
        e("return pcall(function() redis.call('nosuch') end)"),
        e("local ok, err = pcall(function() redis.call('nosuch') end) return err"),
        e("local ok, err = pcall(function() error('x') end) return err"),
        e("local ok, err = pcall(function() error({err='T x'}) end) return err"),
        e("local ok, err = pcall(redis.call, 'incr', 'x') return {tostring(ok), err}"),
        e("local r = redis.pcall('incr', 'x') return r.err"),
        e("local r = redis.pcall('nosuch') return r"),
        e("return xpcall(function() error('x') end, function(m) return 'handled ' .. m end)"),
        e("return 1", -1), e("return 1", 2, "a"), e("return 1", "x"), e("return 1", "1.5"),
        ["EVAL", "return 1"], ["EVALSHA", "ffffffffffffffffffffffffffffffffffffffff", "0"],
        ["EVALSHA", "fff", "0"], ["EVALSHA", "ffffffffffffffffffffffffffffffffffffffff", "x"],
    ],
    "read-only": [
        ero("return redis.call('set', 'a', 'b')"), ero("return redis.call('get', 'a')"),
        ero("return redis.pcall('set', 'a', 'b')"), ["EXISTS", "a"],
        e("#!lua flags=no-writes\nreturn redis.call('set', 'a', 'b')"),
        e("#!lua flags=no-writes\nreturn redis.call('get', 'a')"),
        ero("#!lua\nreturn 1"), ero("#!lua flags=no-writes\nreturn 1"),
        e("#!lua flags=no-writes,allow-oom,allow-stale,no-cluster,allow-cross-slot-keys\nreturn 1"),
        e("#!lua flags=bogus\nreturn 1"), e("#!lua name=x\nreturn 1"), e("#!lua\nreturn 1"),
        e("#!luax\nreturn 1"), e("#!lua flags=\nreturn 2"), e("#!lua\nreturn redis.call('nosuch')"),
        ["SCRIPT", "LOAD", "#!lua flags=no-writes\nreturn redis.call('get', 'a')"],
        ["EVALSHA_RO", "b81a6a5bfcc1de01dc3e7b0ba49e5e3b1fd41e17", "0"],
    ],
    "sandbox": [
        e("foo = 1"), e("redis.call = 1"), e("string.x = 1"), e("_G.x = 1"), e("math.pi = 3"),
        e("return io"), e("return dofile"), e("return loadfile"), e("return print"),
        e("return debug"), e("return require"), e("return getfenv"), e("return setfenv"),
        e("return newproxy"), e("return module"), e("return package"),
        e("return os.exit"), e("return os.time"), e("return type(os.clock)"),
        e("return redis.nonexistent"),
        e("return loadstring(string.dump(function() return 1 end))"),
        e("return loadstring('return 5')()"), e("return load('return 6')()"),
        e("return type(load)"), e("return loadstring('x = 1')()"),
        e("return {type(coroutine), type(rawget), type(unpack), type(gcinfo), type(select)}"),
        e("local x = 5 return x"), e("local t = {} t.a = 1 return t.a"),
        e("return string.format('%d-%s', 5, 'x')"), e("return ('abc'):upper()"),
        e("return table.concat({1, 2, 3}, ',')"), e("return math.floor(3.7)"),
        e("return tostring(nil) .. tostring(true)"),
    ],
    "script-subcommands": [
        ["SCRIPT", "FLUSH"],
        ["SCRIPT", "LOAD", "return 1"], ["SCRIPT", "LOAD", "return ("],
        ["SCRIPT", "EXISTS", "e0e1f9fabfc9d4800c877a703b823ac0578ff8db", "x"],
        ["SCRIPT", "EXISTS", "E0E1F9FABFC9D4800C877A703B823AC0578FF8DB"],
        ["EVALSHA", "e0e1f9fabfc9d4800c877a703b823ac0578ff8db", "0"],
        ["EVALSHA", "E0E1F9FABFC9D4800C877A703B823AC0578FF8DB", "0"],
        ["EVALSHA_RO", "e0e1f9fabfc9d4800c877a703b823ac0578ff8db", "0"],
        ["SCRIPT", "SHOW", "e0e1f9fabfc9d4800c877a703b823ac0578ff8db"],
        ["SCRIPT", "SHOW", "ffffffffffffffffffffffffffffffffffffffff"],
        e("return 'cached by eval'"),
        ["EVALSHA", "f7d3bcd3b7c0b7a1e1fea77a1b8bf4a1b0efc8d8", "0"],
        ["SCRIPT", "FLUSH", "ASYNC"], ["SCRIPT", "FLUSH", "sync"], ["SCRIPT", "FLUSH", "foo"],
        ["SCRIPT", "FLUSH", "sync", "async"],
        ["SCRIPT", "EXISTS", "e0e1f9fabfc9d4800c877a703b823ac0578ff8db"],
        ["EVALSHA", "e0e1f9fabfc9d4800c877a703b823ac0578ff8db", "0"],
        ["SCRIPT", "KILL"], ["SCRIPT", "NOSUCH"], ["SCRIPT"], ["SCRIPT", "HELP"],
        ["FUNCTION", "KILL"],
    ],
    "functions": [
        ["FUNCTION", "FLUSH"],
        ["FUNCTION", "LOAD", "#!lua name=mylib\n"
         "redis.register_function('f1', function(keys, args) return redis.call('nosuch') end)\n"
         "redis.register_function{function_name='f2', callback=function(keys, args) "
         "return {keys[1], args[1]} end, flags={'no-writes'}, description='desc'}"],
        ["FCALL", "f1", "0"], ["FCALL", "f2", "1", "k", "a"], ["FCALL_RO", "f2", "1", "k", "a"],
        ["FCALL_RO", "f1", "0"], ["FCALL", "nosuch", "0"], ["FCALL", "f2", "-1"],
        ["FCALL", "f2", "5"], ["FCALL", "f2", "x"],
        ["FUNCTION", "LIST", "LIBRARYNAME", "my"], ["FUNCTION", "LIST", "LIBRARYNAME", "zz"],
        ["FUNCTION", "LIST", "foo"], ["FUNCTION", "STATS"],
        ["FUNCTION", "LOAD", "#!lua name=mylib\nredis.register_function('f1', function() return 1 end)"],
        ["FUNCTION", "LOAD", "REPLACE", "#!lua name=mylib\nredis.register_function('f1', function() return 1 end)"],
        ["FCALL", "f1", "0"], ["FCALL", "f2", "0"],
        # One function per library from here: the reference lists a library's functions in
        # its hash table's order.
        ["FUNCTION", "LIST"], ["FUNCTION", "LIST", "WITHCODE"], ["FUNCTION", "LIST", "LIBRARYNAME", "my*"],
        ["FUNCTION", "LIST", "LIBRARYNAME"], ["FUNCTION", "LIST", "WITHCODE", "WITHCODE"],
        ["FUNCTION", "DUMP"],
        ["FUNCTION", "LOAD", "#!lua name=lib2\nredis.register_function('f1', function() return 1 end)"],
        ["FUNCTION", "LOAD", "#!lua name=lib3\nreturn 1"],
        ["FUNCTION", "LOAD", "#!lua name=lib3\nredis.call('ping')"],
        ["FUNCTION", "LOAD", "#!lua name=lib3\nfoo()"],
        ["FUNCTION", "LOAD", "#!lua name=lib3\nredis.register_function('bad name', function() return 1 end)"],
        ["FUNCTION", "LOAD", "#!lua name=lib3\nredis.register_function('g', function() return 1 end)\n"
         "redis.register_function('g', function() return 1 end)"],
        ["FUNCTION", "LOAD", "#!lua name=lib3\nredis.register_function{function_name='g', "
         "callback=function() return 1 end, flags={'bogus'}}"],
        ["FUNCTION", "LOAD", "#!lua name=lib3\nredis.register_function{function_name='g', "
         "callback=function() return 1 end, foo=1}"],
        ["FUNCTION", "LOAD", "#!lua name=lib3\nredis.register_function('g')"],
        ["FUNCTION", "LOAD", "#!lua name=lib3 foo=bar\nredis.register_function('g', function() return 1 end)"],
        ["FUNCTION", "LOAD", "#!lua\nredis.register_function('g', function() return 1 end)"],
        ["FUNCTION", "LOAD", "#!lua name=\nredis.register_function('g', function() return 1 end)"],
        ["FUNCTION", "LOAD", "#!lua name=a-b\nredis.register_function('g', function() return 1 end)"],
        ["FUNCTION", "LOAD", "return 1"], ["FUNCTION", "LOAD", "#!lua name=lib3\nlocal x = 1"],
        ["FUNCTION", "LOAD", "#!lua name=lib3\n(("],
        ["FUNCTION", "LOAD", "#!lua name=lib6\nredis.register_function('w', function(k, a) "
         "return redis.call('set', k[1], a[1]) end)"],
        ["FUNCTION", "LOAD", "#!lua name=lib7\nredis.register_function{function_name='r', "
         "callback=function(k) return redis.call('get', k[1]) end, flags={'no-writes'}}"],
        ["FCALL", "w", "1", "fk", "fv"], ["FCALL_RO", "r", "1", "fk"], ["FCALL_RO", "w", "1", "fk", "x"],
        ["FUNCTION", "STATS"],
        ["FUNCTION", "DELETE", "lib6"], ["FUNCTION", "DELETE", "lib6"], ["FUNCTION", "DELETE"],
        ["FCALL", "w", "1", "fk", "fv"],
        ["FUNCTION", "RESTORE", "abc"], ["FUNCTION", "RESTORE", "abc", "foo"],
        ["FUNCTION", "FLUSH", "async"], ["FUNCTION", "FLUSH", "sync"], ["FUNCTION", "FLUSH", "foo"],
        ["FUNCTION", "LIST"], ["FUNCTION", "STATS"], ["FUNCTION", "KILL"], ["FUNCTION", "HELP"],
        ["SCRIPT", "KILL"],
    ],
}


# The bundled libraries, one case list each: round trips, edge cases, argument errors (the
# error text names the function as the calling code does, `?` behind pcall).
LIB_BIT = [
    'return bit.tobit()',
    "return bit.tobit('x')",
    'return bit.tobit({})',
    "return bit.tobit('0x10')",
    "return bit.tobit('  12  ')",
    'return bit.tobit(2^31)',
    'return bit.tobit(2^32+5)',
    'return bit.tobit(-1.5)',
    'return bit.tobit(1.5)',
    'return bit.tobit(2.5)',
    'return bit.tobit(0/0)',
    'return bit.tobit(1/0)',
    'return bit.tohex(255)',
    'return bit.tohex(-1)',
    'return bit.tohex(255, 2)',
    'return bit.tohex(255, -2)',
    'return bit.tohex(255, -10)',
    'return bit.tohex(255, 0)',
    'return bit.tohex(255, 9)',
    'return bit.tohex(0x12345678, -3)',
    "return bit.tohex(255, 'x')",
    'return bit.tohex(255, nil)',
    'return bit.tohex()',
    'return bit.bnot(0)',
    'return bit.bnot(5)',
    'return bit.band(0xff, 0x0f, 0x3)',
    'return bit.band()',
    'return bit.band(1)',
    'return bit.bor(1, 2, 4, 8)',
    'return bit.bxor(1, 3)',
    'return bit.bxor(1, 3, 7, 15)',
    'return bit.bor(1, nil)',
    "return bit.bor(1, nil, 'x')",
    "return bit.bor('x', nil, 'x')",
    'return bit.lshift(1, 31)',
    'return bit.lshift(1, 32)',
    'return bit.lshift(1, 33)',
    'return bit.lshift(1, -1)',
    'return bit.rshift(-1, 28)',
    'return bit.rshift(-1, 0)',
    'return bit.arshift(-256, 4)',
    'return bit.arshift(256, 4)',
    'return bit.rol(0x12345678, 12)',
    'return bit.ror(0x12345678, 12)',
    'return bit.rol(0x12345678, 0)',
    'return bit.bswap(0x12345678)',
    'return bit.bswap(-1)',
    'return bit.lshift(1)',
    'return bit.lshift()',
    "return bit.lshift(1, 'a')",
    'return bit.tobit(2^53+3)',
    'return bit.tobit(-(2^53))',
    'return bit.tobit(1e300)',
    "return bit.tobit('1e3')",
    'return bit.tobit(true)',
    'return bit.tobit(4294967295)',
    'return bit.tobit(-0.5)',
    'return bit.tobit(0.5)',
    'return bit.tobit(1e-300)',
    'return bit.tohex(bit.bnot(0), -8)',
    'return bit.tohex(65535, 4) .. bit.tohex(1, -1)',
    "return pcall(bit.tobit, 'z')",
    "return select(2, pcall(bit.tobit, 'z'))",
    'return select(2, pcall(bit.band, 1, {}))',
    'return bit.band(1.9, 3)',
    'return bit.tohex(2^32+255, 2.6)',
    "local f = bit.tobit return f('q')",
    "local t = {x=bit.band} return t.x(1, 'q')",
    "local t = {x=bit.band} return t:x(1, 'q')",
    "local t = {x=bit.band} return t:x('q')",
]

CASES["libraries_bit"] = [e(body) for body in LIB_BIT]


@pytest.mark.parametrize("proto", [2, 3], ids=["resp2", "resp3"])
@pytest.mark.parametrize("name", list(CASES))
def test_case(tern, valkey, name, proto):
    run_commands(tern, valkey, proto, CASES[name], f"case {name!r} RESP{proto}")


def test_function_dump_restore_between_terns(start_server):
    a, b = start_server("tern"), start_server("tern")
    ca, cb = a.client(), b.client()
    lib = "#!lua name=dl\nredis.register_function('dlf', function(k, a) return a[1] end)"
    assert ca.call("FUNCTION", "LOAD", lib) == b"$2\r\ndl\r\n"
    dump = decode(ca.call("FUNCTION", "DUMP"))
    assert isinstance(dump, bytes) and dump
    assert cb.call("FUNCTION", "RESTORE", dump) == b"+OK\r\n"
    assert cb.call("FCALL", "dlf", "0", "hi") == b"$2\r\nhi\r\n"
    assert cb.call("FUNCTION", "RESTORE", dump).startswith(b"-ERR Library 'dl' already exists")
    assert cb.call("FUNCTION", "RESTORE", dump, "REPLACE") == b"+OK\r\n"
    assert cb.call("FUNCTION", "RESTORE", dump, "FLUSH") == b"+OK\r\n"
    assert cb.call("FUNCTION", "RESTORE", b"garbage" + dump) .startswith(b"-ERR")
    assert cb.call("FCALL", "dlf", "0", "again") == b"$5\r\nagain\r\n"


def test_register_script(tern):
    redis = pytest.importorskip("redis")
    client = redis.Redis(host="127.0.0.1", port=tern.port)
    client.script_flush()
    script = client.register_script("return {KEYS[1], ARGV[1], redis.call('incr', KEYS[1])}")
    client.delete("rs")
    assert script(keys=["rs"], args=["a"]) == [b"rs", b"a", 1]
    assert script(keys=["rs"], args=["b"]) == [b"rs", b"b", 2]
    client.script_flush()
    assert script(keys=["rs"], args=["c"]) == [b"rs", b"c", 3]


LOOP = "local t = os.clock() while os.clock() - t < %s do end return 'done'"


def test_script_kill_from_another_connection(start_server):
    """SCRIPT KILL sets the flag the running script's hook reads; the script fails with
    Valkey's error. Each connection runs on its own worker here; as in Valkey, other clients
    are served only once the script has run past busy-reply-threshold."""
    server = start_server("tern", {"worker-threads": 2, "busy-reply-threshold": 100})
    runner, killer = server.client(), server.client()
    assert killer.call("SCRIPT", "KILL") == b"-NOTBUSY No scripts in execution right now.\r\n"
    replies = []
    thread = threading.Thread(target=lambda: replies.append(runner.call("EVAL", LOOP % 3, "0")))
    thread.start()
    time.sleep(0.5)
    kill = killer.call("SCRIPT", "KILL")
    wrong_kind = killer.call("FUNCTION", "KILL")
    thread.join(10)
    assert kill == b"+OK\r\n", kill
    assert wrong_kind.startswith(b"-BUSY") or wrong_kind.startswith(b"-NOTBUSY"), wrong_kind
    assert replies and replies[0].startswith(
        b"-ERR Script killed by user with SCRIPT KILL. script: on @user_script:1."), replies


def test_unkillable_after_a_write(start_server):
    server = start_server("tern", {"worker-threads": 2, "busy-reply-threshold": 100})
    runner, killer = server.client(), server.client()
    body = "redis.call('set', 'w', '1') " + LOOP % 1.5
    replies = []
    thread = threading.Thread(target=lambda: replies.append(runner.call("EVAL", body, "0")))
    thread.start()
    time.sleep(0.5)
    kill = killer.call("SCRIPT", "KILL")
    thread.join(10)
    assert kill.startswith(b"-UNKILLABLE Sorry the script already executed write commands"), kill
    assert replies == [b"$4\r\ndone\r\n"]


def test_busy_reply_while_a_script_runs(start_server):
    server = start_server("tern", {"worker-threads": 2, "busy-reply-threshold": 100})
    runner, other = server.client(), server.client()
    replies = []
    thread = threading.Thread(target=lambda: replies.append(runner.call("EVAL", LOOP % 1.5, "0")))
    thread.start()
    time.sleep(0.7)
    ping = other.call("PING")
    thread.join(10)
    assert ping.startswith(b"-BUSY Valkey is busy running a script. You can only call SCRIPT KILL"), ping
