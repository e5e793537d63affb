"""Create and update anonymized call records. Every function takes ids, never phone numbers."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from ..models import CallOutcome, CallRecord, utcnow

# Twilio's final call statuses; anything else is a progress event.
FINAL_STATUSES = {"completed", "busy", "failed", "no-answer", "canceled"}
# An outcome the status callback may still replace: the caller left before anything settled it.
UNSETTLED = {CallOutcome.IN_MENU.value, CallOutcome.ROUTING.value}
_MAX_PATH = 200  # a caller pressing keys for an hour must not grow a row without bound


def open_call(
    session: Session, call_sid: str, caller_key: str | None, key_version: int | None
) -> CallRecord:
    """Return the call's record, creating it once even when Twilio retries the first webhook."""
    record = find_call(session, call_sid)
    if record is not None:
        return record
    record = new_call(call_sid, caller_key, key_version)
    session.add(record)
    try:
        session.flush()
    except IntegrityError:
        # Another process created it between our select and insert (a retried webhook).
        session.rollback()
        existing = find_call(session, call_sid)
        if existing is None:
            raise
        return existing
    return record


def new_call(call_sid: str, caller_key: str | None, key_version: int | None) -> CallRecord:
    """A new record (not yet added to a session) for a call that has none."""
    return CallRecord(
        call_sid=call_sid,
        caller_key=caller_key,
        caller_key_version=key_version if caller_key else None,
        ivr_path=[],
        # Set here, not left to the column default (applied only at INSERT): the events applied
        # before the flush (routing, an emergency step) read it.
        outcome=CallOutcome.IN_MENU.value,
        started_at=utcnow(),
    )


def find_call(session: Session, call_sid: str) -> CallRecord | None:
    """The record for a CallSid, or None."""
    return session.scalar(select(CallRecord).where(CallRecord.call_sid == call_sid))


def record_ivr_step(
    record: CallRecord,
    visited: Iterable[str],
    language: str | None = None,
    topic: str | None = None,
) -> None:
    """Append the nodes and keys of one IVR step, and the language and topic once known."""
    path = list(record.ivr_path or [])
    path.extend(visited)
    record.ivr_path = path[-_MAX_PATH:]
    if language:
        record.language = language
    if topic:
        record.topic = topic
    if any(entry.startswith("emergency") for entry in visited) and record.outcome == (
        CallOutcome.IN_MENU.value
    ):
        record.outcome = CallOutcome.EMERGENCY_INFO.value


def mark_routing(record: CallRecord, at: datetime | None = None) -> None:
    """The caller chose a topic and is being handed to routing."""
    if record.routed_at is None:
        record.routed_at = at or utcnow()
    if record.outcome in UNSETTLED or record.outcome == CallOutcome.EMERGENCY_INFO.value:
        record.outcome = CallOutcome.ROUTING.value


def set_outcome(record: CallRecord, outcome: CallOutcome) -> None:
    """Settle how the call ended from the hotline's side (connected, nobody available...)."""
    record.outcome = outcome.value


def finalize(
    record: CallRecord, twilio_status: str, duration_seconds: int | None, at: datetime | None = None
) -> None:
    """Close the record from Twilio's status callback; safe to call twice or out of order."""
    if twilio_status not in FINAL_STATUSES:
        if record.ended_at is None:
            record.twilio_status = twilio_status
        return
    record.twilio_status = twilio_status
    record.ended_at = record.ended_at or at or utcnow()
    if duration_seconds is not None:
        record.duration_seconds = duration_seconds
    if twilio_status in {"busy", "failed", "no-answer", "canceled"} and not record.ivr_path:
        record.outcome = CallOutcome.FAILED.value
    elif record.outcome == CallOutcome.IN_MENU.value:
        record.outcome = CallOutcome.ABANDONED_IN_MENU.value
    elif record.outcome == CallOutcome.ROUTING.value:
        record.outcome = CallOutcome.ABANDONED_WAITING.value


def partners_reached(ivr_path: Iterable[str] | None) -> list[str]:
    """The partners a warm transfer reached on this call (ids, in order, once each): what the
    volunteer's outcome report offers as referrals already made."""
    reached: list[str] = []
    for step in ivr_path or ():
        parts = step.split(":")
        answered = len(parts) >= 3 and parts[0] == "transfer" and parts[2] == "answered"
        if answered and parts[1] not in reached:
            reached.append(parts[1])
    return reached
