"""The audit trail: record() for every audited action, and the supervisors' audit page."""

from __future__ import annotations

import re

import phonenumbers
from flask import render_template, request
from flask.typing import ResponseReturnValue
from sqlalchemy import func, select

from ..db import get_session
from ..models.audit import AuditEvent
from .access import client_ip, current_user, supervisor_only
from .blueprint import bp
from .clock import now
from .i18n import gettext as _
from .params import BadParams, one_of, page_number

PAGE_SIZE = 50
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
    user = current_user()
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


@bp.get("/audit")
@supervisor_only
def audit_log() -> ResponseReturnValue:
    """The audit trail, newest first, filterable by action."""
    try:
        action = one_of(request.args, "action", ACTIONS)
        page = page_number(request.args)
    except BadParams as error:
        return error.page()
    db = get_session()
    query = select(AuditEvent)
    if action:
        query = query.where(AuditEvent.action == action)
    total = db.scalar(select(func.count()).select_from(query.subquery())) or 0
    pages = max(1, -(-total // PAGE_SIZE))
    if page > pages:
        return BadParams([_("page: there are only %(n)s pages", n=pages)]).page(404)
    events = db.scalars(
        query.order_by(AuditEvent.at.desc(), AuditEvent.id.desc())
        .limit(PAGE_SIZE)
        .offset((page - 1) * PAGE_SIZE)
    ).all()
    return render_template(
        "dashboard/audit.html",
        events=events,
        actions=ACTIONS,
        action=action,
        page=page,
        pages=pages,
        total=total,
    )
