"""The waiting line at the edge: <Enqueue>, its wait document, the volunteer's leg, the conference.

A caller for whom every fitting volunteer is busy is put in Twilio's queue (`<Enqueue>`) and in our
line (hotline.routing.line_store). While they wait, the wait document says their place in line
every `message_interval_seconds` inside a one-key <Gather> (1 a callback, 0 the emergency
numbers); an Enqueue waitUrl may hold a Gather, a conference's wait documents may not (13238).

When a volunteer becomes free (a call ends, a ring is refused, the wait document's poll notices a
shift starting), the matcher offers them the longest-waiting caller who fits: it claims the
volunteer, rings their phone through the REST API (Calls.create, from the hotline number, with
answering-machine detection) with the same whisper and press 1 as a direct call. On 1 the volunteer
joins a <Conference> named by the caller's call sid, and the caller is moved out of the queue into
it by a Calls update (Url); we pick the caller ourselves because `<Dial><Queue>` would take the
queue's head, who may need another topic or language. If that update is lost, the caller's next
wait document says <Leave/> and the Enqueue action puts them in the same conference.

Nothing is recorded: no `record` on the Dial, the Conference or the REST call.
"""

from __future__ import annotations

import logging
import re
import secrets
import threading
import time
from datetime import datetime
from typing import Any

from flask import Blueprint, Flask, Response, current_app, request
from redis import Redis
from redis.exceptions import RedisError
from twilio.twiml.voice_response import VoiceResponse

from ..callbacks.runtime import DialError
from ..calllog.journal import Event, event
from ..crypto import decrypt
from ..ivr import engine, speech
from ..ivr.model import CallState
from ..models import utcnow
from ..redis_conn import redis_gate
from ..routing import line, line_store
from ..routing.dispatch import ClaimsUnavailable, RingOutcome, claim_owner
from ..routing.line import LineSettings, WaitingCaller
from ..routing.policy import LANGUAGES, TOPICS
from . import consent, flow_registry, room, transfer, twiml
from .dialing import (
    WHISPER_KEY_TIMEOUT_SECONDS,
    claimer,
    flag,
    hang_up_volunteer,
    keeper,
    nobody_can_answer,
    policy,
    recorder,
    set_flag,
    whisper_utterances,
)
from .edge import (
    audio_url,
    call_sid,
    caller_state,
    render,
    require_twilio_signature,
    settings,
    small_int,
    url,
    xml,
)
from .rest_client import TwilioCalls, make_twilio_client
from .room import ROOM_EVENTS

log = logging.getLogger(__name__)
bp = Blueprint("line", __name__, url_prefix="/twilio/line")
require_twilio_signature(bp)

LINE_FLOW = "line"
QUEUE_NAME = "hotline"  # one Twilio queue; who is offered to whom is decided by our line
REDIRECT_TIMEOUT_SECONDS = 3.0  # the volunteer waits on this; the wait document is the fallback
_MATCH_LOCK_MS = 10_000
_AGAIN_KEY = "hotline:line:match-again"
_CALL_SID = re.compile(r"^CA[0-9a-fA-F]{32}$")
_CONFERENCE_SID = re.compile(r"^CF[0-9a-fA-F]{32}$")
_MACHINE = ("machine_start", "machine_end_beep", "machine_end_silence", "machine_end_other", "fax")


def line_settings() -> LineSettings:
    return policy().line


def _redis() -> Redis | None:
    return redis_gate().client()


def line_rest() -> TwilioCalls:
    """The REST client the line (and transfers) ring and move calls with."""
    calls = current_app.extensions.get("line_calls")
    if calls is None:
        config = settings()
        calls = TwilioCalls(make_twilio_client(config), config.hotline_phone_number)
        current_app.extensions["line_calls"] = calls
    return calls


def _line_said(node_id: str, language: str | None, **call_vars: str) -> tuple:
    flow = flow_registry.current_flow(LINE_FLOW)
    state_vars = tuple(call_vars.items())
    return speech.say(flow, flow.nodes[node_id].prompt, language or "ru", dict(state_vars))


def _caller_params(sid: str, state: CallState) -> dict[str, str | int | None]:
    return {"call": sid, "topic": state.topic, "lang": state.language}


# --- joining the line (from routing) ---------------------------------------------------------


def try_join(sid: str, state: CallState, events: list[Event]) -> str | None:
    """Put the caller in line and answer the <Enqueue>; None when the line cannot take them."""
    if not line_settings().enabled or state.topic is None:
        return None
    redis = _redis()
    if redis is None:
        return None  # Redis down: no line; the caller is offered a callback at once
    caller = WaitingCaller(sid, state.topic, state.language, utcnow())
    try:
        line_store.join(redis, caller)
    except RedisError as exc:
        redis_gate().failed(exc)
        return None
    events.append(event("line_joined", sid))
    log.info("call %s: everyone who fits is busy; waiting in line", sid)
    params = _caller_params(sid, state)
    response = VoiceResponse()
    response.enqueue(
        QUEUE_NAME,
        action=url("/twilio/line/left", **params),
        method="POST",
        wait_url=url("/twilio/line/wait", **params),
        wait_url_method="POST",
    )
    kick()
    return str(response)


# --- the caller in line ----------------------------------------------------------------------


@bp.post("/wait")
def wait() -> Response:
    """Twilio's waitUrl: the place in line and the keys, or <Leave/> when the wait is over."""
    sid = request.args.get("call", "")
    state = caller_state(flow_registry.current_flow())
    if call_sid() != sid:
        return xml(_leave())  # not this caller's document: the action decides, safely
    redis = _redis()
    if redis is None:
        return xml(_leave())
    try:
        caller, outcome = line_store.find(redis, sid)
        if caller is not None and outcome is None and line.timed_out(caller, utcnow(), _cfg()):
            outcome = line_store.leave(redis, sid, "timeout", utcnow())
        place = line.position(line_store.callers(redis), sid) if outcome is None else None
    except RedisError as exc:
        redis_gate().failed(exc)
        return xml(_leave())
    if caller is None or outcome is not None or place is None:
        return xml(_leave())
    kick()  # a shift may have started, or someone switched "available now" on
    return xml(_wait_document(sid, state, caller, place))


def _cfg() -> LineSettings:
    return line_settings()


def _wait_document(sid: str, state: CallState, caller: WaitingCaller, place: int) -> str:
    config = _cfg()
    left = config.max_wait_seconds - caller.waited_seconds(utcnow())
    response = VoiceResponse()
    gather = response.gather(
        input="dtmf",
        num_digits=1,
        timeout=max(1, min(config.message_interval_seconds, left)),
        action=url("/twilio/line/key", **_caller_params(sid, state)),
        method="POST",
    )
    said = _line_said("line_position", state.language, position=str(place))
    said += _line_said("line_options", state.language)
    twiml.add_utterances(gather, said, audio_url)
    if config.hold_music_url:
        gather.play(config.hold_music_url)
    return str(response)


def _leave() -> str:
    response = VoiceResponse()
    response.leave()
    return str(response)


@bp.post("/key")
def key() -> Response:
    """A key pressed in line: 1 leaves for the callback offer, 0 the emergency numbers, else
    nothing (the caller keeps their place)."""
    sid = request.args.get("call", "")
    state = caller_state(flow_registry.current_flow())
    digits = request.form.get("Digits", "")[:4]
    wait_url = url("/twilio/line/wait", **_caller_params(sid, state))
    response = VoiceResponse()
    if digits == "1" and call_sid() == sid:
        redis = _redis()
        try:
            if redis is not None:
                line_store.leave(redis, sid, "callback", utcnow())
        except RedisError as exc:
            redis_gate().failed(exc)
        response.leave()  # the Enqueue action takes it from here (with or without Redis)
        return xml(str(response))
    if digits == "0":
        twiml.add_utterances(response, _line_said("line_emergency", state.language), audio_url)
    response.redirect(wait_url, method="POST")
    return xml(str(response))


@bp.post("/left")
def left() -> Response:
    """The Enqueue action: the caller is out of Twilio's queue. Connected callers go into their
    conference; a timeout or 1 the callback offer; a hangup is recorded as abandoned in line."""
    sid = call_sid()
    state = caller_state(flow_registry.current_flow())
    if sid is None or request.args.get("call") != sid:
        return xml(nobody_can_answer(state), 400)
    result = request.form.get("QueueResult", "")[:32]
    now = utcnow()
    redis = _redis()
    caller: WaitingCaller | None = None
    outcome: str | None = None
    try:
        if redis is not None:
            caller, outcome = line_store.find(redis, sid)
            if outcome is None:
                reason = "hangup" if result == "hangup" else "timeout"
                outcome = line_store.leave(redis, sid, reason, now)
    except RedisError as exc:
        redis_gate().failed(exc)
    waited = caller.waited_seconds(now) if caller is not None else None
    if outcome and outcome.startswith("connected:"):
        return xml(_conference_for_caller(sid, state))
    reason = outcome or "unavailable"
    events = [event("line_left", sid, reason=reason, waited=waited)]
    kick()  # this caller's place is free; the next one may fit someone
    if result == "hangup" or reason == "hangup":
        recorder().record(events)
        return xml(twiml.empty())
    flow = flow_registry.current_flow()
    if reason == "callback" and consent.offers_callbacks(flow):
        step = engine.enter(flow, consent.NUMBER_MENU, consent.with_runtime_vars(state))
        body = render(consent.adjust(flow, step))
    else:
        events.append(event("unanswered", sid, reason="line_" + reason))
        body = nobody_can_answer(state)
    recorder().record(events)
    return xml(body)


@bp.post("/join")
def join() -> Response:
    """The caller, moved out of the queue by our Calls update: into the conference."""
    sid = call_sid()
    state = caller_state(flow_registry.current_flow())
    if sid is None or request.args.get("call") != sid:
        return xml(nobody_can_answer(state), 400)
    return xml(_conference_for_caller(sid, state))


def conference_noun(dial: Any, sid: str, end_on_exit: bool) -> None:
    """The call's room: named by the caller's call sid, quiet (no beep, no hold music), with
    its status callback; nothing recorded."""
    dial.conference(
        sid,
        start_conference_on_enter=True,
        end_conference_on_exit=end_on_exit,
        beep=False,
        wait_url="",
        max_participants=10,
        status_callback=url("/twilio/line/conference-status", call=sid),
        status_callback_method="POST",
        status_callback_event="start end join leave hold",
    )


def _conference_for_caller(sid: str, state: CallState) -> str:
    response = VoiceResponse()
    twiml.add_utterances(response, _line_said("line_connecting", state.language), audio_url)
    dial = response.dial(
        action=url("/twilio/line/done", call=sid),
        method="POST",
        time_limit=policy().call_time_limit_seconds,
    )
    # The caller leaving closes the room: the volunteer's and a partner's legs end with it.
    conference_noun(dial, sid, end_on_exit=True)
    return str(response)


@bp.post("/done")
def done() -> Response:
    """A conference leg's <Dial> ended: the conversation is over for this leg."""
    response = VoiceResponse()
    response.hangup()
    return xml(str(response))


@bp.post("/conference-status")
def conference_status() -> Response:
    """Conference and participant events: who is in the room, who left, who is on hold.

    Signed like every webhook; a repeat (Twilio retries) changes nothing: the room's state is
    set, not counted, and the record's event has an id made from the event itself.
    """
    sid = request.args.get("call", "")
    name = request.form.get("FriendlyName", "")
    kind = request.form.get("StatusCallbackEvent", "")[:32]
    if not _CALL_SID.match(sid) or name != sid or kind not in ROOM_EVENTS:
        return xml(twiml.empty())  # not one of our rooms, or an event we do not follow: 2xx
    leg = request.form.get("CallSid", "")
    label = request.form.get("ParticipantLabel", "")
    hold = request.form.get("Hold", "").lower() == "true"
    conference = request.form.get("ConferenceSid", "")
    redis = _redis()
    role = room.role_of(sid, leg, label)
    try:
        if redis is not None:
            if _CONFERENCE_SID.match(conference):
                room.remember_conference(redis, sid, conference)
            if leg and leg != sid and leg == transfer.partner_leg(redis, sid):
                role = "partner"
                if kind == "participant-join":
                    transfer.partner_joined(redis, sid, leg)
            room.note(redis, sid, kind, role, hold)
    except RedisError as exc:
        redis_gate().failed(exc)
    sequence = small_int(request.form.get("SequenceNumber"), 6)
    item = event("room", sid, what=ROOM_EVENTS[kind], role=role, hold=hold)
    item["id"] = room.event_id(sid, kind, leg, sequence)  # the same event twice is applied once
    recorder().record([item])
    return xml(twiml.empty())


# --- the volunteer's leg ----------------------------------------------------------------------


def _leg() -> tuple[str, int, int, CallState, str] | None:
    sid = request.args.get("call", "")
    volunteer_id = small_int(request.args.get("v"), 12)
    seq = small_int(request.args.get("n"), 2)
    whisper_language = request.args.get("wl", "ru")
    topic, language = request.args.get("topic"), request.args.get("lang")
    if not _CALL_SID.match(sid) or volunteer_id is None or seq is None:
        return None
    if whisper_language not in LANGUAGES or topic not in TOPICS:
        return None
    state = CallState(language=language if language in LANGUAGES else None, topic=topic)
    return sid, volunteer_id, seq, state, whisper_language


def _still_offered(sid: str, volunteer_id: int) -> bool:
    redis = _redis()
    if redis is None:
        return False
    try:
        caller, outcome = line_store.find(redis, sid)
    except RedisError as exc:
        redis_gate().failed(exc)
        return False
    return caller is not None and outcome is None and caller.offered_to == volunteer_id


def _leg_url(path: str, sid: str, volunteer_id: int, seq: int, state: CallState, wl: str,
             tries: int = 0) -> str:  # fmt: skip
    return url(
        path, call=sid, v=volunteer_id, n=seq, topic=state.topic, lang=state.language, wl=wl,
        tries=tries or None,
    )  # fmt: skip


@bp.post("/whisper")
def whisper() -> Response:
    """The volunteer's phone answered a line call: a machine is hung up on, a person hears the
    topic and language and presses 1."""
    leg = _leg()
    if leg is None:
        return xml(hang_up_volunteer("ru", thank=False))
    sid, volunteer_id, seq, state, wl = leg
    answered_by = request.form.get("AnsweredBy", "human")
    if answered_by in _MACHINE:
        recorder().record([event("whisper", sid, seq=seq, volunteer=volunteer_id,
                                 outcome=RingOutcome.NO_KEY.value)])  # fmt: skip
        return xml(hang_up_volunteer(wl, thank=False))
    if not _still_offered(sid, volunteer_id):
        return xml(hang_up_volunteer(wl, thank=False))  # the caller left the line meanwhile
    tries = small_int(request.args.get("tries"), 2) or 0
    answer_url = _leg_url("/twilio/line/whisper/answer", sid, volunteer_id, seq, state, wl, tries)
    said = whisper_utterances(state, wl)
    return xml(
        twiml.ask_for_one_key(said, answer_url, answer_url, audio_url, WHISPER_KEY_TIMEOUT_SECONDS)
    )


@bp.post("/whisper/answer")
def whisper_answer() -> Response:
    """1: the volunteer and the caller meet in the conference; anything else frees them both."""
    leg = _leg()
    if leg is None:
        return xml(hang_up_volunteer("ru", thank=False))
    sid, volunteer_id, seq, state, wl = leg
    digits = request.form.get("Digits", "")[:8]
    tries = small_int(request.args.get("tries"), 2) or 0
    if digits == "1":
        return xml(_accept(sid, volunteer_id, seq, state, wl))
    if not digits and tries < 1:
        response = VoiceResponse()
        again = _leg_url("/twilio/line/whisper", sid, volunteer_id, seq, state, wl, tries + 1)
        response.redirect(again, method="POST")
        return xml(str(response))
    outcome = RingOutcome.DECLINED if digits else RingOutcome.NO_KEY
    recorder().record(
        [event("whisper", sid, seq=seq, volunteer=volunteer_id, outcome=outcome.value)]
    )
    _give_back(sid, volunteer_id)
    return xml(hang_up_volunteer(wl, thank=bool(digits)))


def _accept(sid: str, volunteer_id: int, seq: int, state: CallState, wl: str) -> str:
    redis = _redis()
    outcome = None
    try:
        if redis is not None and _still_offered(sid, volunteer_id):
            outcome = line_store.leave(redis, sid, f"connected:{volunteer_id}", utcnow())
    except RedisError as exc:
        redis_gate().failed(exc)
    if outcome != f"connected:{volunteer_id}":
        # The caller hung up, timed out or chose a callback just now: nobody to put through.
        claimer().release(claim_owner(sid))
        kick()
        return hang_up_volunteer(wl, thank=False)
    claimer().keep(volunteer_id, claim_owner(sid), policy().connected_claim_ttl)
    set_flag(sid, "accepted", volunteer_id)
    recorder().record([event("accepted", sid, seq=seq, volunteer=volunteer_id)])
    log.info("call %s: volunteer %s accepted from the line", sid, volunteer_id)
    _move_caller_in(sid, state)
    response = VoiceResponse()
    transfer.volunteer_room(response, sid, state, wl, volunteer_id)
    return str(response)


def _move_caller_in(sid: str, state: CallState) -> None:
    join_url = url("/twilio/line/join", **_caller_params(sid, state))
    try:
        line_rest().redirect(sid, join_url, timeout=REDIRECT_TIMEOUT_SECONDS)
    except DialError as exc:
        # The caller's next wait document says <Leave/>; the Enqueue action brings them in.
        log.warning("call %s: moving the caller in failed (%s); the wait document will", sid,
                    exc.code)  # fmt: skip


def _give_back(sid: str, volunteer_id: int) -> None:
    """The volunteer did not take the caller: the caller waits on; the volunteer is free."""
    redis = _redis()
    try:
        if redis is not None:
            line_store.unoffer(redis, sid, volunteer_id)
    except RedisError as exc:
        redis_gate().failed(exc)
    claimer().release(claim_owner(sid))
    kick()


_LEG_STATUS = {"busy": "busy", "no-answer": "no-answer", "failed": "failed", "canceled": "canceled"}


@bp.post("/leg-status")
def leg_status() -> Response:
    """The volunteer's line leg ended (status callback): free them and offer the next caller."""
    leg = _leg()
    status = request.form.get("CallStatus", "")[:32]
    if leg is None:
        return xml(twiml.empty(), 400)
    sid, volunteer_id, seq, _state, _wl = leg
    if status not in ("completed", *_LEG_STATUS):
        return xml(twiml.empty())  # progress events: nothing ended
    duration = small_int(request.form.get("CallDuration"), 8)
    redis = _redis()
    outcome = None
    try:
        if redis is not None:
            outcome = line_store.find(redis, sid)[1]
    except RedisError as exc:
        redis_gate().failed(exc)
    connected = outcome == f"connected:{volunteer_id}"
    events = [
        event("legs_ended", sid, seqs=[seq], dial_status="completed" if connected else status,
              bridged=connected, duration=duration),
        event("released", sid, volunteers=[volunteer_id]),
    ]  # fmt: skip
    if connected:
        snapshot = keeper().current()
        if snapshot is not None:
            snapshot.call_ended(volunteer_id, utcnow())
        # Before the release below: the claim passes from the call to the wrap-up time.
        claimer().wrap_up(volunteer_id, sid)
        claimer().release(claim_owner(sid))
        kick()
        _volunteer_left(redis, sid)
    else:
        _give_back(sid, volunteer_id)
    recorder().record(events)
    return xml(twiml.empty())


def _volunteer_left(redis: Redis | None, sid: str) -> None:
    """The volunteer hung up: the caller goes on with a partner, or their call ends too (the
    volunteer's leg does not close the room, so that * can leave it)."""
    try:
        if redis is not None and transfer.volunteer_left(redis, sid):
            return
    except RedisError as exc:
        redis_gate().failed(exc)
    if flag(sid, "ended"):
        return
    try:
        line_rest().hang_up(sid)
    except DialError as exc:
        log.warning("call %s: ending the caller's leg failed (%s)", sid, exc.code)


# --- the matcher ------------------------------------------------------------------------------


def kick() -> None:
    """Offer waiting callers to free volunteers, soon, off this request's thread."""
    app = current_app._get_current_object()  # type: ignore[attr-defined]
    thread = threading.Thread(target=_match_in, args=(app,), daemon=True, name="line-matcher")
    thread.start()


def _match_in(app: Flask) -> None:
    with app.app_context():
        try:
            match_waiting_callers()
        except Exception as exc:  # a background pass must never take the process down
            log.error("line matcher failed (%s)", type(exc).__name__, exc_info=exc)


def match_waiting_callers() -> int:
    """One matching pass (or a note for the pass running now to go again); offers made."""
    redis = _redis()
    if redis is None:
        return 0
    token = secrets.token_hex(8)
    try:
        redis.set(_AGAIN_KEY, 1, ex=60)
        if not line_store.take_match_lock(redis, token, _MATCH_LOCK_MS):
            return 0  # the pass running now will see the note and go again
        offered = 0
        try:
            while redis.getdel(_AGAIN_KEY):
                offered += _offer_pass(redis, utcnow())
        finally:
            line_store.drop_match_lock(redis, token)
        return offered
    except RedisError as exc:
        redis_gate().failed(exc)
        return 0


def _offer_pass(redis: Redis, now: datetime) -> int:
    snapshot = keeper().current()
    if snapshot is None:
        return 0
    rules = policy()
    offered = 0
    for caller in line.waiting_to_offer(line_store.callers(redis)):
        ordered = snapshot.ordered(
            caller.topic, caller.language, now, rules, settings().tz, exclude=caller.tried
        )
        if not ordered:
            continue
        owner = claim_owner(caller.call_sid)
        try:
            chosen = claimer().claim(ordered, owner, rules.ringing_claim_ttl, 1)
        except ClaimsUnavailable:
            return offered
        if not chosen:
            continue
        volunteer_id = chosen[0]
        if not line_store.offer(redis, caller.call_sid, volunteer_id):
            claimer().release(owner)
            continue
        if _ring(caller, volunteer_id, snapshot):
            offered += 1
        else:
            line_store.unoffer(redis, caller.call_sid, volunteer_id)
            claimer().release(owner)
    return offered


def _ring(caller: WaitingCaller, volunteer_id: int, snapshot: object) -> bool:
    entry = snapshot.entry(volunteer_id)  # type: ignore[attr-defined]
    if entry is None:
        return False
    try:
        phone = decrypt(current_app.extensions["fernet"], entry.phone_encrypted)
    except Exception:  # noqa: BLE001 - a removed key: this volunteer cannot be rung
        log.error("volunteer %s: number cannot be decrypted", volunteer_id)
        return False
    seq = len(caller.tried)
    state = CallState(language=caller.language, topic=caller.topic)
    wl = entry.whisper_language
    params = (caller.call_sid, volunteer_id, seq, state, wl)
    started = time.monotonic()
    try:
        line_rest().call_volunteer(
            to=phone,
            url=_leg_url("/twilio/line/whisper", *params),
            status_callback=_leg_url("/twilio/line/leg-status", *params),
            timeout=policy().ring_timeout_seconds,
        )
    except DialError as exc:
        log.warning("call %s: ringing volunteer %s failed (%s)", caller.call_sid, volunteer_id,
                    exc.code)  # fmt: skip
        recorder().record([
            event("ring", caller.call_sid, seq=seq, volunteer=volunteer_id),
            event("whisper", caller.call_sid, seq=seq, volunteer=volunteer_id,
                  outcome=RingOutcome.FAILED.value),
        ])  # fmt: skip
        return False
    recorder().record([event("ring", caller.call_sid, seq=seq, volunteer=volunteer_id)])
    log.info("call %s: ringing volunteer %s from the line (%.0f ms)", caller.call_sid,
             volunteer_id, (time.monotonic() - started) * 1000)  # fmt: skip
    return True


def init_app(app: Flask) -> None:
    """Register the line's webhooks."""
    app.register_blueprint(bp)
