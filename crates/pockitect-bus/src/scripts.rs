//! The bus's multi-key atomic steps, as small Lua scripts run by Redis in one step. Every key a
//! script is given comes from [`crate::Keys`], so all of them share one hash tag: one slot on a
//! Redis Cluster, where a script may only touch keys of one slot.

use std::sync::LazyLock;

use redis::Script;

/// Enqueue a command once per dedupe key: `SET seen NX` then `XADD`.
/// KEYS: seen, command stream. ARGV: payload, seen ttl (s), stream max length.
pub static ENQUEUE: LazyLock<Script> = LazyLock::new(|| {
    Script::new(
        r"
if redis.call('SET', KEYS[1], '1', 'NX', 'EX', ARGV[2]) then
  return redis.call('XADD', KEYS[2], 'MAXLEN', '~', ARGV[3], '*', 'envelope', ARGV[1])
end
return false
",
    )
});

/// Append an event to the replay stream and publish it live, as one step.
/// KEYS: event stream. ARGV: channel, payload, stream max length.
pub static PUBLISH_EVENT: LazyLock<Script> = LazyLock::new(|| {
    Script::new(
        r"
local id = redis.call('XADD', KEYS[1], 'MAXLEN', '~', ARGV[3], '*', 'event', ARGV[2])
redis.call('PUBLISH', ARGV[1], ARGV[2])
return id
",
    )
});

/// Publish a request's terminal event, record it as done, drop the lease and acknowledge the
/// command, all at once, so a crash can never leave a request both finished and pending. When
/// the request is already done (another worker won a race), only acknowledges: exactly one
/// terminal event per request. A query's full answer, when given, is stored for its client in
/// the same step, so it is there as soon as the (small) terminal event is.
/// A refusal of a malformed command (ARGV[10] = '1') is published only under a request id that
/// nobody holds either: a malformed duplicate never ends or replaces a running request.
/// The request's audit entry, when given, is appended to the audit stream in the same step (a
/// refusal's always: it is its own record, even under a live request's id), trimmed to the
/// retention, and the request's list of touched resources dropped: exactly one entry per end.
/// KEYS: done, claim, event stream, command stream, reply, audit stream, touched list.
/// ARGV: channel, payload, event max length, done ttl (s), group, message id ('' for none),
/// consumer, reply payload ('' for none), reply ttl (s), refusal ('1' or '0'), audit entry
/// ('' for none), oldest audit id kept (ms), audit max length.
pub static FINISH: LazyLock<Script> = LazyLock::new(|| {
    Script::new(
        r"
local function ack()
  if ARGV[6] ~= '' then
    redis.call('XACK', KEYS[4], ARGV[5], ARGV[6])
    redis.call('XDEL', KEYS[4], ARGV[6])
  end
end
local function audit()
  if ARGV[11] ~= '' then
    redis.call('XADD', KEYS[6], 'MINID', '~', ARGV[12], '*', 'entry', ARGV[11])
    redis.call('XTRIM', KEYS[6], 'MAXLEN', '~', ARGV[13])
    redis.call('DEL', KEYS[7])
  end
end
if redis.call('EXISTS', KEYS[1]) == 1
  or (ARGV[10] == '1' and redis.call('EXISTS', KEYS[2]) == 1) then
  if ARGV[10] == '1' then
    audit()
  end
  ack()
  return 0
end
if ARGV[8] and ARGV[8] ~= '' then
  redis.call('SET', KEYS[5], ARGV[8], 'EX', ARGV[9])
end
redis.call('XADD', KEYS[3], 'MAXLEN', '~', ARGV[3], '*', 'event', ARGV[2])
redis.call('PUBLISH', ARGV[1], ARGV[2])
redis.call('SET', KEYS[1], ARGV[2], 'EX', ARGV[4])
if redis.call('GET', KEYS[2]) == ARGV[7] then
  redis.call('DEL', KEYS[2])
end
audit()
ack()
return 1
",
    )
});

/// Take the lease of a request: `{0, me}` taken, `{1, ''}` already done, `{2, holder}` held.
/// KEYS: claim, done. ARGV: consumer, lease (ms).
pub static CLAIM: LazyLock<Script> = LazyLock::new(|| {
    Script::new(
        r"
if redis.call('EXISTS', KEYS[2]) == 1 then
  return {1, ''}
end
local cur = redis.call('GET', KEYS[1])
if (not cur) or cur == ARGV[1] then
  redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[2])
  return {0, ARGV[1]}
end
return {2, cur}
",
    )
});

/// Take a lock owned by a value: `{1, me}` taken (or already ours), `{0, holder}` held.
/// KEYS: lock. ARGV: owner, lease (ms).
pub static LOCK: LazyLock<Script> = LazyLock::new(|| {
    Script::new(
        r"
local cur = redis.call('GET', KEYS[1])
if (not cur) or cur == ARGV[1] then
  redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[2])
  return {1, ARGV[1]}
end
return {0, cur}
",
    )
});

/// Extend a lease only while we still own it: `{1, me}` renewed, `{0, ''}` the key is gone
/// (it expired, or Redis lost its data), `{2, holder}` someone else holds it now.
/// KEYS: key. ARGV: owner, lease (ms).
pub static RENEW: LazyLock<Script> = LazyLock::new(|| {
    Script::new(
        r"
local cur = redis.call('GET', KEYS[1])
if cur == ARGV[1] then
  redis.call('PEXPIRE', KEYS[1], ARGV[2])
  return {1, cur}
end
if not cur then
  return {0, ''}
end
return {2, cur}
",
    )
});

/// Delete a key only while we still own it. KEYS: key. ARGV: owner. Returns 1/0.
pub static RELEASE: LazyLock<Script> = LazyLock::new(|| {
    Script::new(
        r"
if redis.call('GET', KEYS[1]) == ARGV[1] then
  return redis.call('DEL', KEYS[1])
end
return 0
",
    )
});

/// The heartbeats of the daemons whose ids are in the set, dropping the ids whose record
/// expired. KEYS: daemon ids (set), then each daemon's record. ARGV: each daemon's id, in the
/// order of its record.
pub static DAEMONS: LazyLock<Script> = LazyLock::new(|| {
    Script::new(
        r"
local out = {}
for i = 2, #KEYS do
  local hb = redis.call('GET', KEYS[i])
  if hb then
    out[#out + 1] = hb
  else
    redis.call('SREM', KEYS[1], ARGV[i - 1])
  end
end
return out
",
    )
});
