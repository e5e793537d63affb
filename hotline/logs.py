"""Logging that can never carry a phone number, even by mistake."""

from __future__ import annotations

import logging
import re

from flask import Flask

from . import log_controls

# Digits with +, spaces, dashes, dots or brackets between them. A run holding seven or more digits
# could be a phone number (the shortest national numbers have seven) and is masked before a log
# line is written; an IPv4 address, a timestamp or a short id is left alone.
_DIGIT_RUN = re.compile(r"\+?\d[\d\s().-]*\d")
_NOT_A_PHONE = re.compile(r"^(\d{1,3}(\.\d{1,3}){3}|\d{4}-\d{2}-\d{2}( \d{2})?)$")  # IPv4, a date
_MIN_PHONE_DIGITS = 7


def _mask(match: re.Match[str]) -> str:
    run = match.group(0)
    digits = sum(ch.isdigit() for ch in run)
    if digits < _MIN_PHONE_DIGITS or _NOT_A_PHONE.match(run.strip()):
        return run
    return "[redacted-number]"


def redact(text: str) -> str:
    """Mask anything in `text` that looks like a phone number."""
    return _DIGIT_RUN.sub(_mask, text)


class RedactingFilter(logging.Filter):
    """Rewrites each record's message with phone-like digit runs masked."""

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        cleaned = redact(message)
        if cleaned != message:
            record.msg, record.args = cleaned, None
        if record.exc_info and record.exc_info[1] is not None:
            # Exceptions are logged as type and redacted message only: a traceback's locals and
            # reprs could hold a caller's number.
            exc = record.exc_info[1]
            record.msg = f"{record.getMessage()} [{type(exc).__name__}: {redact(str(exc))}]"
            record.args, record.exc_info, record.exc_text = None, None, None
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
    # After the redaction: no line break or terminal escape reaches a log line.
    log_controls.install(root)
    log_controls.install(app.logger)
