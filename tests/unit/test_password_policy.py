"""New passwords: refused when short, common or breached, guessable, or built on the username."""

from __future__ import annotations

import pytest

from hotline.dashboard.accounts.password_policy import PasswordProblem, password_problem


@pytest.mark.parametrize(
    ("password", "problem"),
    [
        ("short", PasswordProblem.TOO_SHORT),
        ("x" * 257, PasswordProblem.TOO_LONG),
        # The four that were accepted before (12 characters was the only rule).
        ("passwordpass", PasswordProblem.GUESSABLE),
        ("aaaaaaaaaaaa", PasswordProblem.GUESSABLE),
        ("123456789012", PasswordProblem.GUESSABLE),
        ("dana.supervisor", PasswordProblem.CONTAINS_USERNAME),
        ("Dana.Supervisor-2026", PasswordProblem.CONTAINS_USERNAME),  # whatever the case
        # On the breached list itself (zxcvbn's 30,000 most frequent).
        ("password1234", PasswordProblem.BREACHED),
        ("qwertyuiop12", PasswordProblem.BREACHED),
        ("iloveyou2026", PasswordProblem.GUESSABLE),
        ("volunteer123456", PasswordProblem.GUESSABLE),  # the hotline's own words count as known
    ],
)
def test_weak_passwords_are_refused_with_the_reason(password, problem):
    assert password_problem(password, "dana.supervisor") is problem


@pytest.mark.parametrize(
    "password",
    ["tulpar kumys zhel aspan", "correct horse battery staple", "Qw7!vB9#kLp2xZ"],
)
def test_strong_passwords_pass(password):
    assert password_problem(password, "dana.supervisor") is None


def test_a_name_the_attacker_knows_weakens_a_password():
    assert password_problem("AigerimSerikova", "a.serikova") is None
    assert password_problem("AigerimSerikova", "a.serikova", ["aigerim", "serikova"]) is not None
