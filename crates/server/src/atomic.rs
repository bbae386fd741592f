//! Commands that must run alone: EXEC and scripts.

use crate::cmd::Ctx;

/// Runs `body` with no other command running on any worker.
pub fn exclusive<R>(ctx: &mut Ctx<'_>, body: impl FnOnce(&mut Ctx<'_>) -> R) -> R {
    body(ctx)
}
