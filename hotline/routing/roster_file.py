"""The roster file (YAML): parse and validate it into dataclasses, collecting every problem.

Pure: no database. Every problem names the volunteer (row number and handle) and the field, and
never repeats a phone number in full, since these messages end up in terminals and logs.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date, datetime
from pathlib import Path
from typing import Any

import phonenumbers
import yaml

from .policy import DAYS, LANGUAGES, MINUTES_PER_DAY, ROLES, TOPICS, ShiftSpec

DEFAULT_REGION = "KZ"  # "8 701 123 45 67" is a Kazakh mobile: +77011234567
_HANDLE = re.compile(r"^[a-z0-9][a-z0-9_.-]{0,63}$")
_TIME = re.compile(r"^(\d{1,2}):(\d{2})$")
_VOLUNTEER_KEYS = {"handle", "display_name", "phone", "roles", "topics", "languages", "shifts"}
_SHIFT_KEYS = {"days", "date", "start", "end"}


class RosterError(ValueError):
    """The roster file is invalid; nothing was imported. `problems` lists every one."""

    def __init__(self, source: str, problems: list[str]) -> None:
        self.source = source
        self.problems = problems
        count = f"{len(problems)} problem{'s' if len(problems) != 1 else ''}"
        super().__init__(f"{source}: {count}, nothing imported:\n  - " + "\n  - ".join(problems))


@dataclass(frozen=True, repr=False)
class VolunteerSpec:
    handle: str
    display_name: str
    phone: str  # E.164
    roles: tuple[str, ...]
    topics: tuple[str, ...]
    languages: tuple[str, ...]
    shifts: tuple[ShiftSpec, ...]

    def __repr__(self) -> str:
        # No number in reprs: they end up in tracebacks and debug logs.
        return f"VolunteerSpec(handle={self.handle!r}, phone='…{self.phone[-2:]}')"


@dataclass(frozen=True)
class Roster:
    volunteers: tuple[VolunteerSpec, ...]
    source: str = "roster"


def load_roster_file(path: str | Path) -> Roster:
    """Read and validate a roster file; RosterError lists every problem."""
    source = str(path)
    try:
        text = Path(path).read_text(encoding="utf-8")
    except OSError as exc:
        raise RosterError(source, [f"cannot read the file ({exc.strerror})"]) from None
    return parse_roster_text(text, source)


def parse_roster_text(text: str, source: str = "roster") -> Roster:
    """Parse YAML text into a Roster; RosterError lists every problem."""
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        # Only the position and the problem: the YAML snippet could contain a phone number.
        mark = getattr(exc, "problem_mark", None)
        where = f"line {mark.line + 1}, column {mark.column + 1}: " if mark else ""
        problem = getattr(exc, "problem", None) or "syntax error"
        raise RosterError(source, [f"not valid YAML: {where}{problem}"]) from None
    return parse_roster(data, source)


def parse_roster(data: Any, source: str = "roster") -> Roster:
    """Validate already-parsed YAML data into a Roster; RosterError lists every problem."""
    problems: list[str] = []
    if not isinstance(data, dict) or "volunteers" not in data:
        raise RosterError(source, ["volunteers: required (a list of volunteers at the top level)"])
    for key in sorted(set(data) - {"volunteers"}, key=str):
        problems.append(f"{key}: unknown top-level key (only 'volunteers' is read)")
    rows = data["volunteers"]
    if not isinstance(rows, list) or not rows:
        # An empty roster would deactivate every volunteer: surely a mistake.
        raise RosterError(source, problems + ["volunteers: expected a non-empty list"])

    volunteers: list[VolunteerSpec] = []
    seen_handles: dict[str, int] = {}
    seen_phones: dict[str, str] = {}
    for number, row in enumerate(rows, start=1):
        spec = _parse_volunteer(number, row, problems)
        if spec is None:
            continue
        who = f"volunteer {number} ({spec.handle})"
        if spec.handle in seen_handles:
            problems.append(f"{who}: handle: duplicate of volunteer {seen_handles[spec.handle]}")
            continue
        seen_handles[spec.handle] = number
        if spec.phone in seen_phones:
            # Two volunteers on one phone could be rung for two calls at once.
            problems.append(f"{who}: phone: same number as {seen_phones[spec.phone]}")
        seen_phones[spec.phone] = who
        volunteers.append(spec)
    if problems:
        raise RosterError(source, problems)
    return Roster(volunteers=tuple(volunteers), source=source)


def normalize_phone(raw: str, region: str = DEFAULT_REGION) -> str | None:
    """The E.164 form of a valid phone number (national forms read in `region`), else None."""
    try:
        parsed = phonenumbers.parse(raw, region)
    except phonenumbers.NumberParseException:
        return None
    # is_valid (not just is_possible): a mistyped operator code would ring a stranger.
    if not phonenumbers.is_valid_number(parsed):
        return None
    return phonenumbers.format_number(parsed, phonenumbers.PhoneNumberFormat.E164)


def _parse_volunteer(number: int, row: Any, problems: list[str]) -> VolunteerSpec | None:
    if not isinstance(row, dict):
        problems.append(f"volunteer {number}: expected a mapping with handle, phone, ...")
        return None
    handle = row.get("handle")
    valid_handle = isinstance(handle, str) and _HANDLE.match(handle) is not None
    who = f"volunteer {number} ({handle if valid_handle else 'no valid handle'})"
    before = len(problems)
    if not valid_handle:
        problems.append(
            f"{who}: handle: required; lowercase letters, digits, '.', '_' or '-', up to 64"
        )
    for key in sorted(set(row) - _VOLUNTEER_KEYS, key=str):
        known = ", ".join(sorted(_VOLUNTEER_KEYS))
        problems.append(f"{who}: {key}: unknown field (known: {known})")

    display_name = row.get("display_name")
    if not isinstance(display_name, str) or not display_name.strip() or len(display_name) > 120:
        problems.append(f"{who}: display_name: required, up to 120 characters")
    phone = _parse_phone(who, row.get("phone"), problems)
    roles = _parse_choices(who, "roles", row.get("roles"), ROLES, problems)
    topics = _parse_choices(who, "topics", row.get("topics"), TOPICS, problems)
    languages = _parse_choices(who, "languages", row.get("languages"), LANGUAGES, problems)
    shifts = _parse_shifts(who, row.get("shifts", []), problems)
    if len(problems) > before or phone is None or not isinstance(display_name, str):
        return None
    return VolunteerSpec(
        handle=str(handle),
        display_name=display_name.strip(),
        phone=phone,
        roles=roles,
        topics=topics,
        languages=languages,
        shifts=shifts,
    )


def _parse_phone(who: str, raw: Any, problems: list[str]) -> str | None:
    if isinstance(raw, int) and not isinstance(raw, bool):
        raw = str(raw)  # an unquoted 87011234567 reads as an integer
    if not isinstance(raw, str) or not raw.strip():
        problems.append(f"{who}: phone: required (E.164 like +77011234567, or 8 701 123 45 67)")
        return None
    phone = normalize_phone(raw.strip())
    if phone is None:
        problems.append(
            f"{who}: phone: not a valid number (the value ending in '{raw.strip()[-2:]}'); "
            "write +7 and 10 digits, or 8 and 10 digits"
        )
    return phone


def _parse_choices(
    who: str, name: str, raw: Any, allowed: tuple[str, ...], problems: list[str]
) -> tuple[str, ...]:
    if not isinstance(raw, list) or not raw:
        problems.append(f"{who}: {name}: expected a non-empty list of {', '.join(allowed)}")
        return ()
    unknown = [str(value) for value in raw if value not in allowed]
    if unknown:
        problems.append(
            f"{who}: {name}: unknown {', '.join(unknown)} (known: {', '.join(allowed)})"
        )
        return ()
    # Kept in the vocabulary's order, so re-importing a reordered list changes nothing.
    return tuple(value for value in allowed if value in raw)


def _parse_shifts(who: str, raw: Any, problems: list[str]) -> tuple[ShiftSpec, ...]:
    if raw is None:
        return ()
    if not isinstance(raw, list):
        problems.append(f"{who}: shifts: expected a list of shifts")
        return ()
    shifts: list[ShiftSpec] = []
    for index, item in enumerate(raw, start=1):
        shift = _parse_shift(f"{who}, shift {index}", item, problems)
        if shift is not None:
            shifts.append(shift)
    return tuple(shifts)


def _parse_shift(where: str, raw: Any, problems: list[str]) -> ShiftSpec | None:
    if not isinstance(raw, dict):
        problems.append(f"{where}: expected a mapping with days or date, start and end")
        return None
    before = len(problems)
    for key in sorted(set(raw) - _SHIFT_KEYS, key=str):
        problems.append(f"{where}: {key}: unknown field (known: days, date, start, end)")
    days: frozenset[str] | None = None
    on_date: date | None = None
    if ("days" in raw) == ("date" in raw):
        problems.append(f"{where}: days/date: give either days (weekly) or date (one-off)")
    elif "days" in raw:
        days = _parse_days(where, raw["days"], problems)
    else:
        on_date = _parse_date(where, raw["date"], problems)
    start = _parse_time(where, "start", raw.get("start"), problems)
    end = _parse_time(where, "end", raw.get("end"), problems)
    if start is not None and end is not None:
        if start == MINUTES_PER_DAY:
            problems.append(f"{where}: start: '24:00' is only allowed as an end")
        elif start == end:
            problems.append(
                f"{where}: end: equals start (a shift needs a length; all day is 00:00-24:00)"
            )
    if len(problems) > before or start is None or end is None:
        return None
    # "00:00" as an end means midnight at the end of the day, the same as "24:00".
    return ShiftSpec(start=start, end=end or MINUTES_PER_DAY, days=days, date=on_date)


def _parse_days(where: str, raw: Any, problems: list[str]) -> frozenset[str] | None:
    if not isinstance(raw, list) or not raw:
        problems.append(f"{where}: days: expected a non-empty list of {', '.join(DAYS)}")
        return None
    bad = [str(day) for day in raw if day not in DAYS]
    if bad:
        problems.append(f"{where}: days: unknown day {', '.join(bad)} (use {', '.join(DAYS)})")
        return None
    return frozenset(raw)


def _parse_date(where: str, raw: Any, problems: list[str]) -> date | None:
    if isinstance(raw, date) and not isinstance(raw, datetime):
        # YAML reads an unquoted 2026-12-31 as a date already.
        return raw
    try:
        return date.fromisoformat(str(raw))
    except ValueError:
        problems.append(f'{where}: date: {raw!r} is not a date like "2026-12-31"')
        return None


def _parse_time(where: str, field: str, raw: Any, problems: list[str]) -> int | None:
    if isinstance(raw, int) and not isinstance(raw, bool):
        # YAML 1.1 reads an unquoted 18:00 as the number 1080 (base 60).
        problems.append(f'{where}: {field}: write times in quotes, like "18:00"')
        return None
    match = _TIME.match(raw) if isinstance(raw, str) else None
    if match is None:
        problems.append(f'{where}: {field}: required, a time like "09:00" (HH:MM)')
        return None
    hours, minutes = int(match.group(1)), int(match.group(2))
    if minutes > 59 or hours > 24 or (hours == 24 and minutes):
        problems.append(f"{where}: {field}: {raw!r} is not a time between 00:00 and 24:00")
        return None
    return hours * 60 + minutes
