"""`hotline worker`: an RQ worker with its scheduler, inside the app context."""

from __future__ import annotations

import sys

from rq import Queue

from hotline import create_app, queues
from hotline.redis_conn import connect
from hotline.settings import Settings

from .callbacks import SweepingWorker


def run_worker(settings: Settings, burst: bool = False) -> int:
    """Work the hotline's queues until stopped (or until empty with burst)."""
    if not settings.redis_url:
        print("REDIS_URL is required for `hotline worker` (./dev run starts one)", file=sys.stderr)
        return 2
    app = create_app(settings)
    # Jobs block on Redis reads; the web's 1 s socket timeout would break the worker's BLPOP.
    connection = connect(settings.redis_url, socket_timeout=None)
    with app.app_context():
        worker = SweepingWorker(
            [Queue(name, connection=connection) for name in queues.ALL], connection=connection
        )
        worker.work(with_scheduler=True, burst=burst)
    return 0
