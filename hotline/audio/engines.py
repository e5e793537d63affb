"""Speech engines that make draft audio from a prompt's text: espeak-ng, Azure Speech, a command.

An engine writes a WAV (or MP3) file; `encode` then turns it into the hotline's format.
"""

from __future__ import annotations

import re
import shlex
import shutil
import subprocess
import urllib.error
import urllib.request
from pathlib import Path
from typing import Protocol
from xml.sax.saxutils import escape, quoteattr

from ..settings import SpeechSettings

_TIMEOUT_SECONDS = 120
ESPEAK_VOICES = {"kk": "kk", "ru": "ru", "en": "en-us"}
AZURE_LOCALES = {"kk": "kk-KZ", "ru": "ru-RU", "en": "en-US"}
AZURE_VOICES = {"kk": "kk-KZ-AigulNeural", "ru": "ru-RU-SvetlanaNeural", "en": "en-US-JennyNeural"}
AZURE_OUTPUT_FORMAT = "riff-8khz-16bit-mono-pcm"  # phone quality already: nothing lost in encode
_PLACEHOLDER = re.compile(r"\{(text|out|lang)\}")


class EngineError(RuntimeError):
    """The engine is not installed, not configured, or failed; the message says which."""


class Engine(Protocol):
    def describe(self, language: str) -> str:
        """What the manifest records as the source, e.g. 'espeak-ng 1.51 (voice kk)'."""
        ...

    def check(self, language: str) -> None:
        """Raise EngineError when the engine cannot speak `language` here at all."""
        ...

    def synthesize(self, text: str, language: str, out: Path) -> None:
        """Write `text` spoken in `language` to `out` (a .wav path); raise EngineError."""
        ...


def make_engine(spec: str, settings: SpeechSettings | None = None) -> Engine:
    """The engine `spec` names: espeak-ng, azure, or a command line with {text} and {out}."""
    if spec == "espeak-ng":
        return EspeakNg()
    if spec == "azure":
        return AzureSpeech(settings or SpeechSettings.from_env())
    if "{out}" in spec:
        return CommandEngine(spec)
    raise EngineError(
        f"unknown engine '{spec}': use espeak-ng, azure, or a command line such as "
        "'mytts --lang {lang} --text {text} --wav {out}'"
    )


def _run(command: list[str], what: str, stdin: str | None = None) -> str:
    try:
        done = subprocess.run(
            command, input=stdin, capture_output=True, text=True, timeout=_TIMEOUT_SECONDS
        )
    except FileNotFoundError:
        raise EngineError(f"{what}: '{command[0]}' is not installed (not found on PATH)") from None
    except subprocess.TimeoutExpired:
        raise EngineError(f"{what}: gave no result within {_TIMEOUT_SECONDS} s") from None
    if done.returncode != 0:
        tail = (done.stderr or done.stdout).strip().splitlines()[-1:] or ["no message"]
        raise EngineError(f"{what} failed (status {done.returncode}): {tail[0]}")
    return done.stdout


class EspeakNg:
    """espeak-ng from Debian's packages: offline and robotic, but it speaks Kazakh."""

    def __init__(self) -> None:
        self._version: str | None = None

    def _binary(self) -> str:
        found = shutil.which("espeak-ng")
        if found is None:
            raise EngineError(
                "espeak-ng is not installed (Debian/Ubuntu: apt-get install espeak-ng)"
            )
        return found

    def describe(self, language: str) -> str:
        if self._version is None:
            out = _run([self._binary(), "--version"], "espeak-ng --version")
            match = re.search(r"speech:\s*([0-9][\w.]*)", out)
            self._version = match.group(1) if match else "unknown version"
        return f"espeak-ng {self._version} (voice {ESPEAK_VOICES.get(language, language)})"

    def check(self, language: str) -> None:
        voice = ESPEAK_VOICES.get(language, language)
        listing = _run([self._binary(), f"--voices={voice}"], "espeak-ng --voices")
        if len(listing.strip().splitlines()) < 2:
            raise EngineError(f"espeak-ng has no voice for '{language}' ({voice})")

    def synthesize(self, text: str, language: str, out: Path) -> None:
        voice = ESPEAK_VOICES.get(language, language)
        # The text goes in on stdin: as an argument, one starting with '-' would be an option.
        # -s 150 words a minute: slower than the default 175, clearer on a phone line.
        command = [self._binary(), "-v", voice, "-s", "150", "-w", str(out), "--stdin"]
        _run(command, "espeak-ng", stdin=text)


class AzureSpeech:
    """Azure Speech's text-to-speech REST API (neural kk-KZ voices), key and region from the
    environment (AZURE_SPEECH_KEY, AZURE_SPEECH_REGION)."""

    def __init__(self, settings: SpeechSettings) -> None:
        self.settings = settings

    def _voice(self, language: str) -> str:
        return self.settings.azure_voice or AZURE_VOICES.get(language, "")

    def _endpoint(self) -> str:
        if self.settings.azure_endpoint:
            return self.settings.azure_endpoint
        return f"https://{self.settings.azure_region}.tts.speech.microsoft.com/cognitiveservices/v1"

    def describe(self, language: str) -> str:
        return f"azure speech ({self._voice(language)})"

    def check(self, language: str) -> None:
        missing = [
            name
            for name, value in (
                ("AZURE_SPEECH_KEY", self.settings.azure_key),
                ("AZURE_SPEECH_REGION", self.settings.azure_region or self.settings.azure_endpoint),
            )
            if not value
        ]
        if missing:
            raise EngineError(f"azure engine: set {' and '.join(missing)} (see README)")
        if not self._voice(language):
            raise EngineError(f"azure engine: no voice for '{language}': set AZURE_SPEECH_VOICE")

    def synthesize(self, text: str, language: str, out: Path) -> None:
        locale = AZURE_LOCALES.get(language, language)
        ssml = (
            f"<speak version='1.0' xml:lang={quoteattr(locale)}>"
            f"<voice xml:lang={quoteattr(locale)} name={quoteattr(self._voice(language))}>"
            f"{escape(text)}</voice></speak>"
        )
        endpoint = self._endpoint()
        if not endpoint.startswith(("https://", "http://")):
            raise EngineError("AZURE_SPEECH_ENDPOINT must be an http(s) URL")
        request = urllib.request.Request(  # noqa: S310 (checked just above)
            endpoint,
            data=ssml.encode("utf-8"),
            method="POST",
            headers={
                "Ocp-Apim-Subscription-Key": self.settings.azure_key or "",
                "Content-Type": "application/ssml+xml",
                "X-Microsoft-OutputFormat": AZURE_OUTPUT_FORMAT,
                "User-Agent": "hotline-audio",
            },
        )
        try:
            with urllib.request.urlopen(request, timeout=_TIMEOUT_SECONDS) as response:  # noqa: S310
                out.write_bytes(response.read())
        except urllib.error.HTTPError as error:
            hint = _azure_hint(error.code)
            raise EngineError(f"Azure Speech answered HTTP {error.code}: {hint}") from None
        except (urllib.error.URLError, TimeoutError, OSError) as error:
            reason = getattr(error, "reason", error)
            raise EngineError(f"Azure Speech cannot be reached ({reason})") from None


def _azure_hint(status: int) -> str:
    return {
        400: "the request was refused (is the voice right for the language?)",
        401: "the key was refused: check AZURE_SPEECH_KEY and AZURE_SPEECH_REGION",
        403: "the key was refused: check AZURE_SPEECH_KEY and AZURE_SPEECH_REGION",
        415: "the request's format was refused",
        429: "too many requests: wait a minute and build again (done prompts are kept)",
    }.get(status, "try again later")


class CommandEngine:
    """Any program: `--engine 'mytts --lang {lang} --text {text} --wav {out}'`.

    The line is split like a shell would, but run without one: the text is one argument, never
    interpreted, whatever it contains.
    """

    def __init__(self, template: str) -> None:
        self.template = template
        try:
            self.words = shlex.split(template)
        except ValueError as error:
            raise EngineError(f"engine command cannot be read: {error}") from None
        if not self.words or not any("{text}" in word for word in self.words):
            raise EngineError("an engine command needs {text} (the prompt) and {out} (the file)")

    def describe(self, language: str) -> str:
        return f"command {Path(self.words[0]).name}"

    def check(self, language: str) -> None:
        if shutil.which(self.words[0]) is None:
            raise EngineError(f"engine command '{self.words[0]}' is not installed (not on PATH)")

    def synthesize(self, text: str, language: str, out: Path) -> None:
        values = {"text": text, "out": str(out), "lang": language}
        command = [_PLACEHOLDER.sub(lambda m: values[m.group(1)], word) for word in self.words]
        _run(command, f"engine command {Path(self.words[0]).name}")
        if not out.is_file() or out.stat().st_size == 0:
            raise EngineError(f"engine command {Path(self.words[0]).name} wrote no file at {{out}}")
