"""Dashboard accounts follow the roster: a volunteer taken off it can no longer sign in.

Shared by `hotline roster import` and the dashboard's Deactivate, so both do the same thing.
"""

from __future__ import annotations

from collections.abc import Iterable

from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from .models.account import DashboardSession, User


def disable_volunteer_accounts(session: Session, volunteer_ids: Iterable[int]) -> list[str]:
    """Disable every active account linked to these volunteers and end all its sessions at once
    (the caller commits); the usernames disabled."""
    ids = list(volunteer_ids)
    if not ids:
        return []
    accounts = list(
        session.scalars(select(User).where(User.volunteer_id.in_(ids), User.active.is_(True)))
    )
    for account in accounts:
        account.active = False
    if accounts:
        session.execute(
            delete(DashboardSession).where(DashboardSession.user_id.in_([a.id for a in accounts]))
        )
    return [account.username for account in accounts]
