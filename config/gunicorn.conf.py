"""Gunicorn settings for the hotline's web process.

    gunicorn -c config/gunicorn.conf.py 'hotline:create_app()'

Environment: PORT (set by hosting platforms: listen on 0.0.0.0:$PORT; unset: 127.0.0.1:5000) and
WEB_CONCURRENCY (worker processes; default 2 x cores + 1, at most 8). A `--bind` on the command
line wins over PORT. The app's own settings are read by hotline/settings.py, not here.
"""

from __future__ import annotations

import logging
import os


def _bind() -> list[str]:
    port = os.environ.get("PORT", "").strip()
    if port:
        # A platform that sets PORT routes outside traffic to it through its own proxy.
        return [f"0.0.0.0:{port}"]  # noqa: S104
    return ["127.0.0.1:5000"]


def _workers() -> int:
    raw = os.environ.get("WEB_CONCURRENCY", "").strip()
    if raw:
        return max(1, int(raw))
    # Each worker holds its own database pool: beyond 8 per host, add hosts, not workers.
    return min(2 * (os.cpu_count() or 1) + 1, 8)


bind = _bind()
workers = _workers()
worker_class = "sync"  # webhooks are short; put a buffering proxy (or the platform's) in front

# Twilio gives up on a webhook after 15 s and plays its error message (then the Fallback URL):
# a request still running by then helps no caller, so the worker is recycled instead.
timeout = 15
# On SIGTERM (deploys, Ctrl-C in ./dev run) finish the requests in flight: at most 15 s each.
graceful_timeout = 20
keepalive = 5  # the proxy's idle connections outlive gunicorn's default 2 s
# Recycle workers now and then so that a slow leak can never take the hotline down: rarely (at
# 500 requests a second, every half hour or so), and jittered so that no two workers restart
# together. A restart is a fork of the preloaded master: milliseconds, no imports.
max_requests = 1_000_000
max_requests_jitter = 200_000

# Logs go to stdout/stderr, where the platform (or ./dev run) collects them.
accesslog = "-"
errorlog = "-"
loglevel = os.environ.get("LOG_LEVEL", "info").strip().lower() or "info"
# Method, path, status, size and time only. Never %(r)s or %(q)s (the query string may carry call
# state), %(f)s (a referer carries a query string too), or any header or form value: nothing that
# could hold a phone number reaches a log line. %(U)s is the path without its query string.
access_log_format = '%(h)s "%(m)s %(U)s" %(s)s %(B)s %(M)sms'
# The same lines, made from those fields alone (gunicorn's own builds every header and the whole
# environ for each line first); another format falls back to gunicorn's (hotline/access_log.py).
logger_class = "hotline.access_log.AccessLogger"


# The master builds the app once and the workers fork from it warm: they start in milliseconds and
# share the code and the flows' memory. Only when the settings and files are valid: otherwise the
# master stops in on_starting with the list of problems (a preloaded app would raise a traceback).
def _startup_problem() -> Exception | None:
    from hotline.startup import check

    return check()


_problem = _startup_problem()
preload_app = _problem is None

# gunicorn >= 25.1 opens a control socket at one path per user ($HOME/.gunicorn/gunicorn.ctl):
# several gunicorns on one host (tests, ./dev run, a second instance) would fight over it.
control_socket_disable = True


def pre_fork(server, worker) -> None:  # type: ignore[no-untyped-def]
    """In the master, before each fork: what the preloaded app built is moved out of the garbage
    collector's sight (gc.freeze), so a worker's collections do not write to those objects' pages
    and make the worker its own copy of memory it shares with the master and its siblings."""
    import gc

    gc.freeze()


def post_worker_init(worker) -> None:  # type: ignore[no-untyped-def]
    """A new webhook worker loads its roster snapshot and starts writing queued call events."""
    extensions = getattr(getattr(worker, "wsgi", None), "extensions", {})
    if extensions.get("db") is not None:
        # Forked from a preloaded master: never share the master's pooled connections (if any).
        extensions["db"].engine.dispose(close=False)
    for name in ("snapshot_keeper", "recorder"):
        if extensions.get(name) is not None:
            extensions[name].start()


def on_starting(server) -> None:  # type: ignore[no-untyped-def]
    """In the master, before any worker: refuse to start on bad settings, flows or config files
    with the list of problems (each worker would otherwise print its own traceback), then mask
    phone numbers in gunicorn's own log (a warning or an error may quote a request)."""
    from hotline.logs import RedactingFilter
    from hotline.startup import shorter_paths

    problem = _problem
    if problem is not None:
        # gunicorn prints a RuntimeError raised here as "Error: ..." and exits with status 1.
        raise RuntimeError(shorter_paths(str(problem)))
    # Kept whole: "Listening at: http://127.0.0.1:5000 (pid)" and the like (hotline.redaction).
    error_log: logging.Logger = server.log.error_log
    error_log.addFilter(RedactingFilter())
    # The access log's path (%(U)s, percent-decoded) can hold a line break or a terminal escape.
    from hotline.log_controls import ControlCharFilter

    server.log.access_log.addFilter(ControlCharFilter())
