"""What the web and the worker read from files at start-up, checked in one pass.

`load_files` reads the IVR flows and the config files (routing.yaml, callbacks.yaml,
callback_prompts.yaml, outcomes.yaml, partners.yaml) and checks that the flows have the nodes
the telephony edge enters by name.
It collects every problem in every file, one line each (file, node when there is one, problem), so
`hotline check`, `./dev run` and gunicorn's master process can print the whole list, and nothing
else, before any process starts serving calls.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import TypeVar

from .callbacks.config import CallbackConfig, CallbackConfigError, load_config
from .callbacks.prompts import CallbackPrompts, CallbackPromptsError, load_prompts
from .ivr.errors import FlowError
from .ivr.loader import load_flows
from .ivr.model import Flow
from .outcomes import OutcomeSchema, OutcomesError, load_outcomes
from .routing.partners import Partner, PartnersError, load_partners
from .routing.policy import RoutingPolicy, RoutingPolicyError, load_policy
from .settings import Settings, SettingsError

T = TypeVar("T")


@dataclass(frozen=True)
class StartupFiles:
    """The flows and config files, read and valid: what create_app serves calls with."""

    flows: dict[str, Flow]
    routing: RoutingPolicy
    callbacks: CallbackConfig
    prompts: CallbackPrompts
    outcomes: OutcomeSchema
    partners: tuple[Partner, ...] = ()


class StartupError(Exception):
    """The hotline cannot start; `problems` has one line per problem, naming its file."""

    def __init__(self, problems: list[str], what: str = "files") -> None:
        self.problems = list(problems)
        self.what = what  # "settings" or "files"
        super().__init__(
            f"The hotline cannot start; fix these {what}:\n  - " + "\n  - ".join(self.problems)
        )


def load_files(settings: Settings) -> StartupFiles:
    """Read and check every file the hotline needs; raise StartupError listing every problem."""
    from .telephony.flow_registry import missing_nodes

    problems: list[str] = []
    flows: dict[str, Flow] = {}
    try:
        flows = load_flows(settings.flows_dir)
    except FlowError as error:
        problems += [str(problem) for problem in error.problems]
    else:
        problems += missing_nodes(flows, settings.flows_dir)
    config_dir = settings.config_dir
    routing = _read(lambda: load_policy(config_dir / "routing.yaml"), problems)
    callbacks = _read(lambda: load_config(config_dir / "callbacks.yaml"), problems)
    prompts = _read(
        lambda: load_prompts(config_dir / "callback_prompts.yaml", settings.flows_dir), problems
    )
    outcomes = _read(lambda: load_outcomes(config_dir / "outcomes.yaml"), problems)
    partners = _read(lambda: load_partners(config_dir / "partners.yaml"), problems)
    if (
        problems
        or routing is None
        or callbacks is None
        or prompts is None
        or outcomes is None
        or partners is None
    ):
        raise StartupError(problems)
    return StartupFiles(flows, routing, callbacks, prompts, outcomes, partners)


def check(env: Mapping[str, str] | None = None) -> StartupError | None:
    """Why the hotline would refuse to start with this environment: bad settings (checked
    first: the files' places are settings too) or bad files; None when it would start."""
    try:
        settings = Settings.from_env(env)
    except SettingsError as error:
        return StartupError(error.problems, what="settings")
    try:
        load_files(settings)
    except StartupError as error:
        return error
    return None


def shorter_paths(text: str, base: Path | None = None) -> str:
    """`text` with the paths under `base` (the working directory) made relative to it."""
    prefix = str(base or Path.cwd()).rstrip("/") + "/"
    return text.replace(prefix, "")


_CONFIG_ERRORS = (
    RoutingPolicyError,
    CallbackConfigError,
    CallbackPromptsError,
    OutcomesError,
    PartnersError,
)


def _read(load: Callable[[], T], problems: list[str]) -> T | None:
    try:
        return load()
    except _CONFIG_ERRORS as error:
        problems += _lines(error)
        return None


def _lines(error: Exception) -> list[str]:
    # The config loaders report "FILE:\n  - problem\n  - problem" (or "FILE: problem"): one line
    # per problem here, each naming its file, as a flow problem does.
    head, *items = str(error).split("\n  - ")
    return [f"{head} {item}" for item in items] if items else [head]
