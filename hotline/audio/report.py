"""The audio part of `hotline flows check`: per language, recorded, synthesized, missing, stale."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import TextIO

from ..callbacks.prompts import CallbackPromptsError
from ..ivr.errors import FlowError
from ..settings import DEFAULT_CONFIG_DIR, DEFAULT_FLOWS_DIR
from .manifest import ManifestError
from .pieces import Sources, collect, read_sources
from .status import PieceState, Status, Survey, survey

CALLBACK_PROMPTS = "callback_prompts.yaml"


def default_callback_prompts(flows_dir: Path) -> Path | None:
    """The callback prompts said with these flows: the project's, or config/ beside the folder."""
    if flows_dir.resolve() == DEFAULT_FLOWS_DIR.resolve():
        return DEFAULT_CONFIG_DIR / CALLBACK_PROMPTS
    beside = flows_dir.resolve().parent / "config" / CALLBACK_PROMPTS
    return beside if beside.is_file() else None


def load(flows_dir: Path, callback_prompts: Path | None, err: TextIO) -> Sources | None:
    """The sources, or None after printing why they cannot be read."""
    try:
        return read_sources(flows_dir, callback_prompts)
    except FlowError as error:
        print(error, file=err)
    except CallbackPromptsError as error:
        print(error, file=err)
    return None


def audio_report(
    sources: Sources,
    strict: bool,
    language: str | None = None,
    out: TextIO | None = None,
    err: TextIO | None = None,
) -> int:
    """Print the audio's state; 1 on a bad file, or with `strict` on missing or stale audio."""
    out, err = out or sys.stdout, err or sys.stderr
    languages = [language] if language else sources.languages
    try:
        found = survey(sources.flows_dir, collect(sources, language), languages)
    except ManifestError as error:
        print(error, file=err)
        return 1
    print(f"audio in {sources.flows_dir / 'audio'}:", file=out)
    missing = stale = 0
    for lang in languages:
        states = found.of(lang)
        counts = {status: sum(s.status is status for s in states) for status in Status}
        needs_audio = any(s.piece.needs_audio for s in states)
        line = (
            f"  {lang}: {len(states)} prompts: {counts[Status.RECORDED]} recorded, "
            f"{counts[Status.SYNTHESIZED]} synthesized, "
        )
        if needs_audio:
            line += f"{counts[Status.MISSING]} missing, {counts[Status.STALE]} stale"
            missing += counts[Status.MISSING]
        else:
            line += f"{counts[Status.STALE]} stale; {counts[Status.MISSING]} said by the voice"
        stale += counts[Status.STALE]
        print(line, file=out)
        for state in states:
            note = _note(state, needs_audio)
            if note:
                print(f"    {lang} {state.status.value}: {note}", file=out)
    problems = found.problems
    for problem in problems:
        print(problem, file=err)
    if problems:
        print(f"{len(problems)} problem(s) with the audio files", file=err)
        return 1
    if strict and (missing or stale):
        print(f"--strict: {missing} missing, {stale} stale audio file(s)", file=err)
        return 1
    return 0


def _note(state: PieceState, needs_audio: bool) -> str | None:
    piece = state.piece
    spot = piece.spots[0]
    where = f"{piece.slot} ({spot.source} / {spot.node}, {spot.what})"
    if state.status is Status.STALE:
        return (
            f"{where}: {state.file} says an older text; until it is made again (hotline audio "
            "build) or recorded again, the voice says it instead"
        )
    if state.status is Status.MISSING and needs_audio:
        return f"{where}: no audio; the borrowed voice (Russian) says it instead"
    return None


def survey_of(sources: Sources, language: str) -> Survey:
    """The survey of one language (for the script and build commands)."""
    return survey(sources.flows_dir, collect(sources, language), [language])
