"""Logging that can never carry a phone number, even by mistake."""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING

from .redaction import redact

if TYPE_CHECKING:
    from flask import Flask

__all__ = ["RedactingFilter", "cause", "init_app", "install_redaction", "redact"]

_TRACEBACKS = logging.Formatter()


def cause(exc: BaseException) -> str:
    """The exception as one line, `Type: first line of its message`, for a log line's own text.

    Log it with `exc_info=exc` as well: the traceback follows, and the filter masks both.
    """
    lines = str(exc).strip().splitlines()
    return f"{type(exc).__name__}: {lines[0]}" if lines else type(exc).__name__


class RedactingFilter(logging.Filter):
    """Masks phone numbers in each record's message, traceback and stack before it is written.

    A traceback is formatted here, once, and kept as the record's redacted `exc_text`: a handler
    further on then prints that text and never formats the exception (whose message, arguments
    and chained causes could quote a caller's number) on its own.
    """

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        # Formatted once, here, so that no handler formats the arguments again unmasked.
        record.msg, record.args = redact(message), None
        if record.exc_info:
            if record.exc_info[0] is not None:
                record.exc_text = _TRACEBACKS.formatException(record.exc_info)
            record.exc_info = None
        if record.exc_text:
            record.exc_text = redact(record.exc_text)
        if record.stack_info:
            record.stack_info = redact(record.stack_info)
        return True


def install_redaction(logger: logging.Logger | None = None) -> None:
    """Attach the redacting filter to every handler of `logger` (the root logger by default)."""
    logger = logger or logging.getLogger()
    for handler in logger.handlers:
        if not any(isinstance(f, RedactingFilter) for f in handler.filters):
            handler.addFilter(RedactingFilter())


def init_app(app: Flask) -> None:
    """Configure the hotline's loggers once per process."""
    level = app.config["SETTINGS"].log_level
    root = logging.getLogger()
    if not root.handlers:
        logging.basicConfig(level=level, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    logging.getLogger("hotline").setLevel(level)
    install_redaction(root)
    install_redaction(app.logger)
