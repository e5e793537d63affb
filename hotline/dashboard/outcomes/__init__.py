"""The volunteer's outcome report and its figures.

    mine.py       the volunteer's phone-sized list of their connected calls and the one-screen form
    supervise.py  pending reports (connected calls nobody reported) and a supervisor's correction
    forms.py      the form's fields in the reader's language, the submitted answers, messages

Its views go on bp (registered under /dashboard/ by wiring.py), its templates in
outcomes/templates/outcomes/. It may import web, accounts and calls; stats, roster and live may
import it (see the layers in hotline/dashboard/__init__.py).
"""

from __future__ import annotations

from flask import Blueprint

bp = Blueprint("outcomes", __name__, template_folder="templates")

from . import mine, supervise  # noqa: E402, F401 - their routes, on bp
