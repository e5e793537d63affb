"""Run the real `hotline` command with one breakpoint that never resumes, for kill -9 tests.

    python tests/pause_at.py POINT MARKER MATCH hotline-args...

POINT is `module:Class.method` (before the method runs) or `module:Class.method:after` (once it
returned, before its caller sees the result). When a call whose arguments' repr contains MATCH
reaches it, the process writes its pid to MARKER and sleeps: the test then kills it there with
SIGKILL, by pid, at a known line. Nothing else about the command changes.
"""

from __future__ import annotations

import functools
import importlib
import os
import sys
import time
from pathlib import Path
from typing import Any


def install(point: str, marker: Path, match: str) -> None:
    """Wrap the method named by POINT so that a matching call stops there for good."""
    module_name, _, rest = point.partition(":")
    qualname, _, when = rest.partition(":")
    owner: Any = importlib.import_module(module_name)
    *outer, name = qualname.split(".")
    for part in outer:
        owner = getattr(owner, part)
    # The class whose own dict defines it (a subclass may inherit it), so the wrapper is found.
    defining = next((c for c in getattr(owner, "__mro__", [owner]) if name in vars(c)), owner)
    original = vars(defining)[name]
    kind = type(original) if isinstance(original, classmethod | staticmethod) else None
    function = original.__func__ if kind else original

    def stop_here() -> None:
        marker.write_text(str(os.getpid()))
        while True:
            time.sleep(60)

    @functools.wraps(function)
    def paused(*args: Any, **kwargs: Any) -> Any:
        hit = match in repr(args) or match in repr(kwargs)
        if hit and when != "after":
            stop_here()
        result = function(*args, **kwargs)
        if hit and when == "after":
            stop_here()
        return result

    setattr(defining, name, kind(paused) if kind else paused)


def main() -> None:
    point, marker, match, *args = sys.argv[1:]
    install(point, Path(marker), match)
    from hotline.cli import main as hotline

    raise SystemExit(hotline(args))


if __name__ == "__main__":
    main()
