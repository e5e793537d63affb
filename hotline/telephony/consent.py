"""Callback consent at the edge: the number typed on the keypad, and the request itself.

The flow (ivr_flows/default.yaml, callback_* nodes) asks which number, when it is safe and whether
the counselor may say who is calling. What the flow cannot do safely is kept here:
- a typed number is validated, then carried to the next steps only encrypted (a Fernet token in
  the signed action URL, expiring after TOKEN_TTL_SECONDS): nothing is stored if the caller hangs
  up half way, and no plaintext number ever reaches a URL, a log line or the database;
- the caller's own number is never carried at all: Twilio sends From with every request;
- the request is committed first, then queued; a Redis outage still gives the caller the
  confirmation (the sweeper queues the request later).
"""

from __future__ import annotations

import logging

from cryptography.fernet import InvalidToken
from flask import current_app, request
from redis.exceptions import RedisError
from rq import Queue
from sqlalchemy.exc import SQLAlchemyError

from ..callbacks.config import CallbackConfig
from ..callbacks.numbers import check_number, last_two_digits, parse_keypad
from ..callbacks.service import request_callback
from ..calllog.journal import event
from ..calllog.pseudonym import normalize_number
from ..crypto import encrypt
from ..db import get_db
from ..ivr import engine
from ..ivr.model import CallState, Flow, Gather, Node, Step
from ..logs import cause
from ..models import CallOutcome, utcnow
from ..queues import CALLBACKS
from ..redis_conn import get_redis
from .edge import open_record, settings

log = logging.getLogger(__name__)

OFFER = "callback_offer"
NUMBER_MENU = "callback_number"
NUMBER_WITHHELD = "callback_number_withheld"
NOT_POSSIBLE = "callback_not_possible"
CONFIRMED = "callback_confirmed_{window}"
WINDOWS = ("any", "morning", "afternoon", "evening")
# A flow with the offer must have these: the code enters them by name (checked at start-up).
NODES_ENTERED_BY_NAME = (
    NUMBER_WITHHELD,
    NOT_POSSIBLE,
    *(CONFIRMED.format(window=window) for window in WINDOWS),
)
# Where the edge may send a step instead of where it stopped (adjust): {stopped at: entered}.
DETOURS = {NUMBER_MENU: NUMBER_WITHHELD}
# Long enough to finish the consent menus, short enough that an old URL is worthless.
TOKEN_TTL_SECONDS = 30 * 60
SELF = "self"


def offers_callbacks(flow: Flow) -> bool:
    """Whether the flow has the consent path (routing then offers a callback, not a goodbye)."""
    return OFFER in flow.nodes


def _config() -> CallbackConfig:
    return current_app.extensions["callback_config"]


def callers_number() -> str | None:
    """The caller's own number in E.164 (Twilio sends it with every request), or None if hidden."""
    return normalize_number(request.form.get("From"))


def callable_own_number() -> str | None:
    """The caller's own number if it can be called back (not hidden, not premium or toll-free)."""
    number = callers_number()
    if number is None:
        return None
    checked = check_number(number, _config().regions)
    return checked.e164 if checked.ok else None


def with_runtime_vars(state: CallState, needed: bool = True) -> CallState:
    """Add what prompts may say about this call: the last two digits of the caller's number.

    Not `needed` (the step says no runtime variable: flow_registry.says_runtime_variables), the
    caller's number is not parsed: that was most of a menu step's own work.
    """
    if not needed:
        return state.with_vars(last_two=None) if state.var("last_two") is not None else state
    number = callers_number()
    return state.with_vars(last_two=last_two_digits(number) if number else None)


def collect(flow: Flow, node: Node, digits: str | None, state: CallState) -> Step:
    """A number typed at a collect node: valid ones go on, encrypted; others are asked again."""
    if not digits:
        return engine.collected(flow, node.id, valid=False, state=state, silent=True)
    checked = parse_keypad(digits, _config().regions)
    if not checked.ok or checked.e164 is None:
        log.info("a typed callback number was refused (%s)", checked.reason)
        return engine.collected(flow, node.id, valid=False, state=state)
    token = encrypt(current_app.extensions["fernet"], checked.e164)
    return engine.collected(flow, node.id, valid=True, state=state.with_vars(number=token))


def adjust(flow: Flow, step: Step) -> Step:
    """A caller whose number is hidden (or cannot be called) is asked to type one instead."""
    end = step.end
    if (
        isinstance(end, Gather)
        and end.node_id == NUMBER_MENU
        and NUMBER_WITHHELD in flow.nodes
        and callable_own_number() is None
    ):
        return engine.enter(flow, NUMBER_WITHHELD, step.state)
    return step


def chosen_number(state: CallState) -> str | None:
    """The number to call back: the caller's own, or the one typed (decrypted); None if invalid."""
    choice = state.var("number")
    if choice == SELF:
        return callable_own_number()
    if not choice:
        return None
    try:
        raw = current_app.extensions["fernet"].decrypt(choice.encode(), ttl=TOKEN_TTL_SECONDS)
    except (InvalidToken, ValueError):
        return None
    return raw.decode()


def register(flow: Flow, call_sid: str, state: CallState) -> Step:
    """Create the callback request from the consent, and say when to expect the call."""
    window = state.var("window")
    identify = state.var("identify")
    number = chosen_number(state)
    topic = state.topic or "violence"
    language = state.language or flow.default_language
    if window not in WINDOWS or identify not in ("yes", "no") or number is None:
        log.warning("call %s: callback consent incomplete, not registered", call_sid)
        return engine.enter(flow, NOT_POSSIBLE, state)
    config = settings()
    redis = get_redis()
    queue = Queue(CALLBACKS, connection=redis) if redis is not None else None
    # The call's events queued so far (its routing, nobody available) are written first: the
    # writer applying one of them during this write would set the outcome back after it.
    recorder = current_app.extensions["recorder"]
    recorder.settle()
    try:
        with get_db().session() as session:
            record = open_record(session, call_sid)
            record.outcome = CallOutcome.CALLBACK_REQUESTED.value
            session.flush()
            request_callback(
                session,
                current_app.extensions["fernet"],
                queue,
                number_e164=number,
                topic=topic,
                language=language,
                window=window,
                identify=identify == "yes",
                call_record_id=record.id,
                now=utcnow(),
                tz=config.tz,
                policy=_config().retry,
                regions=_config().regions,
            )
    except (SQLAlchemyError, ValueError) as exc:
        log.error("call %s: callback not registered (%s)", call_sid, cause(exc), exc_info=exc)
        return engine.enter(flow, NOT_POSSIBLE, state)
    except RedisError as exc:  # committed already; the sweeper will queue it
        log.warning(
            "call %s: callback committed, queueing deferred (%s)",
            call_sid,
            cause(exc),
            exc_info=exc,
        )
    # And in the journal too, after them: the outcome holds even if the writer was too slow for
    # the wait above.
    recorder.record([event("callback_requested", call_sid)])
    return engine.enter(flow, CONFIRMED.format(window=window), state)
