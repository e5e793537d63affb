"""Each web process's roster snapshot: loaded, refreshed in the background, kept through outages.

- Start (gunicorn's post_worker_init, or the first call): the copy in Redis if there is one
  (hotline:roster:snapshot:<database>, published by whichever process last saw the roster change;
  numbers still encrypted), so a process started during a database outage, or while the database
  is slow, routes calls at once; else the database, within the webhook's budget.
- Every second a background thread reads a fingerprint of the roster (counts and latest change)
  and the database's volunteer claims; it reloads when the fingerprint changes (when only the
  time volunteers' last calls ended changed, as at each call's end, it reads just those
  volunteers and moves them in the fairness order), and in full at least every
  HOTLINE_ROSTER_REFRESH_SECONDS. A failed reload keeps the snapshot it has.
- Claims taken in the database while Redis was away are copied into Redis (and skipped by Redis
  claims meanwhile), so a volunteer claimed in either place is never claimed in the other.
"""

from __future__ import annotations

import json
import logging
import os
import threading
import time
from datetime import date, datetime
from typing import Any

from redis.exceptions import RedisError
from sqlalchemy.exc import SQLAlchemyError

from .. import budget
from ..db import Database
from ..logs import cause
from ..models import utcnow
from ..redis_conn import RedisGate
from . import claims, db_claims, wrap_up
from .policy import Candidate, ShiftSpec
from .roster_queries import changed_since, load_roster_entries, roster_fingerprint
from .snapshot import RosterEntry, RosterSnapshot

log = logging.getLogger(__name__)

REDIS_COPY = "hotline:roster:snapshot"
REDIS_COPY_TTL = 7 * 24 * 3600
TICK_SECONDS = 1.0


class SnapshotKeeper:
    def __init__(
        self, db: Database, gate: RedisGate, refresh_seconds: int, wrap_up_seconds: int = 0
    ) -> None:
        import hashlib

        self.db = db
        self.copy_key = f"{REDIS_COPY}:{hashlib.sha256(db.url.encode()).hexdigest()[:12]}"
        self.gate = gate
        self.refresh_seconds = refresh_seconds
        self._snapshot: RosterSnapshot | None = None
        self._fingerprint: tuple[object, ...] | None = None
        self._loaded_at = 0.0
        self._pid = -1
        self._lock = threading.Lock()
        self._wake = threading.Event()
        self.db_claimed: frozenset[int] = frozenset()  # live claims in the database (mirror)
        # Volunteers wrapping up after a connected call, as the database shows it (wrap_up.py).
        self.wrap_up_seconds = wrap_up_seconds
        self.wrapping_up: frozenset[int] = frozenset()

    def current(self) -> RosterSnapshot | None:
        """The snapshot; loaded now if this process has none yet (None if nothing can be read)."""
        self._ensure_thread()
        if self._snapshot is None:
            self._from_redis()
        if self._snapshot is None:
            try:
                budget.run_bounded(self.reload, timeout=budget.remaining())
            except (SQLAlchemyError, budget.BudgetExceeded) as exc:
                log.warning("roster not loaded from the database (%s)", cause(exc), exc_info=exc)
        return self._snapshot

    def refreshed(self, timeout: float = 1.0) -> RosterSnapshot | None:
        """The snapshot after a quick check that the roster did not change (before telling a
        caller that nobody is on shift); the one we have when the database does not answer."""
        try:
            budget.run_bounded(self._reload_if_changed, timeout=min(timeout, budget.remaining()))
        except (SQLAlchemyError, budget.BudgetExceeded) as exc:
            log.info("roster not checked (%s)", cause(exc))
        return self._snapshot

    def _reload_if_changed(self) -> None:
        with self.db.session() as session:
            fingerprint = roster_fingerprint(session)
        if self._snapshot is None or fingerprint != self._fingerprint:
            self.reload()

    def start(self) -> None:
        """Start the background thread now (a fresh worker loads its roster before any call)."""
        self._ensure_thread()

    def reload(self) -> RosterSnapshot:
        """Load the roster from the database now and make it current."""
        with self.db.session() as session:
            fingerprint = roster_fingerprint(session)
            entries = load_roster_entries(session)
        snapshot = RosterSnapshot(entries, utcnow())
        previous = self._snapshot
        if previous is not None:
            snapshot.carry_over(previous.fairness_updates())
        changed = fingerprint != self._fingerprint
        self._snapshot, self._fingerprint = snapshot, fingerprint
        self._loaded_at = time.monotonic()
        if changed:
            self._publish(snapshot)
        return snapshot

    def _publish(self, snapshot: RosterSnapshot) -> None:
        redis = self.gate.client()
        if redis is None:
            return
        try:
            redis.set(self.copy_key, dumps(snapshot), ex=REDIS_COPY_TTL)
        except RedisError as exc:
            self.gate.failed(exc)

    def _from_redis(self) -> None:
        redis = self.gate.client()
        if redis is None or self._snapshot is not None:
            return
        try:
            raw = redis.get(self.copy_key)
        except RedisError as exc:
            self.gate.failed(exc)
            return
        if raw:
            self._snapshot = loads(raw)
            self._wake.set()  # and the database's version as soon as it can be read
            log.info("routing from the roster copy in Redis (%d volunteers)", len(self._snapshot))

    # --- the background thread ---------------------------------------------------------------

    def _ensure_thread(self) -> None:
        with self._lock:
            if self._pid == os.getpid():
                return
            self._pid = os.getpid()
        thread = threading.Thread(target=self._run, name="hotline-roster", daemon=True)
        thread.start()

        def stop() -> None:
            self._wake.set()
            thread.join(timeout=5)

        self.db.on_dispose(stop)

    def _run(self) -> None:
        while not self.db.closed:
            # Without a roster yet, try again soon; with one, the regular tick.
            self._wake.wait(TICK_SECONDS if self._snapshot is not None else 0.2)
            self._wake.clear()
            try:
                self.tick()
            except Exception as exc:  # the thread must outlive any surprise
                log.warning("roster refresh failed (%s)", cause(exc), exc_info=exc)

    def tick(self) -> None:
        """One round of the background work (also called by tests)."""
        try:
            with self.db.session() as session:
                fingerprint = roster_fingerprint(session)
                live = db_claims.live_claims(session, utcnow())
                resting = wrap_up.wrapping_up(session, utcnow(), self.wrap_up_seconds)
        except SQLAlchemyError:
            return  # the database is away: keep what we have
        self.db_claimed = frozenset(volunteer_id for volunteer_id, _, _ in live)
        self.wrapping_up = frozenset(resting)
        self._copy_claims_to_redis(live)
        stale = time.monotonic() - self._loaded_at >= self.refresh_seconds
        changed = fingerprint != self._fingerprint
        if self._snapshot is None or stale or (changed and not self._only_fairness(fingerprint)):
            self.reload()

    def _only_fairness(self, fingerprint: tuple[object, ...]) -> bool:
        """Bring the snapshot up to date without a full load when the only volunteers changed
        since it was loaded changed just when their last call ended (each call's end does that):
        a full load of 10,000 volunteers in every process, for that, would hold up the calls.
        True when done (or nothing changed); False when a full load is needed."""
        snapshot, known = self._snapshot, self._fingerprint
        if snapshot is None or known is None or fingerprint[0] != known[0]:
            return False
        if fingerprint[2:] != known[2:]:
            return False  # shifts added or removed
        try:
            with self.db.session() as session:
                since = known[1]
                changed = changed_since(session, since) if isinstance(since, datetime) else []
        except SQLAlchemyError:
            return True  # keep what we have; the next tick tries again
        endings = []
        for volunteer_id, active, entry, ended in changed:
            have = snapshot.entry(volunteer_id)
            if have is None and not active:
                continue  # not on the roster, before or now
            if have is None or not active or not _same_but_fairness(have, entry):
                return False
            if ended is not None:
                endings.append((volunteer_id, ended))
        for volunteer_id, ended in endings:
            snapshot.call_ended(volunteer_id, ended)
        self._fingerprint = fingerprint
        return True

    def _copy_claims_to_redis(self, live: list[tuple[int, str, datetime]]) -> None:
        redis = self.gate.client()
        if redis is None or not live:
            return
        now = utcnow()
        try:
            for volunteer_id, owner, expires in live:
                ttl = int((expires - now).total_seconds())
                if ttl > 0:
                    claims.hold(redis, volunteer_id, owner, ttl)
        except RedisError as exc:
            self.gate.failed(exc)


def _same_but_fairness(have: RosterEntry, new: RosterEntry) -> bool:
    """Whether two entries of a volunteer differ at most in when their last call ended (the
    shifts are compared by the fingerprint: their count and newest id)."""
    a, b = have.candidate, new.candidate
    return (have.phone_encrypted, have.whisper_language) == (
        new.phone_encrypted,
        new.whisper_language,
    ) and (a.roles, a.topics, a.languages, a.available) == (
        b.roles,
        b.topics,
        b.languages,
        b.available,
    )


# --- the Redis copy ---------------------------------------------------------------------------


def dumps(snapshot: RosterSnapshot) -> str:
    """The snapshot as JSON (numbers stay Fernet tokens)."""
    return json.dumps([_entry_json(entry) for entry in snapshot.entries()])


def loads(raw: bytes | str) -> RosterSnapshot:
    return RosterSnapshot([_entry(item) for item in json.loads(raw)], utcnow())


def _entry_json(entry: RosterEntry) -> dict[str, Any]:
    c = entry.candidate
    return {
        "id": c.id,
        "roles": sorted(c.roles),
        "topics": sorted(c.topics),
        "languages": sorted(c.languages),
        "shifts": [
            [
                s.start,
                s.end,
                sorted(s.days) if s.days is not None else None,
                s.date.isoformat() if s.date else None,
            ]
            for s in c.shifts
        ],  # fmt: skip
        "ended": c.last_call_ended_at.isoformat() if c.last_call_ended_at else None,
        "available": c.available,
        "phone": entry.phone_encrypted,
        "whisper": entry.whisper_language,
    }


def _entry(item: dict[str, Any]) -> RosterEntry:
    shifts = tuple(
        ShiftSpec(
            start=start,
            end=end,
            days=frozenset(days) if days is not None else None,
            date=date.fromisoformat(on) if on else None,
        )
        for start, end, days, on in item["shifts"]
    )
    candidate = Candidate(
        id=item["id"],
        roles=frozenset(item["roles"]),
        topics=frozenset(item["topics"]),
        languages=frozenset(item["languages"]),
        shifts=shifts,
        last_call_ended_at=datetime.fromisoformat(item["ended"]) if item["ended"] else None,
        active=True,
        available=item["available"],
    )
    return RosterEntry(candidate, item["phone"], item["whisper"])
