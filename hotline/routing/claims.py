"""Atomic volunteer claims in Redis, shared by every web process and worker.

A volunteer is rung only by whoever holds their claim, so nobody rings for two calls at once. One
key per volunteer, `hotline:claim:volunteer:<id>`, holding the owner: a call sid or a callback
request id, never a phone number (keys and values show up in MONITOR, dumps and slow logs).

Lifetimes (RoutingPolicy.ringing_claim_ttl / connected_claim_ttl):
- claim for a ringing leg: ring timeout + whisper allowance (20 + 60 = 80 s by default), so a lost
  Dial action frees the volunteer within a minute and a half;
- when the volunteer presses 1: extend() to the call time limit + 60 s (the <Dial timeLimit>), so
  the claim cannot lapse mid-call;
- release() when the leg ends (Dial action or status callback); the TTL is only the safety net.

The multi-key script assumes one Redis (with Sentinel for failover), not Redis Cluster.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence

from redis import Redis

from ..lua import LuaScript

KEY_PREFIX = "hotline:claim:volunteer:"
# The volunteers each owner claimed, so a call's end frees all of them without reading a database.
OWNER_PREFIX = "hotline:claim:owner:"
# Keys per script call: 16 first (the common case: a free volunteer near the top, one small
# round trip), then 4 times more each time up to 256, so a list of thousands of candidates costs a
# handful of round trips and never one huge request.
FIRST_CHUNK = 16
MAX_CHUNK = 256
_PHONE_LIKE = re.compile(r"^\+?[\d\s().-]{7,}$")


def claim_key(volunteer_id: int) -> str:
    """The Redis key of a volunteer's claim."""
    return f"{KEY_PREFIX}{volunteer_id}"


# KEYS: the owner's set, then claim keys in preference order; ARGV: owner, ttl seconds, how many
# to claim at most, then the volunteer id of each claim key. Returns the 1-based positions (among
# the claim keys) it claimed. Redis runs a script alone, so no interleaving.
_CLAIM_FREE = LuaScript(
    """
local claimed = {}
local limit = tonumber(ARGV[3])
for i = 2, #KEYS do
  if redis.call('SET', KEYS[i], ARGV[1], 'NX', 'EX', ARGV[2]) then
    claimed[#claimed + 1] = i - 1
    redis.call('SADD', KEYS[1], ARGV[3 + i - 1])
    if #claimed >= limit then break end
  end
end
if #claimed > 0 and redis.call('TTL', KEYS[1]) < tonumber(ARGV[2]) then
  redis.call('EXPIRE', KEYS[1], ARGV[2])
end
return claimed
"""
)
# KEYS: the owner's set; ARGV: owner, claim key prefix. Frees what the owner still holds.
_RELEASE_OWNER = LuaScript(
    """
local freed = 0
for _, id in ipairs(redis.call('SMEMBERS', KEYS[1])) do
  local key = ARGV[2] .. id
  if redis.call('GET', key) == ARGV[1] then
    redis.call('DEL', key)
    freed = freed + 1
  end
end
redis.call('DEL', KEYS[1])
return freed
"""
)
_RELEASE = LuaScript(
    """
if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end
return 0
"""
)
_EXTEND = LuaScript(
    """
if redis.call('GET', KEYS[1]) == ARGV[1] then
  if redis.call('TTL', KEYS[2]) < tonumber(ARGV[2]) then redis.call('EXPIRE', KEYS[2], ARGV[2]) end
  return redis.call('EXPIRE', KEYS[1], ARGV[2])
end
return 0
"""
)


def claim(redis: Redis, volunteer_id: int, owner: str, ttl_seconds: int) -> bool:
    """Claim one volunteer for owner; False if someone (even this owner) already holds them."""
    _check(owner, ttl_seconds)
    return bool(redis.set(claim_key(volunteer_id), owner, nx=True, ex=ttl_seconds))


def claim_free(
    redis: Redis, ordered_ids: Sequence[int], owner: str, ttl_seconds: int, limit: int
) -> list[int]:
    """Claim up to `limit` free volunteers, first free first; usually one round trip."""
    _check(owner, ttl_seconds)
    claimed: list[int] = []
    start, size = 0, FIRST_CHUNK
    while len(claimed) < limit and start < len(ordered_ids):
        chunk = ordered_ids[start : start + size]
        positions = _CLAIM_FREE(
            redis,
            [owner_key(owner), *(claim_key(i) for i in chunk)],
            [owner, ttl_seconds, limit - len(claimed), *chunk],
        )
        claimed.extend(chunk[int(position) - 1] for position in positions)
        start, size = start + size, min(size * 4, MAX_CHUNK)
    return claimed


def claim_first_free(
    redis: Redis, ordered_ids: Sequence[int], owner: str, ttl_seconds: int
) -> int | None:
    """Claim the first volunteer in order who is free; None when all are busy."""
    claimed = claim_free(redis, ordered_ids, owner, ttl_seconds, limit=1)
    return claimed[0] if claimed else None


def release(redis: Redis, volunteer_id: int, owner: str) -> bool:
    """Release a claim if owner holds it; False if it expired or belongs to someone else."""
    return bool(_RELEASE(redis, [claim_key(volunteer_id)], [owner]))


def extend(redis: Redis, volunteer_id: int, owner: str, ttl_seconds: int) -> bool:
    """Reset the claim's lifetime to ttl_seconds if owner still holds it (on accept)."""
    _check(owner, ttl_seconds)
    return bool(_EXTEND(redis, [claim_key(volunteer_id), owner_key(owner)], [owner, ttl_seconds]))


def held_by(redis: Redis, owner: str) -> list[int]:
    """The volunteers whose claim `owner` holds right now (its set may list expired claims)."""
    ids = sorted(int(member) for member in redis.smembers(owner_key(owner)))
    if not ids:
        return []
    values = redis.mget([claim_key(i) for i in ids])
    return [i for i, value in zip(ids, values, strict=True) if value == owner.encode()]


def owner_key(owner: str) -> str:
    """The Redis key of the set of volunteers `owner` claimed."""
    return f"{OWNER_PREFIX}{owner}"


def release_owner(redis: Redis, owner: str) -> int:
    """Free every volunteer `owner` still holds (a call ended, a Dial's legs ended); how many."""
    return int(_RELEASE_OWNER(redis, [owner_key(owner)], [owner, KEY_PREFIX]))


def hold(redis: Redis, volunteer_id: int, owner: str, ttl_seconds: int) -> bool:
    """Copy a claim made elsewhere (the database) into Redis unless someone holds the volunteer."""
    _check(owner, ttl_seconds)
    if not redis.set(claim_key(volunteer_id), owner, nx=True, ex=ttl_seconds):
        return False
    redis.sadd(owner_key(owner), volunteer_id)
    redis.expire(owner_key(owner), ttl_seconds)
    return True


def force_release(redis: Redis, volunteer_id: int) -> bool:
    """Free a volunteer whatever holds them: for a supervisor, never for call handling."""
    return bool(redis.delete(claim_key(volunteer_id)))


def claimed_ids(redis: Redis, ids: Iterable[int]) -> set[int]:
    """Which of these volunteers are claimed right now, in one MGET."""
    id_list = list(ids)
    if not id_list:
        return set()
    values = redis.mget([claim_key(i) for i in id_list])
    return {i for i, value in zip(id_list, values, strict=True) if value is not None}


def _check(owner: str, ttl_seconds: int) -> None:
    if not owner or len(owner) > 128 or _PHONE_LIKE.match(owner):
        # Refused loudly: a number here would sit in Redis in plaintext.
        raise ValueError("a claim owner is a call sid or request id, never a phone number")
    if isinstance(ttl_seconds, bool) or not isinstance(ttl_seconds, int) or ttl_seconds < 1:
        raise ValueError("ttl_seconds must be a whole number of seconds, at least 1")
