"""The `hotline` command: database, flows, roster, users, workers and a call simulator."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from pathlib import Path

from .audio.cli import add_audio_commands
from .ivr.model import LANGUAGES
from .settings import DEFAULT_FLOWS_DIR, Settings, SettingsError


def _settings() -> Settings:
    try:
        return Settings.from_env()
    except SettingsError as error:
        print(error, file=sys.stderr)
        raise SystemExit(2) from None


def cmd_db_upgrade(_args: argparse.Namespace) -> int:
    """Create or migrate the database schema."""
    from .migrate import upgrade

    settings = _settings()
    upgrade(settings.database_url)
    print("database is up to date")
    return 0


def cmd_db_revision(args: argparse.Namespace) -> int:
    """Autogenerate a migration from the models (developers only)."""
    from .migrate import revision

    revision(_settings().database_url, args.message)
    return 0


def cmd_check(_args: argparse.Namespace) -> int:
    """Check the settings, flows and config files as the web and the worker do at start-up."""
    from .startup import check, shorter_paths

    error = check()
    if error is not None:
        print(shorter_paths(str(error)), file=sys.stderr)
        return 2 if error.what == "settings" else 1
    print("settings, flows and config files are valid")
    return 0


def cmd_flows_check(args: argparse.Namespace) -> int:
    """Validate every flow file, then report each language's audio (recorded, missing, stale)."""
    from .audio.report import audio_report, default_callback_prompts, load
    from .ivr.loader import check_directory

    directory = Path(args.directory) if args.directory else DEFAULT_FLOWS_DIR
    if not directory.is_dir():
        print(f"{directory}: not a directory", file=sys.stderr)
        return 2
    problems = check_directory(directory)
    for problem in problems:
        print(problem, file=sys.stderr)
    if problems:
        print(f"{len(problems)} problem(s) in {directory}", file=sys.stderr)
        return 1
    print(f"{directory}: all flows are valid")
    prompts = Path(args.callback_prompts) if args.callback_prompts else None
    sources = load(directory, prompts or default_callback_prompts(directory), sys.stderr)
    if sources is None:
        return 1
    return audio_report(sources, strict=args.strict, language=args.language)


def cmd_simulate(args: argparse.Namespace) -> int:
    """Walk a call through the running hotline, printing what the caller hears."""
    from .devtools.simulate_command import run

    return run(args, _settings())


def cmd_roster_import(args: argparse.Namespace) -> int:
    """Import the roster file: all or nothing; errors name the volunteer and the field."""
    from . import db as database
    from .crypto import make_fernet
    from .routing.roster_file import RosterError, load_roster_file
    from .routing.roster_import import import_roster

    settings = _settings()
    try:
        roster = load_roster_file(args.file)
    except RosterError as error:
        print(error, file=sys.stderr)
        return 1
    store = database.Database(settings.database_url)
    try:
        with store.session() as session:
            report = import_roster(session, roster, make_fernet(settings.callback_encryption_keys))
    finally:
        store.dispose()
    print(f"roster imported: {report.summary()}")
    return 0


def cmd_users_create(args: argparse.Namespace) -> int:
    """Create a dashboard account; the password comes from stdin, or is typed twice."""
    from .dashboard.accounts.cli import create_account

    return create_account(_settings(), args.username, args.role, args.volunteer)


def cmd_users_unlock(args: argparse.Namespace) -> int:
    """End the pause an account is in after wrong passwords."""
    from .dashboard.accounts.cli import unlock_account

    return unlock_account(_settings(), args.username)


def cmd_users_reset_password(args: argparse.Namespace) -> int:
    """Give an account a new password (stdin, or typed twice); its sessions end."""
    from .dashboard.accounts.cli import reset_password

    return reset_password(_settings(), args.username)


def cmd_purge(args: argparse.Namespace) -> int:
    """Delete call metadata older than the retention period (HOTLINE_RETENTION_DAYS)."""
    from datetime import timedelta

    from . import db as database
    from .calllog.purge_report import overview
    from .calllog.retention import purge
    from .calllog.twilio_purge import queue_ended_calls
    from .models import PurgeRun, utcnow

    settings = _settings()
    days = args.days or settings.retention_days
    delay = settings.twilio_purge_delay_seconds
    store = database.Database(settings.database_url)
    try:
        with store.session() as session:
            if args.report:
                shown = overview(session, utcnow(), timedelta(seconds=delay or 0))
                if delay is None:
                    print("HOTLINE_TWILIO_PURGE_DELAY_SECONDS=off: Twilio's records are kept")
                print("\n".join(shown.lines()))
                return 0
            report = purge(session, utcnow(), days, settings.tz)
            # Catch up on ended calls the worker's sweep (two days back) did not reach.
            queued = 0
            if delay is not None:
                queued = queue_ended_calls(session, utcnow(), timedelta(seconds=delay), None)
            session.add(
                PurgeRun(
                    retention_days=days,
                    call_records=report.calls,
                    callback_requests=report.callbacks,
                    numbers_erased=report.numbers_erased,
                    sessions=report.sessions,
                    twilio_queued=queued,
                )
            )
            session.commit()
    finally:
        store.dispose()
    print(f"purge (older than {days} days): {report.summary()}")
    if queued:
        print(f"queued {queued} ended call(s) for deletion at Twilio (the worker deletes them)")
    return 0


def cmd_stats_rebuild(_args: argparse.Namespace) -> int:
    """Compute the daily totals again from the records still kept."""
    from . import db as database
    from .models import utcnow
    from .outcomes import aggregates

    settings = _settings()
    store = database.Database(settings.database_url)
    try:
        with store.session() as session:
            through = aggregates.closable_through(session, utcnow(), settings.tz)
            days = aggregates.rebuild(session, settings.tz, through)
            session.commit()
    finally:
        store.dispose()
    print(f"daily totals rebuilt from the records: {days} day(s), through {through}")
    return 0


def cmd_worker(args: argparse.Namespace) -> int:
    """Run an RQ worker (with its scheduler) for the hotline's queues."""
    from workers.runner import run_worker

    return run_worker(_settings(), burst=args.burst)


def cmd_fallback_export(args: argparse.Namespace) -> int:
    """Write the static fallback document (emergency numbers, every language) to a directory."""
    from .telephony.fallback_doc import FallbackExportError, export

    try:
        written = export(_settings(), Path(args.directory), args.base_url)
    except FallbackExportError as error:
        print(f"fallback export: {error}", file=sys.stderr)
        return 2
    for path in written:
        print(path)
    print("upload the directory to a static host; its fallback.xml is the Fallback URL (GET)")
    return 0


def cmd_keys_new(_args: argparse.Namespace) -> int:
    """Print fresh secrets for SECRET_KEY, PSEUDONYM_KEY and CALLBACK_ENCRYPTION_KEYS."""
    import secrets

    from cryptography.fernet import Fernet

    print(f"SECRET_KEY={secrets.token_urlsafe(48)}")
    print(f"PSEUDONYM_KEY={secrets.token_urlsafe(48)}")
    print(f"CALLBACK_ENCRYPTION_KEYS={Fernet.generate_key().decode()}")
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="hotline", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)

    db = sub.add_parser("db", help="database schema").add_subparsers(
        dest="db_command", required=True
    )
    db.add_parser("upgrade", help="create or migrate the schema").set_defaults(func=cmd_db_upgrade)
    rev = db.add_parser("revision", help="autogenerate a migration (developers)")
    rev.add_argument("-m", "--message", required=True)
    rev.set_defaults(func=cmd_db_revision)

    sub.add_parser(
        "check", help="check settings, flows and config files as start-up does"
    ).set_defaults(func=cmd_check)

    flows = sub.add_parser("flows", help="IVR flows").add_subparsers(
        dest="flows_command", required=True
    )
    check = flows.add_parser("check", help="validate the flow files")
    check.add_argument("directory", nargs="?", help="default: the project's ivr_flows/")
    check.add_argument("--strict", action="store_true", help="fail on missing or stale audio")
    check.add_argument(
        "--language", choices=LANGUAGES, help="report the audio of this language only"
    )
    check.add_argument("--callback-prompts", help="default: the project's callback_prompts.yaml")
    check.set_defaults(func=cmd_flows_check)
    add_audio_commands(sub)

    sim = sub.add_parser("simulate", help="walk a call through the running hotline")
    from .devtools.simulate_command import add_arguments as simulate_arguments

    simulate_arguments(sim)
    sim.set_defaults(func=cmd_simulate)

    roster = sub.add_parser("roster", help="volunteers and shifts").add_subparsers(
        dest="roster_command", required=True
    )
    imp = roster.add_parser("import", help="import a roster YAML file (config/roster.example.yaml)")
    imp.add_argument("file")
    imp.set_defaults(func=cmd_roster_import)

    users = sub.add_parser("users", help="dashboard accounts").add_subparsers(
        dest="users_command", required=True
    )
    create = users.add_parser("create", help="create a dashboard account")
    create.add_argument("username")
    create.add_argument("--role", required=True, choices=["supervisor", "volunteer"])
    create.add_argument("--volunteer", metavar="HANDLE", help="link to this roster volunteer")
    create.set_defaults(func=cmd_users_create)
    unlock = users.add_parser("unlock", help="end an account's pause after wrong passwords")
    unlock.add_argument("username")
    unlock.set_defaults(func=cmd_users_unlock)
    reset = users.add_parser(
        "reset-password",
        help="set a new password (read from stdin when it is not a terminal); sessions end",
    )
    reset.add_argument("username")
    reset.set_defaults(func=cmd_users_reset_password)

    purge = sub.add_parser("purge", help="delete call metadata past the retention period")
    purge.add_argument("--days", type=int, help="default: HOTLINE_RETENTION_DAYS (365)")
    purge.add_argument(
        "--report",
        action="store_true",
        help="delete nothing; show what was deleted where (Twilio and the database), counts only",
    )
    purge.set_defaults(func=cmd_purge)
    stats = sub.add_parser("stats", help="the daily totals behind the statistics")
    stats_sub = stats.add_subparsers(dest="stats_command", required=True)
    stats_sub.add_parser(
        "rebuild", help="compute the daily totals again from the records still kept"
    ).set_defaults(func=cmd_stats_rebuild)

    worker = sub.add_parser("worker", help="run a background worker (callbacks, maintenance)")
    worker.add_argument("--burst", action="store_true", help="exit when the queues are empty")
    worker.set_defaults(func=cmd_worker)

    fallback = sub.add_parser("fallback", help="the static fallback document").add_subparsers(
        dest="fallback_command", required=True
    )
    export = fallback.add_parser(
        "export", help="write fallback.xml (emergency numbers in every language) to DIRECTORY"
    )
    export.add_argument("directory")
    export.add_argument(
        "--base-url", help="where DIRECTORY will be served (needed when prompts are recordings)"
    )
    export.set_defaults(func=cmd_fallback_export)

    keys = sub.add_parser("keys", help="secrets").add_subparsers(dest="keys_command", required=True)
    keys.add_parser("new", help="print fresh secrets for the environment").set_defaults(
        func=cmd_keys_new
    )
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    from .startup import StartupError, shorter_paths

    args = build_parser().parse_args(argv)
    try:
        return int(args.func(args))
    except StartupError as error:  # `hotline worker` with a broken flow or config file
        print(shorter_paths(str(error)), file=sys.stderr)
        return 1


if __name__ == "__main__":
    raise SystemExit(main())
