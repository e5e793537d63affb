"""Sign-in throttling shared by every web process: per client address and for the whole site.

Each password check (a known username or not) first takes a token from two buckets in Redis,
atomically in one script: the client address's (ADDRESS: 5 at once, then one every 2 s, so at most
35 in any minute) and the site's (GLOBAL). A request refused by either gets no password check.
The per-account limit is not here: it is a counter in the database (lockout.py), exact under
parallel requests, so it holds when Redis is down too.

Redis down: sign-in still works, each web process then keeps the same buckets in its own memory
with a third of the allowance (FALLBACK_SHARE): a flood is still slowed, closed rather than open.
"""

from __future__ import annotations

import ipaddress
import logging
import threading
import time
from dataclasses import dataclass

from redis import Redis
from redis.exceptions import RedisError

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Rate:
    """A token bucket: `burst` checks at once, then one every `interval` seconds."""

    interval: float
    burst: int

    def share(self, fraction: float) -> Rate:
        """The same bucket with a fraction of its allowance."""
        return Rate(self.interval / fraction, max(1, int(self.burst * fraction)))


ADDRESS = Rate(interval=2.0, burst=5)  # about 30 a minute from one address
GLOBAL = Rate(interval=0.2, burst=50)  # 300 a minute for the whole site (argon2 costs ~50 ms)
FALLBACK_SHARE = 1 / 3
_PREFIX = "hotline:login:bucket:"
_BUCKETS = ("", "address", "site")  # by the script's 1-based index; 0: none refused

# GCRA over several buckets at once: all are charged, or none is. Redis's own clock, so every
# web host agrees. Returns {seconds to wait (0: allowed), the index of the bucket that refused}.
_SCRIPT = """
local now = redis.call('TIME')
now = tonumber(now[1]) + tonumber(now[2]) / 1000000
local wait = 0
local refused = 0
local tats = {}
for i, key in ipairs(KEYS) do
  local interval = tonumber(ARGV[2 * i - 1])
  local burst = tonumber(ARGV[2 * i])
  local tat = tonumber(redis.call('GET', key) or '0')
  if tat < now then tat = now end
  local new_tat = tat + interval
  local over = new_tat - now - interval * burst
  if over > wait then
    wait = over
    refused = i
  end
  tats[i] = new_tat
end
if wait > 0 then return {tostring(wait), refused} end
for i, key in ipairs(KEYS) do
  redis.call('SET', key, tostring(tats[i]), 'EX', math.ceil(tats[i] - now) + 1)
end
return {'0', 0}
"""


@dataclass(frozen=True)
class Decision:
    allowed: bool
    retry_after: int = 0  # seconds, for the Retry-After header
    refused_by: str = ""  # "address" or "site" when refused
    shared: bool = True  # False: decided in this process alone (Redis unavailable)


def address_key(address: str | None) -> str:
    """The bucket's name for a client: IPv4 as is, IPv6 by its /64 (one subscriber's block)."""
    try:
        ip = ipaddress.ip_address(address or "")
    except ValueError:
        return "unknown"
    if isinstance(ip, ipaddress.IPv6Address):
        if ip.ipv4_mapped is not None:
            return str(ip.ipv4_mapped)
        return str(ipaddress.ip_network(f"{ip}/64", strict=False).network_address) + "/64"
    return str(ip)


class LoginThrottle:
    """Decides whether a sign-in attempt may have its password checked."""

    def __init__(
        self, redis: Redis | None, address: Rate = ADDRESS, everyone: Rate = GLOBAL
    ) -> None:
        self.redis = redis
        self.address = address
        self.everyone = everyone
        self._script = redis.register_script(_SCRIPT) if redis is not None else None
        self._local = _LocalBuckets()
        self._warned_at = float("-inf")

    def check(self, address: str | None) -> Decision:
        """Take a token for this client and for the site; refused: how long to wait."""
        who = address_key(address)
        if self._script is not None:
            try:
                keys = [_PREFIX + "addr:" + who, _PREFIX + "all"]
                args = [self.address.interval, self.address.burst]
                args += [self.everyone.interval, self.everyone.burst]
                raw_wait, index = self._script(keys=keys, args=args)
                wait = float(raw_wait)
                return Decision(wait <= 0, _seconds(wait), _BUCKETS[int(index)])
            except (RedisError, OSError) as exc:
                self._warn(type(exc).__name__)
        wait, index = self._local.take(
            [
                ("addr:" + who, self.address.share(FALLBACK_SHARE)),
                ("all", self.everyone.share(FALLBACK_SHARE)),
            ]
        )
        return Decision(wait <= 0, _seconds(wait), _BUCKETS[index], shared=False)

    def _warn(self, error: str) -> None:
        # Once a minute per process, not once per request of a flood.
        if time.monotonic() - self._warned_at > 60:
            self._warned_at = time.monotonic()
            log.warning("sign-in throttle: Redis unavailable (%s); per-process limits", error)


def _seconds(wait: float) -> int:
    return max(1, int(wait) + 1) if wait > 0 else 0


class _LocalBuckets:
    """The same GCRA in this process's memory, for when Redis cannot be reached."""

    MAX_KEYS = 10_000  # a flood from many addresses must not grow memory without bound

    def __init__(self) -> None:
        self._tats: dict[str, float] = {}
        self._lock = threading.Lock()

    def take(self, buckets: list[tuple[str, Rate]]) -> tuple[float, int]:
        """Seconds to wait (0: taken from every bucket) and which bucket refused (1-based)."""
        now = time.monotonic()
        with self._lock:
            if len(self._tats) > self.MAX_KEYS:
                self._tats = {k: t for k, t in self._tats.items() if t > now}
            wait, refused, new = 0.0, 0, {}
            for index, (key, rate) in enumerate(buckets, start=1):
                tat = max(self._tats.get(key, 0.0), now) + rate.interval
                over = tat - now - rate.interval * rate.burst
                if over > wait:
                    wait, refused = over, index
                new[key] = tat
            if wait <= 0:
                self._tats.update(new)
            return wait, refused
