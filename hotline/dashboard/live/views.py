"""The live view: calls now, who is on shift and free, the callback queue (refreshes itself)."""

from __future__ import annotations

import logging
from datetime import timedelta

from flask import abort, redirect, render_template, url_for
from flask.typing import ResponseReturnValue
from redis.exceptions import RedisError
from sqlalchemy import select

from ...callbacks.attempts import cancel_request
from ...db import get_session
from ...models.call import CallOutcome, CallRecord
from ...models.callback import OPEN_STATUSES, CallbackRequest
from ...redis_conn import get_redis
from ...routing import line, line_store, wrap_up
from ...routing.claims import claimed_ids
from ...telephony import room
from ...telephony.callback_calls import runtime
from ..accounts.access import current_user, supervisor_only
from ..roster.read import active_volunteers, on_shift_now
from ..web import audit
from ..web.clock import now
from ..web.formatting import hotline_tz
from . import bp

log = logging.getLogger(__name__)
REFRESH_SECONDS = 15
LIVE_AUDIT_SECONDS = 600
# A record still open after the longest allowed call (Dial timeLimit, 4 h) lost its status
# callback; it is not "live" any more.
STALE_AFTER = timedelta(hours=4)
STAGES = {
    CallOutcome.IN_MENU.value: "menu",
    CallOutcome.EMERGENCY_INFO.value: "menu",
    CallOutcome.ROUTING.value: "ringing",
    CallOutcome.CONNECTED.value: "connected",
}


def _busy(ids: list[int]) -> tuple[set[int] | None, set[int]]:
    """Who is claimed (on a call or being rung), and who of them is wrapping up after a call;
    (None, empty) when Redis cannot say."""
    redis = get_redis()
    if redis is None:
        return None, set()
    try:
        return claimed_ids(redis, ids), wrap_up.in_wrap_up(redis, ids)
    except RedisError:
        log.warning("live view: Redis unavailable, free/busy unknown")
        return None, set()


def _waiting_line() -> list[dict[str, object]] | None:
    """Who waits in line now (place, topic, language, seconds waited); None when Redis is away."""
    redis = get_redis()
    if redis is None:
        return None
    try:
        callers = line_store.callers(redis)
    except RedisError:
        log.warning("live view: Redis unavailable, the waiting line is unknown")
        return None
    at = now()
    return [
        {
            "place": line.position(callers, caller.call_sid),
            "topic": caller.topic,
            "language": caller.language,
            "waited": caller.waited_seconds(at),
            "ringing": caller.offered_to is not None,
        }
        for caller in line.in_order(callers)
    ]


def _rooms(calls: list[CallRecord]) -> dict[str, dict[str, str]]:
    """Who is in each connected call's conference room (role -> joined | hold | left)."""
    redis = get_redis()
    if redis is None or not calls:
        return {}
    try:
        return {call.call_sid: room.state(redis, call.call_sid) for call in calls}
    except RedisError:
        return {}


@bp.get("/live")
@supervisor_only
def live() -> ResponseReturnValue:
    """What is happening now; the page reloads itself every REFRESH_SECONDS."""
    db = get_session()
    at = now()
    calls = db.scalars(
        select(CallRecord)
        .where(CallRecord.ended_at.is_(None), CallRecord.started_at >= at - STALE_AFTER)
        .order_by(CallRecord.started_at)
    ).all()
    stages = {"menu": [], "ringing": [], "connected": []}  # type: dict[str, list[CallRecord]]
    for call in calls:
        stage = STAGES.get(call.outcome)
        if stage:
            stages[stage].append(call)
    on_shift = on_shift_now(active_volunteers(db), at, hotline_tz())
    busy, wrapping_up = _busy([v.id for v in on_shift])
    queue = db.scalars(
        select(CallbackRequest)
        .where(CallbackRequest.status.in_(OPEN_STATUSES))
        .order_by(CallbackRequest.created_at)
    ).all()
    # The page reloads itself: one row per 10 minutes of watching, not one per reload.
    audit.record_view("live_view", every=LIVE_AUDIT_SECONDS)
    return render_template(
        "live/live.html",
        stages=stages,
        on_shift=on_shift,
        busy=busy,
        wrapping_up=wrapping_up,
        queue=queue,
        waiting=_waiting_line(),
        rooms=_rooms(stages["connected"]),
        at=at,
        refresh=REFRESH_SECONDS,
    )


@bp.post("/callbacks/<int:request_id>/cancel")
@supervisor_only
def cancel_callback(request_id: int) -> ResponseReturnValue:
    """Cancel an open callback request (its number is erased by the service)."""
    db = get_session()
    if db.get(CallbackRequest, request_id) is None:
        abort(404)
    user = current_user()
    # Erases the number and hangs up a volunteer's leg that is still ringing for this request.
    cancelled = cancel_request(runtime(), request_id, by=f"dashboard:{user.username}")  # type: ignore[union-attr]
    audit.record(
        "callback_cancel",
        "callback",
        request_id,
        detail="cancelled" if cancelled else "already ended",
    )
    db.commit()
    return redirect(url_for("dashboard.live.live", cancelled=request_id if cancelled else None))
