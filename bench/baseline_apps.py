"""The two baselines bench/webhook_load.py measures the webhooks against, served by gunicorn.

- `bare`: Flask answering every POST with a constant TwiML document (the floor: HTTP + Flask).
- `validated`: Flask + twilio's RequestValidator over the signed URL and form + a TwiML document
  built with twilio's VoiceResponse (what any Twilio app must do at the least).
"""

from __future__ import annotations

import os

from flask import Flask, Response, request
from twilio.request_validator import RequestValidator
from twilio.twiml.voice_response import VoiceResponse

_CONSTANT = (
    '<?xml version="1.0" encoding="UTF-8"?><Response><Gather action="/twilio/voice/step" '
    'numDigits="1" timeout="5"><Say language="ru-RU">Здравствуйте.</Say></Gather></Response>'
)

bare = Flask("bare")


@bare.post("/<path:_path>")
def _bare(_path: str) -> Response:
    return Response(_CONSTANT, mimetype="text/xml")


validated = Flask("validated")


@bare.get("/healthz")
@validated.get("/healthz")
def _healthz() -> Response:  # what the bench waits for before it starts
    return Response("ok\n", mimetype="text/plain")


_BASE = os.environ.get("PUBLIC_BASE_URL", "")
_VALIDATOR = RequestValidator(os.environ.get("TWILIO_AUTH_TOKEN", ""))


@validated.post("/<path:_path>")
def _validated(_path: str) -> Response:
    query = request.query_string.decode("latin-1")
    url = f"{_BASE}{request.path}" + (f"?{query}" if query else "")
    if not _VALIDATOR.validate(url, request.form, request.headers.get("X-Twilio-Signature", "")):
        return Response("<Response/>", status=403, mimetype="text/xml")
    response = VoiceResponse()
    gather = response.gather(action=f"{_BASE}/twilio/voice/step", num_digits=1, timeout=5)
    gather.say("Здравствуйте.", language="ru-RU")
    response.redirect(f"{_BASE}/twilio/voice")
    return Response(str(response), mimetype="text/xml")
