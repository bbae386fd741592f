//! Pub/sub commands: SUBSCRIBE, UNSUBSCRIBE, PSUBSCRIBE, PUNSUBSCRIBE, SSUBSCRIBE,
//! SUNSUBSCRIBE, PUBLISH, SPUBLISH and PUBSUB. The registry and delivery are in
//! [`crate::pubsub`].

use tern_resp::Request;

use super::{write_help, Ctx};
use crate::pubsub::{self, Kind};

/// The count a (un)subscription reply carries for its kind.
fn count(ctx: &Ctx<'_>, kind: Kind) -> i64 {
    match kind {
        Kind::Shard => ctx.client.pubsub.shard_count() as i64,
        _ => ctx.client.pubsub.count() as i64,
    }
}

/// One confirmation: `[label, name or null, count]`, a push in RESP3.
fn confirm(ctx: &mut Ctx<'_>, label: &[u8], name: Option<&[u8]>, kind: Kind) {
    let count = count(ctx, kind);
    ctx.reply.push(3);
    ctx.reply.bulk(label);
    match name {
        Some(name) => ctx.reply.bulk(name),
        None => ctx.reply.null(),
    }
    ctx.reply.int(count);
}

fn subscribe_to(ctx: &mut Ctx<'_>, request: &Request<'_>, kind: Kind, label: &[u8]) {
    let worker = ctx.local.id;
    for name in request.iter().skip(1) {
        pubsub::subscribe(ctx.server, ctx.client, worker, kind, name);
        confirm(ctx, label, Some(name), kind);
    }
}

fn unsubscribe_from(ctx: &mut Ctx<'_>, request: &Request<'_>, kind: Kind, label: &[u8]) {
    if request.len() > 1 {
        for name in request.iter().skip(1) {
            pubsub::unsubscribe(ctx.server, ctx.client, kind, name);
            confirm(ctx, label, Some(name), kind);
        }
        return;
    }
    let names = pubsub::subscribed(ctx.client, kind);
    if names.is_empty() {
        return confirm(ctx, label, None, kind);
    }
    for name in names {
        pubsub::unsubscribe(ctx.server, ctx.client, kind, &name);
        confirm(ctx, label, Some(&name), kind);
    }
}

/// SUBSCRIBE channel [channel ...]
pub fn subscribe(ctx: &mut Ctx<'_>, request: &Request<'_>) {
    subscribe_to(ctx, request, Kind::Channel, b"subscribe");
}

/// UNSUBSCRIBE [channel ...]
pub fn unsubscribe(ctx: &mut Ctx<'_>, request: &Request<'_>) {
    unsubscribe_from(ctx, request, Kind::Channel, b"unsubscribe");
}

/// PSUBSCRIBE pattern [pattern ...]
pub fn psubscribe(ctx: &mut Ctx<'_>, request: &Request<'_>) {
    subscribe_to(ctx, request, Kind::Pattern, b"psubscribe");
}

/// PUNSUBSCRIBE [pattern ...]
pub fn punsubscribe(ctx: &mut Ctx<'_>, request: &Request<'_>) {
    unsubscribe_from(ctx, request, Kind::Pattern, b"punsubscribe");
}

/// SSUBSCRIBE shardchannel [shardchannel ...]
pub fn ssubscribe(ctx: &mut Ctx<'_>, request: &Request<'_>) {
    // A transaction expects one reply per command, as Valkey reasons for SSUBSCRIBE (SUBSCRIBE
    // and PSUBSCRIBE stay allowed there for compatibility).
    if ctx.client.no_block {
        return ctx
            .reply
            .error(b"ERR SSUBSCRIBE isn't allowed for a DENY BLOCKING client");
    }
    subscribe_to(ctx, request, Kind::Shard, b"ssubscribe");
}

/// SUNSUBSCRIBE [shardchannel ...]
pub fn sunsubscribe(ctx: &mut Ctx<'_>, request: &Request<'_>) {
    unsubscribe_from(ctx, request, Kind::Shard, b"sunsubscribe");
}

/// PUBLISH channel message
pub fn publish(ctx: &mut Ctx<'_>, request: &Request<'_>) {
    let receivers = pubsub::publish(ctx.server, request.arg(1), request.arg(2));
    ctx.reply.int(receivers as i64);
}

/// SPUBLISH shardchannel message
pub fn spublish(ctx: &mut Ctx<'_>, request: &Request<'_>) {
    let receivers = pubsub::publish_shard(ctx.server, request.arg(1), request.arg(2));
    ctx.reply.int(receivers as i64);
}

/// PUBSUB CHANNELS and SHARDCHANNELS take at most a pattern.
fn channel_list(ctx: &mut Ctx<'_>, request: &Request<'_>, kind: Kind) {
    if request.len() > 3 {
        return ctx.error_with_arg(
            "ERR unknown subcommand or wrong number of arguments for '",
            request.arg(1),
            "'. Try PUBSUB HELP.",
        );
    }
    let names = ctx.server.pubsub.channel_names(kind, request.get(2));
    ctx.reply.array(names.len());
    for name in names {
        ctx.reply.bulk(&name);
    }
}

/// PUBSUB CHANNELS [pattern]
pub fn channels(ctx: &mut Ctx<'_>, request: &Request<'_>) {
    channel_list(ctx, request, Kind::Channel);
}

/// PUBSUB SHARDCHANNELS [pattern]
pub fn shardchannels(ctx: &mut Ctx<'_>, request: &Request<'_>) {
    channel_list(ctx, request, Kind::Shard);
}

fn listener_counts(ctx: &mut Ctx<'_>, request: &Request<'_>, kind: Kind) {
    ctx.reply.array((request.len() - 2) * 2);
    for channel in request.iter().skip(2) {
        let count = ctx.server.pubsub.listener_count(kind, channel);
        ctx.reply.bulk(channel);
        ctx.reply.int(count as i64);
    }
}

/// PUBSUB NUMSUB [channel ...]
pub fn numsub(ctx: &mut Ctx<'_>, request: &Request<'_>) {
    listener_counts(ctx, request, Kind::Channel);
}

/// PUBSUB SHARDNUMSUB [shardchannel ...]
pub fn shardnumsub(ctx: &mut Ctx<'_>, request: &Request<'_>) {
    listener_counts(ctx, request, Kind::Shard);
}

/// PUBSUB NUMPAT
pub fn numpat(ctx: &mut Ctx<'_>, _request: &Request<'_>) {
    ctx.reply.int(ctx.server.pubsub.pattern_count() as i64);
}

/// PUBSUB HELP
pub fn help(ctx: &mut Ctx<'_>, _request: &Request<'_>) {
    write_help(
        ctx,
        "pubsub",
        &[
            "CHANNELS [<pattern>]",
            "    The channels someone listens to, those matching the pattern if given.",
            "NUMSUB [<channel> ...]",
            "    For each channel, how many connections listen to it (pattern listeners not counted).",
            "NUMPAT",
            "    How many distinct patterns connections listen to.",
            "SHARDCHANNELS [<pattern>]",
            "    The shard channels someone listens to, those matching the pattern if given.",
            "SHARDNUMSUB [<shardchannel> ...]",
            "    For each shard channel, how many connections listen to it.",
            "HELP",
            "    This text.",
        ],
    );
}
