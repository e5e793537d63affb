"""The waiting line in Redis, shared by every web process: who waits, and what became of them.

Keys hold call sids, topics, languages and volunteer ids, never a number:
- `hotline:line` (sorted set): the call sids in line, scored by when they joined;
- `hotline:line:caller:<sid>` (hash): topic, lang, joined, offered (volunteer being rung), tried
  (volunteers already rung for this caller), direct (put straight through: see
  WaitingCaller.direct), and once out of line `outcome`: connected:<id>, timeout, callback,
  emergency, hangup, exhausted (a direct caller's ring list ran out), dialed (the REST ring
  failed: the call went on with <Dial>). Kept an hour after the caller left, so a late webhook
  (the wait document, the Enqueue action) still learns what happened.

Offers are atomic (a Lua script): a caller is offered to one volunteer at a time, and a caller who
already left is never offered. Every function raises RedisError when Redis does not answer; the
callers decide what the line does then (README, the waiting line with Redis down).
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from redis import Redis

from ..lua import LuaScript
from .line import WaitingCaller

LINE_KEY = "hotline:line"
CALLER_PREFIX = "hotline:line:caller:"
MATCH_LOCK = "hotline:line:matching"
KEEP_SECONDS = 3600  # longer than anyone waits; a record of how a caller left outlives the wait

_OFFER = LuaScript("""
if not redis.call('ZSCORE', KEYS[1], ARGV[1]) then return 0 end
local offered = redis.call('HGET', KEYS[2], 'offered')
if offered and offered ~= '' then return 0 end
redis.call('HSET', KEYS[2], 'offered', ARGV[2])
return 1
""")
_UNOFFER = LuaScript("""
if redis.call('HGET', KEYS[2], 'offered') ~= ARGV[2] then return 0 end
local tried = redis.call('HGET', KEYS[2], 'tried') or ''
if tried ~= '' then tried = tried .. '.' end
redis.call('HSET', KEYS[2], 'offered', '', 'tried', tried .. ARGV[2], 'leg', '')
return 1
""")
_SET_LEG = LuaScript("""
if redis.call('HGET', KEYS[1], 'offered') ~= ARGV[1] then return 0 end
redis.call('HSET', KEYS[1], 'leg', ARGV[2])
return 1
""")
# Out of line once: the first outcome stays (a hangup after connecting is not an abandon).
_LEAVE = LuaScript("""
if redis.call('HEXISTS', KEYS[2], 'outcome') == 1 then
  return redis.call('HGET', KEYS[2], 'outcome')
end
redis.call('ZREM', KEYS[1], ARGV[1])
redis.call('HSET', KEYS[2], 'outcome', ARGV[2], 'left', ARGV[3])
redis.call('EXPIRE', KEYS[2], ARGV[4])
return ARGV[2]
""")
# Into line once, in one round trip (it was five, on the route step of every call): a caller who
# left the line before (routed again from the callback offer's "try again") starts afresh.
_JOIN = LuaScript("""
if redis.call('HEXISTS', KEYS[2], 'outcome') == 1 then redis.call('DEL', KEYS[2]) end
if redis.call('HSETNX', KEYS[2], 'joined', ARGV[2]) == 0 then return 0 end
redis.call('HSET', KEYS[2], 'topic', ARGV[3], 'lang', ARGV[4], 'offered', ARGV[5], 'tried', '',
           'direct', ARGV[6])
redis.call('EXPIRE', KEYS[2], ARGV[7])
redis.call('ZADD', KEYS[1], ARGV[2], ARGV[1])
return 1
""")


def caller_key(call_sid: str) -> str:
    return f"{CALLER_PREFIX}{call_sid}"


def join(redis: Redis, caller: WaitingCaller) -> bool:
    """Put the caller in line (once: a repeated join keeps their first place); True if new.

    A caller who left the line before (routed again from the callback offer's "try again")
    starts afresh."""
    joined = caller.joined_at.timestamp()
    offered = caller.offered_to if caller.offered_to is not None else ""
    keys = (LINE_KEY, caller_key(caller.call_sid))
    args = (caller.call_sid, joined, caller.topic, caller.language or "", offered,
            1 if caller.direct else "", KEEP_SECONDS)  # fmt: skip
    return bool(_JOIN(redis, keys, args))


def callers(redis: Redis) -> list[WaitingCaller]:
    """Everyone in line now, longest-waiting first."""
    sids = [_text(s) for s in redis.zrange(LINE_KEY, 0, -1)]  # type: ignore[arg-type]
    if not sids:
        return []
    pipe = redis.pipeline(transaction=False)
    for sid in sids:
        pipe.hgetall(caller_key(sid))
    found = []
    for sid, fields in zip(sids, pipe.execute(), strict=True):
        caller = _caller(sid, fields)
        if caller is None:
            redis.zrem(LINE_KEY, sid)  # its hash expired: nothing left to offer
        else:
            found.append(caller)
    return found


def find(redis: Redis, call_sid: str) -> tuple[WaitingCaller | None, str | None]:
    """The caller's entry and how they left the line (None while they are still in it)."""
    fields: dict[Any, Any] = redis.hgetall(caller_key(call_sid))
    if not fields:
        return None, None
    outcome = fields.get(b"outcome")
    return _caller(call_sid, fields), (_text(outcome) if outcome is not None else None)


def offer(redis: Redis, call_sid: str, volunteer_id: int) -> bool:
    """Mark the caller as offered to this volunteer; False if they left or are offered already."""
    return bool(_OFFER(redis, (LINE_KEY, caller_key(call_sid)), (call_sid, volunteer_id)))


def unoffer(redis: Redis, call_sid: str, volunteer_id: int) -> bool:
    """The volunteer did not take the caller: they wait on, and are not offered to them again."""
    return bool(_UNOFFER(redis, (LINE_KEY, caller_key(call_sid)), (call_sid, volunteer_id)))


def set_leg(redis: Redis, call_sid: str, volunteer_id: int, leg_sid: str) -> bool:
    """The call sid of the leg ringing the volunteer the caller is offered to (to cancel it when
    the caller hangs up first); False if the offer is over already."""
    return bool(_SET_LEG(redis, (caller_key(call_sid),), (volunteer_id, leg_sid)))


def ringing_leg(redis: Redis, call_sid: str) -> str | None:
    """The leg ringing a volunteer for this caller while no one has taken them, else None."""
    leg, offered, outcome = redis.hmget(caller_key(call_sid), ["leg", "offered", "outcome"])
    if not leg or not offered or (outcome and _text(outcome).startswith("connected:")):
        return None
    return _text(leg)


def leave(redis: Redis, call_sid: str, outcome: str, now: datetime) -> str:
    """Take the caller out of line with this outcome; the outcome that stands (the first one)."""
    keys = (LINE_KEY, caller_key(call_sid))
    result = _LEAVE(redis, keys, (call_sid, outcome, now.timestamp(), KEEP_SECONDS))
    return _text(result)


def take_match_lock(redis: Redis, token: str, milliseconds: int) -> bool:
    """One matching pass at a time across processes (claims would keep it correct; this keeps
    two processes from ringing two volunteers for the same caller in the same instant)."""
    return bool(redis.set(MATCH_LOCK, token, nx=True, px=milliseconds))


def drop_match_lock(redis: Redis, token: str) -> None:
    if _text(redis.get(MATCH_LOCK) or b"") == token:
        redis.delete(MATCH_LOCK)


def _caller(call_sid: str, fields: dict[Any, Any]) -> WaitingCaller | None:
    try:
        joined = datetime.fromtimestamp(float(fields[b"joined"]), UTC)
        topic = _text(fields[b"topic"])
    except (KeyError, ValueError):
        return None
    offered = _text(fields.get(b"offered", b""))
    tried = _text(fields.get(b"tried", b""))
    return WaitingCaller(
        call_sid=call_sid,
        topic=topic,
        language=_text(fields.get(b"lang", b"")) or None,
        joined_at=joined,
        offered_to=int(offered) if offered.isdigit() else None,
        tried=tuple(int(t) for t in tried.split(".") if t.isdigit()),
        direct=bool(fields.get(b"direct")),
    )


def _text(value: bytes | str) -> str:
    return value.decode() if isinstance(value, bytes) else str(value)
