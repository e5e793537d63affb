"""Typed settings: the only code in the project that reads the environment.

Every value is validated once, at start-up, so a bad deploy fails loudly with a message that names
the variable, instead of failing on the first call a survivor makes.
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

PROJECT_ROOT = Path(__file__).resolve().parent.parent
DEFAULT_FLOWS_DIR = PROJECT_ROOT / "ivr_flows"
DEFAULT_CONFIG_DIR = PROJECT_ROOT / "config"
DEFAULT_SQLITE_URL = "sqlite:///var/hotline.db"
DEFAULT_SPOOL_DIR = Path("var/spool")

_E164 = re.compile(r"^\+[1-9]\d{6,14}$")


class SettingsError(Exception):
    """Missing or malformed environment variables; each problem names one and says what to do."""

    def __init__(self, problems: list[str]) -> None:
        self.problems = list(problems)
        super().__init__(
            "The hotline cannot start; fix these settings:\n  - " + "\n  - ".join(self.problems)
        )


@dataclass(frozen=True)
class Settings:
    twilio_account_sid: str
    twilio_auth_token: str
    hotline_phone_number: str
    public_base_url: str
    secret_key: str
    pseudonym_key: bytes
    callback_encryption_keys: tuple[str, ...]
    database_url: str = DEFAULT_SQLITE_URL
    redis_url: str | None = None
    pseudonym_key_version: int = 1
    timezone: str = "Asia/Almaty"
    twilio_api_base_url: str | None = None
    flows_dir: Path = DEFAULT_FLOWS_DIR
    config_dir: Path = DEFAULT_CONFIG_DIR
    # Twilio hard-limits a webhook to 15 s; a database that is slower than this is treated as down.
    db_timeout_seconds: float = 3.0
    log_level: str = "INFO"
    # Call metadata older than this is deleted by `hotline purge` (run it daily).
    retention_days: int = 365
    # Reverse proxies in front of gunicorn whose X-Forwarded-For is trusted (0: none).
    proxy_count: int = 0
    # All of a webhook's database and Redis work ends within this; past it the caller gets the
    # safe answer. Twilio waits 15 s, and a caller in silence for long hangs up.
    webhook_budget_seconds: float = 4.0
    # How often each web process reloads its roster snapshot from the database.
    roster_refresh_seconds: int = 600
    # Call-record events wait here while both Redis and the database are unreachable.
    spool_dir: Path = DEFAULT_SPOOL_DIR
    # How long after a call ends its Twilio records are deleted (None: never, "off").
    twilio_purge_delay_seconds: int | None = 300
    extra: Mapping[str, str] = field(default_factory=dict)

    @property
    def tz(self) -> ZoneInfo:
        return ZoneInfo(self.timezone)

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> Settings:
        """Read and validate the settings; raise SettingsError listing every problem at once."""
        env = os.environ if env is None else env
        problems: list[str] = []

        def required(name: str) -> str:
            value = env.get(name, "").strip()
            if not value:
                problems.append(f"{name} is required but not set (see README, Configuration)")
            return value

        account_sid = required("TWILIO_ACCOUNT_SID")
        if account_sid and not account_sid.startswith("AC"):
            problems.append(
                "TWILIO_ACCOUNT_SID must start with 'AC' (Twilio console, Account Info)"
            )
        auth_token = required("TWILIO_AUTH_TOKEN")
        phone = required("HOTLINE_PHONE_NUMBER")
        if phone and not _E164.match(phone):
            problems.append("HOTLINE_PHONE_NUMBER must be in E.164 form, like +77271234567")
        base_url = required("PUBLIC_BASE_URL").rstrip("/")
        if base_url and not re.match(r"^https?://[^/\s]+(/\S*)?$", base_url):
            problems.append(
                "PUBLIC_BASE_URL must be an absolute http(s) URL, like https://hotline.example.org"
            )
        secret_key = required("SECRET_KEY")
        if secret_key and len(secret_key) < 16:
            problems.append("SECRET_KEY must be at least 16 characters long")
        pseudonym_key = required("PSEUDONYM_KEY")
        if pseudonym_key and len(pseudonym_key) < 16:
            problems.append("PSEUDONYM_KEY must be at least 16 characters long")
        key_version = _int(env, "PSEUDONYM_KEY_VERSION", 1, problems, minimum=1)
        retention_days = _int(env, "HOTLINE_RETENTION_DAYS", 365, problems, minimum=1)
        proxy_count = _int(env, "HOTLINE_PROXY_COUNT", 0, problems, minimum=0)
        refresh = _int(env, "HOTLINE_ROSTER_REFRESH_SECONDS", 600, problems, minimum=1)
        budget = _budget(env.get("HOTLINE_WEBHOOK_BUDGET_SECONDS", ""), problems)
        spool_dir = Path(env.get("HOTLINE_SPOOL_DIR", "").strip() or DEFAULT_SPOOL_DIR)
        purge_delay: int | None = None
        if env.get("HOTLINE_TWILIO_PURGE_DELAY_SECONDS", "").strip().lower() != "off":
            purge_delay = _int(env, "HOTLINE_TWILIO_PURGE_DELAY_SECONDS", 300, problems)
        raw_keys = required("CALLBACK_ENCRYPTION_KEYS")
        callback_keys = tuple(k.strip() for k in raw_keys.split(",") if k.strip())
        for index, key in enumerate(callback_keys, start=1):
            if not _is_fernet_key(key):
                problems.append(
                    f"CALLBACK_ENCRYPTION_KEYS: key {index} is not a Fernet key "
                    "(32 url-safe base64 bytes; make one with `hotline keys new`)"
                )
        timezone = env.get("HOTLINE_TIMEZONE", "Asia/Almaty").strip() or "Asia/Almaty"
        try:
            ZoneInfo(timezone)
        except (ZoneInfoNotFoundError, ValueError):
            problems.append(f"HOTLINE_TIMEZONE {timezone!r} is not an IANA time zone name")
        database_url = normalize_database_url(env.get("DATABASE_URL", "").strip())
        redis_url = env.get("REDIS_URL", "").strip() or None
        if redis_url and not re.match(r"^(redis|rediss|unix)://", redis_url):
            problems.append("REDIS_URL must start with redis://, rediss:// or unix://")
        api_base = env.get("TWILIO_API_BASE_URL", "").strip().rstrip("/") or None
        if api_base and not re.match(r"^https?://", api_base):
            problems.append("TWILIO_API_BASE_URL must be an http(s) URL")
        flows_dir = Path(env.get("HOTLINE_FLOWS_DIR", "").strip() or DEFAULT_FLOWS_DIR)
        config_dir = Path(env.get("HOTLINE_CONFIG_DIR", "").strip() or DEFAULT_CONFIG_DIR)
        log_level = env.get("LOG_LEVEL", "INFO").strip().upper() or "INFO"
        if log_level not in {"DEBUG", "INFO", "WARNING", "ERROR"}:
            problems.append("LOG_LEVEL must be DEBUG, INFO, WARNING or ERROR")

        if problems:
            raise SettingsError(problems)
        return cls(
            twilio_account_sid=account_sid,
            twilio_auth_token=auth_token,
            hotline_phone_number=phone,
            public_base_url=base_url,
            secret_key=secret_key,
            pseudonym_key=pseudonym_key.encode(),
            pseudonym_key_version=key_version,
            callback_encryption_keys=callback_keys,
            database_url=database_url,
            redis_url=redis_url,
            timezone=timezone,
            twilio_api_base_url=api_base,
            flows_dir=flows_dir,
            config_dir=config_dir,
            log_level=log_level,
            retention_days=retention_days,
            proxy_count=proxy_count,
            webhook_budget_seconds=budget,
            roster_refresh_seconds=refresh,
            spool_dir=spool_dir,
            twilio_purge_delay_seconds=purge_delay,
            extra={k: v for k, v in env.items() if k.startswith("HOTLINE_")},
        )


def normalize_database_url(url: str) -> str:
    """Accept the URL forms hosting providers hand out and pick the psycopg 3 driver."""
    if not url:
        return DEFAULT_SQLITE_URL
    for prefix in ("postgres://", "postgresql://"):
        if url.startswith(prefix):
            return "postgresql+psycopg://" + url[len(prefix) :]
    return url


def _int(
    env: Mapping[str, str], name: str, default: int, problems: list[str], minimum: int = 0
) -> int:
    raw = env.get(name, "").strip()
    if not raw:
        return default
    try:
        value = int(raw)
    except ValueError:
        problems.append(f"{name} must be a whole number, got {raw!r}")
        return default
    if value < minimum:
        problems.append(f"{name} must be at least {minimum}")
    return value


def _budget(raw: str, problems: list[str]) -> float:
    if not raw.strip():
        return 4.0
    try:
        value = float(raw)
    except ValueError:
        value = -1.0
    if not 1.0 <= value <= 12.0:
        # Under 1 s a healthy Redis round trip can miss it; over 12 s Twilio (15 s) may give up
        # before the caller hears the safe answer.
        problems.append("HOTLINE_WEBHOOK_BUDGET_SECONDS must be a number of seconds from 1 to 12")
        return 4.0
    return value


def _is_fernet_key(key: str) -> bool:
    import base64
    import binascii

    try:
        return len(base64.urlsafe_b64decode(key.encode())) == 32
    except (binascii.Error, ValueError):
        return False


@dataclass(frozen=True)
class SpeechSettings:
    """Azure Speech, for `hotline audio build --engine azure` only: the hotline never needs it."""

    azure_key: str | None
    azure_region: str | None
    azure_voice: str | None  # e.g. kk-KZ-AigulNeural; None: the engine's default per language
    azure_endpoint: str | None  # another URL for the same REST API (sovereign clouds, tests)

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> SpeechSettings:
        """AZURE_SPEECH_KEY, AZURE_SPEECH_REGION, AZURE_SPEECH_VOICE, AZURE_SPEECH_ENDPOINT."""
        env = os.environ if env is None else env

        def value(name: str) -> str | None:
            return env.get(name, "").strip() or None

        return cls(
            azure_key=value("AZURE_SPEECH_KEY"),
            azure_region=value("AZURE_SPEECH_REGION"),
            azure_voice=value("AZURE_SPEECH_VOICE"),
            azure_endpoint=value("AZURE_SPEECH_ENDPOINT"),
        )
