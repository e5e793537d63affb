"""Pseudonymous caller keys: enough to say "3rd call in 30 days", useless without the secret key."""

from __future__ import annotations

import hashlib
import hmac

import phonenumbers

# What carriers and Twilio send when a caller hides their number.
_WITHHELD = {"", "anonymous", "restricted", "unknown", "private", "unavailable", "+266696687"}


def normalize_number(raw: str | None, default_region: str = "KZ") -> str | None:
    """The E.164 form of a caller's number, or None when it is withheld or not a number."""
    if raw is None or raw.strip().lower() in _WITHHELD:
        return None
    try:
        parsed = phonenumbers.parse(raw.strip(), default_region)
    except phonenumbers.NumberParseException:
        return None
    if not phonenumbers.is_possible_number(parsed):
        return None
    return phonenumbers.format_number(parsed, phonenumbers.PhoneNumberFormat.E164)


def caller_key(raw_number: str | None, key: bytes) -> str | None:
    """HMAC-SHA256 of the E.164 number with the pseudonym key; None for a withheld number.

    A plain hash would be reversible: Kazakh mobile numbers are only about 10^10 values.
    """
    number = normalize_number(raw_number)
    if number is None:
        return None
    return hmac.new(key, number.encode(), hashlib.sha256).hexdigest()
