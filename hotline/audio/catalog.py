"""At start-up: find, for every prompt text, an audio file that says exactly that text.

A file is found by the hash of the text it says (from the manifest), not by its name, so a text
said in several places (the "wrong key" notice) plays one recording, and a file whose text has
changed since it was made (stale) is never played: the caller hears the voice instead, and
`hotline flows check` says which prompts are stale.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field, replace
from pathlib import Path

from ..ivr.model import LANGUAGES, AudioParts, Flow, Prompt, PromptText
from .formats import NotAudio, inspect_file
from .manifest import AUDIO_DIR, ManifestError, Source, language_dir, read_manifest, text_hash
from .spots import is_variable, replace_prompts, spoken_parts

log = logging.getLogger(__name__)


@dataclass
class Catalog:
    """Playable audio by (language, text hash): paths relative to the flows directory."""

    files: dict[tuple[str, str], str] = field(default_factory=dict)

    def find(self, language: str, text: str) -> str | None:
        """The file that says `text` in `language`, or None."""
        return self.files.get((language, text_hash(text)))


def load_catalog(flows_dir: Path) -> Catalog:
    """Every usable file under flows_dir/audio/; never raises (flows check names each problem)."""
    catalog = Catalog()
    for language in LANGUAGES:
        folder = language_dir(flows_dir, language)
        try:
            entries = read_manifest(folder)
        except ManifestError as error:
            log.warning("no %s audio played: %s", language, error)
            continue
        # Recordings first: when a person's recording and a draft say the same text, she wins.
        for entry in sorted(entries.values(), key=lambda e: e.source is not Source.RECORDED):
            key = (language, entry.text_sha256)
            if key in catalog.files:
                continue
            try:
                inspect_file(folder / entry.file)
            except NotAudio as problem:
                log.warning("audio %s/%s not played: %s", language, entry.file, problem)
                continue
            catalog.files[key] = f"{AUDIO_DIR}/{language}/{entry.file}"
    return catalog


def with_audio(flow: Flow, catalog: Catalog) -> Flow:
    """`flow` with each prompt text that has a current recording or draft set to play it."""

    def attach(_slot: str, prompt: Prompt) -> Prompt:
        texts = {lang: _attach(flow, catalog, text) for lang, text in prompt.texts.items()}
        return Prompt(texts)

    return replace_prompts(flow, attach)


def _attach(flow: Flow, catalog: Catalog, text: PromptText) -> PromptText:
    if text.audio:  # a recording named in the flow file itself plays as before
        return text
    parts = spoken_parts(flow, text.text)
    if len(parts) == 1 and not is_variable(parts[0]):
        found = catalog.find(text.language, parts[0])
        return replace(text, audio=found) if found else text
    files = [part if is_variable(part) else catalog.find(text.language, part) for part in parts]
    words = flow.digits.get(text.language, ())
    digits = [catalog.find(text.language, word) for word in words]
    if not words or None in files or None in digits:
        return text  # not every piece is there: the whole prompt is spoken by the voice
    return replace(
        text,
        audio_parts=AudioParts(
            parts=tuple(str(f) for f in files), digits=tuple(str(d) for d in digits)
        ),
    )


def with_audio_texts(
    texts: dict[str, dict[str, PromptText]], catalog: Catalog
) -> dict[str, dict[str, PromptText]]:
    """Callback prompts (name -> language -> text) set to play their audio where there is one."""
    found: dict[str, dict[str, PromptText]] = {}
    for name, by_language in texts.items():
        found[name] = {}
        for lang, text in by_language.items():
            audio = text.audio or catalog.find(lang, text.text)
            found[name][lang] = replace(text, audio=audio)
    return found
