"""The roster as routing reads it, in memory: indexed, so a pick costs the same for 10 or 10,000.

Each web process keeps one RosterSnapshot (hotline.routing.snapshot_keeper loads and refreshes
it in the background), so the route step reads no database at all: it still works while the
database is down, and a slow database cannot slow a caller. Phone numbers stay encrypted here;
they are decrypted only for the <Dial> being written.

Indexes:
- by (topic, language): the active, available volunteers who take the topic and speak the
  language (the caller's language and the fallback language are two lookups); built at load;
- per (topic, language): those volunteers ranked once in the policy's order, shifts aside
  (hotline.routing.policy.rank: language, role, fairness, id), built on first use;
- per (topic, language, minute): the ranked list filtered to who is on shift then, reused for the
  whole minute because shifts change on minute boundaries: filtering needs no sorting, and the
  route step itself only copies the list out.
A volunteer's call ending (fairness) moves that one volunteer to their new place in the lists that
hold them (a binary search), instead of ranking everyone again.

Pure Python: no Flask, no SQLAlchemy, no Redis.
"""

from __future__ import annotations

import bisect
import threading
from collections import defaultdict
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, replace
from datetime import datetime, tzinfo

from .policy import Candidate, RoutingPolicy, rank, shift_check

Rank = tuple[int, int, int, float, int]
_Key = Callable[[int], Rank]
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
        # (topic, language) -> (the policy it was ranked by, ranked ids); then per minute.
        self._ranked: dict[tuple[str, str | None], tuple[RoutingPolicy, list[int]]] = {}
        self._picks: dict[tuple[str, str | None, int], list[int]] = {}
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
    ) -> list[int]:
        covers = shift_check(now, tz)
        entries = self._entries
        return [i for i in self._ranked_ids(topic, language, policy)
                if covers(entries[i].candidate.shifts)]  # fmt: skip

    def _ranked_ids(self, topic: str, language: str | None, policy: RoutingPolicy) -> list[int]:
        """Who may take the topic in this language, in the policy's order, shifts aside."""
        known = self._ranked.get((topic, language))
        if known is not None and known[0] is policy:
            return known[1]
        policy.roles_for(topic)  # (an unknown topic is an error, not an empty list)
        ids: set[int] = set()
        for spoken in {language, policy.fallback_language} - {None}:
            ids.update(self._by_topic_language.get((topic, spoken or ""), ()))
        keys: dict[int, Rank] = {}
        for volunteer_id in ids:
            key = rank(self._candidate(volunteer_id), topic, language, policy)
            if key is not None:
                keys[volunteer_id] = key
        ranked = sorted(keys, key=keys.__getitem__)
        with self._lock:
            self._ranked[(topic, language)] = (policy, ranked)
        return ranked

    def _key(self, topic: str, language: str | None, policy: RoutingPolicy) -> _Key:
        def key(volunteer_id: int) -> Rank:
            found = rank(self._candidate(volunteer_id), topic, language, policy)
            assert found is not None  # only volunteers already ranked are looked up
            return found

        return key

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
            # Move just this volunteer in each list that holds them (copies: readers hold the old).
            for (topic, language), (policy, ranked) in list(self._ranked.items()):
                moved = _moved(ranked, volunteer_id, self._key(topic, language, policy))
                if moved is not None:
                    self._ranked[(topic, language)] = (policy, moved)
                    for pick_key, picked in list(self._picks.items()):
                        if pick_key[:2] == (topic, language):
                            again = _moved(picked, volunteer_id, self._key(topic, language, policy))
                            if again is not None:
                                self._picks[pick_key] = again

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
        self._ranked.clear()
        self._picks.clear()


def _moved(ids: list[int], volunteer_id: int, key: _Key) -> list[int] | None:
    """A copy of the sorted `ids` with `volunteer_id` moved to its new place; None if absent."""
    try:
        ids = list(ids)
        ids.remove(volunteer_id)
    except ValueError:
        return None
    bisect.insort(ids, volunteer_id, key=key)
    return ids
