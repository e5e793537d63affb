"""`hotline audio ...`: the recording script, synthesized drafts, and a person's recordings."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from ..ivr.model import LANGUAGES
from ..settings import DEFAULT_FLOWS_DIR
from .encode import FORMATS, EncodeError
from .engines import EngineError, make_engine
from .manifest import ManifestError
from .report import default_callback_prompts, load, survey_of
from .script import script_csv, script_html
from .status import Status


def add_audio_commands(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    """Register `hotline audio script|build|add` (one line in hotline/cli.py)."""
    audio = sub.add_parser("audio", help="recordings and synthesized drafts of the prompts")
    commands = audio.add_subparsers(dest="audio_command", required=True)

    script = commands.add_parser("script", help="write the recording script (CSV and a web page)")
    _common(script)
    script.add_argument("--out", default=".", help="folder to write the script to (default: .)")
    script.add_argument("--all", action="store_true", help="also prompts already recorded")
    script.set_defaults(func=cmd_script)

    build = commands.add_parser("build", help="synthesize the missing and stale prompts")
    _common(build)
    build.add_argument(
        "--engine",
        required=True,
        help="espeak-ng, azure, or a command line with {text} and {out} (and optionally {lang})",
    )
    build.add_argument("--format", choices=FORMATS, default="mp3", help="default: mp3")
    build.add_argument(
        "--redo-drafts", action="store_true", help="synthesize existing drafts again too"
    )
    build.set_defaults(func=cmd_build)

    add = commands.add_parser("add", help="register a person's recordings (converted as needed)")
    _common(add)
    add.add_argument("files", nargs="+", help="recordings named as in the script")
    add.add_argument("--format", choices=FORMATS, default="mp3", help="default: mp3")
    add.add_argument("--replace", action="store_true", help="replace an existing recording")
    add.set_defaults(func=cmd_add)


def _common(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--language", required=True, choices=LANGUAGES)
    parser.add_argument("--flows", help="the flows folder (default: the project's ivr_flows/)")
    parser.add_argument(
        "--callback-prompts",
        help="the callback prompts file (default: the project's config/callback_prompts.yaml)",
    )


def _sources(args: argparse.Namespace):  # type: ignore[no-untyped-def]
    flows = Path(args.flows) if args.flows else DEFAULT_FLOWS_DIR
    prompts = Path(args.callback_prompts) if args.callback_prompts else None
    return load(flows, prompts or default_callback_prompts(flows), sys.stderr)


def cmd_script(args: argparse.Namespace) -> int:
    """Write recording-script-<lang>.csv and .html: every prompt to record, in flow order."""
    sources = _sources(args)
    if sources is None:
        return 1
    try:
        states = survey_of(sources, args.language).of(args.language)
    except ManifestError as error:
        print(error, file=sys.stderr)
        return 1
    if not args.all:
        states = [s for s in states if s.status is not Status.RECORDED]
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    csv_path = out / f"recording-script-{args.language}.csv"
    html_path = out / f"recording-script-{args.language}.html"
    csv_path.write_text(script_csv(states), encoding="utf-8")
    html_path.write_text(script_html(states, args.language), encoding="utf-8")
    print(f"{len(states)} prompts to record: {csv_path}, {html_path}")
    return 0


def cmd_build(args: argparse.Namespace) -> int:
    """Synthesize every missing or stale prompt of a language with the chosen engine."""
    from .build import build

    sources = _sources(args)
    if sources is None:
        return 1
    try:
        engine = make_engine(args.engine)
        report = build(sources, args.language, engine, args.format, args.redo_drafts)
    except (EngineError, EncodeError, ManifestError) as error:
        print(f"audio build: {error}; nothing was changed", file=sys.stderr)
        return 1
    for line in report.kept:
        print(f"  kept {line}")
    for line in report.removed:
        print(f"  removed unused draft {line}")
    for line in report.failed:
        print(f"  FAILED {line}", file=sys.stderr)
    print(
        f"{args.language}: {len(report.made)} made, {len(report.removed)} removed, "
        f"{len(report.failed)} failed"
    )
    return 1 if report.failed else 0


def cmd_add(args: argparse.Namespace) -> int:
    """Register recordings made by a person; each is checked and converted to the format."""
    from .add import add_recordings

    sources = _sources(args)
    if sources is None:
        return 1
    try:
        report = add_recordings(
            sources, args.language, [Path(f) for f in args.files], args.format, args.replace
        )
    except ManifestError as error:
        print(f"audio add: {error}; nothing was changed", file=sys.stderr)
        return 1
    for line in report.added:
        print(f"  recorded {line}")
    for line in report.kept:
        print(f"  kept {line}")
    for line in report.failed:
        print(f"  FAILED {line}", file=sys.stderr)
    return 1 if report.failed else 0
