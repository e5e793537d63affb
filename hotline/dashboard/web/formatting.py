"""How the dashboard writes dates, times and numbers: the hotline's time zone, and each written
the way the reader's language writes it (Babel's locale data: 31.03.2026 in Russian and Kazakh,
3/31/2026 in English; 1 234 and 1,234)."""

from __future__ import annotations

from datetime import date, datetime
from zoneinfo import ZoneInfo

from babel import Locale
from babel.dates import format_skeleton, format_time
from babel.numbers import format_decimal, format_percent
from flask import current_app
from markupsafe import Markup, escape

from . import csrf
from .i18n import current_language
from .i18n import gettext as _


def hotline_tz() -> ZoneInfo:
    """The hotline's time zone (HOTLINE_TIMEZONE)."""
    return current_app.config["SETTINGS"].tz


def local(value: datetime | None, fmt: str = "%Y-%m-%d %H:%M") -> str:
    """A UTC datetime on the hotline's wall clock in a fixed format (CSV files); '—' for none."""
    if value is None:
        return "—"
    return value.astimezone(hotline_tz()).strftime(fmt)


def date_text(value: date | datetime | None, year: bool = True) -> str:
    """A date as the reader's language writes it (31.03.2026, 3/31/2026; without the year:
    31.03, 3/31); a datetime is first put on the hotline's clock; '—' for none."""
    if value is None:
        return "—"
    if isinstance(value, datetime):
        value = value.astimezone(hotline_tz())
    return format_skeleton("yMd" if year else "Md", value, locale=current_language())


def time_text(value: datetime | None, seconds: bool = False) -> str:
    """A UTC datetime's time of day on the hotline's clock, for the reader (18:05, 6:05 PM)."""
    if value is None:
        return "—"
    width = "medium" if seconds else "short"
    return format_time(value, width, tzinfo=hotline_tz(), locale=current_language())


def when(value: datetime | None, seconds: bool = False, year: bool = True) -> str:
    """A UTC datetime as date and time on the hotline's clock, for the reader
    (31.03.2026, 18:05); '—' for none."""
    if value is None:
        return "—"
    pattern = Locale.parse(current_language()).datetime_formats["short"]
    return str(pattern).format(time_text(value, seconds), date_text(value, year))


def number(value: int | float | None) -> str:
    """A count as the reader's language writes it (1 234, 1,234); '—' for none."""
    return "—" if value is None else format_decimal(value, locale=current_language())


def duration(seconds: int | float | None) -> str:
    """Seconds as m:ss or h:mm:ss; '—' for none."""
    if seconds is None:
        return "—"
    seconds = int(round(seconds))
    hours, rest = divmod(seconds, 3600)
    minutes, secs = divmod(rest, 60)
    return f"{hours}:{minutes:02d}:{secs:02d}" if hours else f"{minutes}:{secs:02d}"


def percent(value: float | None) -> str:
    """A ratio as a whole percentage, for the reader (50 %, 50%); '—' when undefined."""
    return "—" if value is None else format_percent(value, locale=current_language())


def csrf_field() -> Markup:
    """The hidden CSRF input every form carries."""
    return Markup('<input type="hidden" name="{}" value="{}">').format(
        csrf.FIELD, escape(csrf.token())
    )


def age(seconds: float) -> str:
    """A waiting time in words: 12 min, 3 h 05 min, 2 d 4 h."""
    minutes = max(0, int(seconds // 60))
    if minutes < 60:
        return _("%(m)s min", m=minutes)
    hours, minutes = divmod(minutes, 60)
    if hours < 24:
        return _("%(h)s h %(m)s min", h=hours, m=str(minutes).zfill(2))
    days, hours = divmod(hours, 24)
    return _("%(d)s d %(h)s h", d=days, h=hours)
