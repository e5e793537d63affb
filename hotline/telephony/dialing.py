"""Ringing volunteers: <Dial> with a whisper, and what happens after each leg.

The caller hears "connecting you" (said by the flow's route node), then ringing. Each volunteer's
own phone rings with the hotline's number as caller id; on answering they hear the topic and the
caller's language and press 1 to accept. Any other outcome moves to the next volunteer; when the
list runs out the caller hears the nobody-available message (or, with callbacks, the offer).
"""

from __future__ import annotations

import logging
from datetime import datetime

from flask import Blueprint, Flask, Response, current_app, request
from redis.exceptions import RedisError
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import Session
from twilio.twiml.voice_response import VoiceResponse

from ..calllog import records
from ..crypto import make_fernet
from ..db import get_db
from ..ivr import engine, speech
from ..ivr.model import CallState, Utterance
from ..logs import cause
from ..models import CallOutcome, CallRecord, RingAttempt, utcnow
from ..redis_conn import get_redis
from ..routing import dispatch
from ..routing.dispatch import NoOneToRing, Ring, RingOutcome
from ..routing.policy import RoutingPolicy
from . import consent, flow_registry, twiml
from .edge import (
    audio_url,
    call_sid,
    caller_state,
    open_record,
    render,
    require_twilio_signature,
    safe_twiml,
    settings,
    small_int,
    url,
    xml,
)

log = logging.getLogger(__name__)
bp = Blueprint("dialing", __name__, url_prefix="/twilio")
require_twilio_signature(bp)

VOLUNTEER_FLOW = flow_registry.VOLUNTEER_FLOW
# Long enough to hear the whisper once and press 1; a voicemail greeting runs out of it and fails.
WHISPER_KEY_TIMEOUT_SECONDS = 8
_WHISPER_REPEATS = 1  # one more chance to hear the whisper before the leg counts as no answer


def policy() -> RoutingPolicy:
    return current_app.extensions["routing_policy"]


def _state() -> CallState:
    return caller_state(flow_registry.current_flow())


def _caller_step(node_id: str, state: CallState) -> str:
    return render(engine.enter(flow_registry.current_flow(), node_id, state))


def _nobody_can_answer(state: CallState) -> str:
    """The callback offer when the flow has one, else the nobody-available goodbye."""
    flow = flow_registry.current_flow()
    if consent.offers_callbacks(flow):
        step = engine.enter(flow, consent.OFFER, consent.with_runtime_vars(state))
        return render(step)
    return _caller_step("nobody_available", state)


def _dial(rings: list[Ring], state: CallState, preface: tuple[Utterance, ...] = ()) -> str:
    """TwiML ringing the volunteers' phones, each with the whisper; caller id is the hotline's."""
    rules = policy()
    response = VoiceResponse()
    twiml.add_utterances(response, preface, audio_url)
    dial = response.dial(
        caller_id=settings().hotline_phone_number,
        timeout=rules.ring_timeout_seconds,
        time_limit=rules.call_time_limit_seconds,
        action=url("/twilio/dial-result", topic=state.topic, lang=state.language),
        method="POST",
    )
    for ring in rings:
        dial.number(
            ring.phone,
            url=url("/twilio/whisper", attempt=ring.attempt_id),
            method="POST",
        )
    return str(response)


def _ring_next(session: Session, record: CallRecord, state: CallState, again: bool) -> str:
    """Dial the next volunteer(s), or end the routing with the nobody-available message."""
    settings_ = settings()
    result = dispatch.next_rings(
        session,
        get_redis(),
        current_app.extensions["fernet"],
        policy(),
        record,
        utcnow(),
        settings_.tz,
    )
    if isinstance(result, NoOneToRing):
        record.outcome = dispatch.unanswered_outcome(record)
        log.info("call %s: nobody to ring (%s)", record.call_sid, result.reason)
        return _nobody_can_answer(state)
    preface: tuple[Utterance, ...] = ()
    if again:
        volunteer_flow = flow_registry.current_flow(VOLUNTEER_FLOW)
        preface = speech.say(
            volunteer_flow, volunteer_flow.nodes["still_trying"].prompt, state.language
        )
    log.info("call %s: ringing %d volunteer(s)", record.call_sid, len(result))
    return _dial(result, state, preface)


def _open_record(session: Session, sid: str, state: CallState) -> CallRecord:
    record = open_record(session, sid)
    if state.language:
        record.language = record.language or state.language
    if state.topic:
        record.topic = state.topic
    return record


@bp.post("/route")
def route() -> Response:
    """The caller chose a topic: ring the first matching, on-shift, free volunteer."""
    sid = call_sid()
    if sid is None:
        return safe_twiml(400)
    state = _state()
    try:
        with get_db().session() as session:
            record = _open_record(session, sid, state)
            records.mark_routing(record)
            record.ivr_path = [*(record.ivr_path or []), "routing"]
            body = _ring_next(session, record, state, again=False)
    except SQLAlchemyError as exc:
        # Without the roster nobody can be rung: the caller hears the numbers, never silence.
        log.error("call %s: routing failed (%s)", sid, cause(exc), exc_info=exc)
        body = _caller_step("nobody_available", state)
    return xml(body)


@bp.post("/dial-result")
def dial_result() -> Response:
    """A <Dial> ended: connected and finished, or try the next volunteer."""
    sid = call_sid()
    if sid is None:
        return safe_twiml(400)
    state = _state()
    dial_status = request.form.get("DialCallStatus", "")[:32]
    bridged = request.form.get("DialBridged", "").lower() != "false"
    duration = small_int(request.form.get("DialCallDuration"), 8)
    try:
        with get_db().session() as session:
            record = _open_record(session, sid, state)
            legs = [a for a in record.attempts if a.ended_at is None]
            now = utcnow()
            connected = dispatch.settle_leg(
                session, get_redis(), legs, dial_status, bridged, duration, now
            )
            if connected:
                records.set_outcome(record, CallOutcome.CONNECTED)
                return xml(_goodbye())
            if dial_status == "canceled" or request.form.get("CallStatus") == "completed":
                # The caller hung up while the phone rang: nothing more to do for this call.
                return xml(_goodbye())
            body = _ring_next(session, record, state, again=True)
    except SQLAlchemyError as exc:
        log.error("call %s: dial result lost (%s)", sid, cause(exc), exc_info=exc)
        body = _caller_step("nobody_available", state)
    return xml(body)


def _goodbye() -> str:
    response = VoiceResponse()
    response.hangup()
    return str(response)


# --- the volunteer's leg ------------------------------------------------------------------------


def _attempt(session: Session) -> RingAttempt | None:
    attempt_id = small_int(request.args.get("attempt"), 12)
    return session.get(RingAttempt, attempt_id) if attempt_id is not None else None


def _volunteer_language(session: Session, attempt: RingAttempt) -> str:
    from ..models.roster import Volunteer

    volunteer = session.get(Volunteer, attempt.volunteer_id) if attempt.volunteer_id else None
    languages = list(volunteer.languages or []) if volunteer else []
    return languages[0] if languages else "ru"


def _whisper_utterances(record: CallRecord, language: str) -> tuple[Utterance, ...]:
    flow = flow_registry.current_flow(VOLUNTEER_FLOW)
    pieces = [
        f"whisper_topic_{record.topic}",
        f"whisper_caller_{record.language}",
        "whisper_accept",
    ]
    said: list[Utterance] = []
    for node_id in pieces:
        node = flow.nodes.get(node_id)
        if node is not None:
            said.extend(speech.say(flow, node.prompt, language))
    return tuple(said)


def _hang_up_volunteer(language: str, thank: bool) -> str:
    response = VoiceResponse()
    if thank:
        flow = flow_registry.current_flow(VOLUNTEER_FLOW)
        said = speech.say(flow, flow.nodes["whisper_declined"].prompt, language)
        twiml.add_utterances(response, said, audio_url)
    response.hangup()
    return str(response)


@bp.post("/whisper")
def whisper() -> Response:
    """The volunteer answered: say what the call is about and ask them to press 1."""
    tries = small_int(request.args.get("tries"), 2) or 0
    try:
        with get_db().session() as session:
            attempt = _attempt(session)
            if attempt is None or attempt.call.ended_at is not None or attempt.ended_at:
                # The caller already hung up (or the attempt is unknown): free the volunteer.
                return xml(_hang_up_volunteer("ru", thank=False))
            language = _volunteer_language(session, attempt)
            said = _whisper_utterances(attempt.call, language)
            answer_url = url("/twilio/whisper/answer", attempt=attempt.id, tries=tries)
    except SQLAlchemyError as exc:
        log.error("whisper unavailable (%s)", cause(exc), exc_info=exc)
        return xml(_hang_up_volunteer("ru", thank=False))
    # No key: the answer handler decides (one repeat, then it counts as no answer).
    return xml(
        twiml.ask_for_one_key(said, answer_url, answer_url, audio_url, WHISPER_KEY_TIMEOUT_SECONDS)
    )


@bp.post("/whisper/answer")
def whisper_answer() -> Response:
    """1 accepts (an empty document bridges the call); anything else hangs up this leg."""
    digits = request.form.get("Digits", "")[:8]
    tries = small_int(request.args.get("tries"), 2) or 0
    try:
        with get_db().session() as session:
            attempt = _attempt(session)
            if attempt is None or attempt.call.ended_at is not None:
                return xml(_hang_up_volunteer("ru", thank=False))
            language = _volunteer_language(session, attempt)
            if digits == "1":
                dispatch.accept(session, get_redis(), policy(), attempt, utcnow())
                log.info(
                    "call %s: volunteer %s accepted", attempt.call.call_sid, attempt.volunteer_id
                )
                return xml(twiml.empty())
            if not digits and tries < _WHISPER_REPEATS:
                return xml(_repeat_whisper(attempt.id, tries + 1))
            outcome = RingOutcome.DECLINED if digits else RingOutcome.NO_KEY
            dispatch.settle_whisper(attempt, outcome)
    except (SQLAlchemyError, RedisError) as exc:
        log.error("whisper answer lost (%s): hanging up the volunteer", cause(exc), exc_info=exc)
        return xml(_hang_up_volunteer("ru", thank=False))
    return xml(_hang_up_volunteer(language, thank=bool(digits)))


def _repeat_whisper(attempt_id: int, tries: int) -> str:
    response = VoiceResponse()
    response.redirect(url("/twilio/whisper", attempt=attempt_id, tries=tries), method="POST")
    return str(response)


def close_call(record: CallRecord, now: datetime | None = None) -> None:
    """The call ended: legs still ringing are canceled and every claim is released."""
    for attempt in record.attempts:
        if attempt.ended_at is None:
            attempt.ended_at = now or utcnow()
            if attempt.outcome == RingOutcome.RINGING:
                attempt.outcome = RingOutcome.CANCELED
    dispatch.release_all(get_redis(), record)


def init_app(app: Flask, routing: RoutingPolicy) -> None:
    """Route with this policy (checked by hotline.startup) and the roster's cipher."""
    app.extensions["routing_policy"] = routing
    app.extensions["fernet"] = make_fernet(app.config["SETTINGS"].callback_encryption_keys)
