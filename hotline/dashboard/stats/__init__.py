"""Statistics, the funders' report, their charts, small-cell suppression and periods."""

from __future__ import annotations

from flask import Blueprint

bp = Blueprint("stats", __name__, template_folder="templates")

from . import report, views  # noqa: E402, F401 - their routes, on bp
