"""Check a callback number typed on the keypad (or the caller's own): E.164, or why not. Pure.

A rejection carries a reason code, never the digits: it ends up in logs and call records.
"""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass
from enum import StrEnum

import phonenumbers
from phonenumbers import PhoneNumberType, ValidationResult

DEFAULT_REGIONS = ("KZ",)
# Kazakh national numbers are 10 digits after the country code 7 (or the trunk prefix 8).
_NATIONAL_DIGITS = 10


class Reason(StrEnum):
    EMPTY = "empty"
    TOO_SHORT = "too_short"
    TOO_LONG = "too_long"
    NOT_A_NUMBER = "not_a_number"  # the right length, but no such number
    PREMIUM_RATE = "premium_rate"
    SHARED_COST = "shared_cost"
    TOLL_FREE = "toll_free"
    NOT_CALLABLE = "not_callable"  # pagers, voicemail-only, universal access numbers
    REGION_NOT_ALLOWED = "region_not_allowed"  # valid, but outside the regions we call


# Calling these would cost the hotline, reach a company, or reach a mailbox, never a person.
_REJECTED_TYPES = {
    PhoneNumberType.PREMIUM_RATE: Reason.PREMIUM_RATE,
    PhoneNumberType.SHARED_COST: Reason.SHARED_COST,
    PhoneNumberType.TOLL_FREE: Reason.TOLL_FREE,
    PhoneNumberType.PAGER: Reason.NOT_CALLABLE,
    PhoneNumberType.UAN: Reason.NOT_CALLABLE,
    PhoneNumberType.VOICEMAIL: Reason.NOT_CALLABLE,
    PhoneNumberType.UNKNOWN: Reason.NOT_A_NUMBER,
}


@dataclass(frozen=True)
class CheckedNumber:
    """Either e164 (accepted) or reason (rejected)."""

    e164: str | None = None
    reason: Reason | None = None

    @property
    def ok(self) -> bool:
        return self.e164 is not None

    def __repr__(self) -> str:  # never print the number
        return "CheckedNumber(ok)" if self.ok else f"CheckedNumber({self.reason})"


def parse_keypad(digits: str, regions: Collection[str] = DEFAULT_REGIONS) -> CheckedNumber:
    """Check digits typed on a phone keypad: 87011234567, 77011234567 or 7011234567."""
    typed = "".join(ch for ch in digits if ch.isdigit())
    if not typed:
        return CheckedNumber(reason=Reason.EMPTY)
    # A keypad cannot type "+": 8 (trunk prefix) or 7 (country code) before the 10 digits.
    if len(typed) == _NATIONAL_DIGITS + 1 and typed[0] in "78":
        candidate = "+7" + typed[1:]
    elif len(typed) == _NATIONAL_DIGITS:
        candidate = "+7" + typed
    elif len(typed) < _NATIONAL_DIGITS:
        return CheckedNumber(reason=Reason.TOO_SHORT)
    else:
        return CheckedNumber(reason=Reason.TOO_LONG)
    return check_number(candidate, regions)


def check_number(number: str, regions: Collection[str] = DEFAULT_REGIONS) -> CheckedNumber:
    """Check a number in international form (+7 701 123 45 67, or a caller id from Twilio)."""
    try:
        parsed = phonenumbers.parse(number, "KZ")
    except phonenumbers.NumberParseException:
        return CheckedNumber(reason=Reason.NOT_A_NUMBER)
    possible = phonenumbers.is_possible_number_with_reason(parsed)
    if possible in (ValidationResult.TOO_SHORT, ValidationResult.INVALID_LENGTH):
        return CheckedNumber(reason=Reason.TOO_SHORT)
    if possible == ValidationResult.TOO_LONG:
        return CheckedNumber(reason=Reason.TOO_LONG)
    if possible != ValidationResult.IS_POSSIBLE or not phonenumbers.is_valid_number(parsed):
        return CheckedNumber(reason=Reason.NOT_A_NUMBER)
    # Type before region: +7 809 is a premium line whatever country the library files it under.
    rejected = _REJECTED_TYPES.get(phonenumbers.number_type(parsed))
    if rejected is not None:
        return CheckedNumber(reason=rejected)
    if phonenumbers.region_code_for_number(parsed) not in regions:
        return CheckedNumber(reason=Reason.REGION_NOT_ALLOWED)
    return CheckedNumber(
        e164=phonenumbers.format_number(parsed, phonenumbers.PhoneNumberFormat.E164)
    )


def last_two_digits(e164: str) -> str:
    """The last two digits, what a read-back says ("the number ending in 67")."""
    digits = "".join(ch for ch in e164 if ch.isdigit())
    if len(digits) < 2:
        raise ValueError("not a phone number")
    return digits[-2:]
