"""The live view (who is on shift, calls and callbacks now) and the week's coverage."""

from __future__ import annotations

from flask import Blueprint

bp = Blueprint("live", __name__, template_folder="templates")

from . import coverage, views  # noqa: E402, F401 - their routes, on bp
