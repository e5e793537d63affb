"""What every Twilio webhook shares: URLs, TwiML responses, the signature check, call records."""

from __future__ import annotations

import logging
import re
from urllib.parse import urlencode

from flask import Blueprint, Response, current_app, request
from sqlalchemy.orm import Session

from ..audio.manifest import file_hash
from ..calllog import records
from ..calllog.pseudonym import caller_key
from ..ivr.model import TOPICS, CallState, Flow, Gather, RequestCallback, RouteTo, Step
from ..models import CallRecord
from ..settings import Settings
from . import twiml
from .signature import is_signed_by_twilio

log = logging.getLogger(__name__)

NODE_ID = re.compile(r"^[a-z0-9_]{1,64}$")
_CALL_SID = re.compile(r"^CA[0-9a-fA-F]{32}$")


def settings() -> Settings:
    return current_app.config["SETTINGS"]


def url(path: str, **params: str | int | None) -> str:
    """An absolute URL under PUBLIC_BASE_URL: what Twilio requests and what it signs."""
    query = urlencode({k: v for k, v in params.items() if v not in (None, "")})
    return f"{settings().public_base_url}{path}" + (f"?{query}" if query else "")


def audio_url(path: str) -> str:
    """The public URL Twilio fetches a recorded prompt from, with the file's content hash.

    Twilio caches what <Play> fetched by URL: a new recording gets a new URL, so it plays at once.
    """
    versions: dict[str, str] = current_app.extensions.setdefault("audio_versions", {})
    version = versions.get(path)
    if version is None:
        try:
            version = versions[path] = file_hash(settings().flows_dir / path)[:16]
        except OSError:
            version = ""  # the route answers 404; the caller hears the rest of the step
    return f"{settings().public_base_url}/ivr-audio/{path}" + (f"?v={version}" if version else "")


VAR_PREFIX = "v_"  # call variables travel in action URLs as v_<name>=<value>
VAR_NAME = re.compile(r"^[a-z0-9_]{1,32}$")
# Values are flow words (morning, yes) or a Fernet token of a typed number (url-safe base64).
VAR_VALUE = re.compile(r"^[A-Za-z0-9_=-]{1,400}$")
# Supplied afresh by the edge on every request (consent.with_runtime_vars): never put in a URL.
RUNTIME_VARS = frozenset({"last_two"})


def state_params(state: CallState) -> dict[str, str | int | None]:
    """The call state as URL parameters."""
    params: dict[str, str | int | None] = {"lang": state.language, "topic": state.topic}
    params.update(
        {f"{VAR_PREFIX}{name}": value for name, value in state.vars if name not in RUNTIME_VARS}
    )
    return params


def vars_from_query() -> tuple[tuple[str, str], ...] | None:
    """The call variables in the (signed) action URL, or None when one is malformed."""
    found = []
    for key, value in request.args.items():
        if not key.startswith(VAR_PREFIX):
            continue
        name = key[len(VAR_PREFIX) :]
        if not VAR_NAME.match(name) or not VAR_VALUE.match(value):
            return None
        found.append((name, value))
    return tuple(found)


def _step_url(gather: Gather, step: Step) -> str:
    return url(
        "/twilio/voice/step",
        node=gather.node_id,
        tries=step.state.tries,
        **state_params(step.state),
    )


def _redirect_url(end: RouteTo | RequestCallback, step: Step) -> str:
    if isinstance(end, RouteTo):
        return url("/twilio/route", topic=end.topic or step.state.topic, lang=step.state.language)
    return url("/twilio/voice/callback-request", **state_params(step.state))


def render(step: Step) -> str:
    """TwiML for an engine step, with this deployment's URLs."""
    return twiml.render_step(step, _step_url, _redirect_url, audio_url)


def xml(body: str, status: int = 200) -> Response:
    return Response(body, status=status, mimetype="text/xml")


def safe_twiml(status: int = 200) -> Response:
    """Emergency numbers in every language, then a gentle hangup; touches no database or Redis."""
    return xml(current_app.extensions["safe_twiml"], status)


def small_int(raw: str | None, max_digits: int) -> int | None:
    """A non-negative whole number of at most `max_digits` digits from a form or query value."""
    if raw is None or not raw.isdigit() or len(raw) > max_digits:
        return None
    return int(raw)


def caller_state(flow: Flow) -> CallState:
    """The caller's language and topic from the (signed) URL; anything unknown is dropped."""
    language = request.args.get("lang")
    topic = request.args.get("topic")
    return CallState(
        language=language if language in flow.languages else None,
        topic=topic if topic in TOPICS else None,
    )


def call_sid() -> str | None:
    """The request's CallSid when it has Twilio's shape, else None."""
    sid = request.form.get("CallSid", "")
    return sid if _CALL_SID.match(sid) else None


def caller_pseudonym() -> tuple[str | None, int | None]:
    """The caller's keyed pseudonym and its key version (None, None when the number is hidden)."""
    config = settings()
    key = caller_key(request.form.get("From"), config.pseudonym_key)
    return key, (config.pseudonym_key_version if key else None)


def open_record(session: Session, call_sid: str) -> CallRecord:
    """The call's record, created (with the caller's pseudonym, never the number) if missing."""
    key, version = caller_pseudonym()
    return records.open_call(session, call_sid, key, version)  # (one lookup: it looks first)


def require_twilio_signature(blueprint: Blueprint) -> None:
    """Refuse (403, safe TwiML, nothing stored) every request to `blueprint` Twilio did not sign."""

    @blueprint.before_request
    def _check() -> Response | None:
        config = settings()
        if is_signed_by_twilio(request, config.public_base_url, config.twilio_auth_token):
            return None
        log.warning("refused a request to %s without a valid Twilio signature", request.path)
        return safe_twiml(403)
