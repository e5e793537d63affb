"""Turn any WAV or MP3 (an engine's output, a person's recording) into the hotline's format.

The hotline's format: MP3, mono, 8000 Hz, 16 kbit/s (lame), about 2 kB a second; or, where lame
is not installed and WAV is asked for, 16-bit WAV, mono, 8000 Hz (sox). Loudness is normalized,
so prompts recorded on different days sound alike on the phone.
"""

from __future__ import annotations

import shutil
import subprocess
import tempfile
from pathlib import Path

from .formats import SAMPLE_RATE, NotAudio, inspect_file

FORMATS = ("mp3", "wav")
_TOOLS = {"sox": "sox", "lame": "lame"}  # program -> Debian package
_TIMEOUT_SECONDS = 120


class EncodeError(RuntimeError):
    """A conversion tool is missing or failed; the message says which and how to fix it."""


def require(program: str) -> str:
    """The path of `program`, or EncodeError saying which package installs it."""
    found = shutil.which(program)
    if found is None:
        raise EncodeError(
            f"{program} is not installed (Debian/Ubuntu: apt-get install {_TOOLS[program]})"
        )
    return found


def encode(source: Path, target: Path, fmt: str) -> None:
    """Write `source` (WAV or MP3, any rate) to `target` in the hotline's `fmt` (mp3 or wav)."""
    if fmt not in FORMATS:
        raise EncodeError(f"unknown format '{fmt}' (one of {', '.join(FORMATS)})")
    info = inspect_file(source)  # NotAudio for anything else
    with tempfile.TemporaryDirectory(prefix="hotline-audio-") as work:
        wav = source
        if info.container == "mp3":
            wav = Path(work) / "decoded.wav"
            _run([require("lame"), "--quiet", "--decode", str(source), str(wav)], source)
        phone = Path(work) / "phone.wav"
        _run(
            [require("sox"), str(wav), "-r", str(SAMPLE_RATE), "-c", "1", "-b", "16",
             "-e", "signed-integer", str(phone), "gain", "-n", "-1"],
            source,
        )  # fmt: skip
        if fmt == "wav":
            shutil.copyfile(phone, target)
        else:
            # -t: no LAME info frame, so the same text always gives the same bytes.
            _run(
                [require("lame"), "--quiet", "-t", "-m", "m", "-b", "16", "--resample", "8",
                 str(phone), str(target)],
                source,
            )  # fmt: skip
    try:
        inspect_file(target)
    except NotAudio as problem:
        raise EncodeError(f"converting {source.name} gave a file that {problem}") from None


def _run(command: list[str], source: Path) -> None:
    try:
        done = subprocess.run(command, capture_output=True, text=True, timeout=_TIMEOUT_SECONDS)
    except subprocess.TimeoutExpired:
        raise EncodeError(f"{Path(command[0]).name} took too long on {source.name}") from None
    if done.returncode != 0:
        tail = (done.stderr or done.stdout).strip().splitlines()[-1:] or ["no message"]
        raise EncodeError(
            f"{Path(command[0]).name} failed on {source.name} (status {done.returncode}): {tail[0]}"
        )
