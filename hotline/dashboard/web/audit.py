"""The audit trail: record() for every audited action (the page is accounts/audit_log.py)."""

from __future__ import annotations

import re
from datetime import timedelta

import phonenumbers
from flask import g, request
from sqlalchemy import select

from ...db import get_session
from ...models.audit import AuditEvent
from .clock import now

_DIGIT_RUN = re.compile(r"\+?\d[\d\s().-]{5,}\d")
# A date (8 digits) passes; nine or more digits together could be a number without its prefix.
_MAX_DIGITS = 8

ACTIONS = (
    "login",
    "login_failed",
    "logout",
    "calllog_view",
    "call_view",
    "calllog_export",
    "stats_view",
    "report_view",
    "report_export",
    "callback_cancel",
    "volunteer_create",
    "volunteer_update",
    "volunteer_deactivate",
    "volunteer_reactivate",
    "shift_create",
    "shift_update",
    "shift_delete",
    "availability_change",
    "account_disable",
    "account_enable",
    "login_throttled",  # one row per minute and scope, with the count (accounts/refusals.py)
    "password_change",
    "password_reset",
    "account_unlock",
    "live_view",
    "roster_view",
    "volunteer_view",
    "users_view",
    "audit_view",
    "outcomes_pending_view",
    "outcome_view",
    "outcome_correct",
)


def scrub(text: str | None) -> str | None:
    """Mask anything that could be a phone number: details are built from ids and labels
    already; this is the second line of defence."""
    if not text:
        return text
    for match in phonenumbers.PhoneNumberMatcher(text, "KZ"):
        text = text.replace(match.raw_string, "[number]")
    return _DIGIT_RUN.sub(_mask_long, text)[:500]


def _mask_long(match: re.Match[str]) -> str:
    digits = sum(ch.isdigit() for ch in match.group(0))
    return "[number]" if digits > _MAX_DIGITS else match.group(0)


def record(
    action: str,
    object_type: str | None = None,
    object_id: object = None,
    detail: str | None = None,
    username: str | None = None,
) -> None:
    """Add an audit row for the current user and client (the caller commits)."""
    assert action in ACTIONS, action
    user = g.get("user")  # set by accounts.access.load_user before every dashboard view
    get_session().add(
        AuditEvent(
            at=now(),
            user_id=user.id if user else None,
            username=(user.username if user else username),
            action=action,
            object_type=object_type,
            object_id=None if object_id is None else str(object_id)[:64],
            detail=scrub(detail),
            ip=client_ip(),
        )
    )


def record_view(
    action: str, object_type: str | None = None, object_id: object = None, every: int = 0
) -> None:
    """Audit a page view and commit it. With `every` (seconds), a page that reloads itself
    writes one row per user and object that often, not one per reload."""
    user = g.get("user")
    if every and user is not None:
        since = now() - timedelta(seconds=every)
        recent = get_session().scalar(
            select(AuditEvent.id)
            .where(
                AuditEvent.user_id == user.id,
                AuditEvent.action == action,
                AuditEvent.at > since,
                AuditEvent.object_id == (None if object_id is None else str(object_id)[:64]),
            )
            .limit(1)
        )
        if recent is not None:
            return
    record(action, object_type, object_id)
    get_session().commit()


def client_ip() -> str | None:
    """The client's address as the WSGI server saw it (behind a proxy, configure ProxyFix)."""
    return (request.remote_addr or "")[:45] or None
