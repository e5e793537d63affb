"""Choosing and claiming a volunteer among 10,000: pick_volunteers + claim_first_free on real Redis.

Prints median and p99 for the whole decision, for the pick alone and for the claim alone, and the
same for a baseline in the same run: the naive claim loop (one SET NX round trip per candidate
until one succeeds). Two load levels: 30% and 90% of volunteers already on a call.

    .venv/bin/python bench/route_claim.py [ITERATIONS]

Redis: HOTLINE_BENCH_REDIS_URL, else HOTLINE_TEST_REDIS_URL, else redis://127.0.0.1:6379; always
database 14 (the tests' database). Only the claim keys it creates are deleted, before and after.
"""

from __future__ import annotations

import os
import random
import statistics
import sys
import time
from collections.abc import Callable, Sequence
from datetime import datetime, timedelta
from urllib.parse import urlsplit, urlunsplit
from zoneinfo import ZoneInfo

from redis import Redis

from hotline.routing.claims import KEY_PREFIX, claim, claim_first_free, release
from hotline.routing.policy import (
    DAYS,
    LANGUAGES,
    ROLES,
    TOPICS,
    Candidate,
    RoutingPolicy,
    ShiftSpec,
    pick_volunteers,
)

VOLUNTEERS = 10_000
TZ = ZoneInfo("Asia/Almaty")
POLICY = RoutingPolicy()
Claimer = Callable[[Redis, Sequence[int], str, int], int | None]


def make_candidates(rng: random.Random) -> list[Candidate]:
    """10,000 volunteers with a plausible mix of roles, topics, languages and shifts."""
    candidates = []
    for volunteer_id in range(1, VOLUNTEERS + 1):
        languages = {"ru"} if rng.random() < 0.8 else set()
        languages |= set(rng.sample(LANGUAGES, rng.randint(1, 2)))
        shifts = []
        for _ in range(rng.randint(1, 3)):
            start = rng.randrange(0, 24) * 60
            length = rng.choice([4, 6, 8, 9, 12]) * 60
            end = (start + length) % 1440 or 1440
            days = frozenset(rng.sample(DAYS, rng.randint(1, 5)))
            shifts.append(ShiftSpec(start=start, end=end, days=days))
        ended = datetime(2026, 6, 1, tzinfo=TZ) + timedelta(minutes=rng.randrange(0, 10_000))
        candidates.append(
            Candidate(
                id=volunteer_id,
                roles=frozenset(rng.sample(ROLES, rng.randint(1, 2))),
                topics=frozenset(rng.sample(TOPICS, rng.randint(1, 3))),
                languages=frozenset(languages),
                shifts=tuple(shifts),
                last_call_ended_at=None if rng.random() < 0.05 else ended,
                available=rng.random() < 0.9,
            )
        )
    return candidates


def naive_claim_first_free(
    redis: Redis, ordered_ids: Sequence[int], owner: str, ttl: int
) -> int | None:
    """The baseline: one SET NX round trip per candidate until one is free."""
    for volunteer_id in ordered_ids:
        if claim(redis, volunteer_id, owner, ttl):
            return volunteer_id
    return None


def percentile(samples: list[float], fraction: float) -> float:
    ordered = sorted(samples)
    return ordered[min(len(ordered) - 1, int(fraction * len(ordered)))]


def run(redis: Redis, candidates: list[Candidate], busy_share: float, iterations: int) -> None:
    rng = random.Random(7)
    _clear(redis)
    busy = rng.sample(range(1, VOLUNTEERS + 1), int(busy_share * VOLUNTEERS))
    pipe = redis.pipeline(transaction=False)
    for volunteer_id in busy:
        pipe.set(f"{KEY_PREFIX}{volunteer_id}", "CA-busy", ex=600)
    pipe.execute()

    timings: dict[str, dict[str, list[float]]] = {
        name: {"total": [], "pick": [], "claim": []} for name in ("script", "naive")
    }
    matched: list[int] = []
    skipped: list[int] = []
    monday = datetime(2026, 6, 1, tzinfo=TZ)
    for n in range(iterations):
        topic, language = rng.choice(TOPICS), rng.choice(LANGUAGES)
        now = monday + timedelta(minutes=rng.randrange(0, 7 * 1440))
        # Alternate which goes first, so neither always runs on a warmer cache.
        order: list[tuple[str, Claimer]] = [
            ("script", claim_first_free),
            ("naive", naive_claim_first_free),
        ]
        for name, claimer in order if n % 2 else order[::-1]:
            owner = f"CA-bench-{name}-{n}"
            t0 = time.perf_counter()
            picked = pick_volunteers(candidates, topic, language, now, POLICY, tz=TZ)
            t1 = time.perf_counter()
            ids = [c.id for c in picked]
            won = claimer(redis, ids, owner, POLICY.ringing_claim_ttl)
            t2 = time.perf_counter()
            timings[name]["total"].append((t2 - t0) * 1000)
            timings[name]["pick"].append((t1 - t0) * 1000)
            timings[name]["claim"].append((t2 - t1) * 1000)
            if won is not None:
                release(redis, won, owner)
            if name == "script":
                matched.append(len(ids))
                skipped.append(ids.index(won) if won is not None else len(ids))
    _clear(redis)

    print(
        f"\n{int(busy_share * 100)}% of volunteers on a call; {iterations} decisions; "
        f"candidates matching a call: median {statistics.median(matched):.0f}; "
        f"busy ones skipped before a free one: mean {statistics.mean(skipped):.1f}"
    )
    print(f"  {'ms':<28}{'median':>9}{'p99':>9}")
    for name, label in (("script", "claim_first_free (Lua)"), ("naive", "naive loop (baseline)")):
        for part in ("total", "pick", "claim"):
            samples = timings[name][part]
            print(
                f"  {label + ' ' + part:<28}"
                f"{statistics.median(samples):9.3f}{percentile(samples, 0.99):9.3f}"
            )
    for part in ("claim", "total"):
        naive, script = timings["naive"][part], timings["script"][part]
        median_ratio = statistics.median(naive) / statistics.median(script)
        p99_ratio = percentile(naive, 0.99) / percentile(script, 0.99)
        print(f"  naive / script, {part}: median x{median_ratio:.2f}, p99 x{p99_ratio:.2f}")


def _clear(redis: Redis) -> None:
    keys = list(redis.scan_iter(match=f"{KEY_PREFIX}*", count=1000))
    for start in range(0, len(keys), 1000):
        redis.delete(*keys[start : start + 1000])


def main() -> None:
    iterations = int(sys.argv[1]) if len(sys.argv) > 1 else 2000
    base = os.environ.get("HOTLINE_BENCH_REDIS_URL") or os.environ.get(
        "HOTLINE_TEST_REDIS_URL", "redis://127.0.0.1:6379"
    )
    url = urlunsplit(urlsplit(base)._replace(path="/14"))
    redis = Redis.from_url(url)
    redis.ping()
    candidates = make_candidates(random.Random(42))
    where = urlsplit(url)
    print(f"{VOLUNTEERS} volunteers in memory; Redis {where.hostname}:{where.port or 6379}/14")
    for busy_share in (0.3, 0.9):
        run(redis, candidates, busy_share, iterations)
    redis.close()


if __name__ == "__main__":
    main()
