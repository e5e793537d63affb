"""The funders' report: aggregates only, small cells suppressed (see suppression.py)."""

from __future__ import annotations

import csv
import io
from dataclasses import dataclass
from datetime import date, timedelta

from flask import Response, render_template, request
from flask.typing import ResponseReturnValue

from ...db import get_session
from ...routing.policy import LANGUAGES, TOPICS
from ..accounts.access import supervisor_only
from ..web import audit
from ..web.clock import now
from ..web.formatting import hotline_tz
from ..web.i18n import gettext as _
from ..web.i18n import label
from ..web.params import BadParams
from ..web.periods import local_today
from . import bp
from .callback_stats import callback_counts
from .query import NONE, Figures, compute
from .suppression import THRESHOLD, SuppressedTable, suppress
from .views import PeriodChoice, parse_period, to_period

CALLBACK_STATUSES = ("completed", "failed", "expired", "cancelled", "open")


@dataclass(frozen=True)
class ReportTable:
    title: str
    rows: list[str]  # labels, without the total row
    columns: list[str]  # labels, without the total column
    table: SuppressedTable


def previous_month(today: date) -> tuple[date, date]:
    """The last full calendar month before today."""
    last = today.replace(day=1) - timedelta(days=1)
    return last.replace(day=1), last


def build_tables(figures: Figures, callbacks: dict[str, int]) -> list[ReportTable]:
    """The report's tables, each suppressed on its own."""
    topics, languages = [*TOPICS, NONE], [*LANGUAGES, NONE]
    topic_names = [label("topic", t) if t else _("No topic chosen") for t in topics]
    by_language = [
        [figures.by_topic_language.get((t, lang), None) for lang in languages] for t in topics
    ]
    language_cells = [[c.calls if c else 0 for c in row] for row in by_language]
    outcome_cells = []
    for topic in topics:
        counts = figures.by_topic.get(topic)
        if counts is None:
            outcome_cells.append([0, 0, 0])
        else:
            other = counts.calls - counts.connected - counts.unanswered
            outcome_cells.append([counts.connected, counts.unanswered, other])
    callback_cells = [[callbacks.get(status, 0) for status in CALLBACK_STATUSES]]
    return [
        ReportTable(
            _("Calls by topic and language"),
            topic_names,
            [label("language", lang) if lang else _("Not chosen") for lang in languages],
            suppress(language_cells),
        ),
        ReportTable(
            _("Calls by topic and result"),
            topic_names,
            [_("Answered"), _("Unanswered"), _("Other (menu, emergency numbers)")],
            suppress(outcome_cells),
        ),
        ReportTable(
            _("Callback requests by result"),
            [_("Callback requests")],
            [_("Completed"), _("Failed"), _("Expired"), _("Cancelled"), _("Still open")],
            suppress(callback_cells),
        ),
    ]


def _load(choice: PeriodChoice) -> list[ReportTable]:
    db = get_session()
    period = to_period(choice)
    return build_tables(compute(db, period, hotline_tz()), callback_counts(db, period))


def _choice() -> PeriodChoice:
    today = local_today(now(), hotline_tz())
    choice = parse_period(request.args, previous_month(today))
    # The report is for the whole hotline: a topic or language filter would shrink every cell.
    return PeriodChoice(choice.first, choice.last, None, None)


@bp.get("/report")
@supervisor_only
def report() -> ResponseReturnValue:
    """The funders' report for a period (default: last month)."""
    try:
        choice = _choice()
    except BadParams as error:
        return error.page()
    tables = _load(choice)
    audit.record("report_view", "report", None, detail=f"from={choice.first} to={choice.last}")
    get_session().commit()
    return render_template("stats/report.html", choice=choice, tables=tables, threshold=THRESHOLD)


@bp.get("/report.csv")
@supervisor_only
def report_csv() -> ResponseReturnValue:
    """The same report as CSV; suppressed cells (small and complementary) read '*'."""
    try:
        choice = _choice()
    except BadParams as error:
        return error.page()
    tables = _load(choice)
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow([_("Period"), choice.first.isoformat(), choice.last.isoformat()])
    for item in tables:
        writer.writerow([])
        writer.writerow([item.title, *item.columns, _("Total")])
        for r, name in enumerate([*item.rows, _("Total")]):
            cells = [item.table.shown(r, c) for c in range(len(item.columns) + 1)]
            writer.writerow([name, *("*" if v is None else v for v in cells)])
    writer.writerow([])
    writer.writerow([_("* hidden: fewer than %(n)s, or would reveal such a cell", n=THRESHOLD)])
    audit.record("report_export", "report", None, detail=f"from={choice.first} to={choice.last}")
    get_session().commit()
    name = f"hotline-report-{choice.first}-{choice.last}.csv"
    return Response(
        "\ufeff" + buffer.getvalue(),
        mimetype="text/csv",
        headers={"Content-Disposition": f'attachment; filename="{name}"'},
    )
