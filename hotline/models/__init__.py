"""SQLAlchemy models; importing this package registers every table on Base.metadata."""

from .base import Base, UTCDateTime, utcnow
from .call import CallOutcome, CallRecord, RingAttempt
from .roster import Shift, Volunteer

__all__ = [
    "Base",
    "CallOutcome",
    "CallRecord",
    "RingAttempt",
    "Shift",
    "UTCDateTime",
    "Volunteer",
    "utcnow",
]
