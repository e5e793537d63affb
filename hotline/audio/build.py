"""`hotline audio build`: synthesize a draft for every piece that has no current audio.

A recording made by a person is never overwritten, moved or deleted here: when one is stale, the
draft goes beside it (`<slot>.draft.mp3`) and plays until the new recording arrives. A file
changed by hand since the manifest was written counts as a person's too. Only drafts are replaced
or removed.
"""

from __future__ import annotations

import tempfile
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from .encode import EncodeError, encode
from .engines import Engine, EngineError
from .formats import NotAudio
from .manifest import Entry, Source, file_hash, read_manifest, write_atomically, write_manifest
from .pieces import Piece, Sources, collect
from .status import LanguageAudio, Status, read_language, survey

_GIVE_UP_AFTER = 3  # failures in a row: the engine is down or misconfigured, stop asking it


@dataclass
class BuildReport:
    made: list[str] = field(default_factory=list)
    kept: list[str] = field(default_factory=list)  # recordings left alone, and why
    removed: list[str] = field(default_factory=list)
    failed: list[str] = field(default_factory=list)


def build(
    sources: Sources,
    language: str,
    engine: Engine,
    fmt: str = "mp3",
    redo_drafts: bool = False,
    echo: Callable[[str], None] = print,
) -> BuildReport:
    """Synthesize the missing and stale pieces of `language` (and, if asked, every draft again)."""
    pieces = collect(sources, language)
    folder_path = sources.flows_dir / "audio" / language
    read_manifest(folder_path)  # ManifestError: never rewrite a manifest that lists unknowns
    engine.check(language)
    state = survey(sources.flows_dir, pieces, [language])
    folder = state.folders[language]
    entries = dict(folder.entries)
    needed = {piece.text_sha256 for piece in pieces}
    report = BuildReport()
    failures_in_a_row = 0
    for piece_state in state.of(language):
        piece, status = piece_state.piece, piece_state.status
        if piece.explicit or status is Status.RECORDED:
            continue
        if status is Status.SYNTHESIZED and not redo_drafts:
            continue
        if status is Status.STALE and piece_state.entry is not None:
            old = piece_state.entry
            if old.source is Source.RECORDED or old.file in folder.modified:
                report.kept.append(
                    f"audio/{language}/{old.file}: recorded for an older text of {old.prompt}; "
                    "kept as it is (record it again); a draft plays meanwhile"
                )
        name = _target(piece, fmt, folder, entries, needed)
        if name is None:
            report.failed.append(
                f"{piece.slot}: {piece.slot}.{fmt} and {piece.slot}.draft.{fmt} are recordings "
                "or files changed by hand; nothing was written"
            )
            continue
        try:
            _make(piece, engine, fmt, folder_path / name)
        except (EngineError, EncodeError, NotAudio) as error:
            report.failed.append(f"{piece.slot} ({_where(piece)}): {error}")
            failures_in_a_row += 1
            if failures_in_a_row >= _GIVE_UP_AFTER:
                report.failed.append(f"stopped after {_GIVE_UP_AFTER} failures in a row")
                break
            continue
        failures_in_a_row = 0
        entries[name] = Entry(
            file=name,
            prompt=piece.slot,
            text=piece.text,
            text_sha256=piece.text_sha256,
            source=Source.SYNTHESIZED,
            audio_sha256=file_hash(folder_path / name),
            engine=engine.describe(language),
        )
        # After every file: an interrupted build keeps what it made.
        write_manifest(folder_path, entries)
        report.made.append(f"audio/{language}/{name}")
        echo(f"  made audio/{language}/{name}")
    if not report.failed:  # a failed build leaves the old drafts, stale or not, as they were
        _remove_unused_drafts(folder_path, language, entries, needed, report)
    return report


def _where(piece: Piece) -> str:
    spot = piece.spots[0]
    return f"{spot.source}, {spot.node}, {spot.what}"


def _target(
    piece: Piece, fmt: str, folder: LanguageAudio, entries: dict[str, Entry], needed: set[str]
) -> str | None:
    """The file to write the draft to: the slot's own name, else a .draft name beside it."""
    for name in (f"{piece.slot}.{fmt}", f"{piece.slot}.draft.{fmt}"):
        path = folder.folder / name
        entry = entries.get(name)
        if entry is None:
            if not path.exists():
                return name
            continue  # a file nobody registered: perhaps a recording waiting for `audio add`
        if entry.source is not Source.SYNTHESIZED or name in folder.modified:
            continue
        if entry.text_sha256 in needed and entry.text_sha256 != piece.text_sha256:
            continue  # another prompt still plays this draft
        return name
    return None


def _make(piece: Piece, engine: Engine, fmt: str, target: Path) -> None:
    with tempfile.TemporaryDirectory(prefix="hotline-synth-") as work:
        raw = Path(work) / "engine.wav"
        engine.synthesize(piece.text, piece.language, raw)
        if not raw.is_file():
            raise EngineError("the engine wrote no audio")
        try:
            encoded = Path(work) / f"out.{fmt}"
            encode(raw, encoded, fmt)
        except NotAudio as problem:
            raise EngineError(f"the engine's output {problem}") from None
        write_atomically(target, encoded.read_bytes())


def _remove_unused_drafts(
    folder: Path, language: str, entries: dict[str, Entry], needed: set[str], report: BuildReport
) -> None:
    """Drafts whose text no prompt says any more: machine-made, so removing them loses nothing."""
    fresh = read_language(folder.parent.parent, language, set())
    for name, entry in list(entries.items()):
        if entry.source is not Source.SYNTHESIZED or entry.text_sha256 in needed:
            continue
        if name in fresh.modified:
            continue  # changed by hand: maybe a recording; flows check tells the user
        (folder / name).unlink(missing_ok=True)
        del entries[name]
        report.removed.append(f"audio/{language}/{name}")
    if report.removed:
        write_manifest(folder, entries)
