"""Warm transfer: during a conference call the volunteer presses * and brings in a partner service.

The volunteer's conference leg has hangupOnStar: * takes them out of the room to the menu here,
and the caller is put on hold (Participants API, HoldUrl: a calm message every 15 s, no music).
The menu lists the partners that serve the call's topic and answer now (config/partners.yaml).
The chosen partner is called through the REST API from the hotline's number (with
answering-machine detection), hears the topic and the caller's language, and joins the room; the
caller comes off hold when they join, the volunteer introduces the caller and stays or hangs up.
A partner who does not answer takes the caller off hold, back to the volunteer (or, if the
volunteer already left, to the callback offer): nobody is left alone on hold.

One transfer at a time per call (Redis `hotline:transfer:<sid>`): nobody is rung twice. Nothing
is recorded; the call record keeps the partner's id, whether they answered and for how long.
"""

from __future__ import annotations

import logging
import re
import time
from typing import Any

from flask import Blueprint, Flask, Response, current_app, request
from redis import Redis
from redis.exceptions import RedisError
from twilio.twiml.voice_response import VoiceResponse

from ..callbacks.runtime import DialError
from ..calllog.journal import event
from ..ivr import speech
from ..ivr.model import CallState, Utterance
from ..models import utcnow
from ..redis_conn import redis_gate
from ..routing.partners import Partner, answering_now
from ..routing.policy import LANGUAGES, TOPICS
from . import flow_registry, room, twiml
from .dialing import VOLUNTEER_FLOW, flag, recorder, whisper_utterances
from .edge import audio_url, require_twilio_signature, settings, small_int, url, xml

log = logging.getLogger(__name__)
bp = Blueprint("transfer", __name__, url_prefix="/twilio/transfer")
require_twilio_signature(bp)

TRANSFER_KEY = "hotline:transfer:{sid}"
KEEP_SECONDS = 6 * 3600
MENU_SECONDS = 8  # time to press a key after the menu
PARTNER_RING_SECONDS = 30
_CALL_SID = re.compile(r"^CA[0-9a-fA-F]{32}$")
_MACHINE = ("machine_start", "machine_end_beep", "machine_end_silence", "machine_end_other", "fax")


def partners() -> tuple[Partner, ...]:
    return current_app.extensions.get("partners", ())


def _redis() -> Redis | None:
    return redis_gate().client()


def _params() -> tuple[str, CallState, str, int | None] | None:
    """The call, its topic and language, the volunteer's language and id from the signed URL."""
    sid = request.args.get("call", "")
    topic, language = request.args.get("topic"), request.args.get("lang")
    wl = request.args.get("wl", "ru")
    if not _CALL_SID.match(sid) or topic not in TOPICS or wl not in LANGUAGES:
        return None
    state = CallState(language=language if language in LANGUAGES else None, topic=topic)
    return sid, state, wl, small_int(request.args.get("v"), 12)


def _query(sid: str, state: CallState, wl: str, volunteer: int | None) -> dict:
    return {"call": sid, "topic": state.topic, "lang": state.language, "wl": wl, "v": volunteer}


def _said(node_id: str, language: str, flow_name: str = VOLUNTEER_FLOW, **values: str):
    flow = flow_registry.current_flow(flow_name)
    return speech.say(flow, flow.nodes[node_id].prompt, language, values)


# --- the volunteer's side ----------------------------------------------------------------------


def volunteer_room(response: VoiceResponse, sid: str, state: CallState, wl: str,
                   volunteer: int | None) -> None:  # fmt: skip
    """The volunteer's <Dial> into the room: * (hangupOnStar) opens the partner menu; leaving
    does not end the room, so the caller can go on with a partner."""
    from .line_calls import conference_noun

    dial = response.dial(
        action=url("/twilio/transfer/menu", **_query(sid, state, wl, volunteer)),
        method="POST",
        hangup_on_star=True,
        time_limit=current_app.extensions["routing_policy"].call_time_limit_seconds,
    )
    conference_noun(dial, sid, end_on_exit=False)


def _back_to_caller(sid: str, state: CallState, wl: str, volunteer: int | None,
                    said: tuple[Utterance, ...] = ()) -> str:  # fmt: skip
    _hold_caller(sid, False, state)
    response = VoiceResponse()
    twiml.add_utterances(response, said, audio_url)
    volunteer_room(response, sid, state, wl, volunteer)
    return str(response)


@bp.post("/menu")
def menu() -> Response:
    """The volunteer pressed * (or their room ended): the partners answering now, by key."""
    params = _params()
    if params is None:
        return xml(_hang_up())
    sid, state, wl, volunteer = params
    if request.form.get("CallStatus") in ("completed", "canceled") or flag(sid, "ended"):
        return xml(_hang_up())  # the volunteer hung up, or the caller is gone: nothing to do
    choices = answering_now(partners(), state.topic, utcnow(), settings().tz)
    if not choices:
        return xml(_back_to_caller(sid, state, wl, volunteer, _said("transfer_none", wl)))
    _hold_caller(sid, True, state)
    return xml(_menu(sid, state, wl, volunteer, choices, tries=0))


def _menu(sid: str, state: CallState, wl: str, volunteer: int | None,
          choices: list[Partner], tries: int) -> str:  # fmt: skip
    said = list(_said("transfer_menu", wl))
    for key, partner in enumerate(choices, start=1):
        # Kazakh is read by the Russian voice (no Twilio voice): give it the Russian name.
        name = partner.name("ru" if wl == "kk" else wl)
        said += _said("transfer_option", wl, partner=name, key=str(key))
    said += _said("transfer_back", wl)
    choose = url("/twilio/transfer/choose", **_query(sid, state, wl, volunteer), tries=tries)
    return twiml.ask_for_one_key(said, choose, choose, audio_url, MENU_SECONDS)


@bp.post("/choose")
def choose() -> Response:
    """A key in the partner menu: a partner is called; 0, silence or a wrong key go back."""
    params = _params()
    if params is None:
        return xml(_hang_up())
    sid, state, wl, volunteer = params
    digits = request.form.get("Digits", "")[:4]
    tries = small_int(request.args.get("tries"), 1) or 0
    choices = answering_now(partners(), state.topic, utcnow(), settings().tz)
    if flag(sid, "ended"):
        return xml(_hang_up())  # the caller hung up while on hold
    if digits.isdigit() and 1 <= int(digits) <= len(choices):
        return xml(_call_partner(sid, state, wl, volunteer, choices[int(digits) - 1]))
    if digits and digits != "0" and tries < 1 and choices:
        # A key that names no partner (or one whose hours just ended): the menu once more.
        return xml(_menu(sid, state, wl, volunteer, choices, tries=tries + 1))
    return xml(_back_to_caller(sid, state, wl, volunteer))


def _call_partner(sid: str, state: CallState, wl: str, volunteer: int | None,
                  partner: Partner) -> str:  # fmt: skip
    from .line_calls import line_rest

    redis = _redis()
    key = TRANSFER_KEY.format(sid=sid)
    try:
        if redis is None or not redis.hsetnx(key, "partner", partner.id):
            # Redis down (no way to follow the transfer) or one is already under way.
            return _back_to_caller(sid, state, wl, volunteer, _said("transfer_failed", wl))
        # The volunteer's leg (this request's) and language: a partner who does not answer is
        # announced to them alone.
        volunteer_leg = request.form.get("CallSid", "")
        redis.hset(
            key,
            mapping={
                "state": "ringing",
                "started": time.time(),
                "wl": wl,
                "vleg": volunteer_leg if _CALL_SID.match(volunteer_leg) else "",
            },
        )
        # fmt: skip
        redis.expire(key, KEEP_SECONDS)
    except RedisError as exc:
        redis_gate().failed(exc)
        return _back_to_caller(sid, state, wl, volunteer, _said("transfer_failed", wl))
    query = {"call": sid, "p": partner.id, "topic": state.topic, "lang": state.language}
    try:
        leg = line_rest().call_volunteer(
            to=partner.phone,
            url=url("/twilio/transfer/partner", **query),
            status_callback=url("/twilio/transfer/partner-status", **query),
            timeout=PARTNER_RING_SECONDS,
        )
    except DialError as exc:
        log.warning("call %s: calling partner %s failed (%s)", sid, partner.id, exc.code)
        _forget(redis, sid)
        recorder().record([event("transfer", sid, partner=partner.id, outcome="failed")])
        return _back_to_caller(sid, state, wl, volunteer, _said("transfer_failed", wl))
    try:
        redis.hset(key, "leg", leg)
    except RedisError as exc:
        redis_gate().failed(exc)
    recorder().record([
        event("transfer", sid, partner=partner.id, outcome="ringing"),
        event("leg", sid, leg=leg),  # Twilio's purge deletes it with the call
    ])  # fmt: skip
    log.info("call %s: calling partner %s", sid, partner.id)
    response = VoiceResponse()
    twiml.add_utterances(response, _said("transfer_calling", wl), audio_url)
    volunteer_room(response, sid, state, wl, volunteer)
    return str(response)


# --- the caller on hold ------------------------------------------------------------------------


def _hold_caller(sid: str, hold: bool, state: CallState) -> bool:
    """Put the caller on hold (a calm message) or take them off; False when it cannot be done."""
    from .line_calls import line_rest

    redis = _redis()
    try:
        conference = room.conference_sid(redis, sid) if redis is not None else None
    except RedisError as exc:
        redis_gate().failed(exc)
        conference = None
    if conference is None:
        return False  # no event from the room yet: the caller stays in it, not on hold
    hold_url = url("/twilio/transfer/hold", call=sid, lang=state.language)
    try:
        line_rest().hold(conference, sid, hold, hold_url)
    except DialError as exc:
        log.warning("call %s: hold=%s failed (%s)", sid, hold, exc.code)
        return False
    return True


@bp.post("/hold")
def hold() -> Response:
    """The caller's HoldUrl: a calm message, quiet pauses, again (Say, Pause, Redirect only)."""
    language = request.args.get("lang")
    said = _said("line_hold", language if language in LANGUAGES else "ru", flow_name="line")
    response = VoiceResponse()
    for _ in range(2):
        twiml.add_utterances(response, said, audio_url)
        response.pause(length=15)
    response.redirect(request.url.replace(request.host_url.rstrip("/"), settings().public_base_url))
    return xml(str(response))


# --- the partner's leg -------------------------------------------------------------------------


@bp.post("/partner")
def partner_answered() -> Response:
    """The partner's phone answered: a machine is hung up on; a person hears the call's topic
    and language, then joins the room."""
    sid = request.args.get("call", "")
    topic, language = request.args.get("topic"), request.args.get("lang")
    if not _CALL_SID.match(sid) or topic not in TOPICS:
        return xml(_hang_up())
    if request.form.get("AnsweredBy", "human") in _MACHINE or flag(sid, "ended"):
        return xml(_hang_up())  # partner status then counts it as not answered
    state = CallState(language=language if language in LANGUAGES else None, topic=topic)
    response = VoiceResponse()
    said = _said("partner_whisper", "ru") + whisper_utterances(state, "ru")[:-1]
    twiml.add_utterances(response, said, audio_url)
    from .line_calls import conference_noun

    dial = response.dial(method="POST")
    conference_noun(dial, sid, end_on_exit=False)
    return xml(str(response))


def partner_joined(redis: Redis, sid: str, leg: str) -> bool:
    """A participant joined the room: if it is the partner's leg, take the caller off hold."""
    key = TRANSFER_KEY.format(sid=sid)
    found: dict[Any, Any] = redis.hgetall(key)
    if not found or found.get(b"leg", b"").decode() != leg:
        return False
    if found.get(b"state") == b"ringing":
        redis.hset(key, mapping={"state": "joined", "joined": time.time()})
        partner = found.get(b"partner", b"").decode()
        recorder().record([event("transfer", sid, partner=partner, outcome="answered")])
        language = request.args.get("lang")
        _hold_caller(sid, False, CallState(language=language if language in LANGUAGES else None))
    return True


def partner_leg(redis: Redis, sid: str) -> str | None:
    value = redis.hget(TRANSFER_KEY.format(sid=sid), "leg")
    return value.decode() if isinstance(value, bytes) else value


def transfer_active(redis: Redis, sid: str) -> bool:
    """A partner is being rung or is in the room: the call goes on without the volunteer."""
    value = redis.hget(TRANSFER_KEY.format(sid=sid), "state")
    return value in (b"ringing", b"joined")


@bp.post("/partner-status")
def partner_status() -> Response:
    """The partner's leg ended: how long they talked, or they never answered (the caller comes
    off hold, back to the volunteer; to the callback offer if the volunteer left)."""
    sid = request.args.get("call", "")
    partner = request.args.get("p", "")[:32]
    status = request.form.get("CallStatus", "")[:32]
    if not _CALL_SID.match(sid) or status not in ("completed", "busy", "no-answer", "failed",
                                                   "canceled"):  # fmt: skip
        return xml(twiml.empty())
    redis = _redis()
    if redis is None:
        return xml(twiml.empty())
    try:
        found: dict[Any, Any] = redis.hgetall(TRANSFER_KEY.format(sid=sid))
        _forget(redis, sid)
    except RedisError as exc:
        redis_gate().failed(exc)
        return xml(twiml.empty())
    state = found.get(b"state", b"").decode()
    if state == "joined":
        seconds = int(time.time() - float(found.get(b"joined", b"0") or 0))
        recorder().record(
            [event("transfer", sid, partner=partner, outcome="ended", seconds=seconds)]
        )
        return xml(twiml.empty())
    if state != "ringing":
        return xml(twiml.empty())  # already handled (a repeat)
    recorder().record([event("transfer", sid, partner=partner, outcome="no_answer")])
    language = request.args.get("lang")
    caller_state = CallState(language=language if language in LANGUAGES else None)
    if found.get(b"volunteer_gone"):
        _caller_to_callback_offer(sid, caller_state)
    else:
        _hold_caller(sid, False, caller_state)
        _tell_volunteer(redis, sid, found, "transfer_no_answer")
    return xml(twiml.empty())


def _tell_volunteer(redis: Redis, sid: str, found: dict[Any, Any], node_id: str) -> None:
    """Say why to the volunteer alone (the Participants API's AnnounceUrl), in their language."""
    from .line_calls import line_rest

    leg = found.get(b"vleg", b"").decode()
    wl = found.get(b"wl", b"ru").decode()
    try:
        conference = room.conference_sid(redis, sid)
    except RedisError as exc:
        redis_gate().failed(exc)
        return
    if not leg or conference is None:
        return
    said_url = url("/twilio/transfer/announce", call=sid, what=node_id,
                   wl=wl if wl in LANGUAGES else "ru")  # fmt: skip
    try:
        line_rest().announce(conference, leg, said_url)
    except DialError as exc:
        log.warning("call %s: telling the volunteer failed (%s)", sid, exc.code)


_ANNOUNCED = ("transfer_no_answer",)


@bp.post("/announce")
def announce() -> Response:
    """What the volunteer alone hears in the room (an AnnounceUrl: Say and Play only)."""
    what = request.args.get("what", "")
    wl = request.args.get("wl", "ru")
    response = VoiceResponse()
    if what in _ANNOUNCED and wl in LANGUAGES:
        twiml.add_utterances(response, _said(what, wl), audio_url)
    return xml(str(response))


def volunteer_left(redis: Redis, sid: str) -> bool:
    """The volunteer's leg ended: True when a transfer keeps the call going without them."""
    key = TRANSFER_KEY.format(sid=sid)
    if not transfer_active(redis, sid):
        return False
    redis.hset(key, "volunteer_gone", 1)
    return True


def _caller_to_callback_offer(sid: str, state: CallState) -> None:
    from .line_calls import line_rest

    try:
        line_rest().redirect(sid, url("/twilio/transfer/after", call=sid, lang=state.language))
    except DialError as exc:
        log.warning("call %s: could not bring the caller off hold (%s)", sid, exc.code)


@bp.post("/after")
def after() -> Response:
    """A transfer failed after the volunteer left: the caller gets the callback offer."""
    from .dialing import nobody_can_answer

    language = request.args.get("lang")
    state = CallState(language=language if language in LANGUAGES else None)
    return xml(nobody_can_answer(state))


def _forget(redis: Redis | None, sid: str) -> None:
    if redis is not None:
        redis.delete(TRANSFER_KEY.format(sid=sid))


def _hang_up() -> str:
    response = VoiceResponse()
    response.hangup()
    return str(response)


def init_app(app: Flask, partner_list: tuple[Partner, ...]) -> None:
    """Register the transfer webhooks with the partners from config/partners.yaml."""
    app.extensions["partners"] = partner_list
    app.register_blueprint(bp)
