"""Settings: every problem is reported at once, naming the variable, before anything starts."""

from __future__ import annotations

import pytest
from support import test_env

from hotline.settings import Settings, SettingsError


def test_a_complete_environment_gives_typed_settings():
    settings = Settings.from_env(test_env(DATABASE_URL="postgres://u@h/db"))
    assert settings.database_url == "postgresql+psycopg://u@h/db"
    assert settings.timezone == "Asia/Almaty" and settings.redis_url is None
    assert settings.pseudonym_key_version == 1


def test_defaults_are_sqlite_and_almaty():
    env = test_env()
    env.pop("HOTLINE_TIMEZONE")
    settings = Settings.from_env(env)
    assert settings.database_url.startswith("sqlite:///")
    assert settings.timezone == "Asia/Almaty"


def test_every_missing_variable_is_named_in_one_message():
    with pytest.raises(SettingsError) as error:
        Settings.from_env({})
    message = str(error.value)
    for name in (
        "TWILIO_ACCOUNT_SID",
        "TWILIO_AUTH_TOKEN",
        "HOTLINE_PHONE_NUMBER",
        "PUBLIC_BASE_URL",
        "SECRET_KEY",
        "PSEUDONYM_KEY",
        "CALLBACK_ENCRYPTION_KEYS",
    ):
        assert name in message


@pytest.mark.parametrize(
    ("name", "value", "says"),
    [
        ("HOTLINE_PHONE_NUMBER", "8 701 123 45 67", "E.164"),
        ("PUBLIC_BASE_URL", "hotline.example.org", "absolute"),
        ("CALLBACK_ENCRYPTION_KEYS", "not-a-key", "Fernet"),
        ("HOTLINE_TIMEZONE", "Mars/Olympus", "time zone"),
        ("TWILIO_ACCOUNT_SID", "XX123", "AC"),
        ("REDIS_URL", "localhost:6379", "redis://"),
        ("PSEUDONYM_KEY_VERSION", "two", "whole number"),
    ],
)
def test_a_malformed_value_is_refused_with_a_clear_message(name, value, says):
    with pytest.raises(SettingsError) as error:
        Settings.from_env(test_env(**{name: value}))
    assert name in str(error.value) and says in str(error.value)


def test_rotated_callback_keys_are_all_kept_in_order():
    from cryptography.fernet import Fernet

    keys = [Fernet.generate_key().decode() for _ in range(2)]
    settings = Settings.from_env(test_env(CALLBACK_ENCRYPTION_KEYS=",".join(keys)))
    assert settings.callback_encryption_keys == tuple(keys)


def test_the_twilio_purge_waits_five_minutes_by_default_and_can_be_turned_off():
    assert Settings.from_env(test_env()).twilio_purge_delay_seconds == 300
    delay = Settings.from_env(test_env(HOTLINE_TWILIO_PURGE_DELAY_SECONDS="90"))
    assert delay.twilio_purge_delay_seconds == 90
    off = Settings.from_env(test_env(HOTLINE_TWILIO_PURGE_DELAY_SECONDS="off"))
    assert off.twilio_purge_delay_seconds is None
    with pytest.raises(SettingsError, match="HOTLINE_TWILIO_PURGE_DELAY_SECONDS"):
        Settings.from_env(test_env(HOTLINE_TWILIO_PURGE_DELAY_SECONDS="soon"))
