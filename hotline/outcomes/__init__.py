"""Outcome reports: what a volunteer records after a connected call, as closed lists.

    model.py    the fields and options of config/outcomes.yaml (OutcomeSchema), answers checked
    loader.py   reading and checking config/outcomes.yaml; every problem named by file and field

Pure Python: nothing here knows about Flask or SQLAlchemy (the reports themselves are in
hotline.models.outcome, their pages in hotline.dashboard.outcomes).
"""

from .loader import OutcomesError, load_outcomes, parse_outcomes
from .model import Answers, Field, Option, OutcomeSchema

__all__ = [
    "Answers",
    "Field",
    "Option",
    "OutcomeSchema",
    "OutcomesError",
    "load_outcomes",
    "parse_outcomes",
]
