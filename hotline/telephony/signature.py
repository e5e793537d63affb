"""Twilio request signatures: a webhook without a valid X-Twilio-Signature is refused."""

from __future__ import annotations

from flask import Request
from twilio.request_validator import RequestValidator


def public_url(base_url: str, request: Request) -> str:
    """The URL Twilio called: PUBLIC_BASE_URL plus path and query, so it works behind a proxy."""
    query = request.query_string.decode("latin-1")
    return f"{base_url}{request.path}" + (f"?{query}" if query else "")


def is_signed_by_twilio(request: Request, base_url: str, auth_token: str) -> bool:
    """True when the request carries a valid Twilio signature for our public URL and its form."""
    signature = request.headers.get("X-Twilio-Signature", "")
    if not signature:
        return False
    validator = RequestValidator(auth_token)
    return bool(validator.validate(public_url(base_url, request), request.form, signature))


def sign(url: str, params: dict[str, str], auth_token: str) -> str:
    """Compute the signature Twilio would send; used by `hotline simulate` and the tests."""
    return str(RequestValidator(auth_token).compute_signature(url, params))
