"""SQLAlchemy models; importing this package registers every table on Base.metadata."""

from .account import DashboardSession, Role, User
from .audit import AuditEvent
from .base import Base, UTCDateTime, utcnow
from .call import CallOutcome, CallRecord, RingAttempt
from .callback import AttemptOutcome, CallbackAttempt, CallbackRequest, CallbackStatus
from .coordination import AppliedEvent, VolunteerClaim, WebhookReply
from .daily import (
    CallbackDay,
    ClosedDay,
    DailyCallbacks,
    DailyCalls,
    DailyOutcomes,
    DailyUnanswered,
    DailyWaits,
)
from .outcome import OutcomeChoice, OutcomeReport
from .roster import Shift, Volunteer
from .twilio_purge import PlacedLeg, PurgeRun, PurgeSource, PurgeStatus, TwilioCallPurge

__all__ = [
    "AppliedEvent",
    "AttemptOutcome",
    "AuditEvent",
    "Base",
    "CallOutcome",
    "CallRecord",
    "CallbackAttempt",
    "CallbackDay",
    "CallbackRequest",
    "CallbackStatus",
    "ClosedDay",
    "DailyCallbacks",
    "DailyCalls",
    "DailyOutcomes",
    "DailyUnanswered",
    "DailyWaits",
    "DashboardSession",
    "OutcomeChoice",
    "OutcomeReport",
    "PlacedLeg",
    "PurgeRun",
    "PurgeSource",
    "PurgeStatus",
    "RingAttempt",
    "Role",
    "Shift",
    "TwilioCallPurge",
    "UTCDateTime",
    "User",
    "Volunteer",
    "VolunteerClaim",
    "WebhookReply",
    "utcnow",
]
