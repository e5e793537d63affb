"""Log lines never carry a phone number, whatever form it is written in."""

from __future__ import annotations

import logging

import pytest

from hotline.logs import RedactingFilter, redact


@pytest.mark.parametrize(
    "text",
    [
        "from +77015550123",
        "from 77015550123",
        "from 8 701 555 01 23",
        "from 8(701)555-01-23",
        "from +7 (701) 555-0123",
        "from 7015550123",
        "from +1 415 867 5309",
    ],
)
def test_phone_numbers_are_masked(text):
    cleaned = redact(text)
    assert "5550" not in cleaned and "867" not in cleaned
    assert "[redacted-number]" in cleaned


@pytest.mark.parametrize(
    "text",
    ["127.0.0.1:5000", "2026-11-29 00:11:37", "worker 12345", "attempt 42 of call CA12"],
)
def test_addresses_dates_and_short_ids_stay_readable(text):
    assert redact(text) == text


def test_an_exception_is_logged_as_its_type_and_a_redacted_message(caplog):
    logger = logging.getLogger("hotline.test")
    caplog.handler.addFilter(RedactingFilter())
    try:
        raise ValueError("bad number +77015550123")
    except ValueError:
        logger.exception("failed for %s", "+77015550123")
    line = caplog.records[-1].getMessage()
    assert "5550123" not in line and "ValueError" in line
    assert caplog.records[-1].exc_info is None  # no traceback with locals


def test_control_characters_in_a_log_line_are_escaped_after_the_redaction():
    from hotline.log_controls import ControlCharFilter, strip_controls

    assert strip_controls("a\nb\rc\x1b[31md\u2028e\u202ef\tg") == (
        "a\\x0ab\\x0dc\\x1b[31md\\x2028e\\x202ef\\x09g"
    )
    record = logging.LogRecord(
        "hotline", logging.WARNING, "", 0, "user %s", ("x\nFAKE +77015550123",), None
    )
    assert RedactingFilter().filter(record) and ControlCharFilter().filter(record)
    assert record.getMessage() == "user x\\x0aFAKE [redacted-number]"
