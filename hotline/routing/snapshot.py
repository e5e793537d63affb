"""The roster as routing reads it, in memory: indexed, so a pick costs the same for 10 or 10,000.

Each web process keeps one RosterSnapshot (hotline.routing.snapshot_keeper loads and refreshes
it in the background), so the route step reads no database at all: it still works while the
database is down, and a slow database cannot slow a caller. Phone numbers stay encrypted here;
they are decrypted only for the <Dial> being written.

Indexes, built once per load:
- by (topic, language): the active, available volunteers who take the topic and speak the
  language (the caller's language and the fallback language are two lookups);
- per (topic, language, minute): the ordered pick (hotline.routing.policy.pick_volunteers, the
  same rule as everywhere), computed on the first call of that minute and reused, because shifts
  change on minute boundaries. A volunteer's call ending (fairness) drops the cached picks.

Pure Python: no Flask, no SQLAlchemy, no Redis.
"""

from __future__ import annotations

import threading
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, replace
from datetime import datetime, tzinfo

from .policy import Candidate, RoutingPolicy, pick_volunteers

_CACHE_LIMIT = 256  # (topic, language, minute) picks kept; a minute has at most 3 x 3 of them


@dataclass(frozen=True, slots=True)
class RosterEntry:
    """One volunteer: the routing view, the encrypted number, the whisper's language."""

    candidate: Candidate
    phone_encrypted: str
    whisper_language: str

    def __repr__(self) -> str:  # never print the (encrypted) number
        return f"RosterEntry(id={self.candidate.id})"


class RosterSnapshot:
    """An immutable roster with its indexes, plus fairness updates made since it was loaded."""

    def __init__(self, entries: Iterable[RosterEntry], loaded_at: datetime) -> None:
        self.loaded_at = loaded_at
        self._entries = {entry.candidate.id: entry for entry in entries}
        self._by_topic_language: dict[tuple[str, str], list[int]] = defaultdict(list)
        for entry in self._entries.values():
            candidate = entry.candidate
            if not (candidate.active and candidate.available):
                continue
            for topic in candidate.topics:
                for language in candidate.languages:
                    self._by_topic_language[(topic, language)].append(candidate.id)
        self._ended: dict[int, datetime] = {}
        self._picks: dict[tuple[str, str | None, int], tuple[int, ...]] = {}
        self._lock = threading.Lock()

    def __len__(self) -> int:
        return len(self._entries)

    def entry(self, volunteer_id: int) -> RosterEntry | None:
        """The volunteer's entry, or None if they are not (or no longer) on the roster."""
        return self._entries.get(volunteer_id)

    def entries(self) -> list[RosterEntry]:
        return list(self._entries.values())

    def ordered(
        self,
        topic: str,
        language: str | None,
        now: datetime,
        policy: RoutingPolicy,
        tz: tzinfo,
        exclude: Sequence[int] = (),
    ) -> list[int]:
        """Who may take this call now, best first (the policy's order), minus `exclude`."""
        key = (topic, language, int(now.timestamp() // 60))
        picked = self._picks.get(key)
        if picked is None:
            picked = self._pick(topic, language, now, policy, tz)
            with self._lock:
                if len(self._picks) >= _CACHE_LIMIT:
                    self._picks.clear()
                self._picks[key] = picked
        if not exclude:
            return list(picked)
        excluded = set(exclude)
        return [volunteer_id for volunteer_id in picked if volunteer_id not in excluded]

    def _pick(
        self, topic: str, language: str | None, now: datetime, policy: RoutingPolicy, tz: tzinfo
    ) -> tuple[int, ...]:
        ids: set[int] = set()
        for spoken in {language, policy.fallback_language} - {None}:
            ids.update(self._by_topic_language.get((topic, spoken or ""), ()))
        candidates = [self._candidate(volunteer_id) for volunteer_id in sorted(ids)]
        return tuple(c.id for c in pick_volunteers(candidates, topic, language, now, policy, tz=tz))

    def _candidate(self, volunteer_id: int) -> Candidate:
        candidate = self._entries[volunteer_id].candidate
        ended = self._ended.get(volunteer_id)
        if ended is None:
            return candidate
        return replace(candidate, last_call_ended_at=ended)

    def call_ended(self, volunteer_id: int, at: datetime) -> None:
        """The volunteer just finished a call: they go to the back of the fairness order."""
        with self._lock:
            known = self._ended.get(volunteer_id)
            self._ended[volunteer_id] = at if known is None else max(known, at)
            self._picks.clear()

    def fairness_updates(self) -> dict[int, datetime]:
        """The call endings noted here since the load (carried over to the next snapshot)."""
        return dict(self._ended)

    def carry_over(self, updates: dict[int, datetime]) -> None:
        """Keep endings newer than what this snapshot loaded (their records may still be queued)."""
        for volunteer_id, at in updates.items():
            entry = self._entries.get(volunteer_id)
            loaded = entry.candidate.last_call_ended_at if entry else None
            if entry is not None and (loaded is None or loaded < at):
                self._ended[volunteer_id] = at
        self._picks.clear()
