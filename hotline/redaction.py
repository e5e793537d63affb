"""Mask phone numbers in free text (log lines, tracebacks, error details), keep the ids around them.

Pure Python, no I/O: the logging filter (hotline.logs), the REST client's error details and the
worker's job failures all pass their text through `redact`.

Two passes. First the spans that are known not to be phone numbers are set aside: Twilio SIDs,
UUIDs and other long hex ids, the hotline's own job ids, dates and times, decimal durations, IPv4
addresses with their port, process ids, an HTTP client's status and size. Everything else is
searched for digit runs, and a run with seven or more digits is masked, however it is written:
E.164, national (8 701 ...), with spaces, dashes, dots, slashes or brackets between the digits, or
URL-encoded (%2B7..., %20, + for a space).

The rules err on the side of masking: a masked id is an inconvenience, a logged number is a breach.
So a kept span must be exactly one of the shapes below, and not glued to the digits of a longer
run (a "date" or an "address" that continues a phone number is not kept).
"""

from __future__ import annotations

import re

MASK = "[redacted-number]"
# The shortest national numbers have seven digits.
MIN_PHONE_DIGITS = 7

# What may stand between two digits of one phone number: whitespace, dashes (ASCII and Unicode),
# dots, brackets, slashes, and the URL encodings of a space, a plus, brackets, a dash or a dot.
_SEPARATOR = r"(?:[\s().+/\-\u2010-\u2015\u2212]|%20|%2[bBdDeEfF]|%28|%29)"
_ENCODED = re.compile(r"%(?:20|2[bBdDeEfF]|28|29)")
_PHONE_RUN = re.compile(rf"(?:\+|%2[bB])?\d(?:{_SEPARATOR}{{0,4}}\d)*")

# Not glued to a longer digit run: no digit (nor a digit and one separator) right before it.
_NOT_AFTER_DIGITS = r"(?<![\d+])(?<!\d[\s.\-/])(?<!%2[bB])(?<!\))"
_NOT_BEFORE_DIGITS = r"(?![\d]|[.\-/]\d)"
_OCTET = r"(?:25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)"
_DATE = r"(?:19|20)\d\d-(?:0[1-9]|1[0-2])-(?:0[1-9]|[12]\d|3[01])"
_TIME = r"(?:[01]?\d|2[0-3]):[0-5]\d(?::[0-5]\d(?:[.,]\d{1,9})?)?"
_ZONE = r"(?:Z|[+-](?:0\d|1[0-4]):?[0-5]\d)"

_KEPT = [
    # Twilio SIDs: two capital letters and 32 hex digits (CA..., AC..., PN..., CF..., QU...).
    r"(?<![A-Za-z0-9])[A-Z]{2}[0-9a-fA-F]{32}(?![A-Za-z0-9])",
    # UUIDs (RQ's job ids), with their dashes.
    r"(?<![A-Za-z0-9-])[0-9a-fA-F]{8}(?:-[0-9a-fA-F]{4}){3}-[0-9a-fA-F]{12}(?![A-Za-z0-9-])",
    # Long hex ids with at least one letter (RQ's worker names, digests); 32+ digits is no phone.
    r"(?<![A-Za-z0-9])(?=[0-9a-f]*[a-f])[0-9a-f]{32,64}(?![A-Za-z0-9])",
    # The hotline's own job ids: callback-{request id}-{version}, callbacks-sweep-{time slot}.
    r"(?<![\w-])(?:callback-\d{1,9}-\d{1,6}|callbacks-sweep-\d{1,12})(?![\w-])",
    # ISO dates, with a time and a zone when they have one (2026-11-29T00:11:37.123456+05:00).
    rf"{_NOT_AFTER_DIGITS}{_DATE}(?:[T ]{_TIME}{_ZONE}?)?{_NOT_BEFORE_DIGITS}",
    # Times and h:mm:ss durations (00:11:37,123 or RQ's 0:00:00.523456).
    rf"(?<![\d:]){_TIME}(?![\d:])",
    # Decimal durations with their unit (0.523456s, 12.5 ms).
    rf"{_NOT_AFTER_DIGITS}\d{{1,6}}\.\d{{1,9}} ?(?:ms|s|us|µs|sec|secs|seconds)\b",
    r"(?<![A-Za-z0-9])PT(?:\d{1,3}H)?(?:\d{1,3}M)?\d{1,6}(?:\.\d{1,9})?S(?![A-Za-z0-9])",
    # IPv4 addresses, with their port.
    rf"{_NOT_AFTER_DIGITS}{_OCTET}(?:\.{_OCTET}){{3}}(?::\d{{1,5}})?{_NOT_BEFORE_DIGITS}",
    # urllib3's response line ("POST /x HTTP/1.1" 201 1946): the status and the body's size.
    r'(?<=HTTP/\d\.\d" )[1-5]\d\d (?:\d{1,12}|None)(?!\d)',
    # Process ids (gunicorn's "Booting worker with pid: 4194303", RQ's "PID 12345").
    r"(?<![A-Za-z])(?i:pid):? ?\d{1,7}(?!\d)",
]
_KEPT_SPANS = re.compile("|".join(f"(?:{pattern})" for pattern in _KEPT))


def _is_long(run: str) -> bool:
    return sum(ch.isdigit() for ch in _ENCODED.sub("", run)) >= MIN_PHONE_DIGITS


def _mask(match: re.Match[str]) -> str:
    run = match.group(0)
    return MASK if _is_long(run) else run


def _mask_numbers(text: str) -> str:
    return _PHONE_RUN.sub(_mask, text)


def redact(text: str) -> str:
    """`text` with every phone number masked and the ids, times and addresses around it kept."""
    if not any(_is_long(run.group(0)) for run in _PHONE_RUN.finditer(text)):
        return text  # most lines: no run of seven digits at all, nothing to keep or mask
    pieces: list[str] = []
    position = 0
    for kept in _KEPT_SPANS.finditer(text):
        pieces.append(_mask_numbers(text[position : kept.start()]))
        pieces.append(kept.group(0))
        position = kept.end()
    pieces.append(_mask_numbers(text[position:]))
    return "".join(pieces)
