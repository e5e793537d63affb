"""`./dev run`: check settings and files, then run Redis, the Twilio stand-in, web and worker."""

from __future__ import annotations

import signal
import subprocess
import time
from functools import partial

from .banner import print_banner
from .children import Child
from .common import (
    REDIS_DIR,
    ROOT,
    VENV_BIN,
    VENV_PY,
    DevError,
    Stop,
    emit,
    free_port,
    http_answers,
    install_stop_signals,
    redact_url,
    say,
    tcp_open,
    wait_until,
)
from .environment import (
    dev_environment,
    is_local,
    port_from,
    publish_run,
    running_dev_run,
    unpublish_run,
)
from .redis import redis_check, start_embedded_redis
from .venv import ensure_venv

EXAMPLE_ROSTER_STAMP = ROOT / "var" / "example-roster-imported"
# Without these the hotline still answers calls: their death is reported, the web keeps going.
MAY_DIE = {
    "worker": "callbacks and maintenance jobs",
    "twilio": "callbacks (their calls fail)",
    "dashboard": "the dashboard",
}


def cmd_run() -> int:
    """Run the hotline locally: embedded Redis if needed, migrations, web and worker."""
    ensure_venv("local")
    env = dev_environment(for_run=True)
    port = port_from(env)
    other = running_dev_run()
    if other is not None:
        raise DevError(
            f"./dev run is already running (pid {other['pid']}, port {other['port']}); both "
            "would share var/ (the database, Redis's data). Stop it first."
        )
    check_startup(env)
    for taken in (port, port + 1):  # the webhooks, then the dashboard
        if tcp_open("127.0.0.1", taken):
            raise DevError(
                f"port {taken} is already in use (./dev run uses PORT and PORT+1). Stop what "
                f"listens there, or choose other ports: PORT={port + 2} ./dev run"
            )
    children: list[Child] = []
    install_stop_signals()
    try:
        notes = {"redis": _redis(env, children), "twilio": _twilio(env, children)}
        say("hotline db upgrade")
        migrate = subprocess.run([str(VENV_BIN / "hotline"), "db", "upgrade"], cwd=ROOT, env=env)
        if migrate.returncode != 0:
            raise DevError(f"`hotline db upgrade` failed (status {migrate.returncode}), see above")
        seed_example_roster(env)

        web_env = dict(env)
        web_env.setdefault("WEB_CONCURRENCY", "2")  # a laptop needs no more
        # Two pools, as in production (Procfile): Twilio's webhooks on PORT, the dashboard on
        # PORT+1, so a busy dashboard never delays a call.
        web = Child(
            "web",
            [str(VENV_BIN / "gunicorn"), "-c", "config/gunicorn.conf.py",
             "--bind", f"127.0.0.1:{port}", "--worker-class", "gthread", "--threads", "8",
             "hotline:create_webhooks_app()"],
            env=web_env,
        )  # fmt: skip
        children.append(web)
        dashboard = Child(
            "dashboard",
            [str(VENV_BIN / "gunicorn"), "-c", "config/gunicorn.conf.py",
             "--bind", f"127.0.0.1:{port + 1}", "--worker-class", "gthread", "--threads", "4",
             "hotline:create_dashboard_app()"],
            env=web_env,
        )  # fmt: skip
        children.append(dashboard)
        children.append(Child("worker", [str(VENV_BIN / "hotline"), "worker"], env=env))

        for pool, at in ((web, port), (dashboard, port + 1)):
            health = f"http://127.0.0.1:{at}/healthz"
            if not wait_until(partial(http_answers, health), 30, pool.alive):
                raise DevError(f"{pool.name} did not come up: {pool.describe_exit()}, see above")
        publish_run(port, env)
        print_banner(env, port, notes)
        return supervise(children)
    except (KeyboardInterrupt, Stop) as stop:
        emit("")
        say(f"{'Ctrl-C' if isinstance(stop, KeyboardInterrupt) else stop}: stopping")
        return 0
    finally:
        signal.signal(signal.SIGINT, lambda *_: say("still stopping, please wait"))
        signal.signal(signal.SIGTERM, signal.SIG_IGN)
        unpublish_run()
        # Web, worker and the stand-in stop together (each finishing its request or job), then
        # Redis.
        for child in children:
            if child.name != "redis":
                child.request_stop()
        for child in sorted(children, key=lambda c: c.name == "redis"):
            child.stop()
        if children:
            say("stopped: " + ", ".join(c.describe_exit() for c in children))


def check_startup(env: dict[str, str]) -> None:
    """`hotline check` before anything starts: on a problem, its list and nothing else."""
    result = subprocess.run(
        [str(VENV_BIN / "hotline"), "check"], cwd=ROOT, env=env, stdout=subprocess.DEVNULL
    )
    if result.returncode != 0:
        raise DevError(
            "nothing was started: fix the problems above, then ./dev run again "
            "(./dev hotline check checks without starting anything)",
            code=result.returncode,
        )


def _redis(env: dict[str, str], children: list[Child]) -> str:
    if env.get("REDIS_URL", "").strip():
        problem = redis_check(env["REDIS_URL"])
        if problem:
            say(f"warning: REDIS_URL={redact_url(env['REDIS_URL'])} does not answer: {problem}")
        return f"{redact_url(env['REDIS_URL'])} (from REDIS_URL)"
    # Persistent (AOF under var/redis), like production's Redis and like the SQLite file beside
    # it: a callback queued before Ctrl-C is still queued after the next run.
    redis, url = start_embedded_redis(REDIS_DIR, persistent=True, quiet=True)
    children.append(redis)
    env["REDIS_URL"] = url
    return f"{url} (embedded, started by ./dev, data in var/redis)"


def _twilio(env: dict[str, str], children: list[Child]) -> str:
    """Start the local stand-in for Twilio's REST API unless real calls are possible."""
    if env.get("TWILIO_API_BASE_URL", "").strip():
        return f"{env['TWILIO_API_BASE_URL']} (from TWILIO_API_BASE_URL)"
    if not is_local(env["PUBLIC_BASE_URL"]):
        return "api.twilio.com: callbacks ring real phones"
    # Twilio could not reach a local PUBLIC_BASE_URL's webhooks anyway: a callback's legs are
    # placed here instead, where `./dev simulate --answer-callback` answers them.
    port = free_port()
    child = Child(
        "twilio", [str(VENV_PY), "-m", "hotline.devtools.twilio_api", "--port", str(port)], env=env
    )
    children.append(child)
    if not wait_until(lambda: tcp_open("127.0.0.1", port, 0.2), 15, child.alive):
        raise DevError(f"the Twilio stand-in did not start: {child.describe_exit()}, see above")
    env["TWILIO_API_BASE_URL"] = f"http://127.0.0.1:{port}"
    return f"{env['TWILIO_API_BASE_URL']} (a local stand-in: no real phone rings)"


def supervise(children: list[Child]) -> int:
    """Wait for Ctrl-C; report a child's death; stop everything when web or redis dies."""
    reported: set[str] = set()
    while True:
        for child in children:
            if child.alive() or child.name in reported:
                continue
            reported.add(child.name)
            for line in child.tail:
                emit(f"{child.name:>9} | {line}")
            say(f"!! {child.describe_exit()} (its last lines are above, prefixed '{child.name}')")
            if child.name in MAY_DIE:
                say(
                    f"!! the web keeps answering calls, but {MAY_DIE[child.name]} will not work "
                    f"until {child.name} runs again: fix the cause, then Ctrl-C and ./dev run again"
                )
            else:
                say(f"!! the hotline cannot run without {child.name}: stopping everything")
                return 1
        time.sleep(0.2)


def seed_example_roster(env: dict[str, str]) -> None:
    """Once per local database: import config/roster.example.yaml, so a simulated call reaches
    a (fictional) volunteer. Deleting var/example-roster-imported imports it again."""
    if EXAMPLE_ROSTER_STAMP.exists() or env.get("DATABASE_URL"):
        return  # only the default local SQLite file is seeded, never a configured database
    say("hotline roster import config/roster.example.yaml (fictional volunteers, first run only)")
    result = subprocess.run(
        [str(VENV_BIN / "hotline"), "roster", "import", "config/roster.example.yaml"],
        cwd=ROOT,
        env=env,
    )
    if result.returncode == 0:
        EXAMPLE_ROSTER_STAMP.write_text("see scripts/devtool/run.py seed_example_roster\n")
