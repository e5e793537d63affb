"""Callback numbers typed on a keypad: Kazakh forms accepted, everything unsafe refused."""

from __future__ import annotations

import pytest

from hotline.callbacks.numbers import Reason, check_number, last_two_digits, parse_keypad

MOBILE = "+77011234567"


@pytest.mark.parametrize(
    ("typed", "e164"),
    [
        ("87011234567", MOBILE),  # 8 7xx ... with the trunk prefix
        ("77011234567", MOBILE),  # +7 7xx ... (a keypad has no +)
        ("7011234567", MOBILE),  # the 10 national digits
        ("8 701 123 45 67", MOBILE),
        ("87272123456", "+77272123456"),  # an Almaty landline
        ("87172000000", "+77172000000"),  # an Astana landline
        ("7751234567", "+77751234567"),
    ],
)
def test_kazakh_forms_become_e164(typed: str, e164: str) -> None:
    result = parse_keypad(typed)
    assert result.ok and result.e164 == e164


@pytest.mark.parametrize(
    ("typed", "reason"),
    [
        ("", Reason.EMPTY),
        ("#", Reason.EMPTY),
        ("701123", Reason.TOO_SHORT),
        ("870112345", Reason.TOO_SHORT),
        ("870112345678", Reason.TOO_LONG),
        ("8701123456789012", Reason.TOO_LONG),
        ("80011234567", Reason.NOT_A_NUMBER),  # the right length, but no such number
        ("0123456789", Reason.NOT_A_NUMBER),
        ("88091234567", Reason.PREMIUM_RATE),  # +7 809: premium rate
        ("88001234567", Reason.TOLL_FREE),  # +7 800: a company's free line, not a person
        ("79161234567", Reason.REGION_NOT_ALLOWED),  # a Russian mobile
        ("99011234567", Reason.TOO_LONG),
    ],
)
def test_unsafe_or_wrong_numbers_are_refused_with_a_reason(typed: str, reason: Reason) -> None:
    result = parse_keypad(typed)
    assert not result.ok
    assert result.reason is reason


def test_a_russian_number_is_accepted_when_russia_is_allowed() -> None:
    assert parse_keypad("89161234567", regions=("KZ", "RU")).e164 == "+79161234567"


@pytest.mark.parametrize(
    ("number", "reason"),
    [
        ("+77011234567", None),
        ("+7 701 123 45 67", None),
        ("anonymous", Reason.NOT_A_NUMBER),
        ("+441632960000", Reason.NOT_A_NUMBER),  # reserved for drama: not a real number
        ("+447911123456", Reason.REGION_NOT_ALLOWED),
        ("+7701", Reason.TOO_SHORT),
    ],
)
def test_a_caller_id_is_checked_the_same_way(number: str, reason: Reason | None) -> None:
    assert check_number(number).reason is reason


def test_a_result_never_shows_the_number() -> None:
    assert "1234567" not in repr(parse_keypad("87011234567"))
    assert "1234567" not in repr(parse_keypad("870112345678"))


def test_last_two_digits_for_read_backs() -> None:
    assert last_two_digits(MOBILE) == "67"
    with pytest.raises(ValueError) as error:
        last_two_digits("+")
    assert "+" not in str(error.value)
