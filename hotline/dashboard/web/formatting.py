"""How the dashboard writes times and durations: the hotline's time zone, no surprises."""

from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo

from flask import current_app
from markupsafe import Markup, escape

from . import csrf
from .i18n import gettext as _


def hotline_tz() -> ZoneInfo:
    """The hotline's time zone (HOTLINE_TIMEZONE)."""
    return current_app.config["SETTINGS"].tz


def local(value: datetime | None, fmt: str = "%Y-%m-%d %H:%M") -> str:
    """A UTC datetime on the hotline's wall clock; '—' for none."""
    if value is None:
        return "—"
    return value.astimezone(hotline_tz()).strftime(fmt)


def duration(seconds: int | float | None) -> str:
    """Seconds as m:ss or h:mm:ss; '—' for none."""
    if seconds is None:
        return "—"
    seconds = int(round(seconds))
    hours, rest = divmod(seconds, 3600)
    minutes, secs = divmod(rest, 60)
    return f"{hours}:{minutes:02d}:{secs:02d}" if hours else f"{minutes}:{secs:02d}"


def percent(value: float | None) -> str:
    """A ratio as a whole percentage; '—' when undefined."""
    return "—" if value is None else f"{round(value * 100)}%"


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
        return _("%(h)s h %(m)s min", h=hours, m=f"{minutes:02d}")
    days, hours = divmod(hours, 24)
    return _("%(d)s d %(h)s h", d=days, h=hours)
