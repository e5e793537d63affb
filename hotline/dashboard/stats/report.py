"""The funders' report: aggregates only, small cells suppressed (see suppression.py)."""

from __future__ import annotations

import csv
import io
from dataclasses import dataclass
from datetime import date, timedelta

from flask import Response, current_app, render_template, request
from flask.typing import ResponseReturnValue

from ...db import get_session
from ...outcomes import figures as outcome_figures
from ...outcomes.figures import Count, OutcomeFigures
from ...outcomes.model import YES, OutcomeSchema
from ...routing.policy import LANGUAGES, TOPICS
from ..accounts.access import supervisor_only
from ..web import audit
from ..web.clock import now
from ..web.formatting import hotline_tz
from ..web.i18n import gettext as _
from ..web.i18n import label, outcome_text
from ..web.params import BadParams
from ..web.periods import local_today
from . import bp
from .callback_stats import callback_counts
from .query import NONE, Figures, compute
from .suppression import THRESHOLD, SuppressedTable, primary_only, suppress
from .views import PeriodChoice, parse_period, people_note, to_period

CALLBACK_STATUSES = ("completed", "failed", "expired", "cancelled", "open")


@dataclass(frozen=True)
class ReportTable:
    title: str
    rows: list[str]  # labels, without the total row
    columns: list[str]  # labels, without the total column
    table: SuppressedTable
    # False for counts that do not add up (distinct people): no totals, small cells hidden.
    totals: bool = True
    note: str | None = None


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
    tables = build_tables(
        compute(db, period, hotline_tz()), callback_counts(db, period, hotline_tz())
    )
    # Calls from the daily totals; people (distinct keys do not add up) from the reports, for
    # the one table that shows them.
    outcomes = outcome_figures.for_days(db, hotline_tz(), choice.first, choice.last, people=False)
    people = outcome_figures.people_by_option(db, hotline_tz(), choice.first, choice.last, "harm")
    schema = current_app.extensions["outcome_schema"]
    return tables + outcome_tables(outcomes, schema, people)


def _options(schema: OutcomeSchema, field_id: str, seen: set[str]) -> list[str]:
    # The file's options, then any retired option old reports still count.
    item = schema.field(field_id)
    known = [o.id for o in item.options] if item else []
    return known + sorted(seen - set(known))


def outcome_tables(
    figures: OutcomeFigures, schema: OutcomeSchema, people_by_harm: dict[str, int] | None
) -> list[ReportTable]:
    """The outcome reports' tables: each field by sex (calls), people by kind of harm (None:
    not known, the period reaches back past the last purge)."""
    sex_field = schema.field("sex")
    sexes = _options(schema, "sex", {s for cells in figures.by_sex.values() for _, s in cells})
    sex_names = [outcome_text(sex_field, s) for s in sexes]
    several = _("A call can name several options, so the rows add up to more than the calls.")
    tables = []
    for field_id, title, note in (
        ("harm", _("Calls by kind of harm and sex of the person affected"), several),
        ("age_band", _("Calls by age band and sex of the person affected"), None),
        ("given", _("Consultations by type and sex of the person affected"), several),
        ("referrals", _("Referrals by destination and sex of the person affected"), several),
    ):
        cells = figures.by_sex.get(field_id, {})
        options = _options(schema, field_id, {option for option, _ in cells})
        grid = [[cells.get((o, s), Count()).calls for s in sexes] for o in options]
        item = schema.field(field_id)
        names = [outcome_text(item, o) for o in options]
        tables.append(ReportTable(title, names, sex_names, suppress(grid), note=note))
    sheltered = figures.by_sex.get("shelter_admitted", {})
    tables.append(
        ReportTable(
            _("Shelter admissions by sex"),
            [_("Admitted to the shelter")],
            sex_names,
            suppress([[sheltered.get((YES, s), Count()).calls for s in sexes]]),
        )
    )
    if people_by_harm is None:
        return tables  # a period before the last purge: its totals keep no caller keys
    harms = _options(schema, "harm", set(figures.by_field.get("harm", {})) | set(people_by_harm))
    people = [[people_by_harm.get(h, 0)] for h in harms]
    tables.append(
        ReportTable(
            _("People helped by kind of harm"),
            [outcome_text(schema.field("harm"), h) for h in harms],
            [_("People")],
            primary_only(people),
            totals=False,
            note=people_note(),
        )
    )
    return tables


def _choice() -> PeriodChoice:
    today = local_today(now(), hotline_tz())
    choice = parse_period(request.args, previous_month(today))
    # The report is for the whole hotline: a topic or language filter would shrink every cell.
    return PeriodChoice(choice.first, choice.last, None, None)


@bp.get("/report")
@supervisor_only
def report() -> ResponseReturnValue:
    """The funders' report for a period (default: last month)."""
    return _page(printable=False)


@bp.get("/report/print")
@supervisor_only
def report_print() -> ResponseReturnValue:
    """The same report as a page to print: no menus, no forms."""
    return _page(printable=True)


def _page(printable: bool) -> ResponseReturnValue:
    try:
        choice = _choice()
    except BadParams as error:
        return error.page()
    tables = _load(choice)
    audit.record("report_view", "report", None, detail=f"from={choice.first} to={choice.last}")
    get_session().commit()
    return render_template(
        "stats/report.html",
        choice=choice,
        tables=tables,
        threshold=THRESHOLD,
        printable=printable,
    )


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
        total = [_("Total")] if item.totals else []
        writer.writerow([item.title, *item.columns, *total])
        for r, name in enumerate([*item.rows, *total]):
            cells = [item.table.shown(r, c) for c in range(len(item.columns) + len(total))]
            writer.writerow([name, *("*" if v is None else v for v in cells)])
        if item.note:
            writer.writerow([item.note])
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
