"""Password hashing with argon2id at OWASP's parameters (19 MiB, 2 iterations, 1 lane)."""

from __future__ import annotations

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError

from .password_policy import MAX_LENGTH, MIN_LENGTH, PasswordProblem, password_problem

__all__ = [
    "MAX_LENGTH",
    "MIN_LENGTH",
    "PasswordProblem",
    "hash_password",
    "needs_rehash",
    "password_problem",
    "verify_password",
]

_HASHER = PasswordHasher(time_cost=2, memory_cost=19456, parallelism=1)
# Verified against when the account does not exist, so unknown and known usernames take the
# same time to refuse.
_DUMMY_HASH = _HASHER.hash("not-a-password-anyone-has")


def hash_password(password: str) -> str:
    """The argon2id PHC string to store for this password."""
    return _HASHER.hash(password)


def verify_password(stored_hash: str | None, password: str) -> bool:
    """Whether password matches; with stored_hash None it still spends the same time."""
    try:
        return _HASHER.verify(stored_hash or _DUMMY_HASH, password) and stored_hash is not None
    except (VerifyMismatchError, VerificationError, InvalidHashError):
        return False


def needs_rehash(stored_hash: str) -> bool:
    """True when the stored hash used weaker parameters than today's."""
    return _HASHER.check_needs_rehash(stored_hash)
