"""The roster and shift editors, and the volunteer's own page (My shifts)."""

from __future__ import annotations

from flask import Blueprint

bp = Blueprint("roster", __name__, template_folder="templates")

from . import me, shifts, views  # noqa: E402, F401 - their routes, on bp
