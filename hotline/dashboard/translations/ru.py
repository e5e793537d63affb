"""Russian."""

MESSAGES: dict[str, str] = {}
