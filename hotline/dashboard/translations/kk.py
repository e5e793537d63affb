"""Kazakh."""

MESSAGES: dict[str, str] = {}
