"""The legs of a callback: the volunteer's phone rings first, then the survivor's.

1. The worker places the volunteer's leg (REST, answering-machine detection). Twilio fetches
   /volunteer with AnsweredBy: a machine is hung up on (no voicemail, ever); a person hears the
   whisper (topic, language, whether to say the hotline's name) and presses 1.
2. /volunteer/answer: 1 dials the survivor, <Dial callerId=neutral answerOnBridge><Number
   machineDetection=Enable url=/caller>. The number is decrypted here, into this response only.
3. /caller (the survivor answered, after detection): a person is bridged and the request completes
   (number erased); a machine is hung up on before its beep, and the try counts as unreached.
4. /caller-result (the Dial's action) and /volunteer-status (the leg's status callback) settle
   whatever is still open and free the volunteer's claim.
Every route requires Twilio's signature. URLs carry the request and leg ids, never a number.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Iterator
from contextlib import contextmanager

from cryptography.fernet import InvalidToken
from flask import Blueprint, Flask, Response, current_app, request
from redis.exceptions import RedisError
from rq import Queue
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import Session
from sqlalchemy.orm.exc import StaleDataError
from twilio.twiml.voice_response import VoiceResponse

from ..callbacks import attempts, outcomes, service
from ..callbacks.config import CallbackConfig
from ..callbacks.prompts import CallbackPrompts
from ..callbacks.runtime import CallbackRuntime
from ..crypto import decrypt, make_fernet
from ..db import get_db
from ..logs import cause
from ..models.base import utcnow
from ..models.callback import AttemptOutcome, CallbackAttempt, CallbackRequest, CallbackStatus
from ..models.roster import Volunteer
from ..queues import CALLBACKS
from ..redis_conn import get_redis
from ..routing import claims, wrap_up
from ..routing.roster_queries import record_call_ended
from . import twiml
from .edge import audio_url, require_twilio_signature, xml
from .rest_client import TwilioCalls, make_twilio_client

log = logging.getLogger(__name__)
bp = Blueprint("twilio_callback", __name__, url_prefix="/twilio/callback")
require_twilio_signature(bp)

_SID = re.compile(r"CA[0-9a-f]{32}")
WHISPER_KEY_TIMEOUT_SECONDS = 8  # hear the whisper, press 1; a voicemail greeting runs out of it
_DIAL_STATUS = {
    "busy": AttemptOutcome.CALLER_BUSY,
    "no-answer": AttemptOutcome.CALLER_NO_ANSWER,
    "canceled": AttemptOutcome.CALLER_NO_ANSWER,  # the volunteer hung up while it rang
    "failed": AttemptOutcome.CALLER_FAILED,
}
_LEG_STATUS = {
    "busy": AttemptOutcome.VOLUNTEER_NO_ANSWER,
    "no-answer": AttemptOutcome.VOLUNTEER_NO_ANSWER,
    "canceled": AttemptOutcome.VOLUNTEER_NO_ANSWER,
    "failed": AttemptOutcome.VOLUNTEER_FAILED,
    "completed": AttemptOutcome.DECLINED,  # answered, then hung up without pressing 1
}


# --- wiring ------------------------------------------------------------------------------------


def init_app(app: Flask, config: CallbackConfig, prompts: CallbackPrompts) -> None:
    """Register the callback webhooks, with callbacks.yaml and its prompts (hotline.startup)."""
    app.extensions["callback_config"] = config
    app.extensions["callback_prompts"] = prompts
    app.register_blueprint(bp)


def runtime() -> CallbackRuntime:
    """This app's CallbackRuntime (built once): for the webhooks here and the workers' jobs."""
    app = current_app
    built = app.extensions.get("callback_runtime")
    if built is None:
        settings = app.config["SETTINGS"]
        redis = get_redis()
        config = app.extensions["callback_config"]
        routing = app.extensions["routing_policy"]
        built = CallbackRuntime(
            sessions=get_db().sessions,
            fernet=app.extensions.get("fernet") or make_fernet(settings.callback_encryption_keys),
            redis=redis,
            queue=Queue(CALLBACKS, connection=redis) if redis is not None else None,
            calls=TwilioCalls(make_twilio_client(settings), settings.hotline_phone_number),
            config=config,
            routing=routing,
            tz=settings.tz,
            public_base_url=settings.public_base_url,
            hotline_number=settings.hotline_phone_number,
        )
        app.extensions["callback_runtime"] = built
    return built


def _prompts() -> CallbackPrompts:
    return current_app.extensions["callback_prompts"]


@contextmanager
def _leg() -> Iterator[tuple[Session, CallbackRequest | None, CallbackAttempt | None]]:
    """The request and leg named in the (signed) URL; (None, None) if they do not match."""
    session = runtime().sessions()
    try:
        request_raw, attempt_raw = request.args.get("request", ""), request.args.get("attempt", "")
        if (
            not (request_raw.isdigit() and attempt_raw.isdigit())
            or len(request_raw + attempt_raw) > 24
        ):
            yield session, None, None
            return
        found = session.get(CallbackRequest, int(request_raw))
        leg = outcomes.find_leg(found, int(attempt_raw)) if found is not None else None
        yield session, (found if leg is not None else None), leg
    finally:
        session.close()


def _say_and_hang_up(names: list[str], language: str = "ru") -> Response:
    response = VoiceResponse()
    twiml.add_utterances(response, _prompts().say(names, language), audio_url)
    response.hangup()
    return xml(str(response))


def _commit(session: Session) -> bool:
    try:
        session.commit()
    except StaleDataError:
        session.rollback()  # a worker, sweeper or supervisor moved it first: theirs stands
        return False
    return True


def _settle(
    session: Session, found: CallbackRequest, leg: CallbackAttempt, outcome: AttemptOutcome
) -> bool:
    """Close the leg, move the request on and commit; enqueue its next step if pending again."""
    rt = runtime()
    now = utcnow()
    status = outcomes.settle(found, leg, outcome, now, rt.config, rt.tz, rt.redis)
    if not _commit(session):
        return False
    if status == CallbackStatus.PENDING.value:
        service.schedule(rt.queue, found, now)
    return True


def _whisper_language(session: Session, found: CallbackRequest, leg: CallbackAttempt) -> str:
    """The caller's language if the volunteer speaks it, else the volunteer's first language."""
    volunteer = session.get(Volunteer, leg.volunteer_id) if leg.volunteer_id else None
    spoken = list(volunteer.languages or []) if volunteer else []
    if found.language in spoken or not spoken:
        return found.language if found.language in _prompts().voices else "ru"
    return spoken[0]


def _learn_sid(session: Session, leg: CallbackAttempt) -> None:
    """Keep the leg's call sid if the worker died before it could (Twilio's purge needs it)."""
    sid = request.form.get("CallSid", "")
    if leg.volunteer_call_sid is None and _SID.fullmatch(sid):
        leg.volunteer_call_sid = sid
        _commit(session)  # the leg row only: the request's version is untouched


def _is_machine(answered_by: str) -> bool:
    # machine_start, machine_end_beep/silence/other, fax. "unknown" is treated as a person: a
    # survivor may answer in silence, and the volunteer can still hang up on a greeting.
    return answered_by.startswith("machine") or answered_by == "fax"


# --- the volunteer's leg -------------------------------------------------------------------


@bp.post("/volunteer")
def volunteer() -> Response:
    """The volunteer's phone answered: hang up on voicemail, else whisper and ask for 1."""
    rt = runtime()
    try:
        with _leg() as (session, found, leg):
            if found is None or leg is None or leg.outcome != AttemptOutcome.RINGING.value:
                return _say_and_hang_up(["request_gone"])
            _learn_sid(session, leg)
            if found.status != CallbackStatus.DIALING.value:
                _settle(session, found, leg, AttemptOutcome.CANCELLED)
                return _say_and_hang_up(["request_gone"], _whisper_language(session, found, leg))
            if _is_machine(request.form.get("AnsweredBy", "")):
                _settle(session, found, leg, AttemptOutcome.VOLUNTEER_NO_ANSWER)
                return xml(_hangup())
            language = _whisper_language(session, found, leg)
            names = [
                "intro",
                f"topic_{found.topic}",
                f"language_{found.language}",
                "identify_yes" if found.identify else "identify_no",
                "press_one",
            ]
            ids = {"request": found.id, "attempt": leg.id}
            repeat = request.args.get("repeat") == "1"
    except SQLAlchemyError as exc:
        log.error("callback whisper unavailable (%s)", cause(exc), exc_info=exc)
        return xml(_hangup())
    answer_url = rt.url("/volunteer/answer", **ids)
    # No key: hear it once more, then the answer handler counts silence as a decline.
    after = answer_url if repeat else rt.url("/volunteer", **ids, repeat=1)
    said = _prompts().say(names, language)
    return xml(
        twiml.ask_for_one_key(said, answer_url, after, audio_url, WHISPER_KEY_TIMEOUT_SECONDS)
    )


@bp.post("/volunteer/answer")
def volunteer_answer() -> Response:
    """1: dial the survivor from the neutral caller id; anything else: the next volunteer."""
    rt = runtime()
    digits = request.form.get("Digits", "")[:8]
    now = utcnow()
    try:
        with _leg() as (session, found, leg):
            if found is None or leg is None or leg.outcome != AttemptOutcome.RINGING.value:
                return _say_and_hang_up(["request_gone"])
            language = _whisper_language(session, found, leg)
            if found.status != CallbackStatus.DIALING.value or not found.number_ciphertext:
                _settle(session, found, leg, AttemptOutcome.CANCELLED)
                return _say_and_hang_up(["request_gone"], language)
            if digits != "1":
                _settle(session, found, leg, AttemptOutcome.DECLINED)
                log.info("callback %s: volunteer %s declined", found.id, leg.volunteer_id)
                return _say_and_hang_up(["declined"], language)
            try:
                # Decrypted into this response only: never stored, logged or put in a URL.
                number = decrypt(rt.fernet, found.number_ciphertext)
            except InvalidToken:
                # Its key was removed from CALLBACK_ENCRYPTION_KEYS: the number is gone for good.
                log.error("callback %s: number cannot be decrypted; request failed", found.id)
                found.last_error = "number_undecryptable"
                outcomes.end(found, CallbackStatus.FAILED, now)
                _settle(session, found, leg, AttemptOutcome.CANCELLED)
                return _say_and_hang_up(["request_gone"], language)
            leg.outcome = AttemptOutcome.ACCEPTED.value
            leg.accepted_at = now
            found.lease_until = attempts.accepted_lease(rt, now)
            found.updated_at = now
            ids = {"request": found.id, "attempt": leg.id}
            if not _commit(session):
                return _say_and_hang_up(["request_gone"], language)
            _keep_claim(rt, found.id, leg.volunteer_id)
            log.info("callback %s: volunteer %s accepted; dialing", found.id, leg.volunteer_id)
    except SQLAlchemyError as exc:
        log.error("callback answer lost (%s)", cause(exc), exc_info=exc)
        return xml(_hangup())
    response = VoiceResponse()
    twiml.add_utterances(response, _prompts().say(["connecting"], language), audio_url)
    dial = response.dial(
        caller_id=rt.caller_id,
        answer_on_bridge=True,
        timeout=rt.config.caller_ring_timeout_seconds,
        time_limit=rt.routing.call_time_limit_seconds,
        action=rt.url("/caller-result", **ids),
        method="POST",
    )
    dial.number(
        number,
        machine_detection="Enable",
        url=rt.url("/caller", **ids),
        method="POST",
    )
    return xml(str(response))


# --- the survivor's leg --------------------------------------------------------------------


@bp.post("/caller")
def caller() -> Response:
    """The survivor's phone answered: bridge a person (the number is erased), or hang up."""
    try:
        with _leg() as (session, found, leg):
            if found is None or leg is None or leg.outcome != AttemptOutcome.ACCEPTED.value:
                return xml(_hangup())
            if found.status != CallbackStatus.DIALING.value:
                return xml(_hangup())  # cancelled while it rang: do not connect
            machine = _is_machine(request.form.get("AnsweredBy", ""))
            outcome = AttemptOutcome.CALLER_MACHINE if machine else AttemptOutcome.CALLER_CONNECTED
            if not _settle(session, found, leg, outcome) or machine:
                return xml(_hangup())
            log.info("callback %s: completed, number erased", found.id)
    except SQLAlchemyError as exc:
        log.error("callback caller leg lost (%s)", cause(exc), exc_info=exc)
        return xml(_hangup())
    return xml(twiml.empty())  # an empty document bridges the two legs


@bp.post("/caller-result")
def caller_result() -> Response:
    """The Dial ended: after a conversation, hang up; if the survivor was not reached, say so."""
    dial_status = request.form.get("DialCallStatus", "")[:32]
    bridged = request.form.get("DialBridged", "").lower() == "true"
    try:
        with _leg() as (session, found, leg):
            if found is None or leg is None:
                return xml(_hangup())
            language = _whisper_language(session, found, leg)
            if leg.outcome == AttemptOutcome.ACCEPTED.value:
                if dial_status == "completed" and bridged:
                    outcome = AttemptOutcome.CALLER_CONNECTED
                else:
                    outcome = _DIAL_STATUS.get(dial_status, AttemptOutcome.CALLER_FAILED)
                _settle(session, found, leg, outcome)
            connected = leg.outcome == AttemptOutcome.CALLER_CONNECTED.value
    except SQLAlchemyError as exc:
        log.error("callback dial result lost (%s)", cause(exc), exc_info=exc)
        return xml(_hangup())
    return xml(_hangup()) if connected else _say_and_hang_up(["caller_unreachable"], language)


@bp.post("/volunteer-status")
def volunteer_status() -> Response:
    """The volunteer's leg ended: settle it if nothing else did, and free the volunteer."""
    rt = runtime()
    call_status = request.form.get("CallStatus", "")[:32]
    now = utcnow()
    try:
        with _leg() as (session, found, leg):
            if found is None or leg is None:
                return xml(twiml.empty())
            _learn_sid(session, leg)
            if leg.outcome == AttemptOutcome.RINGING.value:
                outcome = _LEG_STATUS.get(call_status, AttemptOutcome.VOLUNTEER_NO_ANSWER)
                _settle(session, found, leg, outcome)
            elif leg.outcome == AttemptOutcome.ACCEPTED.value:
                _settle(session, found, leg, AttemptOutcome.LOST)
            if leg.outcome == AttemptOutcome.CALLER_CONNECTED.value:
                _wrap_up(rt, found.id, leg)
            outcomes.release_claim(rt.redis, found.id, leg.volunteer_id)
            if leg.accepted_at is not None and leg.volunteer_id is not None:
                record_call_ended(session, leg.volunteer_id, now)  # fairness: they just talked
                session.commit()
    except SQLAlchemyError as exc:
        log.error("callback leg status lost (%s)", cause(exc), exc_info=exc)
    return xml(twiml.empty())


def _wrap_up(rt: CallbackRuntime, request_id: int, leg: CallbackAttempt) -> None:
    """The survivor and the volunteer talked: the volunteer's claim passes to wrap-up time."""
    if rt.redis is None or leg.volunteer_id is None:
        return
    try:
        wrap_up.begin(
            rt.redis, leg.volunteer_id, outcomes.claim_owner(request_id),
            wrap_up.callback_owner(leg.id), rt.routing.wrap_up_seconds,
        )  # fmt: skip
    except RedisError as exc:
        log.warning("callback %s: wrap-up not held (%s)", request_id, cause(exc), exc_info=exc)


def _keep_claim(rt: CallbackRuntime, request_id: int, volunteer_id: int | None) -> None:
    """The volunteer accepted: hold their claim for the whole call (released when the leg ends)."""
    if rt.redis is None or volunteer_id is None:
        return
    try:
        claims.extend(
            rt.redis, volunteer_id, outcomes.claim_owner(request_id), rt.routing.connected_claim_ttl
        )
    except RedisError as exc:
        log.warning("callback %s: claim not extended (%s)", request_id, cause(exc), exc_info=exc)


def _hangup() -> str:
    response = VoiceResponse()
    response.hangup()
    return str(response)
