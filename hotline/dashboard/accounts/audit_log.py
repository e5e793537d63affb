"""The supervisors' audit page: who did what, newest first."""

from __future__ import annotations

from flask import render_template, request
from flask.typing import ResponseReturnValue
from sqlalchemy import func, select

from ...db import get_session
from ...models.audit import AuditEvent
from ..web.audit import ACTIONS
from ..web.i18n import ngettext
from ..web.params import BadParams, one_of, page_number
from . import bp
from .access import supervisor_only

PAGE_SIZE = 50


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
        return BadParams(
            [
                ngettext(
                    "page: there is only %(num)s page", "page: there are only %(num)s pages", pages
                )
            ]
        ).page(404)
    events = db.scalars(
        query.order_by(AuditEvent.at.desc(), AuditEvent.id.desc())
        .limit(PAGE_SIZE)
        .offset((page - 1) * PAGE_SIZE)
    ).all()
    return render_template(
        "accounts/audit.html",
        events=events,
        actions=ACTIONS,
        action=action,
        page=page,
        pages=pages,
        total=total,
    )
