"""Which new passwords are refused: too short, common or breached, or built on the username.

The lists are zxcvbn's (the maintained Python port of Dropbox's estimator, on PyPI): the 30,000
most frequent passwords of public breach corpora, plus English words, names and film and TV
vocabulary, with its detection of keyboard walks, repeats, sequences, dates and l33t spellings.
A password must not be on the breached list, must not contain the username, and must score at
least 3 of 4 (zxcvbn: "safely unguessable: moderate protection from offline slow-hash
scenario", about 10^8 guesses or more) with the username and the hotline's own words counted as
known to an attacker.
"""

from __future__ import annotations

from collections.abc import Iterable
from enum import StrEnum

from zxcvbn import zxcvbn
from zxcvbn.frequency_lists import FREQUENCY_LISTS

MIN_LENGTH = 12
MAX_LENGTH = 256  # argon2 copes with any length; the cap only bounds a form post
MIN_SCORE = 3
# zxcvbn's matching grows with the length; beyond this a password is long enough anyway.
_ESTIMATE_CHARS = 64
_BREACHED = frozenset(FREQUENCY_LISTS["passwords"])
# Words an attacker aiming at this hotline tries first.
_OWN_WORDS = ("hotline", "dashboard", "supervisor", "volunteer", "telefon", "doverie")


class PasswordProblem(StrEnum):
    """Why a new password is refused (the dashboard shows each in the reader's language)."""

    TOO_SHORT = f"the password must be at least {MIN_LENGTH} characters long"
    TOO_LONG = f"the password must be at most {MAX_LENGTH} characters long"
    CONTAINS_USERNAME = "the password must not contain the username"
    BREACHED = "this password is on a list of common or breached passwords"
    GUESSABLE = (
        "this password is too easy to guess (a common word or name, a keyboard or letter "
        "pattern, a repeat or a date); several unrelated words make a good one"
    )


def password_problem(
    password: str, username: str | None = None, known: Iterable[str] = ()
) -> PasswordProblem | None:
    """Why `password` is refused for `username`, or None when it is acceptable.

    `known` adds words an attacker would know (the volunteer's name, say).
    """
    if len(password) < MIN_LENGTH:
        return PasswordProblem.TOO_SHORT
    if len(password) > MAX_LENGTH:
        return PasswordProblem.TOO_LONG
    lowered = password.lower()
    name = (username or "").strip().lower()
    if len(name) >= 3 and name in lowered:
        return PasswordProblem.CONTAINS_USERNAME
    if lowered in _BREACHED:
        return PasswordProblem.BREACHED
    inputs = [word for word in (name, *known, *_OWN_WORDS) if word]
    if zxcvbn(password[:_ESTIMATE_CHARS], user_inputs=inputs)["score"] < MIN_SCORE:
        return PasswordProblem.GUESSABLE
    return None
