"""config/callbacks.yaml: retries, ring timeouts, the neutral caller id. Errors name every field."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path
from typing import Any

import phonenumbers
import yaml

from ..yaml_errors import describe as describe_yaml_error
from .retry import RetryPolicy

_E164 = re.compile(r"^\+[1-9]\d{6,14}$")


class CallbackConfigError(Exception):
    """The callbacks file is unreadable or invalid; the message names the file and fields."""


@dataclass(frozen=True)
class CallbackConfig:
    retry: RetryPolicy = field(default_factory=RetryPolicy)
    # The number callers see; None means HOTLINE_PHONE_NUMBER.
    caller_id: str | None = None
    caller_ring_timeout_seconds: int = 30
    volunteer_ring_timeout_seconds: int = 25
    # A volunteer who declined or missed a callback is not asked again for this long.
    decline_cooldown: timedelta = timedelta(minutes=30)
    # Volunteer legs per try before pausing (busy_delay): bounds a loop of declines.
    max_volunteers_per_round: int = 5
    sweep_interval_seconds: int = 60
    regions: tuple[str, ...] = ("KZ",)

    def neutral_caller_id(self, hotline_number: str) -> str:
        """The caller id the survivor's phone shows."""
        return self.caller_id or hotline_number


# name: (section, key, minimum, maximum, why the bounds)
_INTS = {
    "max_attempts": ("retry", "max_attempts", 1, 10, "each try rings a phone an abuser may hold"),
    "horizon_hours": ("retry", "horizon_hours", 1, 24 * 14, "two weeks at most"),
    "busy_retry_minutes": ("retry", "busy_retry_minutes", 1, 240, "minutes"),
    "volunteer_ring": (
        "volunteers",
        "ring_timeout_seconds",
        5,
        60,
        "Twilio's minimum is 5; voicemail by 60",
    ),
    "decline_cooldown": ("volunteers", "decline_cooldown_minutes", 0, 24 * 60, "minutes"),
    "max_per_round": ("volunteers", "max_per_round", 1, 50, "legs per try"),
    "caller_ring": ("caller", "ring_timeout_seconds", 5, 60, "Twilio's minimum is 5"),
    "sweep": ("sweeper", "interval_seconds", 10, 3600, "seconds"),
}
_SECTIONS = {
    "retry": {"backoff_minutes", "max_attempts", "horizon_hours", "busy_retry_minutes"},
    "volunteers": {"ring_timeout_seconds", "decline_cooldown_minutes", "max_per_round"},
    "caller": {"caller_id", "ring_timeout_seconds", "regions"},
    "sweeper": {"interval_seconds"},
}


def load_config(path: str | Path) -> CallbackConfig:
    """Read and validate config/callbacks.yaml; a missing file means the defaults."""
    source = str(path)
    try:
        text = Path(path).read_text(encoding="utf-8")
    except FileNotFoundError:
        return CallbackConfig()
    except OSError as exc:
        raise CallbackConfigError(f"{source}: cannot read the file ({exc.strerror})") from None
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        raise CallbackConfigError(f"{source}: {describe_yaml_error(exc)}") from None
    return parse_config(data, source)


def parse_config(data: Any, source: str = "callbacks config") -> CallbackConfig:
    """Validate parsed YAML into a CallbackConfig; missing fields get their defaults."""
    data = {} if data is None else data
    if not isinstance(data, dict):
        raise CallbackConfigError(f"{source}: expected a mapping of sections at the top level")
    problems: list[str] = []
    sections: dict[str, dict[str, Any]] = {}
    for name in sorted(set(data) - set(_SECTIONS), key=str):
        problems.append(f"{name}: unknown section (known: {', '.join(sorted(_SECTIONS))})")
    for name, keys in _SECTIONS.items():
        section = data.get(name) or {}
        if not isinstance(section, dict):
            problems.append(f"{name}: expected a mapping")
            section = {}
        for key in sorted(set(section) - keys, key=str):
            problems.append(f"{name}.{key}: unknown setting (known: {', '.join(sorted(keys))})")
        sections[name] = section

    defaults = CallbackConfig()
    default_values = {
        "max_attempts": defaults.retry.max_attempts,
        "horizon_hours": int(defaults.retry.horizon / timedelta(hours=1)),
        "busy_retry_minutes": int(defaults.retry.busy_delay / timedelta(minutes=1)),
        "volunteer_ring": defaults.volunteer_ring_timeout_seconds,
        "decline_cooldown": int(defaults.decline_cooldown / timedelta(minutes=1)),
        "max_per_round": defaults.max_volunteers_per_round,
        "caller_ring": defaults.caller_ring_timeout_seconds,
        "sweep": defaults.sweep_interval_seconds,
    }
    ints: dict[str, int] = {}
    for name, (section, key, low, high, why) in _INTS.items():
        value = sections[section].get(key, default_values[name])
        if isinstance(value, bool) or not isinstance(value, int):
            problems.append(f"{section}.{key}: expected a whole number, got {value!r}")
        elif not low <= value <= high:
            problems.append(f"{section}.{key}: {value} is outside {low}..{high} ({why})")
        else:
            ints[name] = value

    backoff = sections["retry"].get("backoff_minutes", [15, 60, 180])
    if (
        not isinstance(backoff, list)
        or not backoff
        or not all(isinstance(m, int) and not isinstance(m, bool) and m > 0 for m in backoff)
    ):
        problems.append("retry.backoff_minutes: expected a list of positive whole minutes")
        backoff = [15]

    caller_id = sections["caller"].get("caller_id")
    if caller_id is not None and (not isinstance(caller_id, str) or not _E164.match(caller_id)):
        problems.append("caller.caller_id: expected an E.164 number like +77270000000, or null")
    regions = sections["caller"].get("regions", ["KZ"])
    if (
        not isinstance(regions, list)
        or not regions
        or not all(isinstance(r, str) and r in phonenumbers.SUPPORTED_REGIONS for r in regions)
    ):
        problems.append("caller.regions: expected a list of region codes like [KZ]")
        regions = ["KZ"]

    if problems:
        raise CallbackConfigError(f"{source}:\n  - " + "\n  - ".join(problems))
    return CallbackConfig(
        retry=RetryPolicy(
            backoff=tuple(timedelta(minutes=m) for m in backoff),
            max_attempts=ints["max_attempts"],
            horizon=timedelta(hours=ints["horizon_hours"]),
            busy_delay=timedelta(minutes=ints["busy_retry_minutes"]),
        ),
        caller_id=caller_id,
        caller_ring_timeout_seconds=ints["caller_ring"],
        volunteer_ring_timeout_seconds=ints["volunteer_ring"],
        decline_cooldown=timedelta(minutes=ints["decline_cooldown"]),
        max_volunteers_per_round=ints["max_per_round"],
        sweep_interval_seconds=ints["sweep"],
        regions=tuple(regions),
    )
