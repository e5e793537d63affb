"""The per-account limit: at most LIMIT wrong passwords in a row, then a short PAUSE.

Every password check first takes one of the account's checks in a single conditional UPDATE, so
parallel requests (several web processes, several hosts) can never check more than LIMIT: the
database serializes them on the row. A success gives them back. After LIMIT wrong passwords the
account pauses for PAUSE, then LIMIT more may be tried: guessing stays slow (LIMIT per PAUSE,
besides the per-address limit), and the owner is never kept out for long after an attack stops.
The counter is in the database, so it holds when Redis is down too.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any, cast

from sqlalchemy import CursorResult, and_, case, or_, update
from sqlalchemy.orm import Session

from ...models.account import User

LIMIT = 5  # wrong passwords in a row: room for typos
PAUSE = timedelta(minutes=5)


def take_check(db: Session, user_id: int, now: datetime) -> bool:
    """Take one password check for the account, atomically and committed; False while paused."""
    pause_over = and_(User.locked_until.is_not(None), User.locked_until <= now)
    taken = case((pause_over, 1), else_=User.failed_logins + 1)
    statement = (
        update(User)
        .where(User.id == user_id, or_(User.failed_logins < LIMIT, pause_over))
        .values(
            failed_logins=taken,
            locked_until=case(
                (taken >= LIMIT, now + PAUSE), (pause_over, None), else_=User.locked_until
            ),
        )
        .execution_options(synchronize_session=False)
    )
    result = cast(CursorResult[Any], db.execute(statement))
    # Committed at once: a parallel request must see this check taken before it checks.
    db.commit()
    return result.rowcount == 1


def paused_until(user: User, now: datetime) -> datetime | None:
    """When the account's pause ends, if it is paused now."""
    if (user.failed_logins or 0) >= LIMIT and user.locked_until and user.locked_until > now:
        return user.locked_until
    return None


def give_back(user: User, now: datetime) -> None:
    """The right password: the checks are all free again (the caller commits)."""
    user.failed_logins, user.locked_until, user.last_login_at = 0, None, now


def unlock(user: User) -> None:
    """End a pause now (`hotline users unlock`, a supervisor enabling the account)."""
    user.failed_logins, user.locked_until = 0, None
