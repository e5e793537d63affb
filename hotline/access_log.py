"""Gunicorn's access log line, made from the fields it shows rather than from the whole request.

gunicorn's Logger.access builds every atom for each line: all request and response headers and
the whole WSGI environ, a timestamp and the user from Authorization, escaped one by one, before
the format (config/gunicorn.conf.py) picks six of them. Here only those six are made, escaped
the same way, and logged through the same logger (its control-character filter included). Any
other format falls back to gunicorn's own.
"""

from __future__ import annotations

import traceback
from datetime import timedelta
from typing import Any

from gunicorn.glogging import Logger

# Method, path, status, size and time only: never the query string, a header or a form value.
FORMAT = '%(h)s "%(m)s %(U)s" %(s)s %(B)s %(M)sms'


def _escaped(value: object) -> object:
    # What gunicorn's SafeAtoms does: a quote in a path cannot close the quoted request.
    return value.replace('"', '\\"') if isinstance(value, str) else value


class AccessLogger(Logger):
    """gunicorn's Logger, with an access log that costs what its format uses."""

    def access(self, resp: Any, req: Any, environ: dict[str, Any], request_time: timedelta) -> None:
        if not self.access_log_enabled:
            return
        if self.cfg.access_log_format != FORMAT:
            super().access(resp, req, environ, request_time)
            return
        status = resp.status
        if isinstance(status, str):
            status = status.split(None, 1)[0]
        atoms = {
            "h": environ.get("REMOTE_ADDR", "-"),
            "m": environ.get("REQUEST_METHOD"),
            "U": environ.get("PATH_INFO"),
            "s": status,
            "B": getattr(resp, "sent", None),
            "M": request_time.seconds * 1000 + int(request_time.microseconds / 1000),
        }
        try:
            self.access_log.info(FORMAT, {name: _escaped(value) for name, value in atoms.items()})
        except Exception:
            self.error(traceback.format_exc())
