"""The `hotline` command, run as an operator would: real files, real database, exit codes."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from sqlalchemy import create_engine, text
from support import test_env

HOTLINE = str(Path(sys.executable).parent / "hotline")
GUNICORN = str(Path(sys.executable).parent / "gunicorn")
PROJECT = Path(__file__).resolve().parents[2]


def run(
    *args: str, env: dict[str, str] | None = None, stdin: str = ""
) -> subprocess.CompletedProcess:
    return subprocess.run(
        [HOTLINE, *args],
        env={**os.environ, **(env or {})},
        input=stdin,
        capture_output=True,
        text=True,
        timeout=60,
    )


def test_flows_check_passes_on_the_shipped_flows():
    result = run("flows", "check")
    assert result.returncode == 0, result.stderr
    assert "valid" in result.stdout


def test_flows_check_names_the_file_node_and_problem(tmp_path):
    shutil.copytree(PROJECT / "ivr_flows", tmp_path / "flows")
    broken = tmp_path / "flows" / "default.yaml"
    broken.write_text(broken.read_text().replace('"1": route_violence', '"1": route_violnce'))
    result = run("flows", "check", str(tmp_path / "flows"))
    assert result.returncode == 1
    assert "default.yaml: node 'topic'" in result.stderr
    assert "route_violnce" in result.stderr


def test_the_app_refuses_to_start_with_a_broken_flow(tmp_path):
    shutil.copytree(PROJECT / "ivr_flows", tmp_path / "flows")
    broken = tmp_path / "flows" / "default.yaml"
    broken.write_text(broken.read_text().replace("next: language", "next: languag", 1))
    env = test_env(
        HOTLINE_FLOWS_DIR=str(tmp_path / "flows"), DATABASE_URL=f"sqlite:///{tmp_path}/x.db"
    )
    code = "from hotline import create_app; create_app()"
    result = subprocess.run(
        [sys.executable, "-c", code], env={**os.environ, **env}, capture_output=True, text=True
    )
    assert result.returncode != 0
    assert "default.yaml: node 'greeting'" in result.stderr and "languag" in result.stderr


def broken_files(tmp_path: Path) -> dict[str, str]:
    """Copies of ivr_flows/ and config/ with one mistake in each checked file; their env."""
    flows, config = tmp_path / "flows", tmp_path / "config"
    shutil.copytree(PROJECT / "ivr_flows", flows)
    shutil.copytree(PROJECT / "config", config)
    edits = {
        flows / "default.yaml": ("next: language", "next: languag"),
        config / "routing.yaml": (
            "violence: [psychologist, lawyer]",
            "violence: [psychologist, lawer]",
        ),
        config / "callbacks.yaml": ("ring_timeout_seconds: 25", "ring_timeout_seconds: soon"),
        config / "callback_prompts.yaml": ("voices:", "voices: [\n"),
        config / "outcomes.yaml": ('kk: "Қайда жіберілді", ', ""),
    }
    for path, (old, new) in edits.items():
        text = path.read_text()
        assert old in text, (path, old)
        path.write_text(text.replace(old, new, 1))
    return {"HOTLINE_FLOWS_DIR": str(flows), "HOTLINE_CONFIG_DIR": str(config)}


# One line per problem: file, node (for a flow), problem.
EXPECTED_PROBLEMS = [
    "flows/default.yaml: node 'greeting': next targets unknown node 'languag'",
    "config/routing.yaml: topics.violence: unknown role(s) lawer",
    "config/callbacks.yaml: volunteers.ring_timeout_seconds: expected a whole number, got 'soon'",
    "config/callback_prompts.yaml: YAML syntax error at line",
    "config/outcomes.yaml: fields[5] (referrals).label.kk: missing translation",
]


def assert_only_the_problems(output: str) -> None:
    """The output is the heading and one line per expected problem, and nothing else."""
    lines = output.strip().splitlines()
    assert lines[0] == "The hotline cannot start; fix these files:", output
    assert len(lines) == 1 + len(EXPECTED_PROBLEMS), output
    for line, expected in zip(lines[1:], EXPECTED_PROBLEMS, strict=True):
        assert line.startswith("  - ") and expected in line, (line, expected)
    assert "Traceback" not in output


def test_check_passes_on_the_shipped_files():
    result = run("check", env=test_env())
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "settings, flows and config files are valid"


def test_check_lists_every_problem_in_every_file_at_once(tmp_path):
    result = run("check", env=test_env(**broken_files(tmp_path)))
    assert result.returncode == 1
    assert_only_the_problems(result.stderr)


def test_the_worker_refuses_to_start_with_the_same_list_and_no_traceback(tmp_path):
    env = test_env(**broken_files(tmp_path), REDIS_URL="redis://127.0.0.1:1/0")
    result = run("worker", "--burst", env=env)
    assert result.returncode == 1
    assert_only_the_problems(result.stderr)


def test_gunicorn_with_the_projects_config_stops_in_the_master_with_the_list(tmp_path):
    env = {**os.environ, **test_env(**broken_files(tmp_path))}
    result = subprocess.run(
        [GUNICORN, "-c", str(PROJECT / "config/gunicorn.conf.py"), "--bind", "127.0.0.1:0",
         "hotline:create_app()"],
        env=env, cwd=tmp_path, capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    assert result.returncode == 1
    assert "Booting worker" not in result.stdout + result.stderr  # no worker ever started
    problems = result.stderr.split("Error: ", 1)[1]
    assert_only_the_problems(problems)


def test_bare_gunicorn_stops_with_the_list_on_one_screen(tmp_path):
    # No -c: gunicorn's defaults, one worker; each worker reports its own failure.
    env = {**os.environ, **test_env(**broken_files(tmp_path))}
    result = subprocess.run(
        [GUNICORN, "--bind", "127.0.0.1:0", "hotline:create_app()"],
        env=env, cwd=tmp_path, capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    assert result.returncode != 0
    output = result.stdout + result.stderr
    assert all(expected in output for expected in EXPECTED_PROBLEMS)
    assert len(output.splitlines()) <= 50, output


def test_missing_settings_stop_with_a_message_naming_each_variable():
    env = {
        k: v for k, v in os.environ.items() if not k.startswith(("TWILIO_", "PSEUDONYM", "SECRET"))
    }
    result = subprocess.run(
        [HOTLINE, "db", "upgrade"], env=env, capture_output=True, text=True, timeout=60
    )
    assert result.returncode == 2
    for name in ("TWILIO_ACCOUNT_SID", "TWILIO_AUTH_TOKEN", "PSEUDONYM_KEY", "SECRET_KEY"):
        assert name in result.stderr
    assert "Traceback" not in result.stderr


def test_db_upgrade_then_roster_import_is_idempotent(tmp_path):
    env = test_env(DATABASE_URL=f"sqlite:///{tmp_path}/cli.db")
    assert run("db", "upgrade", env=env).returncode == 0
    first = run("roster", "import", str(PROJECT / "config" / "roster.example.yaml"), env=env)
    assert first.returncode == 0, first.stderr
    assert "created" in first.stdout
    again = run("roster", "import", str(PROJECT / "config" / "roster.example.yaml"), env=env)
    assert again.returncode == 0 and "created" not in again.stdout
    engine = create_engine(f"sqlite:///{tmp_path}/cli.db")
    with engine.connect() as connection:
        count = connection.execute(text("SELECT count(*) FROM volunteers")).scalar()
    engine.dispose()
    assert count >= 3


def test_a_roster_with_one_bad_row_imports_nothing_and_says_why(tmp_path):
    env = test_env(DATABASE_URL=f"sqlite:///{tmp_path}/cli.db")
    run("db", "upgrade", env=env)
    roster = tmp_path / "roster.yaml"
    roster.write_text(
        """
volunteers:
  - handle: ok
    display_name: Fine
    phone: "+77011234567"
    roles: [lawyer]
    topics: [labor]
    languages: [ru]
    shifts: []
  - handle: bad
    display_name: Broken
    phone: "12"
    roles: [astronaut]
    topics: [labor]
    languages: [ru]
    shifts: []
"""
    )
    result = run("roster", "import", str(roster), env=env)
    assert result.returncode == 1
    assert "bad" in result.stderr and "phone" in result.stderr and "astronaut" in result.stderr
    engine = create_engine(f"sqlite:///{tmp_path}/cli.db")
    with engine.connect() as connection:
        assert connection.execute(text("SELECT count(*) FROM volunteers")).scalar() == 0
    engine.dispose()


@pytest.mark.parametrize("args", [["keys", "new"]])
def test_keys_new_prints_usable_secrets(args):
    result = run(*args)
    assert result.returncode == 0
    assert "CALLBACK_ENCRYPTION_KEYS=" in result.stdout


def test_purge_deletes_only_what_is_past_retention(tmp_path):
    from datetime import timedelta

    from hotline.db import Database
    from hotline.models import CallRecord, utcnow

    url = f"sqlite:///{tmp_path}/cli.db"
    env = test_env(DATABASE_URL=url, HOTLINE_RETENTION_DAYS="30")
    assert run("db", "upgrade", env=env).returncode == 0
    store = Database(url)
    with store.session() as session:
        session.add(
            CallRecord(
                call_sid="CA" + "1" * 32, ivr_path=[], started_at=utcnow() - timedelta(days=31)
            )
        )
        session.add(
            CallRecord(
                call_sid="CA" + "2" * 32, ivr_path=[], started_at=utcnow() - timedelta(days=29)
            )
        )
    result = run("purge", env=env)
    assert result.returncode == 0 and "deleted 1 call record" in result.stdout
    with store.session() as session:
        from sqlalchemy import func, select

        assert session.scalars(select(CallRecord.call_sid)).all() == ["CA" + "2" * 32]
    store.dispose()
    # The remaining call ended long ago without a final status: queued for Twilio's purge too.
    assert "queued 1 ended call(s) for deletion at Twilio" in result.stdout
    report = run("purge", "--report", env=env)
    assert report.returncode == 0
    assert "incoming calls: 0 purged, 1 waiting, 0 failed" in report.stdout
    assert "(older than 30 days): 1 call records, 0 callback requests" in report.stdout
    assert "CA" + "2" * 32 not in report.stdout  # counts only
    again = run("purge", "--report", env=env)
    assert again.stdout == report.stdout  # the report changes nothing
    # The purged call still counts in its day's totals, and a rebuild leaves that day alone.
    with store.session() as session:
        from hotline.models import DailyCalls

        assert session.scalar(select(func.sum(DailyCalls.calls))) == 1
    rebuilt = run("stats", "rebuild", env=env)
    assert rebuilt.returncode == 0 and "daily totals rebuilt from the records" in rebuilt.stdout
    with store.session() as session:
        assert session.scalar(select(func.sum(DailyCalls.calls))) == 2  # now both days
    store.dispose()
