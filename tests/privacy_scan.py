"""Look for a phone number, in any written form, everywhere the hotline stores or prints things."""

from __future__ import annotations

import re
from collections.abc import Iterable

from sqlalchemy import Engine, MetaData, select


def number_forms(e164: str) -> list[str]:
    """The digit runs that would betray a Kazakh number: +7 701..., 8 701..., 701..."""
    digits = re.sub(r"\D", "", e164)
    national = digits[-10:]
    return [digits, "8" + national, national]


def contains_number(value: object, e164: str) -> bool:
    """True when `value`, with everything but digits removed, contains the number."""
    text = value.decode("latin-1") if isinstance(value, bytes) else str(value)
    digits = re.sub(r"\D", "", text)
    # Every written form (+7 701..., 8 701..., 701...) contains the 10-digit national number.
    return number_forms(e164)[-1] in digits


def scan_database(engine: Engine, e164: str) -> list[str]:
    """Every table.column (with row) whose value contains the number; [] when none does."""
    metadata = MetaData()
    metadata.reflect(engine)
    hits: list[str] = []
    with engine.connect() as connection:
        for table in metadata.sorted_tables:
            for row in connection.execute(select(table)):
                for column, value in row._mapping.items():
                    if value is not None and contains_number(value, e164):
                        hits.append(f"{table.name}.{column}")
    return hits


def scan_lines(lines: Iterable[str], e164: str) -> list[str]:
    """Log or output lines that contain the number."""
    return [line for line in lines if contains_number(line, e164)]
