"""The line's volunteer side: the matcher that rings the next free volunteer, and their leg.

When a volunteer may have become free, kick() runs a matching pass off the request's thread: one
pass at a time across processes (a Redis lock, and a note for the running pass to go again, so no
wake-up is lost). The longest-waiting caller who fits is offered to a free volunteer: claimed as for
any call, rung through the REST API from the hotline's number with answering-machine detection. A
machine is hung up on; a person hears the whisper and presses 1, the caller is moved into the
conference (hotline.telephony.line_calls) by a Calls update; any other answer gives the caller
back to the line, and the volunteer is not offered that caller again.
"""

from __future__ import annotations

import logging
import os
import secrets
import threading
import time
from datetime import datetime

from flask import Flask, Response, current_app, request
from redis import Redis
from redis.exceptions import RedisError
from twilio.twiml.voice_response import VoiceResponse

from ..callbacks.runtime import DialError
from ..calllog.journal import event
from ..crypto import decrypt
from ..ivr.model import CallState
from ..models import utcnow
from ..redis_conn import redis_gate
from ..routing import line, line_store
from ..routing.dispatch import ClaimsUnavailable, Ring, RingOutcome, claim_owner
from ..routing.line import WaitingCaller
from . import transfer, twiml
from .dialing import (
    WHISPER_KEY_TIMEOUT_SECONDS,
    claimer,
    flag,
    hang_up_volunteer,
    keeper,
    leg_from_url,
    policy,
    recorder,
    set_flag,
    whisper_utterances,
)
from .edge import audio_url, settings, small_int, url, xml
from .line_calls import _caller_params, _redis, bp, line_rest

log = logging.getLogger(__name__)

REDIRECT_TIMEOUT_SECONDS = 3.0  # the volunteer waits on this; the wait document is the fallback
_MATCH_LOCK_MS = 10_000
_AGAIN_KEY = "hotline:line:match-again"
_MACHINE = ("machine_start", "machine_end_beep", "machine_end_silence", "machine_end_other", "fax")


# --- the volunteer's leg ----------------------------------------------------------------------


def _leg() -> tuple[str, int, int, CallState, str] | None:
    found = leg_from_url()
    if found is None:
        return None
    sid, ring, state = found
    return sid, ring.volunteer_id, ring.seq, state, ring.language


def _offered(sid: str, volunteer_id: int) -> WaitingCaller | None:
    """The caller's entry while it is offered to this volunteer (None: they left, or Redis)."""
    redis = _redis()
    if redis is None:
        return None
    try:
        caller, outcome = line_store.find(redis, sid)
    except RedisError as exc:
        redis_gate().failed(exc)
        return None
    if caller is None or outcome is not None or caller.offered_to != volunteer_id:
        return None
    return caller


def _still_offered(sid: str, volunteer_id: int) -> bool:
    return _offered(sid, volunteer_id) is not None


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
    caller = _offered(sid, volunteer_id)
    try:
        if redis is not None and caller is not None:
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
    log.info("call %s: volunteer %s accepted%s", sid, volunteer_id,
             "" if caller is not None and caller.direct else " from the line")  # fmt: skip
    _move_caller_in(sid, state, direct=caller is not None and caller.direct)
    response = VoiceResponse()
    transfer.volunteer_room(response, sid, state, wl, volunteer_id)
    return str(response)


def _move_caller_in(sid: str, state: CallState, direct: bool) -> None:
    join_url = url("/twilio/line/join", **_caller_params(sid, state), d=1 if direct else None)
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
    claimer().release_one(volunteer_id, claim_owner(sid))
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
        # Before the release: the claim passes from the call to the wrap-up time (the report, or
        # routing.yaml's wrap_up_seconds, frees them; the next wait document offers them again).
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


# --- kicks from other processes (a report saved in the dashboard pool) ---------------------------

KICK_CHANNEL = "hotline:line:kick"
# pid -> the app whose listener runs (a forked worker starts its own; a process that builds a new
# app, as the tests do, moves the listening to it and the old listener stops).
_listening: dict[int, Flask] = {}


def kick_from_elsewhere(redis: Redis) -> None:
    """Ask the webhook processes to run the matcher now (a volunteer's wrap-up just ended in
    the dashboard, which has no matcher of its own). Raises RedisError."""
    redis.publish(KICK_CHANNEL, b"1")


@bp.before_app_request
def _listen_for_kicks() -> None:
    """Start this process's listener on its first request (threads do not survive a fork)."""
    app = current_app._get_current_object()  # type: ignore[attr-defined]
    if _listening.get(os.getpid()) is app:
        return
    _listening[os.getpid()] = app
    threading.Thread(target=_listen, args=(app,), daemon=True, name="line-kicks").start()


def _listen(app: Flask) -> None:
    """Run the matcher on every kick published; reconnect after Redis failures (meanwhile the
    wait documents' polls still match, within one message interval)."""
    from ..redis_conn import connect

    url = app.config["SETTINGS"].redis_url
    if not url:
        return
    while _listening.get(os.getpid()) is app:
        try:
            # A connection of its own: the call path's 1 s read timeout would end every wait.
            pubsub = connect(url, socket_timeout=15.0).pubsub(ignore_subscribe_messages=True)
            pubsub.subscribe(KICK_CHANNEL)
            while _listening.get(os.getpid()) is app:
                if (
                    pubsub.get_message(timeout=5.0) is not None
                    and _listening.get(os.getpid()) is app
                ):
                    _match_in(app)
            pubsub.close()
        except (RedisError, OSError):
            time.sleep(1.0)


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
    offered = 0
    try:
        redis.set(_AGAIN_KEY, 1, ex=60)
        while True:
            if not line_store.take_match_lock(redis, token, _MATCH_LOCK_MS):
                return offered  # the pass running now will see the note and go again
            try:
                while redis.getdel(_AGAIN_KEY):
                    offered += _offer_pass(redis, utcnow())
            finally:
                line_store.drop_match_lock(redis, token)
            # A note left between the last look and the lock's release would be lost (its
            # writer found the lock taken): look once more, unlocked.
            if not redis.exists(_AGAIN_KEY):
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
        if line.exhausted(caller, len(ordered), rules.ring_batch_size(len(caller.tried))):
            _ring_list_ran_out(redis, caller, now)
            continue
        if not ordered:
            continue
        owner = claim_owner(caller.call_sid)
        try:
            chosen = claimer().claim(ordered, owner, rules.ringing_claim_ttl, 1)
        except ClaimsUnavailable:
            return offered
        if not chosen:
            if caller.direct and not rules.line.enabled:
                _ring_list_ran_out(redis, caller, now)  # no line to wait in: a callback
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


def _ring_list_ran_out(redis: Redis, caller: WaitingCaller, now: datetime) -> None:
    """A direct caller nobody else can take: out of the line; their next wait document (within
    CONNECTING_POLL_SECONDS) says <Leave/> and the Enqueue action offers the callback."""
    line_store.leave(redis, caller.call_sid, "exhausted", now)
    log.info("call %s: every volunteer who fits was tried", caller.call_sid)


def _remember_leg(sid: str, volunteer_id: int, leg: str) -> None:
    redis = _redis()
    try:
        if redis is not None:
            line_store.set_leg(redis, sid, volunteer_id, leg)
    except RedisError as exc:
        redis_gate().failed(exc)


def cancel_ringing_leg(sid: str) -> None:
    """The caller's call is over: a volunteer's phone still ringing for them stops ringing (their
    claim goes with the call's, so they must not go on ringing for nobody)."""
    redis = _redis()
    try:
        leg = line_store.ringing_leg(redis, sid) if redis is not None else None
    except RedisError as exc:
        redis_gate().failed(exc)
        return
    if leg is None:
        return
    try:
        line_rest().hang_up(leg, timeout=REDIRECT_TIMEOUT_SECONDS)
    except DialError as exc:
        log.warning("call %s: stopping the volunteer's ringing failed (%s)", sid, exc.code)


def place_ring(caller: WaitingCaller, ring: Ring, request_timeout: float | None = None) -> str:
    """Ring a claimed volunteer for this caller through the REST API, from the hotline's number,
    with answering-machine detection; their leg's sid. Raises DialError."""
    state = CallState(language=caller.language, topic=caller.topic)
    params = (caller.call_sid, ring.volunteer_id, ring.seq, state, ring.language)
    return line_rest().call_volunteer(
        to=ring.phone,
        url=_leg_url("/twilio/line/whisper", *params),
        status_callback=_leg_url("/twilio/line/leg-status", *params),
        timeout=policy().ring_timeout_seconds,
        request_timeout=request_timeout,
    )


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
    started = time.monotonic()
    try:
        leg = place_ring(caller, Ring(seq, volunteer_id, phone, entry.whisper_language))
    except DialError as exc:
        log.warning("call %s: ringing volunteer %s failed (%s)", caller.call_sid, volunteer_id,
                    exc.code)  # fmt: skip
        recorder().record([
            event("ring", caller.call_sid, seq=seq, volunteer=volunteer_id),
            event("whisper", caller.call_sid, seq=seq, volunteer=volunteer_id,
                  outcome=RingOutcome.FAILED.value),
        ])  # fmt: skip
        return False
    _remember_leg(caller.call_sid, volunteer_id, leg)
    recorder().record([
        event("ring", caller.call_sid, seq=seq, volunteer=volunteer_id),
        event("leg", caller.call_sid, leg=leg),  # Twilio's purge deletes it with the call
    ])  # fmt: skip
    log.info("call %s: ringing volunteer %s from the line (%.0f ms)", caller.call_sid,
             volunteer_id, (time.monotonic() - started) * 1000)  # fmt: skip
    return True
