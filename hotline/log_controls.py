"""No log line can be forged: control characters are escaped before a line is written.

A path, a username or a header can carry a line break (a URL's %0a is decoded into the path) or
a terminal escape; written as is, it starts a fake log line or rewrites the operator's screen.
Each such character is written as its escape (\\x0a), so the line stays one line and says what
was sent.
"""

from __future__ import annotations

import logging
import re

# C0 controls and DEL, C1 controls, and the Unicode line/paragraph separators and bidi overrides
# (which make a line read differently from what it holds).
_CONTROLS = re.compile("[\x00-\x1f\x7f-\x9f\u2028\u2029\u202a-\u202e\u2066-\u2069]")
_CONTROLS_BUT_NEWLINE = re.compile(
    "[\x00-\x09\x0b-\x1f\x7f-\x9f\u2028\u2029\u202a-\u202e\u2066-\u2069]"
)


def strip_controls(text: str, keep_newlines: bool = False) -> str:
    """`text` with every control character replaced by its visible escape (a traceback keeps its
    line breaks with keep_newlines)."""
    pattern = _CONTROLS_BUT_NEWLINE if keep_newlines else _CONTROLS
    return pattern.sub(lambda m: f"\\x{ord(m.group(0)):02x}", text)


class ControlCharFilter(logging.Filter):
    """Rewrites a record whose message holds a control character: for gunicorn's access log,
    which is not redacted (hotline.logs.RedactingFilter escapes them in every other line)."""

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        cleaned = strip_controls(message)
        if cleaned != message:
            record.msg, record.args = cleaned, None
        return True
