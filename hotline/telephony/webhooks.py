"""Twilio voice webhooks: the edge where Twilio's parameters become the IVR engine's inputs.

Every answer is valid TwiML, quickly: on bad input, lost state, or with the database or Redis down.
The caller can always reach the emergency numbers.
"""

from __future__ import annotations

import logging
import re
from dataclasses import replace
from pathlib import Path

from flask import Blueprint, Flask, Response, request, send_from_directory
from werkzeug.exceptions import HTTPException

from ..audio.formats import CONTENT_TYPES
from ..calllog.journal import event
from ..calllog.records import FINAL_STATUSES
from ..calllog.spool import Recorder
from ..ivr import engine
from ..ivr.model import CallState, Flow, Node, NodeKind, Step
from ..logs import cause
from ..startup import StartupFiles
from . import consent, flow_registry, guard, twiml
from .dialing import call_over, recorder
from .edge import (
    NODE_ID,
    call_sid,
    caller_pseudonym,
    caller_state,
    render,
    require_twilio_signature,
    safe_twiml,
    settings,
    small_int,
    vars_from_query,
    xml,
)

log = logging.getLogger(__name__)
bp = Blueprint("twilio", __name__, url_prefix="/twilio")
require_twilio_signature(bp)

_MAX_DIGITS = 64  # longer input is a wrong key all the same; no reason to carry it further
_MAX_TRIES = 20
# Every key that is not on a menu, in the store of rendered answers: the engine answers them all
# alike and never records which key it was (a "key" may be a whole phone number).
_ANY_WRONG_KEY = ("wrong key",)


def _state_from_query() -> tuple[str, CallState] | None:
    """The node and state carried in the (signed) action URL, or None when they are not valid."""
    flow = flow_registry.current_flow()
    node = request.args.get("node", "")
    language = request.args.get("lang") or None
    topic = request.args.get("topic") or None
    tries_raw = request.args.get("tries", "0")
    if not NODE_ID.match(node) or node not in flow.nodes:
        return None
    if language is not None and language not in flow.languages:
        return None
    if topic is not None and not NODE_ID.match(topic):
        return None
    if not tries_raw.isdigit() or int(tries_raw) > _MAX_TRIES:
        return None
    call_vars = vars_from_query()
    if call_vars is None:
        return None
    return node, CallState(language=language, topic=topic, tries=int(tries_raw), vars=call_vars)


# --- the IVR ---------------------------------------------------------------------------------


@bp.post("/voice")
def voice() -> Response:
    """A new call: the greeting with the emergency numbers, then the language menu."""
    sid = call_sid()
    if sid is None:
        return safe_twiml(400)
    flow = flow_registry.current_flow()
    step, body = flow_registry.rendered_steps().get("start", lambda: _rendered(engine.start(flow)))
    key, version = caller_pseudonym()
    recorder().record(
        [
            event("opened", sid, caller_key=key, key_version=version),
            event("step", sid, visited=list(step.visited)),
        ]
    )
    return xml(body)


def _rendered(step: Step) -> tuple[Step, str]:
    return step, render(step)


def _menu_answer(flow: Flow, node: Node, digits: str | None, state: CallState) -> tuple[Step, str]:
    """A key at a menu whose step says no runtime variable, for a call without call variables:
    the answer depends on the key's meaning and the state alone, so it is rendered once."""
    known = not digits or digits in node.options or digits in node.repeat_keys
    return flow_registry.rendered_steps().get(
        (
            "step",
            node.id,
            digits if known else _ANY_WRONG_KEY,
            state.language,
            state.topic,
            state.tries,
        ),  # fmt: skip
        lambda: _rendered(engine.advance(flow, node.id, digits, state)),
    )


@bp.post("/voice/step")
def voice_step() -> Response:
    """A key (or silence) at a menu: the engine decides what the caller hears next."""
    sid = call_sid()
    if sid is None:
        return safe_twiml(400)
    flow = flow_registry.current_flow()
    parsed = _state_from_query()
    digits = request.form.get("Digits", "")[:_MAX_DIGITS] or None
    step: Step | None = None
    body: str | None = None  # the TwiML of `step`, when it was rendered already
    if parsed is not None:
        node_id, state = parsed
        needed = flow_registry.says_runtime_variables(node_id)
        state = consent.with_runtime_vars(state, needed)
        node = flow.nodes[node_id]
        try:
            if node.kind is NodeKind.MENU and not needed and not state.vars:
                step, body = _menu_answer(flow, node, digits, state)
            elif node.kind is NodeKind.COLLECT:
                step = consent.collect(flow, node, digits, state)
            else:
                step = engine.advance(flow, node_id, digits, state)
        except engine.UnknownNode:
            step = None
    if step is None:
        # The call's place in the menu is lost (a changed flow, a mangled URL): start again kindly.
        log.info("call %s: menu state lost, restarting the menu", sid)
        step = engine.enter(flow, "restart", CallState())
    adjusted = consent.adjust(flow, step)  # (the caller's own number: never from the store)
    if adjusted is not step or body is None:
        step, body = adjusted, render(adjusted)
    visited = list(step.visited)
    recorder().record(
        [event("step", sid, visited=visited, language=step.state.language, topic=step.state.topic)]
    )
    return xml(body)


@bp.post("/voice/callback-request")
def callback_request() -> Response:
    """The caller consented to a callback: register it and say when to expect the call."""
    sid = call_sid()
    if sid is None:
        return safe_twiml(400)
    flow = flow_registry.current_flow()
    state = replace(caller_state(flow), vars=vars_from_query() or ())
    step = consent.register(flow, sid, state)
    recorder().record([event("step", sid, visited=list(step.visited))])
    return xml(render(step))


@bp.post("/status")
def status() -> Response:
    """Twilio's status callback: close the call's record with its final status and duration."""
    sid = call_sid()
    call_status = request.form.get("CallStatus", "")
    if sid is None or not re.match(r"^[a-z-]{1,32}$", call_status):
        return xml(twiml.empty(), 400)
    duration = small_int(request.form.get("CallDuration"), 8)
    events = [event("status", sid, status=call_status, duration=duration)]
    if call_status in FINAL_STATUSES:
        events += call_over(sid)
    recorder().record(events)
    return xml(twiml.empty())


@bp.post("/fallback")
def fallback() -> Response:
    """Twilio calls this when our main webhook failed: emergency numbers, no database, no Redis."""
    log.warning("fallback used (Twilio error %s)", request.form.get("ErrorCode", "unknown")[:8])
    return safe_twiml()


def _not_collecting() -> bool:
    """A menu step's answer depends on the request and the flow alone, except at a node that
    collects a typed number (its answer carries a fresh encryption of it): that one is leased."""
    node = flow_registry.current_flow().nodes.get(request.args.get("node", ""))
    return node is None or node.kind is not NodeKind.COLLECT


# --- wiring -----------------------------------------------------------------------------------


def init_app(app: Flask, files: StartupFiles) -> None:
    """Serve the flows, precompute the safe TwiML, and register the webhooks and error handlers."""
    from . import callback_calls, dialing, line_calls, transfer

    flow_registry.init_app(app, files.flows)
    app.extensions["recorder"] = Recorder(
        app.extensions["db"], app.extensions["redis_gate"], guard.spool_directory(app)
    )
    dialing.init_app(app, files.routing)
    callback_calls.init_app(app, files.callbacks, files.prompts)
    app.register_blueprint(bp)
    app.register_blueprint(dialing.bp)
    line_calls.init_app(app)
    transfer.init_app(app, files.partners)
    guard.init_app(app, {"twilio.voice": lambda: True, "twilio.voice_step": _not_collecting})

    with app.app_context():
        step = engine.enter(flow_registry.current_flow(), "technical_difficulty", CallState())
        app.extensions["safe_twiml"] = render(step)

    @app.get("/ivr-audio/<path:filename>")
    def ivr_audio(filename: str) -> Response:
        # Recorded prompts only; Twilio fetches them with GET. Nothing here is about a caller.
        suffix = Path(filename).suffix.lower()
        if suffix not in CONTENT_TYPES:
            return Response("not found\n", status=404, mimetype="text/plain")
        # The type Twilio's <Play> expects, whatever this machine's mime.types says (error 13420).
        response = send_from_directory(
            settings().flows_dir, filename, mimetype=CONTENT_TYPES[suffix]
        )
        if request.args.get("v"):
            # The URL names this content (?v=hash): a changed file gets a new URL, never this one.
            response.cache_control.public = True
            response.cache_control.max_age = 86400
        return response

    @app.errorhandler(HTTPException)
    def _http_error(exc: HTTPException) -> Response | HTTPException:
        if request.path.startswith("/twilio/"):
            return safe_twiml(exc.code or 400)
        return exc

    @app.errorhandler(Exception)
    def _unexpected(exc: Exception) -> Response | tuple[str, int]:
        # The filter (hotline.logs) masks any number in the message and the traceback.
        log.error("unexpected error on %s (%s)", request.path, cause(exc), exc_info=exc)
        if request.path.startswith("/twilio/"):
            # 200 so Twilio plays it: the caller hears the emergency numbers, not an error tone.
            return safe_twiml(200)
        return "Internal error\n", 500
