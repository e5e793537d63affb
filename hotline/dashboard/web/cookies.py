"""The dashboard's cookies: one path, and the Secure flag whenever it is served over https."""

from __future__ import annotations

from flask import current_app

COOKIE_PATH = "/dashboard"


def secure_cookies() -> bool:
    """Cookies carry the Secure flag whenever the hotline is served over https."""
    return current_app.config["SETTINGS"].public_base_url.startswith("https://")
