"""The manifest beside each language's audio: what every file says, and who made it.

`ivr_flows/audio/<language>/manifest.yaml` maps each file to the prompt it was made for, the text
it says (and that text's hash), whether a person recorded it or an engine synthesized it, and the
hash of the file itself, so a file replaced by hand is never mistaken for the draft it replaced.
"""

from __future__ import annotations

import hashlib
import os
import tempfile
from dataclasses import dataclass
from enum import StrEnum
from pathlib import Path
from typing import Any

import yaml

MANIFEST = "manifest.yaml"
AUDIO_DIR = "audio"  # under the flows directory, one folder per language
_HEADER = """\
# What each audio file in this folder says, and who made it. Written by `hotline audio build`
# (synthesized drafts) and `hotline audio add` (recordings made by a person); read by the hotline
# at start-up and by `hotline flows check`. A file plays only while its text_sha256 matches the
# prompt's current text. See ivr_flows/README.md, "Recordings".
"""


class Source(StrEnum):
    RECORDED = "recorded"  # made by a person: never overwritten by a synthesized draft
    SYNTHESIZED = "synthesized"


class ManifestError(ValueError):
    """The manifest cannot be read; the message names the file."""


@dataclass(frozen=True)
class Entry:
    """One audio file: the prompt it was made for and the text it says."""

    file: str  # name inside the language folder, e.g. default.greeting.mp3
    prompt: str  # the prompt it was made for, e.g. default.greeting
    text: str
    text_sha256: str
    source: Source
    audio_sha256: str
    engine: str | None = None  # for synthesized files: which engine and voice


def text_hash(text: str) -> str:
    """The hash of what a prompt says: line breaks and repeated spaces do not change it."""
    return hashlib.sha256(" ".join(text.split()).encode("utf-8")).hexdigest()


def file_hash(path: Path) -> str:
    """The SHA-256 of a file's bytes."""
    return hashlib.sha256(path.read_bytes()).hexdigest()


def language_dir(flows_dir: Path, language: str) -> Path:
    """Where a language's audio lives: ivr_flows/audio/kk/."""
    return flows_dir / AUDIO_DIR / language


def read_manifest(folder: Path) -> dict[str, Entry]:
    """The entries of `folder`'s manifest by file name (empty when there is none)."""
    path = folder / MANIFEST
    if not path.is_file():
        return {}
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    except (OSError, UnicodeDecodeError, yaml.YAMLError) as exc:
        raise ManifestError(f"{path}: cannot be read ({type(exc).__name__})") from None
    files = data.get("files") if isinstance(data, dict) else None
    if not isinstance(files, dict):
        raise ManifestError(f"{path}: expected 'files:' mapping each audio file to its text")
    entries: dict[str, Entry] = {}
    for name, raw in files.items():
        entries[str(name)] = _entry(path, str(name), raw)
    return entries


def _entry(path: Path, name: str, raw: Any) -> Entry:
    fields = ("prompt", "text", "text_sha256", "source", "audio_sha256")
    if not isinstance(raw, dict) or any(not isinstance(raw.get(f), str) for f in fields):
        raise ManifestError(f"{path}: entry '{name}' needs {', '.join(fields)}")
    try:
        source = Source(raw["source"])
    except ValueError:
        raise ManifestError(
            f"{path}: entry '{name}': source must be recorded or synthesized"
        ) from None
    if name != Path(name).name or name.startswith("."):
        raise ManifestError(f"{path}: entry '{name}' must be a file name in this folder")
    engine = raw.get("engine")
    return Entry(
        file=name,
        prompt=raw["prompt"],
        text=raw["text"],
        text_sha256=raw["text_sha256"],
        source=source,
        audio_sha256=raw["audio_sha256"],
        engine=str(engine) if engine else None,
    )


def write_manifest(folder: Path, entries: dict[str, Entry]) -> None:
    """Write `folder`'s manifest atomically (a crash leaves the old one whole)."""
    files: dict[str, dict[str, str]] = {}
    for name in sorted(entries):
        entry = entries[name]
        item = {
            "prompt": entry.prompt,
            "source": entry.source.value,
            "text": entry.text,
            "text_sha256": entry.text_sha256,
            "audio_sha256": entry.audio_sha256,
        }
        if entry.engine:
            item["engine"] = entry.engine
        files[name] = item
    body = yaml.safe_dump({"files": files}, allow_unicode=True, sort_keys=False, width=100)
    write_atomically(folder / MANIFEST, (_HEADER + body).encode("utf-8"))


def write_atomically(path: Path, data: bytes) -> None:
    """Replace `path` with `data` in one step: readers see the old file or the new, never half."""
    path.parent.mkdir(parents=True, exist_ok=True)
    handle, temporary = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.")
    try:
        with os.fdopen(handle, "wb") as out:
            out.write(data)
        os.chmod(temporary, 0o644)
        os.replace(temporary, path)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise
