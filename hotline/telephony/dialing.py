"""Routing a call, and ringing volunteers with <Dial> when a conference cannot be had.

The caller hears "connecting you" (said by the flow's route node). A free volunteer is claimed
here; the call then normally goes into a conference (hotline.telephony.line_calls.
ring_in_conference: the volunteer rung through the REST API, the caller in the <Enqueue> that
leads to the room). With Redis or Twilio's REST API unavailable, or with simultaneous ringing, the
volunteers are rung with <Dial><Number> as follows (such a call cannot be transferred). Each
volunteer's own phone rings with the hotline's number as caller id; on answering they hear the
topic and the caller's language and press 1 to accept. Any other outcome moves to the next
volunteer; when the list runs out the caller hears the nobody-available message (or, with
callbacks, the offer).

None of these webhooks reads the database. Who was already rung travels in the Dial's action URL
(`tried`, `batch`), the attempt in the whisper's URL (`call`, `n`, `v`), both signed by Twilio's
signature over the URL; the roster comes from the process's snapshot; claims and two small call
flags (accepted, ended) live in Redis. What happened is written as call-record events
(hotline.calllog.journal), which reach the database in order whenever it answers.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Sequence

from flask import Blueprint, Flask, Response, current_app, request
from redis.exceptions import RedisError
from twilio.twiml.voice_response import VoiceResponse

from ..calllog.journal import Event, event
from ..calllog.spool import Recorder
from ..crypto import make_fernet
from ..ivr import engine, speech
from ..ivr.model import CallState, Utterance
from ..models import utcnow
from ..redis_conn import redis_gate
from ..routing import dispatch
from ..routing.dispatch import Claimer, NoOneToRing, Ring, RingOutcome, claim_owner
from ..routing.policy import LANGUAGES, TOPICS, RoutingPolicy
from ..routing.snapshot_keeper import SnapshotKeeper
from . import consent, flow_registry, twiml
from .edge import (
    audio_url,
    call_sid,
    caller_state,
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
_TRIED = re.compile(r"^\d{1,12}(\.\d{1,12}){0,19}$")
_CALL_SID = re.compile(r"^CA[0-9a-fA-F]{32}$")
_FLAG = "hotline:call:{sid}:{name}"
_FLAG_SECONDS = 6 * 3600  # longer than any call (Dial timeLimit is at most 4 h by default)


def policy() -> RoutingPolicy:
    return current_app.extensions["routing_policy"]


def recorder() -> Recorder:
    return current_app.extensions["recorder"]


def keeper() -> SnapshotKeeper:
    return current_app.extensions["snapshot_keeper"]


def claimer() -> Claimer:
    return current_app.extensions["claimer"]


def _state() -> CallState:
    return caller_state(flow_registry.current_flow())


def _caller_step(node_id: str, state: CallState) -> str:
    return render(engine.enter(flow_registry.current_flow(), node_id, state))


def nobody_can_answer(state: CallState) -> str:
    """The callback offer when the flow has one, else the nobody-available goodbye."""
    flow = flow_registry.current_flow()
    if consent.offers_callbacks(flow):
        return render(engine.enter(flow, consent.OFFER, consent.with_runtime_vars(state)))
    return _caller_step("nobody_available", state)


# --- two small flags per call, in Redis --------------------------------------------------------


def set_flag(sid: str, name: str, value: str | int) -> None:
    redis = redis_gate().client()
    if redis is None:
        return
    try:
        redis.set(_FLAG.format(sid=sid, name=name), value, ex=_FLAG_SECONDS)
    except RedisError as exc:
        redis_gate().failed(exc)


def flag(sid: str, name: str) -> str | None:
    redis = redis_gate().client()
    if redis is None:
        return None
    try:
        value = redis.get(_FLAG.format(sid=sid, name=name))
    except RedisError as exc:
        redis_gate().failed(exc)
        return None
    return value.decode() if isinstance(value, bytes) else value


def call_over(sid: str) -> list[Event]:
    """The caller's call ended: free every volunteer it holds; the events that say so."""
    set_flag(sid, "ended", 1)
    accepted = flag(sid, "accepted")
    if accepted and accepted.isdigit():
        # A conference call's final status can come before the volunteer's leg ends: the claim
        # passes to the wrap-up here, not to the next caller (a no-op when it already has).
        claimer().wrap_up(int(accepted), sid)
    claimer().release(claim_owner(sid))
    from .line_volunteers import cancel_ringing_leg

    cancel_ringing_leg(sid)
    _volunteer_free()
    return [event("released", sid)]


def _volunteer_free() -> None:
    """A volunteer may be free now: offer them the longest-waiting caller who fits."""
    from .line_calls import kick

    kick()


# --- the caller's side -------------------------------------------------------------------------


def _dial(
    rings: Sequence[Ring], state: CallState, tried: Sequence[int], sid: str,
    preface: tuple[Utterance, ...] = (),
) -> str:  # fmt: skip
    """TwiML ringing the volunteers' phones, each with the whisper; caller id is the hotline's."""
    rules = policy()
    response = VoiceResponse()
    twiml.add_utterances(response, preface, audio_url)
    dial = response.dial(
        caller_id=settings().hotline_phone_number,
        timeout=rules.ring_timeout_seconds,
        time_limit=rules.call_time_limit_seconds,
        action=url(
            "/twilio/dial-result",
            topic=state.topic,
            lang=state.language,
            tried=".".join(str(i) for i in tried),
            batch=len(rings),
        ),
        method="POST",
    )
    for ring in rings:
        dial.number(
            ring.phone, url=_whisper_url("/twilio/whisper", sid, ring, state), method="POST"
        )
    return str(response)


def _whisper_url(path: str, sid: str, ring: Ring, state: CallState, tries: int = 0) -> str:
    return url(
        path,
        call=sid,
        n=ring.seq,
        v=ring.volunteer_id,
        topic=state.topic,
        lang=state.language,
        wl=ring.language,
        tries=tries or None,
    )


def _ring_next(
    sid: str, state: CallState, tried: list[int], events: list[Event], again: bool
) -> str:
    """Dial the next volunteer(s), or end the routing with the nobody-available message."""
    result = dispatch.next_rings(
        keeper(),
        claimer(),
        current_app.extensions["fernet"],
        sid,
        state.topic,
        state.language,
        tried,
        utcnow(),
        settings().tz,
    )
    if isinstance(result, NoOneToRing):
        if result.reason == "all_busy" and not tried:
            # Volunteers who fit are on shift but all on calls: wait for the next one.
            from .line_calls import try_join

            waiting = try_join(sid, state, events)
            if waiting is not None:
                return waiting
        events.append(event("unanswered", sid, reason=result.reason))
        log.info("call %s: nobody to ring (%s)", sid, result.reason)
        if result.reason == "claims_unavailable":
            # Neither Redis nor the database: no callback can be registered either.
            return _caller_step("nobody_available", state)
        return nobody_can_answer(state)
    events.extend(event("ring", sid, seq=ring.seq, volunteer=ring.volunteer_id) for ring in result)
    if not tried:
        # Into a conference, like a call from the line (so * can transfer it); <Dial> below when
        # Redis or Twilio's REST API cannot do that now.
        from .line_calls import ring_in_conference

        conference = ring_in_conference(sid, state, result, events)
        if conference is not None:
            return conference
    preface: tuple[Utterance, ...] = ()
    if again:
        volunteer_flow = flow_registry.current_flow(VOLUNTEER_FLOW)
        preface = speech.say(
            volunteer_flow, volunteer_flow.nodes["still_trying"].prompt, state.language
        )
    log.info("call %s: ringing %d volunteer(s)", sid, len(result))
    return _dial(result, state, [*tried, *(ring.volunteer_id for ring in result)], sid, preface)


@bp.post("/route")
def route() -> Response:
    """The caller chose a topic: ring the first matching, on-shift, free volunteer."""
    sid = call_sid()
    if sid is None:
        return safe_twiml(400)
    state = _state()
    events = [event("routing", sid, language=state.language, topic=state.topic)]
    body = _ring_next(sid, state, [], events, again=False)
    recorder().record(events)
    return xml(body)


def _tried() -> list[int] | None:
    raw = request.args.get("tried", "")
    if not raw:
        return []
    return [int(part) for part in raw.split(".")] if _TRIED.match(raw) else None


@bp.post("/dial-result")
def dial_result() -> Response:
    """A <Dial> ended: connected and finished, or try the next volunteer."""
    sid = call_sid()
    tried = _tried()
    batch = small_int(request.args.get("batch"), 2)
    if sid is None or tried is None:
        return safe_twiml(400)
    batch = min(batch if batch is not None else 1, len(tried))
    state = _state()
    dial_status = request.form.get("DialCallStatus", "")[:32]
    bridged_raw = request.form.get("DialBridged", "").lower()
    duration = small_int(request.form.get("DialCallDuration"), 8)
    accepted = flag(sid, "accepted")
    # DialBridged is Twilio's word; an old payload without it is judged by who pressed 1.
    bridged = bridged_raw == "true" or (bridged_raw == "" and accepted is not None)
    connected = dial_status in ("completed", "answered") and bridged
    events = [
        event(
            "legs_ended",
            sid,
            seqs=list(range(len(tried) - batch, len(tried))),
            dial_status=dial_status,
            bridged=connected,
            duration=duration,
        )  # fmt: skip
    ]
    if connected and accepted and accepted.isdigit():
        # Before the release below: the claim passes from the call to the wrap-up time.
        claimer().wrap_up(int(accepted), sid)
    # The batch's volunteers are free again: their legs are over, whatever happened.
    claimer().release(claim_owner(sid))
    events.append(event("released", sid, volunteers=tried[len(tried) - batch :]))
    if connected or dial_status == "canceled" or request.form.get("CallStatus") == "completed":
        if connected and accepted and accepted.isdigit():
            snapshot = keeper().current()
            if snapshot is not None:
                snapshot.call_ended(int(accepted), utcnow())  # fairness, in this process now
        _volunteer_free()
        # After a conversation, or the caller hung up while the phone rang: nothing more to do.
        recorder().record(events)
        return xml(_goodbye())
    body = _ring_next(sid, state, tried, events, again=True)
    recorder().record(events)
    return xml(body)


def _goodbye() -> str:
    response = VoiceResponse()
    response.hangup()
    return str(response)


# --- the volunteer's leg ------------------------------------------------------------------------


def leg_from_url() -> tuple[str, Ring, CallState] | None:
    """The call, attempt and caller's state named in a volunteer leg's (signed) URL, if well
    formed: the direct path's whisper and the line's leg carry the same parameters."""
    sid = request.args.get("call", "")
    seq = small_int(request.args.get("n"), 2)
    volunteer_id = small_int(request.args.get("v"), 12)
    whisper_language = request.args.get("wl", "ru")
    topic, language = request.args.get("topic"), request.args.get("lang")
    if not _CALL_SID.match(sid) or seq is None or volunteer_id is None:
        return None
    if whisper_language not in LANGUAGES or topic not in TOPICS:
        return None
    state = CallState(language=language if language in LANGUAGES else None, topic=topic)
    return sid, Ring(seq, volunteer_id, "", whisper_language), state


def whisper_utterances(state: CallState, language: str) -> tuple[Utterance, ...]:
    flow = flow_registry.current_flow(VOLUNTEER_FLOW)
    pieces = [f"whisper_topic_{state.topic}", f"whisper_caller_{state.language}", "whisper_accept"]
    said: list[Utterance] = []
    for node_id in pieces:
        node = flow.nodes.get(node_id)
        if node is not None:
            said.extend(speech.say(flow, node.prompt, language))
    return tuple(said)


def hang_up_volunteer(language: str, thank: bool) -> str:
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
    leg = leg_from_url()
    if leg is None or flag(leg[0], "ended"):
        # The caller already hung up (or the attempt is unknown): free the volunteer.
        return xml(hang_up_volunteer("ru", thank=False))
    sid, ring, state = leg
    answer_url = _whisper_url("/twilio/whisper/answer", sid, ring, state, tries)
    said = whisper_utterances(state, ring.language)
    # No key: the answer handler decides (one repeat, then it counts as no answer).
    return xml(
        twiml.ask_for_one_key(said, answer_url, answer_url, audio_url, WHISPER_KEY_TIMEOUT_SECONDS)
    )


@bp.post("/whisper/answer")
def whisper_answer() -> Response:
    """1 accepts (an empty document bridges the call); anything else hangs up this leg."""
    digits = request.form.get("Digits", "")[:8]
    tries = small_int(request.args.get("tries"), 2) or 0
    leg = leg_from_url()
    if leg is None or flag(leg[0], "ended"):
        return xml(hang_up_volunteer("ru", thank=False))
    sid, ring, state = leg
    if digits == "1":
        claimer().keep(ring.volunteer_id, claim_owner(sid), policy().connected_claim_ttl)
        set_flag(sid, "accepted", ring.volunteer_id)
        recorder().record([event("accepted", sid, seq=ring.seq, volunteer=ring.volunteer_id)])
        log.info("call %s: volunteer %s accepted", sid, ring.volunteer_id)
        return xml(twiml.empty())
    if not digits and tries < _WHISPER_REPEATS:
        return xml(_repeat_whisper(sid, ring, state, tries + 1))
    outcome = RingOutcome.DECLINED if digits else RingOutcome.NO_KEY
    recorder().record(
        [event("whisper", sid, seq=ring.seq, volunteer=ring.volunteer_id, outcome=outcome.value)]
    )
    return xml(hang_up_volunteer(ring.language, thank=bool(digits)))


def _repeat_whisper(sid: str, ring: Ring, state: CallState, tries: int) -> str:
    response = VoiceResponse()
    response.redirect(_whisper_url("/twilio/whisper", sid, ring, state, tries), method="POST")
    return str(response)


def init_app(app: Flask, routing: RoutingPolicy) -> None:
    """Route with this policy (checked by hotline.startup), the roster's cipher and keeper."""
    config = app.config["SETTINGS"]
    app.extensions["routing_policy"] = routing
    app.extensions["fernet"] = make_fernet(config.callback_encryption_keys)
    db, gate = app.extensions["db"], app.extensions["redis_gate"]
    app.extensions["snapshot_keeper"] = keeper_ = SnapshotKeeper(
        db, gate, config.roster_refresh_seconds, routing.wrap_up_seconds
    )
    app.extensions["claimer"] = Claimer(gate, db, keeper_, app.extensions["routing_policy"])
