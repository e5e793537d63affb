"""The call log, a call's detail and the CSV export."""

from __future__ import annotations

from flask import Blueprint

bp = Blueprint("calls", __name__, template_folder="templates")

from . import views  # noqa: E402, F401 - their routes, on bp
