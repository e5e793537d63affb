"""The dashboard's parent Blueprint: /dashboard/, the shared templates and the static files.

Every feature's own Blueprint is registered under it (wiring.py), so its hooks, error pages and
template helpers apply to every page, and an endpoint reads `dashboard.<feature>.<view>`.
"""

from __future__ import annotations

from flask import Blueprint

bp = Blueprint(
    "dashboard",
    __name__,
    url_prefix="/dashboard",
    template_folder="templates",
    static_folder="static",
)
