"""Reports in the database: the connected calls a report is for, saving one, pending ones.

A report is for a "connected call": a live call a volunteer accepted and was bridged to
(CallRecord, outcome connected, answered_by_id), or a callback leg that reached the caller
(CallbackAttempt, outcome caller_connected). Ids and ids only travel through here.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from zoneinfo import ZoneInfo

from sqlalchemy import select
from sqlalchemy.orm import Session, selectinload

from ..models import CallbackAttempt, CallbackRequest, CallRecord, OutcomeChoice, OutcomeReport
from ..models.call import CallOutcome
from ..models.callback import AttemptOutcome
from ..routing import wrap_up
from . import aggregates
from .model import EDIT_WINDOW, Answers, values_of

CONNECTED = CallOutcome.CONNECTED.value
CALLER_CONNECTED = AttemptOutcome.CALLER_CONNECTED.value


class CallKind(StrEnum):
    CALL = "call"  # a live call: CallRecord.id
    CALLBACK = "callback"  # a callback leg: CallbackAttempt.id


@dataclass(frozen=True)
class ConnectedCall:
    """A call as a report sees it: who took it, its topic, whether it was connected."""

    kind: CallKind
    id: int
    volunteer_id: int | None
    connected: bool
    started_at: datetime
    ended_at: datetime | None
    topic: str | None
    language: str | None
    caller_key: str | None
    report: OutcomeReport | None
    wrap_up_owner: str  # whose claim holds the volunteer after the call (routing.wrap_up)


class NotYours(LookupError):
    """No such call, or it was not this volunteer's: the same answer for both (404)."""


class NotConnected(ValueError):
    """The call exists and was the volunteer's to ring, but nobody was connected on it."""


class AlreadySaved(Exception):
    """A new report for a call that has one (a second tap, another tab); report is the saved one."""

    def __init__(self, report: OutcomeReport) -> None:
        self.report = report
        super().__init__("report already saved")


class Stale(Exception):
    """The report changed since the form was opened (version differs)."""


class TooLate(Exception):
    """The volunteer's time to edit their report is over; a supervisor can correct it."""


def _report_of(session: Session, kind: CallKind, call_id: int) -> OutcomeReport | None:
    column = (
        OutcomeReport.call_record_id if kind is CallKind.CALL else OutcomeReport.callback_attempt_id
    )
    return session.scalar(
        select(OutcomeReport).where(column == call_id).options(selectinload(OutcomeReport.choices))
    )


def find_call(session: Session, kind: CallKind, call_id: int) -> ConnectedCall | None:
    """The call (connected or not) with its report, or None when there is no such call."""
    if kind is CallKind.CALL:
        record = session.get(CallRecord, call_id)
        if record is None:
            return None
        return ConnectedCall(
            kind, record.id, record.answered_by_id, record.outcome == CONNECTED,
            record.started_at, record.ended_at, record.topic, record.language,
            record.caller_key, _report_of(session, kind, call_id),
            wrap_up.call_owner(record.call_sid),
        )  # fmt: skip
    attempt = session.get(CallbackAttempt, call_id)
    if attempt is None:
        return None
    request = attempt.request
    caller_key = None
    if request.call_record_id is not None:
        caller_key = session.scalar(
            select(CallRecord.caller_key).where(CallRecord.id == request.call_record_id)
        )
    return ConnectedCall(
        kind, attempt.id, attempt.volunteer_id, attempt.outcome == CALLER_CONNECTED,
        attempt.accepted_at or attempt.started_at, attempt.ended_at, request.topic,
        request.language, caller_key, _report_of(session, kind, call_id),
        wrap_up.callback_owner(attempt.id),
    )  # fmt: skip


def call_for_volunteer(
    session: Session, kind: CallKind, call_id: int, volunteer_id: int
) -> ConnectedCall:
    """The volunteer's connected call; NotYours or NotConnected otherwise."""
    call = find_call(session, kind, call_id)
    if call is None or call.volunteer_id != volunteer_id:
        raise NotYours(f"{kind.value} {call_id}")
    if not call.connected:
        raise NotConnected(f"{kind.value} {call_id}")
    return call


def connected_calls(
    session: Session, since: datetime, volunteer_id: int | None = None
) -> list[ConnectedCall]:
    """Connected calls since `since`, newest first, each with its report (or None); one
    volunteer's, or everyone's."""
    calls: list[ConnectedCall] = []
    query = select(CallRecord, OutcomeReport).outerjoin(
        OutcomeReport, OutcomeReport.call_record_id == CallRecord.id
    )
    query = query.where(CallRecord.outcome == CONNECTED, CallRecord.started_at >= since)
    if volunteer_id is not None:
        query = query.where(CallRecord.answered_by_id == volunteer_id)
    for record, report in session.execute(query):
        calls.append(
            ConnectedCall(
                CallKind.CALL,
                record.id,
                record.answered_by_id,
                True,
                record.started_at,
                record.ended_at,
                record.topic,
                record.language,
                record.caller_key,
                report,
                wrap_up.call_owner(record.call_sid),
            )
        )
    legs = (
        select(CallbackAttempt, CallbackRequest, OutcomeReport)
        .join(CallbackRequest, CallbackAttempt.request_id == CallbackRequest.id)
        .outerjoin(OutcomeReport, OutcomeReport.callback_attempt_id == CallbackAttempt.id)
        .where(CallbackAttempt.outcome == CALLER_CONNECTED, CallbackAttempt.started_at >= since)
    )
    if volunteer_id is not None:
        legs = legs.where(CallbackAttempt.volunteer_id == volunteer_id)
    for attempt, request, report in session.execute(legs):
        calls.append(
            ConnectedCall(
                CallKind.CALLBACK,
                attempt.id,
                attempt.volunteer_id,
                True,
                attempt.accepted_at or attempt.started_at,
                attempt.ended_at,
                request.topic,
                request.language,
                None,
                report,
                wrap_up.callback_owner(attempt.id),
            )
        )
    calls.sort(key=lambda c: c.started_at, reverse=True)
    return calls


def editable(report: OutcomeReport, now: datetime) -> bool:
    """Whether the volunteer who wrote it may still change it."""
    return now - report.created_at < EDIT_WINDOW


def save(
    session: Session,
    call: ConnectedCall,
    answers: Answers,
    now: datetime,
    version: int | None,
    corrected_by: int | None = None,
    *,
    tz: ZoneInfo,
) -> OutcomeReport:
    """Write the report of `call` (the caller commits). version None: a new report; else the
    version the form was opened on. A supervisor's correction names them in corrected_by.
    A report for a day already closed moves that day's totals too (tz: the hotline's)."""
    report = call.report
    before = None if report is None else [(c.field, c.option) for c in report.choices]
    if version is None:
        if report is not None:
            raise AlreadySaved(report)
        report = OutcomeReport(
            call_record_id=call.id if call.kind is CallKind.CALL else None,
            callback_attempt_id=call.id if call.kind is CallKind.CALLBACK else None,
            volunteer_id=call.volunteer_id,
            call_started_at=call.started_at,
            topic=call.topic,
            language=call.language,
            caller_key=call.caller_key,
            created_at=now,
        )
        session.add(report)
    elif report is None or report.version != version:
        raise Stale()
    elif corrected_by is None and not editable(report, now):
        raise TooLate()
    elif corrected_by is not None:
        report.corrected_by_id, report.corrected_at = corrected_by, now
    report.answers = dict(answers)
    report.updated_at = now
    report.choices = [
        OutcomeChoice(field=field_id, option=option)
        for field_id in sorted(answers)
        for option in values_of(answers, field_id)
    ]
    aggregates.apply_report(
        session, tz, report, before, [(c.field, c.option) for c in report.choices]
    )
    return report
