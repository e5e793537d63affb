"""Partner services a volunteer can bring into a call (warm transfer): config/partners.yaml.

Each partner has an id, a name in every language (the volunteer hears it in the menu), a number
in E.164 (checked with phonenumbers at start-up; never said to anyone, never stored with a call),
the hours it answers (shifts, in the hotline's time zone, as in the roster) and the topics it
serves. The menu lists the partners that answer now for the call's topic, keys 1 to 9 in the
file's order.

Pure Python: the file is read and checked at start-up (hotline.startup).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, tzinfo
from pathlib import Path
from typing import Any

from ..yaml_errors import read_yaml
from .policy import LANGUAGES, TOPICS, ShiftSpec, on_shift
from .roster_file import _parse_choices, _parse_phone, _parse_shifts

MAX_PARTNERS = 9  # one key each in the volunteer's menu
_ID_CHARS = set("abcdefghijklmnopqrstuvwxyz0123456789_")


class PartnersError(ValueError):
    """config/partners.yaml is wrong; the message names the file and every problem."""


@dataclass(frozen=True)
class Partner:
    id: str
    names: dict[str, str]
    phone: str  # E.164
    hours: tuple[ShiftSpec, ...]
    topics: tuple[str, ...]

    def __repr__(self) -> str:  # never print the number
        return f"Partner(id={self.id!r})"

    def name(self, language: str | None) -> str:
        return self.names.get(language or "ru") or self.names["ru"]


def load_partners(path: str | Path) -> tuple[Partner, ...]:
    """Read and check the partners file; a missing file means no partners (transfer is off)."""
    if not Path(path).exists():
        return ()
    return parse_partners(read_yaml(path, PartnersError), str(path))


def parse_partners(data: Any, source: str = "partners") -> tuple[Partner, ...]:
    """Validate parsed YAML ({partners: [...]}) into partners; every problem is named."""
    if data is None:
        return ()
    rows = data.get("partners") if isinstance(data, dict) else None
    if not isinstance(rows, list):
        raise PartnersError(f"{source}: expected `partners:` with a list of partners")
    problems: list[str] = []
    partners: list[Partner] = []
    seen: set[str] = set()
    for number, row in enumerate(rows, start=1):
        partner = _parse_partner(number, row, problems)
        if partner is None:
            continue
        if partner.id in seen:
            problems.append(f"partner {partner.id}: id: listed twice")
            continue
        seen.add(partner.id)
        partners.append(partner)
    if len(rows) > MAX_PARTNERS:
        problems.append(f"partners: at most {MAX_PARTNERS} (one key each in the menu)")
    if problems:
        raise PartnersError(f"{source}:\n  - " + "\n  - ".join(problems))
    return tuple(partners)


def _parse_partner(number: int, row: Any, problems: list[str]) -> Partner | None:
    if not isinstance(row, dict):
        problems.append(f"partner {number}: expected a mapping (id, names, phone, hours, topics)")
        return None
    before = len(problems)
    raw_id = row.get("id")
    if not isinstance(raw_id, str) or not raw_id or not set(raw_id) <= _ID_CHARS:
        problems.append(f"partner {number}: id: required, lowercase letters, digits and _")
        raw_id = str(raw_id)
    who = f"partner {raw_id}"
    for key in sorted(set(row) - {"id", "names", "phone", "hours", "topics"}, key=str):
        problems.append(f"{who}: {key}: unknown field (known: id, names, phone, hours, topics)")
    names = row.get("names")
    if not isinstance(names, dict) or any(
        not isinstance(names.get(lang), str) or not names[lang].strip() for lang in LANGUAGES
    ):
        problems.append(f"{who}: names: a name in each of {', '.join(LANGUAGES)}")
        names = {}
    phone = _parse_phone(who, row.get("phone"), problems)
    hours = _parse_shifts(who, row.get("hours"), problems)
    if not hours and "hours" not in row:
        problems.append(f'{who}: hours: required (all day: days [mon..sun], "00:00"-"24:00")')
    topics = _parse_choices(who, "topics", row.get("topics"), TOPICS, problems)
    if len(problems) > before or phone is None:
        return None
    return Partner(raw_id, {k: names[k].strip() for k in LANGUAGES}, phone, hours, topics)


def answering_now(
    partners: tuple[Partner, ...], topic: str | None, now: datetime, tz: tzinfo
) -> list[Partner]:
    """The partners that serve this topic and answer at this moment, in the file's order."""
    return [p for p in partners if (topic in p.topics) and on_shift(p.hours, now, tz)]
