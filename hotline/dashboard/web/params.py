"""Query-string validation shared by the dashboard's list pages: bad input is a clear 4xx page."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import date

from flask import render_template

from .i18n import gettext as _

MAX_VALUE_LENGTH = 64  # no legitimate filter value is longer
MAX_PAGE = 100_000


class BadParams(Exception):
    """One or more query parameters are malformed; problems are shown to the user."""

    def __init__(self, problems: list[str]) -> None:
        super().__init__("; ".join(problems))
        self.problems = problems

    def page(self, status: int = 400) -> tuple[str, int]:
        """The error page listing every problem."""
        return render_template("dashboard/bad_params.html", problems=self.problems), status


def raw(args: Mapping[str, str], name: str) -> str | None:
    """A parameter's stripped value, None when absent or empty; overlong values are refused."""
    value = args.get(name)
    if value is None or not value.strip():
        return None
    if len(value) > MAX_VALUE_LENGTH:
        raise BadParams([_("%(name)s: the value is too long", name=name)])
    return value.strip()


def one_of(args: Mapping[str, str], name: str, allowed: Iterable[str]) -> str | None:
    """A value from a closed vocabulary, or None."""
    value = raw(args, name)
    if value is not None and value not in set(allowed):
        raise BadParams([_("%(name)s: unknown value", name=name)])
    return value


def page_number(args: Mapping[str, str]) -> int:
    """The 1-based page number (default 1)."""
    value = raw(args, "page")
    if value is None:
        return 1
    if not value.isdigit() or not 1 <= int(value) <= MAX_PAGE:
        raise BadParams([_("page: expected a whole number from 1")])
    return int(value)


def a_date(args: Mapping[str, str], name: str) -> date | None:
    """A YYYY-MM-DD date between 2000 and 2100, or None."""
    value = raw(args, name)
    if value is None:
        return None
    try:
        parsed = date.fromisoformat(value)
    except ValueError:
        raise BadParams([_("%(name)s: expected a date like 2026-03-31", name=name)]) from None
    if not 2000 <= parsed.year <= 2100 or len(value) != 10:
        raise BadParams([_("%(name)s: expected a date like 2026-03-31", name=name)])
    return parsed


def an_id(args: Mapping[str, str], name: str) -> int | None:
    """A positive database id, or None."""
    value = raw(args, name)
    if value is None:
        return None
    if not value.isdigit() or not 1 <= int(value) < 2**31:
        raise BadParams([_("%(name)s: expected an id number", name=name)])
    return int(value)
