"""Accounts: sign-in, sessions, passwords, access rules, the Accounts and Audit pages."""

from __future__ import annotations

from flask import Blueprint

bp = Blueprint("accounts", __name__, template_folder="templates")

from . import audit_log, login, users_page  # noqa: E402, F401 - their routes, on bp
