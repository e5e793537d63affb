"""Statistics for supervisors: figures and charts over a period, by topic and language."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date, timedelta

from flask import current_app, render_template, request
from flask.typing import ResponseReturnValue
from markupsafe import Markup

from ...db import get_session
from ...outcomes import figures as outcome_figures
from ...outcomes.figures import Count, OutcomeFigures
from ...routing.policy import LANGUAGES, TOPICS
from ..accounts.access import supervisor_only
from ..web import audit
from ..web.clock import now
from ..web.formatting import date_text, hotline_tz
from ..web.i18n import N_, WEEKDAYS, current_language, label, ngettext, outcome_text
from ..web.i18n import gettext as _
from ..web.params import BadParams, a_date, one_of
from ..web.periods import bounds, local_today
from . import bp, charts
from .callback_stats import callback_counts
from .query import NONE, Figures, Period, compute

MAX_DAYS = 1100  # three years: longer periods are for the database's own tools


@dataclass(frozen=True)
class PeriodChoice:
    first: date
    last: date
    topic: str | None
    language: str | None

    @property
    def days(self) -> list[date]:
        return [self.first + timedelta(days=i) for i in range((self.last - self.first).days + 1)]

    def query_args(self) -> dict[str, str]:
        args = {"from": self.first.isoformat(), "to": self.last.isoformat()}
        args.update({k: v for k, v in (("topic", self.topic), ("language", self.language)) if v})
        return args


def parse_period(args: Mapping[str, str], default: tuple[date, date]) -> PeriodChoice:
    """from/to (local dates, inclusive), topic and language; BadParams on anything odd."""
    problems: list[str] = []
    values: dict[str, object] = {}
    for name, check in (
        ("from", lambda: a_date(args, "from")),
        ("to", lambda: a_date(args, "to")),
        ("topic", lambda: one_of(args, "topic", TOPICS)),
        ("language", lambda: one_of(args, "language", LANGUAGES)),
    ):
        try:
            values[name] = check()
        except BadParams as error:
            problems.extend(error.problems)
    first = values.get("from") or default[0]
    last = values.get("to") or default[1]
    if not problems and first > last:  # type: ignore[operator]
        problems.append(_("from: the start date is after the end date"))
    elif not problems and (last - first).days >= MAX_DAYS:  # type: ignore[operator]
        problems.append(
            ngettext(
                "to: choose a period of at most %(num)s day",
                "to: choose a period of at most %(num)s days",
                MAX_DAYS,
            )
        )
    if problems:
        raise BadParams(problems)
    return PeriodChoice(first, last, values.get("topic"), values.get("language"))  # type: ignore[arg-type]


def to_period(choice: PeriodChoice) -> Period:
    """The UTC bounds of a chosen period."""
    start, end = bounds(choice.first, choice.last, hotline_tz())
    return Period(start, end, choice.topic, choice.language)  # type: ignore[arg-type]


def _charts(choice: PeriodChoice, figures: Figures, callbacks: dict[str, int]) -> dict[str, Markup]:
    keys = [*TOPICS, NONE]
    series = [
        charts.Series(
            label("topic", key) if key else _("No topic chosen"),
            charts.TOPIC_COLORS[key],
            [figures.per_day.get(day, {}).get(key, 0) for day in choice.days],
        )
        for key in keys
    ]
    day_labels = [date_text(day, year=False) for day in choice.days]
    weekdays = [_(name) for name in WEEKDAYS]
    total_grid = [[m + a for m, a in row] for row in figures.unanswered_grid]
    by_hour = [
        sum(figures.unanswered_grid[d][h][i] for d in range(7)) for i in (0, 1) for h in range(24)
    ]
    hours = [f"{h:02d}" for h in range(24)]
    languages = [
        (label("language", key) if key else _("No language chosen"), counts.calls, "#3f6e9a")
        for key, counts in sorted(figures.by_language.items(), key=lambda kv: -kv[1].calls)
    ]
    callback_items = [
        (_(name), callbacks.get(status, 0), color)
        for status, name, color in (
            ("requested", N_("Requested"), "#3f6e9a"),
            ("completed", N_("Completed"), "#3f8a8c"),
            ("failed", N_("Failed"), "#b4534b"),
            ("expired", N_("Expired"), "#aeb4bf"),
            ("cancelled", N_("Cancelled"), "#c9b48a"),
        )
    ]
    return {
        "per_day": charts.stacked_bars(day_labels, series, _("Calls per day by topic"), height=240),
        "heatmap": charts.heatmap(
            total_grid,
            weekdays,
            _("Unanswered calls by weekday and hour"),
            _("%(day)s %(hour)s: %(n)s unanswered"),
        ),
        "by_hour": charts.stacked_bars(
            hours,
            [
                charts.Series(_("Missed"), charts.MISSED_COLOR, by_hour[:24]),
                charts.Series(_("Hung up while waiting"), charts.ABANDONED_COLOR, by_hour[24:]),
            ],
            _("Missed and abandoned calls by hour"),
            height=260,
            width=620,
        ),
        "languages": charts.horizontal_bars(languages, _("Calls per language")),
        "callbacks": charts.horizontal_bars(callback_items, _("Callbacks")),
    }


@bp.get("/stats")
@supervisor_only
def stats() -> ResponseReturnValue:
    """Figures and charts for a period (default: the last 30 days)."""
    today = local_today(now(), hotline_tz())
    try:
        choice = parse_period(request.args, (today - timedelta(days=29), today))
    except BadParams as error:
        return error.page()
    db = get_session()
    period = to_period(choice)
    figures = compute(db, period, hotline_tz())
    callbacks = callback_counts(db, period, hotline_tz())
    # Counting people reads every report of the period (distinct keys do not add up from the
    # daily totals): only when asked, so the page stays fast over a year.
    people = request.args.get("people") == "1"
    outcomes = outcome_figures.for_days(
        db, hotline_tz(), choice.first, choice.last, choice.topic, choice.language, people
    )
    audit.record("stats_view", "statistics", None, detail=_describe(choice))
    db.commit()
    return render_template(
        "stats/stats.html",
        choice=choice,
        figures=figures,
        callbacks=callbacks,
        charts=_charts(choice, figures, callbacks),
        outcomes=outcomes,
        outcome_tables=outcome_tables(outcomes),
        people_note=people_note(),
        people_asked=people,
        topics=TOPICS,
        languages=LANGUAGES,
        none=NONE,
        presets=presets(today),
    )


@dataclass(frozen=True)
class OutcomeTable:
    title: str
    rows: list[tuple[str, Count]]  # option label, calls and people


def outcome_tables(figures: OutcomeFigures) -> list[OutcomeTable]:
    """One table per outcome field: each option with its calls and people (retired ones too)."""
    tables = []
    for item in current_app.extensions["outcome_schema"].fields:
        counted = figures.by_field.get(item.id, {})
        options = [o.id for o in item.options] + sorted(set(counted) - {o.id for o in item.options})
        rows = [(outcome_text(item, o), counted.get(o, Count())) for o in options]
        tables.append(OutcomeTable(item.label(current_language()), rows))
    return tables


def people_note() -> str:
    return _(
        "People: different phone numbers among the calls (a keyed hash of each number), so "
        "one phone shared by two people counts once and one person calling from two phones "
        "counts twice; calls from a withheld number count no one."
    )


def presets(today: date) -> list[tuple[str, dict[str, str]]]:
    """Quick periods for the filter bar."""
    last_month_end = today.replace(day=1) - timedelta(days=1)
    spans = (
        (_("Last 7 days"), today - timedelta(days=6), today),
        (_("Last 30 days"), today - timedelta(days=29), today),
        (_("This month"), today.replace(day=1), today),
        (_("Last month"), last_month_end.replace(day=1), last_month_end),
    )
    return [(name, {"from": a.isoformat(), "to": b.isoformat()}) for name, a, b in spans]


def _describe(choice: PeriodChoice) -> str:
    return " ".join(f"{k}={v}" for k, v in sorted(choice.query_args().items()))
