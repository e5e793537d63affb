"""The access log's lines are gunicorn's own, whichever request, made from six fields alone."""

from __future__ import annotations

import logging
import runpy
from datetime import timedelta
from pathlib import Path

import pytest
from gunicorn.config import Config
from gunicorn.glogging import Logger

from hotline.access_log import FORMAT, AccessLogger
from hotline.log_controls import ControlCharFilter

CONFIG = Path(__file__).resolve().parents[2] / "config" / "gunicorn.conf.py"


class Response:
    def __init__(self, status: str | int, sent: int | None) -> None:
        self.status, self.sent = status, sent
        self.headers = [("Content-Type", "text/xml; charset=utf-8")]


class Request:
    headers = [("X-TWILIO-SIGNATURE", "c2lnbmF0dXJl"), ("USER-AGENT", "TwilioProxy/1.1")]


def environ(**changes: str) -> dict[str, str]:
    base = {
        "REMOTE_ADDR": "10.0.0.7",
        "REQUEST_METHOD": "POST",
        "PATH_INFO": "/twilio/voice/step",
        "QUERY_STRING": "node=language&tries=0&v_number=gAAAA",
        "RAW_URI": "/twilio/voice/step?node=language&tries=0&v_number=gAAAA",
        "SERVER_PROTOCOL": "HTTP/1.1",
        "HTTP_X_TWILIO_SIGNATURE": "c2lnbmF0dXJl",
    }
    base.update(changes)
    return {k: v for k, v in base.items() if v != "<absent>"}


def lines(logger_class: type, log_format: str, *requests: tuple) -> list[str]:
    """What `logger_class` writes for `requests`, through the filter on_starting installs."""
    config = Config()
    config.set("accesslog", "/dev/null")
    config.set("access_log_format", log_format)
    logger = logger_class(config)
    logger.access_log.addFilter(ControlCharFilter())
    written: list[str] = []
    handler = logging.Handler()
    handler.emit = lambda record: written.append(record.getMessage())  # type: ignore[method-assign]
    for existing in list(logger.access_log.handlers):
        logger.access_log.removeHandler(existing)
    logger.access_log.addHandler(handler)
    for response, env, seconds in requests:
        logger.access(response, Request(), env, timedelta(seconds=seconds))
    return written


REQUESTS = [
    (Response("200 OK", 512), environ(), 0.0034),
    (Response("403 FORBIDDEN", 180), environ(PATH_INFO="/twilio/voice"), 1.25),
    (Response(404, None), environ(PATH_INFO='/ivr-audio/a"b.mp3', REMOTE_ADDR="<absent>"), 0),
    (Response("400 BAD REQUEST", 9), environ(PATH_INFO="/x\n127.0.0.1 forged\x1b[2J"), 0.5),
    (Response("200 OK", 0), environ(REQUEST_METHOD="HEAD", PATH_INFO="<absent>"), 15.0004),
]


def test_the_shipped_format_is_the_one_made_cheaply():
    assert runpy.run_path(str(CONFIG))["access_log_format"] == FORMAT
    assert runpy.run_path(str(CONFIG))["logger_class"] == "hotline.access_log.AccessLogger"


def test_every_line_is_the_one_gunicorn_would_write():
    ours = lines(AccessLogger, FORMAT, *REQUESTS)

    assert ours == lines(Logger, FORMAT, *REQUESTS)
    assert ours[0] == '10.0.0.7 "POST /twilio/voice/step" 200 512 3ms'
    # Never the query string, a header or a form value.
    assert not any("gAAAA" in line or "c2lnbmF0dXJl" in line for line in ours)
    # A path cannot forge a line, nor close the quoted request.
    assert all("\n" not in line and "\x1b" not in line for line in ours)
    assert '/ivr-audio/a\\"b.mp3' in ours[2]


@pytest.mark.parametrize("other", ['%(r)s %(s)s "%(a)s"', "%(h)s %({user-agent}i)s %(D)s"])
def test_another_format_is_written_by_gunicorn_itself(other):
    assert lines(AccessLogger, other, *REQUESTS) == lines(Logger, other, *REQUESTS)
