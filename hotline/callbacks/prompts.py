"""config/callback_prompts.yaml: what the volunteer hears during a callback, per language."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import Any

from ..audio.catalog import load_catalog, with_audio_texts
from ..ivr.model import LANGUAGES, TOPICS, PromptText, Utterance, Voice
from ..yaml_errors import read_yaml

# Every piece the callback webhooks say; the file must give each in every language.
NAMES = (
    "intro",
    *(f"topic_{topic}" for topic in TOPICS),
    *(f"language_{language}" for language in LANGUAGES),
    "identify_yes",
    "identify_no",
    "press_one",
    "connecting",
    "caller_unreachable",
    "declined",
    "request_gone",
)
_AUDIO_SUFFIXES = (".mp3", ".wav")  # what Twilio's <Play> accepts


class CallbackPromptsError(Exception):
    """The prompts file is unreadable or incomplete; the message names the file and pieces."""


@dataclass(frozen=True)
class CallbackPrompts:
    voices: dict[str, Voice]
    texts: dict[str, dict[str, PromptText]]  # name -> language -> text

    def say(self, names: list[str], language: str) -> list[Utterance]:
        """The pieces in order, in `language`: a recording if there is one, else speech."""
        voice = self.voices[language]
        heard = []
        for name in names:
            text = self.texts[name][language]
            if text.audio:
                heard.append(Utterance(text.text, voice.tts_language, voice.voice, text.audio))
                continue
            spoken = text.text
            if voice.text_from is not None:
                # Kazakh without a recording: the borrowed voice reads its own language's text.
                spoken = text.fallback or self.texts[name][voice.text_from].text
            heard.append(Utterance(spoken, voice.tts_language, voice.voice))
        return heard


def load_prompts(
    path: str | Path, audio_dir: str | Path, with_recordings: bool = True
) -> CallbackPrompts:
    """Read and check the prompts file; audio paths are relative to audio_dir (ivr_flows/)."""
    source = str(path)
    data = read_yaml(path, CallbackPromptsError)
    problems: list[str] = []
    if not isinstance(data, dict):
        raise CallbackPromptsError(f"{source}: expected 'voices' and 'prompts' at the top level")
    voices = _voices(data.get("voices"), problems)
    raw_prompts = data.get("prompts")
    if not isinstance(raw_prompts, dict):
        raw_prompts = {}
        problems.append("prompts: expected a mapping of piece name -> texts per language")
    texts: dict[str, dict[str, PromptText]] = {}
    for name in NAMES:
        texts[name] = _texts(name, raw_prompts.get(name), Path(audio_dir), problems)
    for name in sorted(set(raw_prompts) - set(NAMES), key=str):
        problems.append(f"prompts.{name}: unknown piece (known: {', '.join(NAMES)})")
    for lang, voice in voices.items():
        if voice.text_from is not None and voice.text_from not in voices:
            problems.append(f"voices.{lang}: text_from '{voice.text_from}' has no voice")
    if problems:
        raise CallbackPromptsError(f"{source}:\n  - " + "\n  - ".join(problems))
    # A Kazakh piece plays its recording (or synthesized draft) from ivr_flows/audio/ when one says
    # exactly its text; see hotline/audio/catalog.py.
    if with_recordings:
        texts = with_audio_texts(texts, load_catalog(Path(audio_dir)))
    return CallbackPrompts(voices=voices, texts=texts)


def _voices(raw: Any, problems: list[str]) -> dict[str, Voice]:
    voices: dict[str, Voice] = {}
    if not isinstance(raw, dict):
        problems.append("voices: expected a voice per language (kk, ru, en)")
        return voices
    for lang in LANGUAGES:
        spec = raw.get(lang)
        if not isinstance(spec, dict) or not spec.get("voice") or not spec.get("language"):
            problems.append(f"voices.{lang}: expected {{voice: ..., language: ...}}")
            continue
        voices[lang] = Voice(
            tts_language=str(spec["language"]),
            voice=str(spec["voice"]),
            text_from=spec.get("text_from"),
        )
    return voices


def _texts(name: str, raw: Any, audio_dir: Path, problems: list[str]) -> dict[str, PromptText]:
    texts: dict[str, PromptText] = {}
    if not isinstance(raw, dict):
        problems.append(f"prompts.{name}: missing (needs {', '.join(LANGUAGES)})")
        return texts
    for lang in LANGUAGES:
        value = raw.get(lang)
        if isinstance(value, str):
            value = {"text": value}
        if not isinstance(value, dict) or not str(value.get("text") or "").strip():
            problems.append(f"prompts.{name}.{lang}: missing text")
            continue
        audio = value.get("audio")
        if audio is not None and not _audio_ok(str(audio), audio_dir):
            problems.append(
                f"prompts.{name}.{lang}: audio '{audio}' must be an .mp3 or .wav file "
                f"inside {audio_dir}"
            )
            audio = None
        texts[lang] = PromptText(
            language=lang,
            text=str(value["text"]).strip(),
            audio=str(audio) if audio else None,
            fallback=value.get("fallback"),
        )
    return texts


def _audio_ok(relative: str, audio_dir: Path) -> bool:
    path = PurePosixPath(relative)
    if path.is_absolute() or ".." in path.parts or path.suffix.lower() not in _AUDIO_SUFFIXES:
        return False
    return (audio_dir / path).is_file()
