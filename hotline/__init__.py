"""The hotline backend: Twilio IVR, volunteer routing, survivor-safe callbacks, dashboard."""

from __future__ import annotations

from typing import TYPE_CHECKING, Literal

from flask import Flask, Request, Response
from flask.sessions import SessionInterface, SessionMixin

from .settings import Settings, SettingsError

if TYPE_CHECKING:
    from .startup import StartupFiles

__all__ = [
    "Settings",
    "SettingsError",
    "create_app",
    "create_dashboard_app",
    "create_webhooks_app",
]

Pool = Literal["all", "twilio", "dashboard"]


def create_app(settings: Settings | None = None, pool: Pool = "all") -> Flask:
    """Build the WSGI app; refuses to start on bad settings, flows or config files.

    `pool` chooses what this process serves: everything (one process for all, as in tests and
    small installs), only the Twilio webhooks, or only the dashboard (see the Procfile).
    Raises SettingsError or hotline.startup.StartupError, each listing every problem.
    """
    from . import db, logs, redis_conn
    from .startup import load_files

    settings = settings or Settings.from_env()
    files = load_files(settings)
    app = Flask(__name__)
    app.config["SETTINGS"] = settings
    app.config["SECRET_KEY"] = settings.secret_key
    app.config["MAX_CONTENT_LENGTH"] = 64 * 1024  # Twilio's webhooks are a few hundred bytes
    app.extensions["outcome_schema"] = files.outcomes  # config/outcomes.yaml, checked

    logs.init_app(app)
    db.init_app(app)
    redis_conn.init_app(app)
    if pool in ("all", "twilio"):
        from .telephony import webhooks

        webhooks.init_app(app, files)
        if pool == "twilio":
            app.session_interface = _NoSessions()
    if pool in ("all", "dashboard"):
        from .dashboard import wiring as dashboard

        if pool == "dashboard":
            _dashboard_needs(app, files)
        dashboard.init_app(app)
    _healthz(app)
    if settings.proxy_count:
        from werkzeug.middleware.proxy_fix import ProxyFix

        # The audit log records who connected: behind N proxies that is in X-Forwarded-For.
        app.wsgi_app = ProxyFix(app.wsgi_app, x_for=settings.proxy_count)  # type: ignore[method-assign]
    return app


def create_webhooks_app(settings: Settings | None = None) -> Flask:
    """Only the Twilio webhooks (and the recorded prompts Twilio fetches): their own pool."""
    return create_app(settings, pool="twilio")


def create_dashboard_app(settings: Settings | None = None) -> Flask:
    """Only the dashboard: a slow export or a flood on its login page cannot delay a call."""
    return create_app(settings, pool="dashboard")


def _dashboard_needs(app: Flask, files: StartupFiles) -> None:
    """What the dashboard reads that the webhooks would otherwise have loaded."""
    from .crypto import make_fernet

    settings = app.config["SETTINGS"]
    app.extensions["routing_policy"] = files.routing
    app.extensions["fernet"] = make_fernet(settings.callback_encryption_keys)


class _NoSessions(SessionInterface):
    """The webhook pool reads no cookie and signs none: no session to open on every request."""

    def open_session(self, app: Flask, request: Request) -> SessionMixin | None:
        return self.make_null_session(app)

    def save_session(self, app: Flask, session: SessionMixin, response: Response) -> None:
        return None


def _healthz(app: Flask) -> None:
    @app.get("/healthz")
    def healthz() -> Response:
        return Response("ok\n", mimetype="text/plain")
