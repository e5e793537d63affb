"""A YAML syntax error as one line: where it is and what is wrong, without quoting the file."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import yaml


def describe(exc: yaml.YAMLError) -> str:
    """`YAML syntax error at line L, column C: problem` (the file's text is not repeated)."""
    if isinstance(exc, yaml.MarkedYAMLError):
        mark = exc.problem_mark or exc.context_mark
        where = f"line {mark.line + 1}, column {mark.column + 1}" if mark else "unknown line"
        what = exc.problem or exc.context or "invalid YAML"
        if "mapping values are not allowed" in what:
            what += ' (put a text containing ": " in double quotes)'
        return f"YAML syntax error at {where}: {what}"
    return f"YAML error: {str(exc).splitlines()[0] if str(exc) else type(exc).__name__}"


def read_yaml(path: str | Path, error: Callable[[str], Exception]) -> Any:
    """A config file's parsed YAML; an unreadable file or bad YAML raises error("<file>: why")."""
    try:
        return yaml.safe_load(Path(path).read_text(encoding="utf-8"))
    except OSError as exc:
        raise error(f"{path}: cannot read the file ({exc.strerror})") from None
    except yaml.YAMLError as exc:
        raise error(f"{path}: {describe(exc)}") from None
