//! CLIENT TRACKING, CLIENT CACHING, CLIENT GETREDIR, CLIENT TRACKINGINFO: client-side caching
//! (see `tracking`).

use std::sync::atomic::Ordering;

use tern_resp::Request;

use super::Ctx;
use crate::tracking::Options;

/// CLIENT TRACKING <ON|OFF> [REDIRECT id] [PREFIX p ...] [BCAST] [OPTIN] [OPTOUT] [NOLOOP]
pub fn tracking(ctx: &mut Ctx<'_>, request: &Request<'_>) {
    let mode = request.arg(2);
    let mut options = Options::default();
    let mut redirect_given = false;
    let mut index = 3;
    while index < request.len() {
        let option = request.arg(index);
        let more = index + 1 < request.len();
        if option.eq_ignore_ascii_case(b"REDIRECT") && more {
            index += 1;
            if redirect_given {
                return ctx
                    .reply
                    .error(b"ERR A client can only redirect to a single other client");
            }
            let Some(id) = tern_keyspace::num::parse_i64(request.arg(index)) else {
                return ctx
                    .reply
                    .error(b"ERR value is not an integer or out of range");
            };
            if !ctx.server.clients.lock().contains_key(&(id as u64)) {
                return ctx
                    .reply
                    .error(b"ERR The client ID you want redirect to does not exist");
            }
            options.redirect = id as u64;
            redirect_given = true;
        } else if option.eq_ignore_ascii_case(b"BCAST") {
            options.bcast = true;
        } else if option.eq_ignore_ascii_case(b"OPTIN") {
            options.optin = true;
        } else if option.eq_ignore_ascii_case(b"OPTOUT") {
            options.optout = true;
        } else if option.eq_ignore_ascii_case(b"NOLOOP") {
            options.noloop = true;
        } else if option.eq_ignore_ascii_case(b"PREFIX") && more {
            index += 1;
            options.prefixes.push(request.arg(index).into());
        } else {
            return ctx.reply.error(b"ERR syntax error");
        }
        index += 1;
    }
    if mode.eq_ignore_ascii_case(b"ON") {
        enable(ctx, options);
    } else if mode.eq_ignore_ascii_case(b"OFF") {
        if ctx.client.tracking.take().is_some() {
            ctx.server.tracking.disable(ctx.client.id());
        }
        ctx.client
            .shared
            .tracking_redirect
            .store(-1, Ordering::Relaxed);
        ctx.client
            .shared
            .tracking_bcast
            .store(false, Ordering::Relaxed);
        ctx.client.tracking_caching = None;
        ctx.reply.ok();
    } else {
        ctx.reply.error(b"ERR syntax error");
    }
}

fn enable(ctx: &mut Ctx<'_>, options: Options) {
    if !options.bcast && !options.prefixes.is_empty() {
        return ctx
            .reply
            .error(b"ERR PREFIX option requires BCAST mode to be enabled");
    }
    if let Some(current) = &ctx.client.tracking {
        if current.bcast != options.bcast {
            return ctx.reply.error(
                b"ERR You can't switch BCAST mode on/off before disabling tracking for this \
                  client, and then re-enabling it with a different mode.",
            );
        }
    }
    if options.bcast && (options.optin || options.optout) {
        return ctx
            .reply
            .error(b"ERR OPTIN and OPTOUT are not compatible with BCAST");
    }
    if options.optin && options.optout {
        return ctx
            .reply
            .error(b"ERR You can't specify both OPTIN mode and OPTOUT mode");
    }
    if let Some(current) = &ctx.client.tracking {
        if (options.optin && current.optout) || (options.optout && current.optin) {
            return ctx.reply.error(
                b"ERR You can't switch OPTIN/OPTOUT mode before disabling tracking for this \
                  client, and then re-enabling it with a different mode.",
            );
        }
    }
    let mut options = options;
    if options.bcast {
        let existing: Vec<Box<[u8]>> = ctx
            .client
            .tracking
            .as_ref()
            .map(|t| t.prefixes.clone())
            .unwrap_or_default();
        if let Some(error) = prefix_collision(&existing, &options.prefixes) {
            return ctx.reply.error(&error);
        }
        // Re-enabling adds prefixes to those the client has.
        let mut all = existing;
        for prefix in options.prefixes.drain(..) {
            if !all.contains(&prefix) {
                all.push(prefix);
            }
        }
        options.prefixes = all;
    }
    ctx.server
        .tracking
        .enable(&ctx.client.shared, options.clone());
    let shared = &ctx.client.shared;
    shared
        .tracking_redirect
        .store(options.redirect as i64, Ordering::Relaxed);
    shared
        .tracking_bcast
        .store(options.bcast, Ordering::Relaxed);
    ctx.client.tracking = Some(Box::new(options));
    ctx.reply.ok();
}

/// Valkey's check that a client's prefixes never contain one another.
fn prefix_collision(existing: &[Box<[u8]>], given: &[Box<[u8]>]) -> Option<Vec<u8>> {
    let overlaps = |a: &[u8], b: &[u8]| a.starts_with(b) || b.starts_with(a);
    let error = |prefix: &[u8], whose: &[u8], other: &[u8]| {
        let mut error = b"ERR Prefix '".to_vec();
        error.extend_from_slice(prefix);
        error.extend_from_slice(b"' overlaps with ");
        error.extend_from_slice(whose);
        error.extend_from_slice(b" prefix '");
        error.extend_from_slice(other);
        error.extend_from_slice(b"'. Prefixes for a single client must not overlap.");
        error
    };
    for (index, prefix) in given.iter().enumerate() {
        if let Some(other) = existing
            .iter()
            .find(|other| **other != *prefix && overlaps(prefix, other))
        {
            return Some(error(prefix, b"an existing", other));
        }
        if let Some(other) = given[index + 1..]
            .iter()
            .find(|other| overlaps(prefix, other))
        {
            return Some(error(prefix, b"another provided", other));
        }
    }
    None
}

/// CLIENT CACHING <YES|NO>
pub fn caching(ctx: &mut Ctx<'_>, request: &Request<'_>) {
    let (optin, optout) = match &ctx.client.tracking {
        Some(t) => (t.optin, t.optout),
        None => (false, false),
    };
    if !optin && !optout {
        return ctx.reply.error(
            b"ERR CLIENT CACHING can be called only when the client is in tracking mode with \
              OPTIN or OPTOUT mode enabled",
        );
    }
    let answer = request.arg(2);
    if answer.eq_ignore_ascii_case(b"YES") {
        if !optin {
            return ctx.reply.error(
                b"ERR CLIENT CACHING YES is only valid when tracking is enabled in OPTIN mode.",
            );
        }
        ctx.client.tracking_caching = Some(true);
    } else if answer.eq_ignore_ascii_case(b"NO") {
        if !optout {
            return ctx.reply.error(
                b"ERR CLIENT CACHING NO is only valid when tracking is enabled in OPTOUT mode.",
            );
        }
        ctx.client.tracking_caching = Some(false);
    } else {
        return ctx.reply.error(b"ERR syntax error");
    }
    ctx.reply.ok();
}

/// CLIENT GETREDIR: -1 when not tracking, else the redirect (0: none).
pub fn getredir(ctx: &mut Ctx<'_>, _request: &Request<'_>) {
    let redirect = match &ctx.client.tracking {
        Some(t) => t.redirect as i64,
        None => -1,
    };
    ctx.reply.int(redirect);
}

/// CLIENT TRACKINGINFO
pub fn trackinginfo(ctx: &mut Ctx<'_>, _request: &Request<'_>) {
    let tracking = ctx.client.tracking.as_deref();
    let mut flags: Vec<&[u8]> = Vec::new();
    let mut redirect = -1i64;
    let mut prefixes: &[Box<[u8]>] = &[];
    match tracking {
        None => flags.push(b"off"),
        Some(t) => {
            flags.push(b"on");
            if t.bcast {
                flags.push(b"bcast");
            }
            if t.optin {
                flags.push(b"optin");
                if ctx.client.tracking_caching == Some(true) {
                    flags.push(b"caching-yes");
                }
            }
            if t.optout {
                flags.push(b"optout");
                if ctx.client.tracking_caching == Some(false) {
                    flags.push(b"caching-no");
                }
            }
            if t.noloop {
                flags.push(b"noloop");
            }
            redirect = t.redirect as i64;
            if t.redirect != 0 && ctx.server.tracking.redirect_broken(ctx.client.id()) {
                flags.push(b"broken_redirect");
            }
            prefixes = &t.prefixes;
        }
    }
    let prefixes: Vec<Box<[u8]>> = prefixes.to_vec();
    ctx.reply.map(3);
    ctx.reply.bulk(b"flags");
    ctx.reply.set(flags.len());
    for flag in flags {
        ctx.reply.bulk(flag);
    }
    ctx.reply.bulk(b"redirect");
    ctx.reply.int(redirect);
    ctx.reply.bulk(b"prefixes");
    ctx.reply.array(prefixes.len());
    for prefix in &prefixes {
        ctx.reply.bulk(prefix);
    }
}
