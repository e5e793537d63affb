"""Who is in a call's conference room now, from Twilio's conference status callbacks.

The room is named by the caller's call sid. Its state sits in Redis (`hotline:room:<sid>`, a hash
role -> joined | left | hold, for the live view) and each event goes to the call's record. No
number: roles only (caller, volunteer, partner).
"""

from __future__ import annotations

import hashlib

from redis import Redis

ROOM_KEY = "hotline:room:{sid}"
KEEP_SECONDS = 6 * 3600  # longer than any call
# Twilio's StatusCallbackEvent values we follow, and the word the record keeps.
ROOM_EVENTS = {
    "conference-start": "start",
    "conference-end": "end",
    "participant-join": "joined",
    "participant-leave": "left",
    "participant-hold": "hold",
    "participant-unhold": "joined",
}


def role_of(room_sid: str, leg_sid: str, label: str) -> str:
    """The participant's role: the caller's own leg, a partner (labelled when dialed), else the
    volunteer."""
    if leg_sid == room_sid:
        return "caller"
    if label.startswith("partner"):
        return "partner"
    return "volunteer" if leg_sid else "room"


def note(redis: Redis, room_sid: str, kind: str, role: str, hold: bool) -> None:
    """Set the participant's state (setting, not counting: a repeated event changes nothing)."""
    key = ROOM_KEY.format(sid=room_sid)
    what = ROOM_EVENTS[kind]
    if role == "room":
        redis.hset(key, "room", what)
    else:
        redis.hset(key, role, "hold" if hold and what == "joined" else what)
    redis.expire(key, KEEP_SECONDS)


def state(redis: Redis, room_sid: str) -> dict[str, str]:
    """Role -> joined | left | hold (and room -> start | end) for one call's room."""
    raw = redis.hgetall(ROOM_KEY.format(sid=room_sid))
    found = {_text(k): _text(v) for k, v in raw.items()}
    return {k: v for k, v in found.items() if not k.startswith("_")}


def remember_conference(redis: Redis, room_sid: str, conference_sid: str) -> None:
    """Twilio's ConferenceSid for the room (the Participants API needs it for a hold)."""
    key = ROOM_KEY.format(sid=room_sid)
    redis.hset(key, "_conference", conference_sid)
    redis.expire(key, KEEP_SECONDS)


def conference_sid(redis: Redis, room_sid: str) -> str | None:
    value = redis.hget(ROOM_KEY.format(sid=room_sid), "_conference")
    return _text(value) if value else None


def event_id(room_sid: str, kind: str, leg_sid: str, sequence: int | None) -> str:
    """An id for the record's event made from the event itself: a redelivery has the same one."""
    text = f"{room_sid}:{kind}:{leg_sid}:{sequence}"
    return hashlib.sha256(text.encode()).hexdigest()[:32]


def _text(value: bytes | str) -> str:
    return value.decode() if isinstance(value, bytes) else str(value)
