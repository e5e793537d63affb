"""What the webhooks write about a call, as events: made at once, applied to the records later.

A webhook never waits for the database to answer a caller. It describes what happened (the call
opened, a menu step, a volunteer rung, a leg's outcome, the final status) as events, which the
spool (hotline.calllog.spool) hands to the database in order, within milliseconds when it is well
and after an outage when it is not. Applying an event twice changes nothing (applied_events), and
events that arrive late or out of order still leave the record right: the final status sticks, a
late ring attempt of a finished call is closed as canceled, a record is created by whichever
event comes first.

Events carry ids and closed vocabularies only (no number ever): they sit in Redis or on disk.
"""

from __future__ import annotations

import contextlib
import contextvars
import dataclasses
import hashlib
import uuid
from collections.abc import Iterator, Sequence
from datetime import UTC, datetime
from typing import Any, cast

from sqlalchemy import delete, insert, select
from sqlalchemy.orm import Session, selectinload

from ..models import (
    AppliedEvent,
    CallOutcome,
    CallRecord,
    PlacedLeg,
    RingAttempt,
    VolunteerClaim,
    utcnow,
)
from ..models.roster import Volunteer
from . import records

Event = dict[str, Any]

# Ring attempt outcomes (hotline.routing.dispatch.RingOutcome has the same values).
RINGING, ACCEPTED, DECLINED, NO_KEY, CANCELED, FAILED = (
    "ringing",
    "accepted",
    "declined",
    "no_key",
    "canceled",
    "failed",
)
# What Twilio's DialCallStatus says about a leg that was not bridged.
DIAL_STATUS = {
    "busy": "busy",
    "no-answer": "no_answer",
    "failed": FAILED,
    "canceled": CANCELED,
    "completed": DECLINED,  # completed without a bridge: the whisper hung up
}
# Outcomes a later "nobody could answer" must not replace (they were settled by the caller's
# own choice or by a volunteer).
_STICKY = {CallOutcome.CONNECTED.value, CallOutcome.CALLBACK_REQUESTED.value}


# Set while a webhook that has no reply lease runs (hotline.telephony.guard): (request key, count).
_request: contextvars.ContextVar[tuple[str, list[int]] | None] = contextvars.ContextVar(
    "hotline_event_request", default=None
)


@contextlib.contextmanager
def ids_from(request_key: str) -> Iterator[None]:
    """Inside, events get ids derived from the request's key (an HMAC of URL, form and token) and
    their order: a repeat of the request makes the same ids, so what it records is written once."""
    token = _request.set((request_key, [0]))
    try:
        yield
    finally:
        _request.reset(token)


def request_key() -> str | None:
    """The key of the request whose events are being made (see ids_from), if any."""
    current = _request.get()
    return current[0] if current else None


def _new_id() -> str:
    current = _request.get()
    if current is None:
        return uuid.uuid4().hex
    key, count = current
    count[0] += 1
    return hashlib.sha256(f"{key}:{count[0]}".encode()).hexdigest()[:32]


def event(kind: str, call_sid: str, **fields: Any) -> Event:
    """A new event about the call `call_sid`, with its own id and the time it happened."""
    return {
        "id": _new_id(),
        "kind": kind,
        "call": call_sid,
        "at": utcnow().isoformat(),
        **fields,
    }


def apply(session: Session, item: Event) -> bool:
    """Write one event into the call's record; False when it had been applied before."""
    return apply_many(session, [item]) == 1


# Handlers that read or add ring attempts: only their batches load the attempts (in one query).
_READS_ATTEMPTS = frozenset({"ring", "whisper", "accepted", "legs_ended", "unanswered", "status"})
# A call new to the database whose events in the batch are only these (its first webhook, its
# menu steps: most of a burst's events) is written as a plain row, in one executemany with the
# others: the unit of work's bookkeeping for each new record was a third of the writer's time.
_PLAIN_ROW_KINDS = frozenset({"opened", "step"})


@dataclasses.dataclass
class _NewRecord:
    """The columns _opened and _step set on a record that does not exist yet."""

    call_sid: str
    caller_key: str | None
    caller_key_version: int | None
    started_at: datetime
    ivr_path: list[str] = dataclasses.field(default_factory=list)
    language: str | None = None
    topic: str | None = None
    outcome: str = CallOutcome.IN_MENU.value


def apply_many(session: Session, items: Sequence[Event]) -> int:
    """Write events in order, with the same few statements for one event or fifty: which were
    applied before, the records they touch (and their attempts, when needed), then the writes,
    flushed together. Returns how many were new."""
    fresh = pending_ids(session, items)
    calls = {item["call"] for item in items if item["id"] in fresh and item["kind"] != "released"}
    known: dict[str, CallRecord] = {}
    if calls:
        query = select(CallRecord).where(CallRecord.call_sid.in_(calls))
        if any(item["kind"] in _READS_ATTEMPTS for item in items):
            query = query.options(selectinload(CallRecord.attempts))
        known = {record.call_sid: record for record in session.scalars(query)}
    plain = _plain_rows(items, fresh, known)
    legs = _placed_legs(session, [item for item in items if item["id"] in fresh])
    applied: list[dict[str, Any]] = []
    new_legs: list[dict[str, Any]] = []
    for item in items:
        if item["id"] not in fresh:
            continue
        fresh.discard(item["id"])  # a copy of it later in the batch is not applied again
        kind = item["kind"]
        if kind == "released":
            _released(session, item)
        elif kind == "leg":
            _record(session, known, item)
            _leg(legs, new_legs, item, _time(item["at"]))
        elif item["call"] in plain:
            _HANDLERS[kind](session, _plain_record(plain, item), item, _time(item["at"]))
        elif kind != "status" or item["call"] in known:
            # (A status for a call never seen, another app's number say, creates nothing.)
            _HANDLERS[kind](session, _record(session, known, item), item, _time(item["at"]))
        applied.append({"event_id": item["id"], "applied_at": utcnow()})
    session.flush()
    if plain:
        rows = [dataclasses.asdict(row) for row in plain.values() if row is not None]
        session.execute(insert(CallRecord), rows)
    if new_legs:
        session.execute(insert(PlacedLeg), new_legs)
    if applied:
        # One executemany, without the unit of work: these rows are only ever looked up.
        session.execute(insert(AppliedEvent), applied)
    return len(applied)


def _plain_rows(
    items: Sequence[Event], fresh: set[str], known: dict[str, CallRecord]
) -> dict[str, _NewRecord | None]:
    """The calls of this batch to write as plain rows (see _PLAIN_ROW_KINDS), each None until
    its first event makes its row."""
    kinds: dict[str, set[str]] = {}
    for item in items:
        if item["id"] in fresh and item["call"] not in known:
            kinds.setdefault(item["call"], set()).add(item["kind"])
    return {call: None for call, seen in kinds.items() if seen <= _PLAIN_ROW_KINDS}


def _plain_record(plain: dict[str, _NewRecord | None], item: Event) -> CallRecord:
    """The new row of this call (as _record would create it), for _opened and _step to fill."""
    row = plain[item["call"]]
    if row is None:
        key = item.get("caller_key")
        row = plain[item["call"]] = _NewRecord(
            call_sid=item["call"],
            caller_key=key,
            caller_key_version=item.get("key_version") if key else None,
            started_at=_time(item["at"]),
        )
    return cast(CallRecord, row)  # (the handlers only set the columns _NewRecord has)


def _placed_legs(session: Session, items: Sequence[Event]) -> set[str]:
    """The legs among these "leg" events already kept (one query, before any write)."""
    legs = {item["leg"] for item in items if item["kind"] == "leg" and item.get("leg")}
    if not legs:
        return set()
    return set(session.scalars(select(PlacedLeg.leg_sid).where(PlacedLeg.leg_sid.in_(legs))))


def _time(raw: str) -> datetime:
    moment = datetime.fromisoformat(raw)
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def _record(session: Session, known: dict[str, CallRecord], item: Event) -> CallRecord:
    """The call's record, created by whichever of its events comes first."""
    record = known.get(item["call"])
    if record is None:
        key = item.get("caller_key")
        record = records.new_call(item["call"], key, item.get("key_version"))
        record.started_at = _time(item["at"])
        session.add(record)
        known[item["call"]] = record
    return record


def _opened(session: Session, record: CallRecord, item: Event, at: datetime) -> None:
    if record.caller_key is None and item.get("caller_key"):
        record.caller_key = item["caller_key"]
        record.caller_key_version = item.get("key_version")
    record.started_at = min(record.started_at, at)


def _step(session: Session, record: CallRecord, item: Event, at: datetime) -> None:
    records.record_ivr_step(record, item["visited"], item.get("language"), item.get("topic"))


def _routing(session: Session, record: CallRecord, item: Event, at: datetime) -> None:
    if item.get("language"):
        record.language = record.language or item["language"]
    if item.get("topic"):
        record.topic = item["topic"]
    if record.ended_at is None:
        records.mark_routing(record, at)
    else:
        record.routed_at = record.routed_at or at
    record.ivr_path = [*(record.ivr_path or []), "routing"]


def _attempt(record: CallRecord, seq: int, volunteer_id: int | None, at: datetime) -> RingAttempt:
    for attempt in record.attempts:
        if attempt.seq == seq:
            return attempt
    attempt = RingAttempt(seq=seq, volunteer_id=volunteer_id, started_at=at, outcome=RINGING)
    if record.ended_at is not None:
        # The final status was written first (events replayed out of order): already over.
        attempt.ended_at, attempt.outcome = max(record.ended_at, at), CANCELED
    record.attempts.append(attempt)
    return attempt


def _ring(session: Session, record: CallRecord, item: Event, at: datetime) -> None:
    _attempt(record, item["seq"], item["volunteer"], at)


def _whisper(session: Session, record: CallRecord, item: Event, at: datetime) -> None:
    attempt = _attempt(record, item["seq"], item.get("volunteer"), at)
    if attempt.outcome == RINGING:
        attempt.outcome = item["outcome"]


def _accepted(session: Session, record: CallRecord, item: Event, at: datetime) -> None:
    attempt = _attempt(record, item["seq"], item.get("volunteer"), at)
    attempt.outcome = ACCEPTED
    record.answered_by_id = attempt.volunteer_id
    record.connected_at = record.connected_at or at
    start = record.routed_at or record.started_at
    record.wait_seconds = max(0, int((record.connected_at - start).total_seconds()))
    record.outcome = CallOutcome.CONNECTED.value


def _legs_ended(session: Session, record: CallRecord, item: Event, at: datetime) -> None:
    """One <Dial> ended: close its legs; the accepted one, if bridged, was the conversation."""
    dial_status, bridged = item.get("dial_status", ""), bool(item.get("bridged"))
    duration = item.get("duration")
    for seq in item["seqs"]:
        attempt = _attempt(record, seq, None, at)
        if attempt.ended_at is None:
            attempt.ended_at = at
            attempt.duration_seconds = max(0, int((at - attempt.started_at).total_seconds()))
        if attempt.outcome == ACCEPTED and bridged:
            if duration is not None:
                attempt.duration_seconds = duration
            record.outcome = CallOutcome.CONNECTED.value
            if attempt.volunteer_id is not None:
                volunteer = session.get(Volunteer, attempt.volunteer_id)
                if volunteer is not None:
                    ended = volunteer.last_call_ended_at
                    volunteer.last_call_ended_at = at if ended is None else max(ended, at)
        elif attempt.outcome in (RINGING, ACCEPTED, CANCELED):
            attempt.outcome = DIAL_STATUS.get(dial_status, FAILED)


def _unanswered(session: Session, record: CallRecord, item: Event, at: datetime) -> None:
    if record.outcome in _STICKY:
        return
    if not record.attempts:
        record.outcome = CallOutcome.NOBODY_AVAILABLE.value
    elif all(a.outcome == DECLINED for a in record.attempts):
        record.outcome = CallOutcome.DECLINED_BY_ALL.value
    else:
        record.outcome = CallOutcome.NO_ANSWER.value


def _callback_requested(session: Session, record: CallRecord, item: Event, at: datetime) -> None:
    """The callback request was committed (with this outcome) by its webhook; this event, queued
    after the call's earlier events, keeps the outcome if one of them was applied meanwhile."""
    record.outcome = CallOutcome.CALLBACK_REQUESTED.value


def _status(session: Session, record: CallRecord, item: Event, at: datetime) -> None:
    status = item["status"]
    records.finalize(record, status, item.get("duration"), at)
    if status in records.FINAL_STATUSES:
        for attempt in record.attempts:
            if attempt.ended_at is None:
                attempt.ended_at = at
                if attempt.outcome == RINGING:
                    attempt.outcome = CANCELED


def _line_joined(session: Session, record: CallRecord, item: Event, at: datetime) -> None:
    record.ivr_path = [*(record.ivr_path or []), "line"]


def _line_left(session: Session, record: CallRecord, item: Event, at: datetime) -> None:
    """Out of line without a volunteer (hung up, timed out, chose a callback): the wait counts."""
    waited = item.get("waited")
    if waited is not None and record.connected_at is None:
        record.wait_seconds = int(waited)
    record.ivr_path = [*(record.ivr_path or []), f"line:{item.get('reason', 'left')}"]


def _room(session: Session, record: CallRecord, item: Event, at: datetime) -> None:
    """A conference event (joined, left, hold, start, end) for a role, never a number."""
    what = "hold" if item.get("hold") and item.get("what") == "joined" else item.get("what")
    record.ivr_path = [*(record.ivr_path or []), f"room:{item.get('role')}:{what}"]


def _transfer(session: Session, record: CallRecord, item: Event, at: datetime) -> None:
    """A warm transfer's step: which partner (an id), and ringing, answered, no_answer, failed,
    or ended with the seconds the partner was on the call."""
    step = f"transfer:{item.get('partner')}:{item.get('outcome')}"
    if item.get("seconds") is not None:
        step += f":{int(item['seconds'])}"
    record.ivr_path = [*(record.ivr_path or []), step]


def _leg(known: set[str], rows: list[dict[str, Any]], item: Event, at: datetime) -> None:
    """A leg placed through the REST API for this call: Twilio's purge deletes it with the call.
    (Kept once: `known` holds the legs already kept or added in this batch; a query per event
    here flushed every pending record first, one round trip each.)"""
    leg = item.get("leg")
    if not leg or leg in known:
        return
    known.add(leg)
    rows.append({"call_sid": item["call"], "leg_sid": leg, "created_at": at})


def _released(session: Session, item: Event) -> None:
    """The call's claims in the database end (those in Redis were released by the webhook)."""
    query = delete(VolunteerClaim).where(VolunteerClaim.owner == f"call:{item['call']}")
    if item.get("volunteers") is not None:
        query = query.where(VolunteerClaim.volunteer_id.in_(item["volunteers"]))
    session.execute(query)


_HANDLERS = {
    "opened": _opened,
    "step": _step,
    "routing": _routing,
    "ring": _ring,
    "whisper": _whisper,
    "accepted": _accepted,
    "legs_ended": _legs_ended,
    "unanswered": _unanswered,
    "callback_requested": _callback_requested,
    "status": _status,
    "line_joined": _line_joined,
    "line_left": _line_left,
    "room": _room,
    "transfer": _transfer,
}
KINDS = frozenset({*_HANDLERS, "released", "leg"})


def pending_ids(session: Session, items: Sequence[Event]) -> set[str]:
    """The ids among `items` not applied yet (one query)."""
    ids = [item["id"] for item in items]
    done = set(session.scalars(select(AppliedEvent.event_id).where(AppliedEvent.event_id.in_(ids))))
    return set(ids) - done
