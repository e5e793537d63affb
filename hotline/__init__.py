"""The hotline backend: Twilio IVR, volunteer routing, survivor-safe callbacks, dashboard."""

from __future__ import annotations

from flask import Flask

from .settings import Settings, SettingsError

__all__ = ["Settings", "SettingsError", "create_app"]


def create_app(settings: Settings | None = None) -> Flask:
    """Build the WSGI app; refuses to start on bad settings or invalid IVR flows."""
    from . import db, logs, redis_conn
    from .dashboard import views as dashboard
    from .telephony import webhooks

    settings = settings or Settings.from_env()
    app = Flask(__name__)
    app.config["SETTINGS"] = settings
    app.config["SECRET_KEY"] = settings.secret_key
    app.config["MAX_CONTENT_LENGTH"] = 64 * 1024  # Twilio's webhooks are a few hundred bytes

    logs.init_app(app)
    db.init_app(app)
    redis_conn.init_app(app)
    webhooks.init_app(app)
    dashboard.init_app(app)
    return app
