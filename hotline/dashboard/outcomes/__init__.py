"""The volunteer's outcome report and its figures: a room kept ready, with no pages yet.

Its views go on bp (already registered under /dashboard/ by wiring.py), its templates in
outcomes/templates/outcomes/. It may import web, accounts and calls; stats, roster and live may
import it (see the layers in hotline/dashboard/__init__.py).
"""

from __future__ import annotations

from flask import Blueprint

bp = Blueprint("outcomes", __name__, template_folder="templates")
