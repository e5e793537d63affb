"""The hotline backend: Twilio IVR, volunteer routing, survivor-safe callbacks, dashboard."""

from __future__ import annotations

from flask import Flask

from .settings import Settings, SettingsError

__all__ = ["Settings", "SettingsError", "create_app"]


def create_app(settings: Settings | None = None) -> Flask:
    """Build the WSGI app; refuses to start on bad settings, flows or config files.

    Raises SettingsError or hotline.startup.StartupError, each listing every problem.
    """
    from . import db, logs, redis_conn
    from .dashboard import wiring as dashboard
    from .startup import load_files
    from .telephony import webhooks

    settings = settings or Settings.from_env()
    files = load_files(settings)
    app = Flask(__name__)
    app.config["SETTINGS"] = settings
    app.config["SECRET_KEY"] = settings.secret_key
    app.config["MAX_CONTENT_LENGTH"] = 64 * 1024  # Twilio's webhooks are a few hundred bytes

    logs.init_app(app)
    db.init_app(app)
    redis_conn.init_app(app)
    webhooks.init_app(app, files)
    dashboard.init_app(app)
    if settings.proxy_count:
        from werkzeug.middleware.proxy_fix import ProxyFix

        # The audit log records who connected: behind N proxies that is in X-Forwarded-For.
        app.wsgi_app = ProxyFix(app.wsgi_app, x_for=settings.proxy_count)  # type: ignore[method-assign]
    return app
