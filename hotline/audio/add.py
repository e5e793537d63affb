"""`hotline audio add`: take a person's recordings into the flows' audio folder.

Each file is named after its prompt, as in the recording script (`default.greeting.wav`). It is
checked (real audio, a prompt that exists), converted to the hotline's format when it is not in it
already, and registered as recorded. A recording it replaces is moved to `kept/`, never deleted.
"""

from __future__ import annotations

import difflib
import shutil
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

from .encode import EncodeError, encode
from .formats import NotAudio, inspect_file
from .manifest import Entry, Source, file_hash, read_manifest, write_atomically, write_manifest
from .pieces import Piece, Sources, collect
from .status import KEPT_DIR


@dataclass
class AddReport:
    added: list[str] = field(default_factory=list)
    kept: list[str] = field(default_factory=list)
    failed: list[str] = field(default_factory=list)


def add_recordings(
    sources: Sources, language: str, files: list[Path], fmt: str = "mp3", replace: bool = False
) -> AddReport:
    """Register `files` as recordings in `language`; each problem names the file and prompt."""
    pieces = collect(sources, language)
    by_slot = {spot.slot: piece for piece in pieces for spot in piece.spots}
    folder = sources.flows_dir / "audio" / language
    entries = read_manifest(folder)
    report = AddReport()
    for path in files:
        slot = _slot_of(path)
        piece = by_slot.get(slot)
        if piece is None:
            close = difflib.get_close_matches(slot, list(by_slot), n=1)
            hint = f" (did you mean {close[0]}?)" if close else ""
            report.failed.append(
                f"{path}: no prompt '{slot}' in the flows{hint}; name each file as the "
                f"recording script says (hotline audio script --language {language})"
            )
            continue
        try:
            name = _add_one(path, piece, folder, entries, fmt, replace, report)
        except (NotAudio, EncodeError) as problem:
            report.failed.append(f"{path} (prompt {piece.slot}): {problem}; nothing was changed")
            continue
        if name is not None:
            write_manifest(folder, entries)
            report.added.append(f"audio/{language}/{name} (prompt {piece.slot})")
    return report


def _slot_of(path: Path) -> str:
    name = path.name
    for suffix in (".mp3", ".wav", ".MP3", ".WAV"):
        name = name.removesuffix(suffix)
    return name.removesuffix(".draft")


def _add_one(
    path: Path,
    piece: Piece,
    folder: Path,
    entries: dict[str, Entry],
    fmt: str,
    replace: bool,
    report: AddReport,
) -> str | None:
    info = inspect_file(path)  # NotAudio: a text file, a video, an empty file...
    name = f"{piece.slot}.{fmt}"
    target = folder / name
    old = entries.get(name)
    if (
        old is not None
        and old.source is Source.RECORDED
        and old.text_sha256 == piece.text_sha256
        and not replace
        and path.resolve() != target.resolve()
    ):
        report.failed.append(
            f"{path} (prompt {piece.slot}): audio/{folder.name}/{name} is already a recording "
            "of this text; add --replace to replace it (the old one is kept in kept/)"
        )
        return None
    with tempfile.TemporaryDirectory(prefix="hotline-add-") as work:
        ready = Path(work) / name
        converted = not (info.format_problem() is None and path.suffix.lower() == f".{fmt}")
        if converted:
            encode(path, ready, fmt)
        else:
            shutil.copyfile(path, ready)
        in_place = path.resolve() == target.resolve()
        if target.exists() and (not in_place or converted):
            _keep(target, folder, old, report, copy=in_place)
        write_atomically(target, ready.read_bytes())
    if path.parent.resolve() == folder.resolve() and path.resolve() != target.resolve():
        _keep(path, folder, None, report)  # the original, now converted: kept, not played
    # Drafts of the same text are no longer needed: the recording wins.
    for other in [e for e in entries.values() if e.text_sha256 == piece.text_sha256]:
        if other.source is Source.SYNTHESIZED and other.file != name:
            (folder / other.file).unlink(missing_ok=True)
            del entries[other.file]
    entries[name] = Entry(
        file=name,
        prompt=piece.slot,
        text=piece.text,
        text_sha256=piece.text_sha256,
        source=Source.RECORDED,
        audio_sha256=file_hash(target),
    )
    return name


def _keep(
    path: Path, folder: Path, entry: Entry | None, report: AddReport, copy: bool = False
) -> None:
    """Move (or copy) a person's file out of the way into kept/; drafts are simply replaced."""
    digest = file_hash(path)
    if entry is not None and entry.source is Source.SYNTHESIZED and digest == entry.audio_sha256:
        return
    kept = folder / KEPT_DIR
    kept.mkdir(exist_ok=True)
    destination = kept / f"{path.stem}.{digest[:8]}{path.suffix}"
    if copy:
        shutil.copyfile(path, destination)
    else:
        path.replace(destination)
    report.kept.append(f"{path.name} moved to audio/{folder.name}/{KEPT_DIR}/{destination.name}")
