"""Which pieces are recorded, synthesized, missing or stale; what is wrong in the audio folders."""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum
from pathlib import Path

from .formats import NotAudio, inspect_file
from .manifest import MANIFEST, Entry, ManifestError, Source, file_hash, language_dir, read_manifest
from .pieces import Piece

KEPT_DIR = "kept"  # a person's files that no longer play (`hotline audio add`): never deleted


class Status(StrEnum):
    RECORDED = "recorded"  # a person's recording says the current text
    SYNTHESIZED = "synthesized"  # a draft from an engine says the current text
    STALE = "stale"  # audio was made for this prompt, but its text has changed since
    MISSING = "missing"  # no audio at all


@dataclass
class PieceState:
    piece: Piece
    status: Status
    entry: Entry | None = None  # the manifest entry that plays (or, when stale, the old one)

    @property
    def file(self) -> str | None:
        """The audio file's path under the flows directory, if there is one."""
        if self.piece.explicit:
            return self.piece.explicit
        if self.entry is None:
            return None
        return f"audio/{self.piece.language}/{self.entry.file}"


@dataclass
class LanguageAudio:
    """One language's folder: its manifest and what is wrong with it."""

    folder: Path
    entries: dict[str, Entry] = field(default_factory=dict)
    usable: set[str] = field(default_factory=set)  # files that exist and are audio
    modified: set[str] = field(default_factory=set)  # files changed since the manifest was written
    problems: list[str] = field(default_factory=list)


@dataclass
class Survey:
    states: list[PieceState]
    folders: dict[str, LanguageAudio]

    @property
    def problems(self) -> list[str]:
        return [problem for folder in self.folders.values() for problem in folder.problems]

    def of(self, language: str) -> list[PieceState]:
        return [state for state in self.states if state.piece.language == language]


def read_language(flows_dir: Path, language: str, explicit: set[str]) -> LanguageAudio:
    """Read one language's manifest and check every file it lists and every file it does not."""
    folder = language_dir(flows_dir, language)
    found = LanguageAudio(folder)
    shown = f"audio/{language}"
    try:
        found.entries = read_manifest(folder)
    except ManifestError as error:
        found.problems.append(str(error))
        return found
    for name, entry in found.entries.items():
        where = f"{shown}/{name} (prompt {entry.prompt})"
        path = folder / name
        if not path.is_file():
            found.problems.append(f"{where}: listed in {shown}/{MANIFEST}, but the file is missing")
            continue
        try:
            info = inspect_file(path)
        except NotAudio as problem:
            found.problems.append(f"{where}: {problem}; it is not played")
            continue
        found.usable.add(name)
        if (format_problem := info.format_problem()) is not None:
            found.problems.append(f"{where}: {format_problem}")
        if file_hash(path) != entry.audio_sha256:
            found.modified.add(name)
            found.problems.append(
                f"{where}: changed since it was {entry.source.value}; if it is a new recording, "
                f"register it: hotline audio add --language {language} {shown}/{name}"
            )
    if folder.is_dir():
        for path in sorted(folder.iterdir()):
            name = path.name
            if name in (MANIFEST, KEPT_DIR) or name.startswith("."):
                continue
            if name in found.entries or f"{shown}/{name}" in explicit:
                continue
            found.problems.append(
                f"{shown}/{name}: not in {shown}/{MANIFEST}, so never played; to use it as a "
                f"recording: hotline audio add --language {language} {shown}/{name}"
            )
    return found


def survey(flows_dir: Path, pieces: list[Piece], languages: list[str]) -> Survey:
    """The state of every piece, and every problem with the audio folders of `languages`."""
    explicit = {piece.explicit for piece in pieces if piece.explicit}
    folders = {lang: read_language(flows_dir, lang, explicit) for lang in languages}
    states: list[PieceState] = []
    for piece in pieces:
        folder = folders.get(piece.language)
        states.append(_state(piece, pieces, folder))
    for lang, folder in folders.items():
        _report_unused(folder, [p for p in pieces if p.language == lang], lang)
    return Survey(states, folders)


def _state(piece: Piece, pieces: list[Piece], folder: LanguageAudio | None) -> PieceState:
    if piece.explicit:
        return PieceState(piece, Status.RECORDED)
    if folder is None:
        return PieceState(piece, Status.MISSING)
    playing = [
        entry
        for name, entry in folder.entries.items()
        if name in folder.usable and entry.text_sha256 == piece.text_sha256
    ]
    if playing:
        playing.sort(key=lambda entry: entry.source is not Source.RECORDED)
        best = playing[0]
        status = Status.RECORDED if best.source is Source.RECORDED else Status.SYNTHESIZED
        return PieceState(piece, status, best)
    slots = {spot.slot for spot in piece.spots}
    needed = {other.text_sha256 for other in pieces if other.language == piece.language}
    for entry in folder.entries.values():
        if entry.prompt in slots and entry.text_sha256 not in needed:
            return PieceState(piece, Status.STALE, entry)
    return PieceState(piece, Status.MISSING)


def _report_unused(folder: LanguageAudio, pieces: list[Piece], language: str) -> None:
    needed = {piece.text_sha256 for piece in pieces}
    slots = {spot.slot for piece in pieces for spot in piece.spots}
    for name, entry in folder.entries.items():
        if entry.text_sha256 in needed or entry.prompt in slots:
            continue
        where = f"audio/{language}/{name}"
        if entry.source is Source.RECORDED:
            folder.problems.append(
                f"{where}: recorded for prompt {entry.prompt}, which no flow has any more "
                "(renamed or removed?); it is kept and never played"
            )
        else:
            folder.problems.append(
                f"{where}: a draft for prompt {entry.prompt}, which no flow has any more: "
                f"hotline audio build --language {language} removes it"
            )
