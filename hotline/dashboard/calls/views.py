"""The call log for supervisors: filtered list, per-call detail, CSV export."""

from __future__ import annotations

import csv
import io
from collections.abc import Iterator

from flask import Response, abort, current_app, render_template, request, stream_with_context
from flask.typing import ResponseReturnValue
from sqlalchemy import select
from sqlalchemy.orm import Session, selectinload

from ...db import get_db, get_session
from ...models.call import CallRecord
from ...models.outcome import OutcomeReport
from ...models.roster import Volunteer
from ...outcomes.model import values_of
from ...routing.policy import LANGUAGES, TOPICS
from ..accounts.access import supervisor_only
from ..web import audit
from ..web.clock import now
from ..web.formatting import hotline_tz
from ..web.i18n import current_language, label, ngettext, outcome_text
from ..web.i18n import gettext as _
from ..web.params import BadParams
from . import bp
from .query import (
    OUTCOME_CHOICES,
    PAGE_SIZE,
    CallFilters,
    chunks,
    count,
    filtered,
    ordered,
    parse_filters,
    repeat_counts,
)

CSV_CHUNK = 1000
CSV_COLUMNS = (
    CallRecord.id,
    CallRecord.started_at,
    CallRecord.topic,
    CallRecord.language,
    CallRecord.outcome,
    CallRecord.wait_seconds,
    CallRecord.duration_seconds,
    CallRecord.answered_by_id,
    CallRecord.ivr_path,
    CallRecord.caller_key,  # for the repeat count only; never written out
)
_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def volunteer_names(db: Session, ids: set[int | None]) -> dict[int, Volunteer]:
    """Volunteers by id, for the 'answered by' column (names only, never numbers)."""
    wanted = {i for i in ids if i is not None}
    if not wanted:
        return {}
    return {v.id: v for v in db.scalars(select(Volunteer).where(Volunteer.id.in_(wanted)))}


def report_answers(db: Session, call_ids: list[int]) -> dict[int, dict[str, object]]:
    """The outcome report's answers of each of these calls that has one."""
    rows = db.execute(
        select(OutcomeReport.call_record_id, OutcomeReport.answers).where(
            OutcomeReport.call_record_id.in_(call_ids)
        )
    )
    return {call_id: answers for call_id, answers in rows if call_id is not None}


def all_volunteers(db: Session) -> list[Volunteer]:
    """Every volunteer, for the filter's drop-down."""
    return list(db.scalars(select(Volunteer).order_by(Volunteer.display_name, Volunteer.id)))


@bp.get("/calls")
@supervisor_only
def calls() -> ResponseReturnValue:
    """One page of the filtered, sorted call log."""
    try:
        filters = parse_filters(request.args)
    except BadParams as error:
        return error.page()
    db = get_session()
    query = filtered(filters, hotline_tz())
    total = count(db, query)
    pages = max(1, -(-total.number // PAGE_SIZE))
    if filters.page > pages and total.exact:
        return BadParams(
            [
                ngettext(
                    "page: there is only %(num)s page", "page: there are only %(num)s pages", pages
                )
            ]
        ).page(404)
    rows = db.scalars(
        ordered(query, filters.sort).limit(PAGE_SIZE).offset((filters.page - 1) * PAGE_SIZE)
    ).all()
    if not total.exact:  # an estimate: there is a next page as long as this one is full
        pages = filters.page + 1 if len(rows) == PAGE_SIZE else filters.page
    audit.record("calllog_view", "call_log", None, detail=filters.describe())
    db.commit()
    return render_template(
        "calls/calls.html",
        calls=rows,
        filters=filters,
        total=total.number,
        approximate=not total.exact,
        pages=pages,
        estimated_pages=max(filters.page, -(-total.number // PAGE_SIZE)),
        repeats=repeat_counts(db, rows),
        names=volunteer_names(db, {row.answered_by_id for row in rows}),
        volunteers=all_volunteers(db),
        topics=TOPICS,
        languages=LANGUAGES,
        outcomes=OUTCOME_CHOICES,
    )


@bp.get("/calls/<int:call_id>")
@supervisor_only
def call_detail(call_id: int) -> ResponseReturnValue:
    """Everything stored about one call: IVR path, ring attempts, wait, durations, outcome."""
    db = get_session()
    call = db.scalar(
        select(CallRecord)
        .where(CallRecord.id == call_id)
        .options(selectinload(CallRecord.attempts))
    )
    if call is None:
        abort(404)
    ids = {call.answered_by_id} | {attempt.volunteer_id for attempt in call.attempts}
    audit.record("call_view", "call", call.id)
    db.commit()
    return render_template(
        "calls/call_detail.html",
        call=call,
        repeat=repeat_counts(db, [call]).get(call.id),
        names=volunteer_names(db, ids),
        back=_back_args(),
    )


def _back_args() -> dict[str, str]:
    # The list's filters ride along on the detail link, validated again before reuse.
    try:
        return parse_filters(request.args).query_args()
    except BadParams:
        return {}


def _cell(value: object) -> str:
    text = "" if value is None else str(value)
    # A name like "=HYPERLINK(...)" must not run as a formula in a spreadsheet.
    return "'" + text if text.startswith(_FORMULA_START) else text


def _csv_rows(filters: CallFilters) -> Iterator[str]:
    # A session of its own, closed here: the request's session is torn down when the view
    # returns, before the first row is streamed.
    db = get_db().sessions()
    try:
        yield from _csv_lines(db, filters)
    finally:
        db.close()


def _csv_lines(db: Session, filters: CallFilters) -> Iterator[str]:
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    fields = current_app.extensions["outcome_schema"].fields
    writer.writerow(
        [
            _("Call"),
            _("Started"),
            _("Topic"),
            _("Language"),
            _("Outcome"),
            _("Wait, s"),
            _("Duration, s"),
            _("Answered by"),
            _("IVR path"),
            _("Calls from this caller in 30 days"),
            *(item.label(current_language()) for item in fields),
        ]
    )
    yield "\ufeff" + buffer.getvalue()  # the BOM makes Excel read Cyrillic as UTF-8
    query = ordered(filtered(filters, hotline_tz()), filters.sort).with_only_columns(*CSV_COLUMNS)
    # Plain rows, fetched CSV_CHUNK at a time (a server-side cursor on PostgreSQL): memory stays
    # flat whatever the export's size, and no ORM object is built per call.
    stream = db.execute(query.execution_options(yield_per=CSV_CHUNK))
    tz = hotline_tz()
    labels: dict[tuple[str, str | None], str] = {}  # a handful of words, translated once each

    def label_of(kind: str, value: str | None) -> str:
        if (kind, value) not in labels:
            labels[(kind, value)] = label(kind, value)
        return labels[(kind, value)]

    for chunk in chunks(stream, CSV_CHUNK):
        repeats = repeat_counts(db, chunk)
        names = volunteer_names(db, {call.answered_by_id for call in chunk})
        answers = report_answers(db, [call.id for call in chunk])
        buffer.seek(0)
        buffer.truncate()
        for call in chunk:
            answered = names.get(call.answered_by_id) if call.answered_by_id else None
            writer.writerow(
                _cell(value)
                for value in (
                    call.id,
                    call.started_at.astimezone(tz).strftime("%Y-%m-%d %H:%M:%S"),
                    label_of("topic", call.topic),
                    label_of("language", call.language),
                    label_of("outcome", call.outcome),
                    call.wait_seconds,
                    call.duration_seconds,
                    answered.display_name if answered else "",
                    " > ".join(call.ivr_path or []),
                    repeats.get(call.id, ""),
                    *(
                        ", ".join(
                            outcome_text(item, v)
                            for v in values_of(answers.get(call.id, {}), item.id)
                        )
                        for item in fields
                    ),
                )
            )
        yield buffer.getvalue()


@bp.get("/calls.csv")
@supervisor_only
def calls_csv() -> ResponseReturnValue:
    """The filtered call log as CSV (all pages); a repeat count, never a caller key."""
    try:
        filters = parse_filters(request.args)
    except BadParams as error:
        return error.page()
    db = get_session()
    audit.record("calllog_export", "call_log", None, detail=filters.describe())
    db.commit()
    stamp = now().astimezone(hotline_tz()).strftime("%Y%m%d-%H%M")
    return Response(
        stream_with_context(_csv_rows(filters)),
        mimetype="text/csv",
        headers={"Content-Disposition": f'attachment; filename="hotline-calls-{stamp}.csv"'},
    )
