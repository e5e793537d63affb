"""Log lines never carry a phone number, whatever form it is written in, and keep their ids."""

from __future__ import annotations

import logging
import re

import pytest
from hypothesis import given
from hypothesis import strategies as st

from hotline.logs import RedactingFilter, redact
from hotline.redaction import MASK

SID = "CA26c6d5a7940be1234567b3661b8e9012"  # a CallSid with a 7-digit run inside its hex
ACCOUNT = "AC" + "1" * 32
JOB = "7f0e4d1c-2b3a-4c5d-8e9f-0a1b2c3d4e5f"


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        # E.164 and its bare digits
        ("from +77015550123", f"from {MASK}"),
        ("from 77015550123", f"from {MASK}"),
        ("from +14158675309.", f"from {MASK}."),
        # national forms, with spaces, dashes, dots, brackets
        ("from 8 701 555 01 23", f"from {MASK}"),
        ("from 8(701)555-01-23", f"from {MASK}"),
        ("from 8 (701) 555-01-23", f"from {MASK}"),
        ("from +7 (701) 555-0123", f"from {MASK}"),
        ("from +7-701-555-01-23", f"from {MASK}"),
        ("from 8.701.555.01.23", f"from {MASK}"),
        ("from 701.555.01.23", f"from {MASK}"),
        ("from 7015550123", f"from {MASK}"),
        ("from 8 701 555 01 23 and 8 701 555 01 24", f"from {MASK} and {MASK}"),
        ("from +1 415 867 5309", f"from {MASK}"),
        ("from 555 0123", f"from {MASK}"),  # seven digits: a city number
        ("tel:+77015550123", f"tel:{MASK}"),
        ('"GET /x?To=87015550123 HTTP/1.1" 200 19', f'"GET /x?To={MASK} HTTP/1.1" 200 19'),
        ("phone='8 701 555 01 23'", f"phone='{MASK}'"),
        ("from +7\u00a0701\u00a0555\u00a001\u00a023", f"from {MASK}"),  # no-break spaces
        ("from +7 701 555\u201301\u201323", f"from {MASK}"),  # en dashes
        # inside URLs and query strings, plain and URL-encoded
        ("From=+77015550123&To=%2B77270000000", f"From={MASK}&To={MASK}"),
        ("From=%2B7%20701%20555%2001%2023&Digits=1", f"From={MASK}&Digits=1"),
        ("From=%2B7+701+555+01+23", f"From={MASK}"),
        ("From=8%28701%29555-01-23", f"From={MASK}"),
        ("GET /x?number=87015550123&call=CA1", f"GET /x?number={MASK}&call=CA1"),
        ("https://h.example/cb/%2B77015550123/next", f"https://h.example/cb/{MASK}/next"),
        # beside ids and times: the number goes, the id stays
        (f"call {SID} from +77015550123", f"call {SID} from {MASK}"),
        ("2026-11-29 00:11:37,123 from 87015550123", f"2026-11-29 00:11:37,123 from {MASK}"),
        ("2026-11-29 +77015550123", f"2026-11-29 {MASK}"),
        # digits glued to a kept shape are not kept: a date or address that continues a number
        ("8 2012-05-17 89", MASK),
        ("+7 212.155.12.34", MASK),
        (f"{SID}77015550123", f"CA26c6d5a7940be{MASK}b3661b8e{MASK}"),
        ("job callback-7015550123-1", f"job callback-{MASK}"),  # no request id is that long
        # a number inside an exception's message, as repr() quotes it
        ("ValueError('bad number +77015550123')", f"ValueError('bad number {MASK}')"),
    ],
)
def test_every_way_of_writing_a_phone_number_is_masked(text, expected):
    assert redact(text) == expected


@pytest.mark.parametrize(
    "text",
    [
        # Twilio SIDs of every kind
        f"call {SID} answered",
        f"account {ACCOUNT}",
        "PN0123456789abcdef0123456789abcdef CF9876543210fedcba9876543210fedcba",
        "QU1234567890abcdef1234567890abcdef RE0011223344556677889900aabbccddee",
        "SM12345678901234567890123456789012",
        # RQ: job ids, worker names, durations
        f"hotline-callbacks: workers.callbacks.run_callback_attempt(12) ({JOB})",
        f"hotline-callbacks: Job OK ({JOB})",
        "Worker rq:worker:0f9a4c1d2e3b4a5f6a7b8c9d0e1f2a3b started with PID 1234567",
        "Successfully completed job in 0:00:00.523456s on worker 0f9a4c1d2e3b4a5f6a7b8c9d0e1f2a3b",
        "job callback-1234-7 enqueued; sweep callbacks-sweep-29384756 scheduled",
        # times, dates, durations
        "2026-11-29 00:11:37,123 INFO hotline: started",
        "at 2026-11-29T00:11:37.123456+05:00 and 2026-11-29T00:11:37Z",
        "api version 2010-04-01",
        "took 0.5234567s, then 12.3456789 ms, PT12.345678S",
        "00:11:37.123456",
        # addresses and ports, process ids
        "Listening at: http://127.0.0.1:5000 (41943)",
        "Booting worker with pid: 4194303",
        'urllib3.connectionpool: http://127.0.0.1:39285 "POST /Calls.json HTTP/1.1" 201 1946',
        "proxy 10.120.200.255:65535 -> 192.168.1.10",
        # short numbers: ids, counts, statuses
        "worker 12345",
        "attempt 42 of call CA12",
        "callback 123456: ringing volunteer 7 (leg 891011)",
        "pseudonym 3f5e8c0b1a2d4e6f8091a2b3c4d5e6f70819a2b3c4d5e6f708192a3b4c5d6e7f",
    ],
)
def test_ids_times_addresses_and_durations_stay_readable(text):
    assert redact(text) == text


# --- every written form, beside every kind of id (hypothesis) ----------------------------------

_SEPARATORS = st.sampled_from([" ", "-", ".", "  ", " - ", "%20", "+", "\u00a0", "/"])
_PREFIXES = st.sampled_from(["+7", "%2B7", "8", "7", "", "007"])
_KEPT = [SID, ACCOUNT, JOB, "2026-11-29T00:11:37.123456+05:00", "127.0.0.1:5000", "0.523456s"]


@st.composite
def written_numbers(draw: st.DrawFn) -> str:
    """A Kazakh mobile number in some written form: prefix, groups, separators."""
    national = "7" + draw(st.text("0123456789", min_size=9, max_size=9))
    if draw(st.booleans()):
        groups = [national[:3], national[3:6], national[6:8], national[8:]]
    else:
        groups = [national[:3], national[3:6], national[6:]]
    separator = draw(_SEPARATORS)
    if draw(st.booleans()):
        groups[0] = f"({groups[0]})"
    prefix = draw(_PREFIXES)
    return prefix + (draw(_SEPARATORS) if prefix else "") + separator.join(groups)


@given(written_numbers(), st.sampled_from(_KEPT), st.sampled_from([" ", ", ", "=", " (", "'"]))
def test_a_number_in_any_form_never_survives_next_to_an_id(written, kept, glue):
    cleaned = redact(f"{kept}{glue}{written}, {kept}")
    assert cleaned.count(kept) == 2
    rest = cleaned.replace(kept, "").replace(MASK, "")
    assert not re.search(r"\d", rest), (written, cleaned)


# --- the filter: messages, arguments, tracebacks -----------------------------------------------


def _record(caplog: pytest.LogCaptureFixture) -> logging.LogRecord:
    return caplog.records[-1]


def test_arguments_are_masked_and_ids_kept(caplog):
    caplog.handler.addFilter(RedactingFilter())
    logging.getLogger("hotline.test").warning("call %s from %s", SID, "+77015550123")
    assert caplog.text.strip().endswith(f"call {SID} from {MASK}")


def _fail_for(number: str) -> None:
    caller = number  # a local holding the number, as a traceback with locals would show
    raise ValueError(f"cannot route {caller}")


def test_an_exception_is_logged_with_its_message_and_traceback_without_the_number(caplog):
    caplog.handler.addFilter(RedactingFilter())
    logger = logging.getLogger("hotline.test")
    try:
        try:
            _fail_for("+77015550123")
        except ValueError as inner:
            raise RuntimeError("routing failed for 8 701 555 01 23") from inner
    except RuntimeError:
        logger.exception("call %s: routing failed", SID)
    text = caplog.text
    assert f"call {SID}: routing failed" in text
    assert "Traceback (most recent call last)" in text
    assert "in _fail_for" in text  # the frame where it happened
    assert f"ValueError: cannot route {MASK}" in text  # the cause, with its message
    assert f"RuntimeError: routing failed for {MASK}" in text
    assert "5550123" not in text and "555 01 23" not in text
    assert _record(caplog).exc_info is None  # no handler can format the raw exception again


def test_a_stack_is_masked_too(caplog):
    caplog.handler.addFilter(RedactingFilter())
    # The stack quotes this source line, number included.
    logging.getLogger("hotline.test").warning("where from %s", "+77015550123", stack_info=True)
    assert "Stack (most recent call last)" in caplog.text
    assert "5550123" not in caplog.text
