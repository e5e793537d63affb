"""Twilio request signatures: a webhook without a valid X-Twilio-Signature is refused."""

from __future__ import annotations

import hmac
from urllib.parse import urlsplit

from flask import Request
from twilio.request_validator import RequestValidator, add_port, remove_port


def public_url(base_url: str, request: Request) -> str:
    """The URL Twilio called: PUBLIC_BASE_URL plus path and query, so it works behind a proxy."""
    query = request.query_string.decode("latin-1")
    return f"{base_url}{request.path}" + (f"?{query}" if query else "")


def signed_urls(url: str) -> list[str]:
    """The URLs a valid signature may be over, the one we published first (what Twilio signs),
    then the same without or with its port: what twilio's RequestValidator.validate accepts."""
    parsed = urlsplit(url)
    variants = [url, remove_port(parsed), add_port(parsed)]
    return [v for i, v in enumerate(variants) if v not in variants[:i]]


def is_signed_by_twilio(request: Request, base_url: str, auth_token: str) -> bool:
    """True when the request carries a valid Twilio signature for our public URL and its form.

    The same URLs as twilio's RequestValidator.validate (with or without the port), tried one
    at a time from the published one: one HMAC per genuine request, a port in PUBLIC_BASE_URL
    or not (the port-less form first cost a second HMAC on every request to such a URL).
    """
    signature = request.headers.get("X-Twilio-Signature", "")
    if not signature:
        return False
    validator = RequestValidator(auth_token)
    url = public_url(base_url, request)
    if "bodySHA256" in request.args:  # a JSON body: the validator's own rules
        return bool(validator.validate(url, request.form, signature))
    for candidate in signed_urls(url):
        expected = validator.compute_signature(candidate, request.form)
        if hmac.compare_digest(expected.encode(), signature.encode()):
            return True
    return False


def sign(url: str, params: dict[str, str], auth_token: str) -> str:
    """Compute the signature Twilio would send; used by `hotline simulate` and the tests."""
    return str(RequestValidator(auth_token).compute_signature(url, params))
