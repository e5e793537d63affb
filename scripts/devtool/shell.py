"""`./dev hotline ARGS` and `./dev shell-env`: the hotline command with the local environment."""

from __future__ import annotations

import shlex
import signal
import subprocess

from .common import ROOT, VENV_BIN, ignore_signal
from .environment import DEV_ENV_FILE, RUN_SETTINGS, dev_environment, read_env_file
from .venv import ensure_venv


def cmd_hotline(args: list[str]) -> int:
    """Run `hotline ARGS` with the local development environment (and a running ./dev run's)."""
    ensure_venv("local")
    env = dev_environment()
    signal.signal(signal.SIGINT, ignore_signal)  # the child handles Ctrl-C itself
    return subprocess.run([str(VENV_BIN / "hotline"), *args], cwd=ROOT, env=env).returncode


def cmd_shell_env() -> int:
    """Print the development environment as `export` lines (eval "$(./dev shell-env)")."""
    ensure_venv("local")
    env = dev_environment()
    keys = [*read_env_file(DEV_ENV_FILE), *RUN_SETTINGS, "PATH", "VIRTUAL_ENV"]
    for key in dict.fromkeys(keys):
        if env.get(key):
            print(f"export {key}={shlex.quote(env[key])}")
    return 0
