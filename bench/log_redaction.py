"""Log redaction: what the filter that masks phone numbers costs per log line, and per traceback.

Formats typical hotline log lines (a webhook's, the worker's, RQ's, one with a number) through a
logging.Handler with hotline.logs.RedactingFilter and, as the baseline in the same run, through the
same handler without it. Prints the median cost per line of each, their ratio, and the same for a
logged exception with its traceback (formatted by the filter, masked, then written).

    .venv/bin/python bench/log_redaction.py [--lines 20000] [--repeats 7]
"""

from __future__ import annotations

import argparse
import io
import logging
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from hotline.logs import RedactingFilter  # noqa: E402

SID = "CA26c6d5a7940be1234567b3661b8e9012"
# Half of them with nothing long to mask or keep (most of the hotline's own lines), half with a
# CallSid, an RQ worker name and duration, or a number quoted by Twilio.
LINES = [
    ("callback %s requested (window %s)", (12, "any")),
    ("callback %s: volunteer %s accepted; dialing", (12, 4)),
    ("call %s: ringing %d volunteer(s)", (SID, 2)),
    ("callback %s: ringing volunteer %s (leg %s)", (12, 4, 57)),
    ("callback %s: completed, number erased", (12,)),
    (
        "Successfully completed workers.callbacks.run_callback_attempt(12) job in "
        "0:00:00.176576s on worker 52e71c72cf884611b5af9ecbf98c4696",
        (),
    ),
    ("callback %s: not placed (%s)", (12, "twilio:21215: The 'To' number +77015550123")),
]


def _handler(redacting: bool) -> logging.Handler:
    handler = logging.StreamHandler(io.StringIO())
    handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    if redacting:
        handler.addFilter(RedactingFilter())
    return handler


def _record(message: str, args: tuple, exc_info: object = None) -> logging.LogRecord:
    return logging.LogRecord("hotline.bench", logging.INFO, __file__, 1, message, args, exc_info)


def _per_line_us(redacting: bool, count: int, with_traceback: bool) -> float:
    handler = _handler(redacting)
    exc_info = None
    if with_traceback:
        try:
            raise ValueError("no route for +77015550123")
        except ValueError:
            exc_info = sys.exc_info()
    started = time.perf_counter()
    for n in range(count):
        message, args = LINES[n % len(LINES)]
        handler.handle(_record(message, args, exc_info))
    return (time.perf_counter() - started) / count * 1e6


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--lines", type=int, default=20000)
    parser.add_argument("--repeats", type=int, default=7)
    args = parser.parse_args()
    for label, traceback in (("log line", False), ("line + traceback", True)):
        count = args.lines if not traceback else args.lines // 10
        runs = range(args.repeats)
        bare = statistics.median(_per_line_us(False, count, traceback) for _ in runs)
        masked = statistics.median(_per_line_us(True, count, traceback) for _ in runs)
        print(
            f"{label:<17} baseline {bare:7.1f} us   redacting {masked:7.1f} us   "
            f"ratio {masked / bare:5.1f}x   (+{masked - bare:.1f} us)"
        )


if __name__ == "__main__":
    main()
