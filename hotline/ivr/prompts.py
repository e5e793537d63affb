"""Read one prompt of a flow file: a text per language, with optional recording and fallback."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path, PurePosixPath

from .model import Prompt, PromptText, Voice
from .speech import variable_names

# What Twilio's <Play> accepts among common formats (it cannot play .ogg or .m4a).
AUDIO_SUFFIXES = (".mp3", ".wav")
_TEXT_FIELDS = ("text", "audio", "fallback")

Report = Callable[[str | None, str], None]


class PromptReader:
    """Reads prompts for one flow file, checking languages, recordings and {variables}."""

    def __init__(
        self,
        base: Path,
        languages: tuple[str, ...],
        voices: dict[str, Voice],
        variables: dict[str, str],
        report: Report,
        runtime_variables: tuple[str, ...] = (),
    ) -> None:
        self.base = base
        self.languages = languages
        self.voices = voices
        self.variables = variables
        self.runtime_variables = runtime_variables
        self.report = report

    def read(self, node_id: str, raw: object, label: str) -> Prompt | None:
        """A Prompt from `raw` ({language: text or {text, audio, fallback}}), reporting problems."""
        if not isinstance(raw, dict):
            self.report(
                node_id, f"{label} must give a text per language ({', '.join(self.languages)})"
            )
            return None
        texts: dict[str, PromptText] = {}
        for lang, value in raw.items():
            if lang not in self.languages:
                self.report(node_id, f"{label} has text in '{lang}', which is not a flow language")
                continue
            text = self._text(node_id, str(lang), value, f"{label} ({lang})")
            if text is not None:
                texts[lang] = text
        for lang in self.languages:
            if lang not in raw:
                self.report(node_id, f"{label} is missing language '{lang}'")
        return Prompt(texts)

    def _text(self, node_id: str, lang: str, raw: object, where: str) -> PromptText | None:
        if isinstance(raw, bool):
            # YAML 1.1 reads an unquoted No, Yes, On or Off as true/false, not as text.
            self.report(node_id, f"{where} was read as yes/no: put the text in double quotes")
            return None
        if isinstance(raw, str):
            raw = {"text": raw}
        if not isinstance(raw, dict):
            self.report(node_id, f"{where} must be a text, or a mapping with text and audio")
            return None
        for name in raw:
            if name not in _TEXT_FIELDS:
                self.report(
                    node_id,
                    f"{where}: unknown field '{name}' (a prompt text has: "
                    f"{', '.join(_TEXT_FIELDS)})",
                )
        text = raw.get("text")
        if not isinstance(text, str) or not text.strip():
            # Needed even with a recording: it is what the voice talent reads and staff review.
            self.report(node_id, f"{where} has no text")
            return None
        self._check_variables(node_id, text, where)
        fallback = raw.get("fallback")
        if fallback is not None:
            voice = self.voices.get(lang)
            if not isinstance(fallback, str) or not fallback.strip():
                self.report(node_id, f"{where}: fallback must be text")
                fallback = None
            elif voice is not None and voice.text_from is None:
                self.report(
                    node_id,
                    f"{where}: fallback is never said: the voice for '{lang}' has no text_from",
                )
            else:
                self._check_variables(node_id, fallback, where)
        audio = self._audio(node_id, raw["audio"], where) if "audio" in raw else None
        if audio is not None:
            for name in variable_names(text):
                if name in self.runtime_variables and name not in self.variables:
                    # The recording would be played and the caller would never hear the value.
                    self.report(
                        node_id,
                        f"{where}: a recording cannot say {{{name}}}, which changes with every "
                        "call: leave this text without audio",
                    )
        return PromptText(language=lang, text=text, audio=audio, fallback=fallback)

    def _check_variables(self, node_id: str, text: str, where: str) -> None:
        for name in variable_names(text):
            if name not in self.variables and name not in self.runtime_variables:
                self.report(
                    node_id,
                    f"{where} uses {{{name}}}, which is not defined in variables "
                    "or runtime_variables",
                )

    def _audio(self, node_id: str, raw: object, where: str) -> str | None:
        """The recording's path relative to the flow file's directory, if it is there and safe."""
        if not isinstance(raw, str) or not raw.strip():
            self.report(node_id, f"{where}: audio must be a file path like audio/kk/greeting.mp3")
            return None
        relative = PurePosixPath(raw.replace("\\", "/"))
        # The path becomes a URL Twilio fetches: nothing outside the flows directory is served.
        if relative.is_absolute() or ".." in relative.parts or not self._inside(relative):
            self.report(node_id, f"{where}: audio '{raw}' is outside the flows directory")
            return None
        if relative.suffix.lower() not in AUDIO_SUFFIXES:
            self.report(node_id, f"{where}: audio '{raw}' must be .mp3 or .wav (what Twilio plays)")
            return None
        if not (self.base / relative).is_file():
            self.report(node_id, f"{where}: audio file '{raw}' does not exist in {self.base}")
            return None
        return relative.as_posix()

    def _inside(self, relative: PurePosixPath) -> bool:
        # Resolving also catches a symlink that points out of the directory.
        base = self.base.resolve()
        return (base / relative).resolve().is_relative_to(base)
