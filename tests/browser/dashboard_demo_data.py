"""A realistic, reproducible hotline for the browser tests and screenshots: a roster with shifts,
six weeks of calls, calls in progress and callbacks waiting."""

from __future__ import annotations

import random
import secrets
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from hotline.callbacks.service import request_callback
from hotline.crypto import encrypt, make_fernet
from hotline.dashboard.accounts.users import create_user
from hotline.db import Database
from hotline.models import CallRecord, RingAttempt, Shift, Volunteer
from hotline.settings import Settings

PASSWORD = "browser test passphrase"
DAYS = 42
# handle, name, roles, topics, languages, shifts (days, start, end in minutes)
ROSTER = [
    (
        "aigerim",
        "Aigerim S.",
        ["psychologist"],
        ["violence", "trafficking"],
        ["kk", "ru"],
        [(["mon", "tue", "wed", "thu", "fri"], 540, 1080)],
    ),
    (
        "dana",
        "Dana K.",
        ["lawyer"],
        ["violence", "trafficking", "labor"],
        ["ru", "en"],
        [(["mon", "wed", "fri"], 600, 1320)],
    ),
    (
        "marat",
        "Marat B.",
        ["lawyer"],
        ["labor", "trafficking"],
        ["ru", "kk"],
        [(["tue", "thu", "sat"], 480, 1020)],
    ),
    (
        "saule",
        "Saule T.",
        ["psychologist"],
        ["violence"],
        ["kk", "ru"],
        [(["sat", "sun"], 600, 1320), (["wed"], 1080, 1440)],
    ),
    (
        "yerlan",
        "Yerlan N.",
        ["social_worker", "psychologist"],
        ["violence", "labor"],
        ["ru"],
        [(["mon", "tue", "wed", "thu", "fri", "sat", "sun"], 1260, 360)],
    ),
    (
        "gulnara",
        "Gulnara A.",
        ["lawyer", "psychologist"],
        ["violence", "trafficking"],
        ["kk", "ru", "en"],
        [(["thu", "fri", "sat", "sun"], 720, 1200)],
    ),
    ("timur", "Timur Zh.", ["lawyer"], ["labor"], ["ru", "kk"], [(["mon", "fri"], 540, 780)]),
    (
        "aliya",
        "Aliya M.",
        ["psychologist"],
        ["violence"],
        ["ru", "en"],
        [(["tue", "thu"], 1020, 1380)],
    ),
]
PHONES = [
    f"+7701{n:07d}"
    for n in (4410021, 4410032, 4410043, 4410054, 4410065, 4410076, 4410087, 4410098)
]
CALLBACK_NUMBERS = ["+77052223344", "+77078889900", "+77475556677"]
OUTCOMES = [
    ("connected", 60),
    ("nobody_available", 8),
    ("no_answer", 5),
    ("declined_by_all", 3),
    ("callback_requested", 7),
    ("abandoned_waiting", 6),
    ("abandoned_in_menu", 6),
    ("emergency_info", 4),
    ("failed", 1),
]
HOURS = [1, 1, 1, 1, 1, 1, 2, 3, 4, 5, 6, 6, 6, 6, 6, 6, 7, 7, 8, 9, 9, 8, 5, 3]


@dataclass(frozen=True)
class Demo:
    phones: tuple[str, ...]  # every number in the data: none may show on any page


def seed(env: dict[str, str], now: datetime | None = None) -> Demo:
    """Fill the server's database; the same data on every run (fixed random seed)."""
    settings = Settings.from_env(env)
    fernet = make_fernet(settings.callback_encryption_keys)
    now = now or datetime.now(UTC)
    rng = random.Random(20260310)
    store = Database(settings.database_url)
    with store.session() as session:
        volunteers = []
        for (handle, name, roles, topics, languages, shifts), phone in zip(
            ROSTER, PHONES, strict=True
        ):
            volunteer = Volunteer(
                handle=handle,
                display_name=name,
                phone_encrypted=encrypt(fernet, phone),
                phone_last_digits=phone[-2:],
                roles=roles,
                topics=topics,
                languages=languages,
                active=True,
                available=True,
                shifts=[Shift(days=d, start_minute=s, end_minute=e) for d, s, e in shifts],
            )
            session.add(volunteer)
            volunteers.append(volunteer)
        session.flush()
        create_user(session, "boss", PASSWORD, "supervisor")
        create_user(session, "aigerim", PASSWORD, "volunteer", "aigerim")
        _calls(session, rng, volunteers, now)
    with store.session() as session:
        for minutes, number, topic in zip(
            (95, 40, 12), CALLBACK_NUMBERS, ("trafficking", "violence", "labor"), strict=True
        ):
            request_callback(
                session,
                fernet,
                None,
                number_e164=number,
                topic=topic,
                language="kk" if topic != "labor" else "ru",
                window="evening",
                identify=False,
                call_record_id=None,
                now=now - timedelta(minutes=minutes),
                tz=settings.tz,
            )
    store.dispose()
    return Demo(phones=(*PHONES, *CALLBACK_NUMBERS))


def _calls(session, rng: random.Random, volunteers: list[Volunteer], now: datetime) -> None:
    keys = [secrets.token_hex(32) for _ in range(260)]
    outcomes, weights = zip(*OUTCOMES, strict=True)
    for day in range(DAYS, -1, -1):
        base = (now - timedelta(days=day)).replace(hour=0, minute=0, second=0, microsecond=0)
        for _ in range(rng.randint(9, 22)):
            local_hour = rng.choices(range(24), HOURS)[0]
            started = base + timedelta(hours=local_hour - 5, minutes=rng.randint(0, 59))
            if started >= now - timedelta(minutes=30):
                continue
            outcome = rng.choices(outcomes, weights)[0]
            if local_hour < 7 and outcome == "connected" and rng.random() < 0.5:
                outcome = "nobody_available"  # nights are thin: more calls go unanswered
            session.add(_call(rng, keys, volunteers, started, outcome))
    for minutes, outcome in ((3, "routing"), (9, "connected"), (1, "in_menu")):
        call = _call(rng, keys, volunteers, now - timedelta(minutes=minutes), outcome)
        call.ended_at, call.duration_seconds = None, None
        session.add(call)


def _call(rng, keys, volunteers, started: datetime, outcome: str) -> CallRecord:
    topic = rng.choices(["violence", "trafficking", "labor", None], [50, 20, 25, 5])[0]
    if outcome in {"abandoned_in_menu", "emergency_info"}:
        topic = None if rng.random() < 0.6 else topic
    language = rng.choices(["ru", "kk", "en"], [55, 37, 8])[0]
    path = ["greeting", f"language:{ {'kk': 1, 'ru': 2, 'en': 3}[language] }"]
    if topic:
        path += [
            f"topic:{ {'violence': 1, 'trafficking': 2, 'labor': 3}[topic] }",
            f"route:{topic}",
        ]
    call = CallRecord(
        call_sid="CA" + secrets.token_hex(16),
        caller_key=rng.choice(keys),
        caller_key_version=1,
        language=language,
        topic=topic,
        ivr_path=path,
        outcome=outcome,
        started_at=started,
        twilio_status="completed",
    )
    wait = rng.randint(8, 75)
    attempts = []
    if topic and outcome not in {"abandoned_in_menu", "emergency_info", "failed"}:
        call.routed_at = started + timedelta(seconds=rng.randint(20, 60))
        rung = rng.sample(volunteers, k=rng.randint(1, 3))
        for i, volunteer in enumerate(rung):
            last = i == len(rung) - 1
            accepted = last and outcome == "connected"
            attempts.append(
                RingAttempt(
                    volunteer_id=volunteer.id,
                    started_at=call.routed_at + timedelta(seconds=22 * i),
                    outcome="accepted"
                    if accepted
                    else rng.choice(["no_answer", "declined", "busy"]),
                )
            )
        if outcome == "connected":
            call.answered_by_id = rung[-1].id
            call.wait_seconds = wait
            call.connected_at = call.routed_at + timedelta(seconds=wait)
            call.duration_seconds = rng.randint(180, 2400)
            attempts[-1].duration_seconds = call.duration_seconds
    call.attempts = attempts
    call.ended_at = started + timedelta(seconds=(call.duration_seconds or 60) + wait + 40)
    return call
