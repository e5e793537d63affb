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

A caller for whom a volunteer is free takes the same road at once (ring_in_conference): routing
claims the volunteer, rings them through the REST API before it answers, and puts the caller in the
same <Enqueue>, whose wait document says nothing of a line while that volunteer is rung (0 still
says the emergency numbers). Every bridged call is so in a conference, and the volunteer can press
* to bring in a partner. When Redis or the REST API is unavailable the caller goes on with
<Dial><Number> instead (hotline.telephony.dialing), as before the line existed: that call cannot
be transferred.

Nothing is recorded: no `record` on the Dial, the Conference or the REST call.
"""

from __future__ import annotations

import logging
import re
import time
from collections.abc import Sequence
from typing import Any

from flask import Blueprint, Flask, Response, current_app, request
from redis import Redis
from redis.exceptions import RedisError
from twilio.twiml.voice_response import VoiceResponse

from .. import budget
from ..callbacks.runtime import DialError
from ..calllog.journal import Event, event
from ..ivr import engine, speech
from ..ivr.model import CallState
from ..models import utcnow
from ..redis_conn import redis_gate
from ..routing import line, line_store
from ..routing.dispatch import Ring
from ..routing.line import LineSettings, WaitingCaller
from . import consent, flow_registry, room, transfer, twiml
from .dialing import (
    VOLUNTEER_FLOW,
    nobody_can_answer,
    policy,
    recorder,
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
_CALL_SID = re.compile(r"^CA[0-9a-fA-F]{32}$")
_CONFERENCE_SID = re.compile(r"^CF[0-9a-fA-F]{32}$")
# A direct caller's wait document comes back this often while their volunteer is rung: soon
# after a refusal or a run-out ring list they hear what comes next.
CONNECTING_POLL_SECONDS = 8
# The REST ring inside /twilio/route: at most this long (the caller hears "connecting you"
# meanwhile); a slower API is treated as down and the call goes on with <Dial>.
DIRECT_RING_TIMEOUT_SECONDS = 2.0
# After the REST API failed on the network, direct calls use <Dial> for this long without trying
# (per process: app.extensions["rest_paused_until"]).
REST_PAUSE_SECONDS = 30.0


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
    kick()
    return _enqueue(sid, state)


# --- a caller for whom a volunteer is free (from routing) -----------------------------------


def ring_in_conference(sid: str, state: CallState, rings: Sequence[Ring],
                       events: list[Event]) -> str | None:  # fmt: skip
    """Ring the claimed volunteer through the REST API and put the caller in the <Enqueue> that
    leads to their conference; None (the caller is then dialed with <Dial>) when Redis or the
    REST API is unavailable, or the policy rings several volunteers at once."""
    redis = _redis()
    if redis is None or len(rings) != 1 or state.topic is None:
        return None
    if time.monotonic() < current_app.extensions.get("rest_paused_until", 0.0):
        return None
    from .line_volunteers import place_ring

    ring = rings[0]
    caller = WaitingCaller(sid, state.topic, state.language, utcnow(), ring.volunteer_id,
                           direct=True)  # fmt: skip
    try:
        line_store.join(redis, caller)
    except RedisError as exc:
        redis_gate().failed(exc)
        return None
    timeout = max(0.3, min(DIRECT_RING_TIMEOUT_SECONDS, budget.remaining() - 1.0))
    try:
        leg = place_ring(caller, ring, timeout)
    except DialError as exc:
        if exc.code == "network":
            current_app.extensions["rest_paused_until"] = time.monotonic() + REST_PAUSE_SECONDS
        log.warning("call %s: ringing through the REST API failed (%s): <Dial> instead", sid,
                    exc.code)  # fmt: skip
        try:
            line_store.leave(redis, sid, "dialed", utcnow())
        except RedisError as redis_exc:
            redis_gate().failed(redis_exc)
        return None
    events.append(event("leg", sid, leg=leg))  # Twilio's purge deletes it with the call
    try:
        line_store.set_leg(redis, sid, ring.volunteer_id, leg)
    except RedisError as exc:
        redis_gate().failed(exc)
    log.info("call %s: ringing volunteer %s for a conference", sid, ring.volunteer_id)
    return _enqueue(sid, state)


def _enqueue(sid: str, state: CallState) -> str:
    params = _caller_params(sid, state)
    response = VoiceResponse()
    response.enqueue(
        QUEUE_NAME,
        action=url("/twilio/line/left", **params),
        method="POST",
        wait_url=url("/twilio/line/wait", **params),
        wait_url_method="POST",
    )
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
    if caller.connecting():
        return xml(_connecting_document(sid, state))
    kick()  # a shift may have started, or someone switched "available now" on
    return xml(_wait_document(sid, state, caller, place))


def _connecting_document(sid: str, state: CallState) -> str:
    """While a direct caller's volunteer is rung: quiet, "still trying" after the first few
    seconds (routing said "connecting you"), and 0 for the emergency numbers."""
    response = VoiceResponse()
    gather = response.gather(
        input="dtmf",
        num_digits=1,
        timeout=CONNECTING_POLL_SECONDS,
        action=url("/twilio/line/key", **_caller_params(sid, state)),
        method="POST",
    )
    queued = small_int(request.form.get("QueueTime"), 6) or 0
    if queued >= CONNECTING_POLL_SECONDS:
        flow = flow_registry.current_flow(VOLUNTEER_FLOW)
        said = speech.say(flow, flow.nodes["still_trying"].prompt, state.language or "ru")
        twiml.add_utterances(gather, said, audio_url)
    return str(response)


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
        twiml.add_utterances(response, _emergency_said(sid, state), audio_url)
    response.redirect(wait_url, method="POST")
    return xml(str(response))


def _emergency_said(sid: str, state: CallState) -> tuple:
    """The emergency numbers; "you keep your place in line" only to a caller who has one."""
    redis = _redis()
    try:
        caller = line_store.find(redis, sid)[0] if redis is not None else None
    except RedisError as exc:
        redis_gate().failed(exc)
        caller = None
    if caller is not None and caller.connecting():
        flow = flow_registry.current_flow()
        return speech.say(flow, flow.nodes["emergency_numbers"].prompt, state.language or "ru")
    return _line_said("line_emergency", state.language)


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
        return xml(_conference_for_caller(sid, state, direct=caller is not None and caller.direct))
    reason = outcome or "unavailable"
    direct = caller is not None and caller.direct
    # A direct caller never waited: their ring attempts tell the story, not the line.
    events = [] if direct else [event("line_left", sid, reason=reason, waited=waited)]
    kick()  # this caller's place is free; the next one may fit someone
    if result == "hangup" or reason == "hangup":
        recorder().record(events)
        return xml(twiml.empty())
    flow = flow_registry.current_flow()
    if reason == "callback" and consent.offers_callbacks(flow):
        step = engine.enter(flow, consent.NUMBER_MENU, consent.with_runtime_vars(state))
        body = render(consent.adjust(flow, step))
    else:
        events.append(event("unanswered", sid, reason=reason if direct else "line_" + reason))
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
    return xml(_conference_for_caller(sid, state, direct=request.args.get("d") == "1"))


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


def _conference_for_caller(sid: str, state: CallState, direct: bool = False) -> str:
    response = VoiceResponse()
    if not direct:  # a direct caller heard "connecting you" seconds ago; the volunteer waits
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


def kick() -> None:
    """Offer waiting callers to free volunteers, soon (hotline.telephony.line_volunteers)."""
    from .line_volunteers import kick as start_matching

    start_matching()


def init_app(app: Flask) -> None:
    """Register the line's webhooks (the caller's here, the volunteer's in line_volunteers)."""
    from . import line_volunteers  # noqa: F401 - its routes join this blueprint

    app.register_blueprint(bp)
