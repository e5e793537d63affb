"""RQ entry points for deleting ended calls at Twilio (thin: the logic is in
hotline.calllog.twilio_purge). Jobs run inside the app context (workers/runner.py), take ids only,
and are queued by the callback sweep, which runs every minute in every `hotline worker`."""

from __future__ import annotations

import logging
from datetime import timedelta

from flask import current_app
from rq import Queue

from hotline.calllog import twilio_purge
from hotline.db import get_db
from hotline.models import utcnow
from hotline.telephony.rest_client import TwilioCalls, make_twilio_client

log = logging.getLogger(__name__)


class PurgeJobFailed(Exception):
    """A purge job failed; only the original exception's type is kept (RQ stores failures)."""


def twilio_calls() -> TwilioCalls:
    """This app's client for Twilio's Calls resource (built once per process)."""
    built = current_app.extensions.get("twilio_purge_calls")
    if built is None:
        settings = current_app.config["SETTINGS"]
        built = TwilioCalls(make_twilio_client(settings), settings.hotline_phone_number)
        current_app.extensions["twilio_purge_calls"] = built
    return built


def purge_twilio_call(purge_id: int) -> str:
    """Delete one ended call's legs at Twilio; a failed try is retried later (safe to run twice)."""
    try:
        session = get_db().sessions()
        try:
            return twilio_purge.purge_call(session, twilio_calls(), int(purge_id), utcnow())
        finally:
            session.close()
    except Exception as exc:
        log.error("twilio purge %s: job failed (%s)", purge_id, type(exc).__name__)
        raise PurgeJobFailed(type(exc).__name__) from None


def sweep_twilio_purges(queue: Queue | None) -> dict[str, int]:
    """Queue the calls that ended, enqueue the due deletions; {} when the purge is off."""
    delay = current_app.config["SETTINGS"].twilio_purge_delay_seconds
    if delay is None:
        return {}
    session = get_db().sessions()
    try:
        report = twilio_purge.sweep(session, queue, utcnow(), timedelta(seconds=delay))
    finally:
        session.close()
    return {"twilio_queued": report.queued, "twilio_enqueued": report.enqueued}
