"""Fernet encryption for phone numbers at rest; MultiFernet so keys can be rotated."""

from __future__ import annotations

from cryptography.fernet import Fernet, MultiFernet


def make_fernet(keys: tuple[str, ...]) -> MultiFernet:
    """A MultiFernet that encrypts with the first key and decrypts with any of them."""
    if not keys:
        raise ValueError("at least one encryption key is needed (CALLBACK_ENCRYPTION_KEYS)")
    return MultiFernet([Fernet(key.encode("ascii")) for key in keys])


def encrypt(fernet: MultiFernet, text: str) -> str:
    """Encrypt text into an ASCII Fernet token (random IV: equal texts give different tokens)."""
    return fernet.encrypt(text.encode("utf-8")).decode("ascii")


def decrypt(fernet: MultiFernet, token: str) -> str:
    """Decrypt a token made by encrypt(); raises cryptography.fernet.InvalidToken otherwise."""
    return fernet.decrypt(token.encode("ascii")).decode("utf-8")
