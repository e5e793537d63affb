"""Twilio voice webhooks: the edge where Twilio's parameters become the IVR engine's inputs.

Every answer is valid TwiML, quickly: on bad input, lost state, or with the database or Redis down.
The caller can always reach the emergency numbers.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Callable
from urllib.parse import urlencode

from flask import Blueprint, Flask, Response, current_app, request, send_from_directory
from sqlalchemy.exc import SQLAlchemyError
from werkzeug.exceptions import HTTPException

from ..calllog import records
from ..calllog.pseudonym import caller_key
from ..db import get_db
from ..ivr import engine
from ..ivr.model import CallState, Gather, RouteTo, Step
from ..models import CallOutcome, CallRecord
from . import flow_registry, twiml
from .signature import is_signed_by_twilio

log = logging.getLogger(__name__)
bp = Blueprint("twilio", __name__, url_prefix="/twilio")

_NODE_ID = re.compile(r"^[a-z0-9_]{1,64}$")
_CALL_SID = re.compile(r"^CA[0-9a-fA-F]{32}$")
_MAX_DIGITS = 64  # longer input is a wrong key all the same; no reason to carry it further
_MAX_TRIES = 20
AUDIO_SUFFIXES = (".mp3", ".wav", ".ogg")  # what Twilio's <Play> accepts


# --- the edge's helpers ----------------------------------------------------------------------


def _settings():
    return current_app.config["SETTINGS"]


def _url(path: str, **params: str | int | None) -> str:
    query = urlencode({k: v for k, v in params.items() if v not in (None, "")})
    return f"{_settings().public_base_url}{path}" + (f"?{query}" if query else "")


def audio_url(path: str) -> str:
    """The public URL Twilio fetches a recorded prompt from."""
    return f"{_settings().public_base_url}/ivr-audio/{path}"


def _step_url(gather: Gather, step: Step) -> str:
    state = step.state
    return _url(
        "/twilio/voice/step",
        node=gather.node_id,
        lang=state.language,
        topic=state.topic,
        tries=state.tries,
    )


def _route_url(route: RouteTo, step: Step) -> str:
    return _url("/twilio/route", topic=route.topic, lang=step.state.language)


def render(step: Step) -> str:
    """TwiML for an engine step, with this deployment's URLs."""
    return twiml.render_step(step, _step_url, _route_url, audio_url)


def xml(body: str, status: int = 200) -> Response:
    return Response(body, status=status, mimetype="text/xml")


def safe_twiml(status: int = 200) -> Response:
    """Emergency numbers in every language, then a gentle hangup; touches no database or Redis."""
    return xml(current_app.extensions["safe_twiml"], status)


def _call_sid() -> str | None:
    sid = request.form.get("CallSid", "")
    return sid if _CALL_SID.match(sid) else None


def _with_record(call_sid: str, update: Callable[[CallRecord], None], create: bool = True) -> None:
    """Apply `update` to the call's record, creating it if needed; never fails the webhook.

    The caller's number is turned into a keyed pseudonym here and goes no further.
    """
    settings = _settings()
    try:
        with get_db().session() as session:
            record = records.find_call(session, call_sid)
            if record is None:
                if not create:
                    return
                key = caller_key(request.form.get("From"), settings.pseudonym_key)
                record = records.open_call(session, call_sid, key, settings.pseudonym_key_version)
            update(record)
    except SQLAlchemyError as exc:
        # The call goes on without its record: a caller matters more than a statistic.
        log.error("call record for %s not saved: database error %s", call_sid, type(exc).__name__)


def _state_from_query() -> tuple[str, CallState] | None:
    """The node and state carried in the (signed) action URL, or None when they are not valid."""
    flow = flow_registry.current_flow()
    node = request.args.get("node", "")
    language = request.args.get("lang") or None
    topic = request.args.get("topic") or None
    tries_raw = request.args.get("tries", "0")
    if not _NODE_ID.match(node) or node not in flow.nodes:
        return None
    if language is not None and language not in flow.languages:
        return None
    if topic is not None and not _NODE_ID.match(topic):
        return None
    if not tries_raw.isdigit() or int(tries_raw) > _MAX_TRIES:
        return None
    return node, CallState(language=language, topic=topic, tries=int(tries_raw))


# --- signature check for every /twilio/* route -----------------------------------------------


@bp.before_request
def _require_signature() -> Response | None:
    settings = _settings()
    if is_signed_by_twilio(request, settings.public_base_url, settings.twilio_auth_token):
        return None
    log.warning("refused a request to %s without a valid Twilio signature", request.path)
    return safe_twiml(403)


# --- the IVR ---------------------------------------------------------------------------------


@bp.post("/voice")
def voice() -> Response:
    """A new call: the greeting with the emergency numbers, then the language menu."""
    call_sid = _call_sid()
    if call_sid is None:
        return safe_twiml(400)
    step = engine.start(flow_registry.current_flow())
    _with_record(call_sid, lambda record: records.record_ivr_step(record, step.visited))
    return xml(render(step))


@bp.post("/voice/step")
def voice_step() -> Response:
    """A key (or silence) at a menu: the engine decides what the caller hears next."""
    call_sid = _call_sid()
    if call_sid is None:
        return safe_twiml(400)
    flow = flow_registry.current_flow()
    parsed = _state_from_query()
    digits = request.form.get("Digits", "")[:_MAX_DIGITS] or None
    step: Step | None = None
    if parsed is not None:
        node, state = parsed
        try:
            step = engine.advance(flow, node, digits, state)
        except engine.UnknownNode:
            step = None
    if step is None:
        # The call's place in the menu is lost (a changed flow, a mangled URL): start again kindly.
        log.info("call %s: menu state lost, restarting the menu", call_sid)
        step = engine.enter(flow, "restart", CallState())
    final = step
    _with_record(
        call_sid,
        lambda record: records.record_ivr_step(
            record, final.visited, final.state.language, final.state.topic
        ),
    )
    return xml(render(step))


@bp.post("/route")
def route() -> Response:
    """The caller chose a topic: find a volunteer (until routing exists: nobody is available)."""
    call_sid = _call_sid()
    if call_sid is None:
        return safe_twiml(400)
    flow = flow_registry.current_flow()
    language = request.args.get("lang")
    topic = request.args.get("topic")
    state = CallState(
        language=language if language in flow.languages else None,
        topic=topic if topic and _NODE_ID.match(topic) else None,
    )
    step = engine.enter(flow, "nobody_available", state)

    def _update(record: CallRecord) -> None:
        records.mark_routing(record)
        records.record_ivr_step(record, step.visited, state.language, state.topic)
        records.set_outcome(record, CallOutcome.NOBODY_AVAILABLE)

    _with_record(call_sid, _update)
    return xml(render(step))


@bp.post("/status")
def status() -> Response:
    """Twilio's status callback: close the call's record with its final status and duration."""
    call_sid = _call_sid()
    call_status = request.form.get("CallStatus", "")
    if call_sid is None or not re.match(r"^[a-z-]{1,32}$", call_status):
        return xml(twiml.empty(), 400)
    duration_raw = request.form.get("CallDuration", "")
    duration = int(duration_raw) if duration_raw.isdigit() and len(duration_raw) < 9 else None
    # A status for a call we never saw (another app's number, a lost record) changes nothing.
    _with_record(
        call_sid, lambda record: records.finalize(record, call_status, duration), create=False
    )
    return xml(twiml.empty())


@bp.post("/fallback")
def fallback() -> Response:
    """Twilio calls this when our main webhook failed: emergency numbers, no database, no Redis."""
    log.warning("fallback used (Twilio error %s)", request.form.get("ErrorCode", "unknown")[:8])
    return safe_twiml()


# --- wiring -----------------------------------------------------------------------------------


def init_app(app: Flask) -> None:
    """Load the flows, precompute the safe TwiML, and register the webhooks and error handlers."""
    flow_registry.init_app(app)
    app.register_blueprint(bp)

    with app.app_context():
        step = engine.enter(flow_registry.current_flow(), "technical_difficulty", CallState())
        app.extensions["safe_twiml"] = render(step)

    @app.get("/ivr-audio/<path:filename>")
    def ivr_audio(filename: str) -> Response:
        # Recorded prompts only; Twilio fetches them with GET. Nothing here is about a caller.
        if not filename.lower().endswith(AUDIO_SUFFIXES):
            return Response("not found\n", status=404, mimetype="text/plain")
        return send_from_directory(_settings().flows_dir, filename)

    @app.get("/healthz")
    def healthz() -> Response:
        return Response("ok\n", mimetype="text/plain")

    @app.errorhandler(HTTPException)
    def _http_error(exc: HTTPException) -> Response | HTTPException:
        if request.path.startswith("/twilio/"):
            return safe_twiml(exc.code or 400)
        return exc

    @app.errorhandler(Exception)
    def _unexpected(exc: Exception) -> Response | tuple[str, int]:
        # Type only: a message or traceback could carry a caller's number into the logs.
        log.error("unexpected %s on %s", type(exc).__name__, request.path)
        if request.path.startswith("/twilio/"):
            # 200 so Twilio plays it: the caller hears the emergency numbers, not an error tone.
            return safe_twiml(200)
        return "Internal error\n", 500
