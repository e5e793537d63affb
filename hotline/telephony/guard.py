"""Wraps every Twilio webhook: the same answer for a repeated request, and a time budget.

Applied once, at start-up, to each view of the Twilio blueprints (the fallback excepted: it is a
constant that touches nothing). The order matters: the budget is outermost, so waiting for a first
copy's answer counts against it too; the reply lease is inside, so a copy that is answered the
safe way after the deadline does not take the first copy's place.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from flask import Flask, Response, current_app, request
from twilio.twiml.voice_response import VoiceResponse

from .. import budget
from ..calllog import journal
from . import twiml
from .edge import safe_twiml, settings, xml
from .replies import Replies, Reply, request_key
from .signature import public_url

BLUEPRINTS = ("twilio", "dialing", "twilio_callback", "line", "transfer")
UNGUARDED = {"twilio.fallback"}  # a constant answer: nothing to repeat, nothing to wait for
IDEMPOTENCY_HEADER = "I-Twilio-Idempotency-Token"
# The volunteer's legs (theirs is the phone in hand): the safe answer is to hang up that leg.
_VOLUNTEER_LEGS = {
    "dialing.whisper",
    "dialing.whisper_answer",
    "line.whisper",
    "line.whisper_answer",
    "transfer.menu",
    "transfer.choose",
    "transfer.partner_answered",
    "twilio_callback.volunteer",
    "twilio_callback.volunteer_answer",
    "twilio_callback.caller",
    "twilio_callback.caller_result",
}
# Status callbacks: Twilio only needs an acknowledgement.
_STATUS = {
    "twilio.status",
    "twilio_callback.volunteer_status",
    "line.leg_status",
    "line.conference_status",
    "transfer.partner_status",
    "transfer.announce",  # said to a volunteer in the room: nothing rather than a late word
}


def _hang_up() -> Response:
    response = VoiceResponse()
    response.hangup()
    return xml(str(response))


def safe_answer(endpoint: str) -> Callable[[], Response]:
    """What a webhook answers when its time is up."""
    if endpoint in _VOLUNTEER_LEGS:
        return _hang_up
    if endpoint in _STATUS:
        return lambda: xml(twiml.empty())
    return safe_twiml  # the emergency numbers in every language, then a gentle goodbye


def _key() -> str:
    """The request's key: the same for every copy of this request (replies.request_key)."""
    token = request.headers.get(IDEMPOTENCY_HEADER, "")[:128]
    config = settings()
    form = {name: request.form.get(name, "") for name in request.form}
    return request_key(
        config.secret_key.encode(), public_url(config.public_base_url, request), form, token
    )


def idempotent(view: Callable[..., Any]) -> Callable[..., Response]:
    """The first copy of a request computes the answer; every copy returns that answer."""

    def once(*args: Any, **kwargs: Any) -> Response:
        replies: Replies = current_app.extensions["replies"]
        made: list[Response] = []

        def compute() -> Reply:
            response = current_app.make_response(view(*args, **kwargs))
            made.append(response)
            return Reply(response.status_code, response.get_data(as_text=True))

        reply = replies.once(_key(), compute)
        return made[0] if made else xml(reply.body, reply.status)

    return once


def recomputed(view: Callable[..., Any]) -> Callable[..., Response]:
    """For an answer that is a function of the request and the flows alone: no lease, every copy
    computes the same answer again; the events it records carry ids made from the request's key,
    so they are queued once (hotline.calllog.spool) and written once (applied_events)."""

    def again(*args: Any, **kwargs: Any) -> Response:
        with journal.ids_from(_key()):
            return current_app.make_response(view(*args, **kwargs))

    return again


def init_app(app: Flask, recomputable: dict[str, Callable[[], bool]]) -> None:
    """Wrap the Twilio webhooks registered so far (call after registering the blueprints).

    `recomputable`: endpoint -> whether the request at hand may simply be answered again. Such a
    request touches only Redis (its timeouts bound it, then the gate skips Redis) and this host's
    spool file, never the database, so it runs in the request's own thread, with its deadline;
    any other goes through the lease, in a helper thread the deadline can abandon.
    """
    config = app.config["SETTINGS"]
    seconds = config.webhook_budget_seconds
    app.extensions["replies"] = Replies(
        app.extensions["redis_gate"],
        app.extensions["db"],
        spool_directory(app) / "replies",
        app.extensions["fernet"],
    )
    for endpoint, view in list(app.view_functions.items()):
        if endpoint.split(".")[0] not in BLUEPRINTS or endpoint in UNGUARDED:
            continue
        safe = safe_answer(endpoint)
        leased = budget.within_budget(idempotent(view), seconds, safe)
        test = recomputable.get(endpoint)
        if test is not None:
            leased = _either(
                test, budget.within_budget(recomputed(view), seconds, safe, inline=True), leased
            )
        app.view_functions[endpoint] = leased


def _either(
    test: Callable[[], bool], light: Callable[..., Response], leased: Callable[..., Response]
) -> Callable[..., Response]:
    def choose(*args: Any, **kwargs: Any) -> Response:
        return light(*args, **kwargs) if test() else leased(*args, **kwargs)

    choose.__name__ = getattr(leased, "__name__", "choose")
    return choose


def spool_directory(app: Flask) -> Any:
    """This database's spool directory (events and replies of another database never mix)."""
    import hashlib

    config = app.config["SETTINGS"]
    digest = hashlib.sha256(config.database_url.encode()).hexdigest()[:12]
    return config.spool_dir / digest
