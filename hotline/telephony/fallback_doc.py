"""The static fallback document: the emergency numbers in every language, as plain TwiML.

Twilio fetches the number's Fallback URL when the main webhook fails (no answer in 15 s, an
error, a TLS problem). Hosted apart from the hotline (any static web host, another region), it
still answers when the hotline's own hosts are down. `hotline fallback export DIR` writes it, with
the recordings it plays (DIR/ivr-audio/..., as the hotline serves them), ready to upload.
"""

from __future__ import annotations

import shutil
from pathlib import Path

from ..audio.manifest import file_hash
from ..ivr import engine
from ..ivr.loader import load_flows
from ..ivr.model import CallState
from ..settings import Settings
from . import twiml
from .flow_registry import MAIN_FLOW

DOCUMENT = "fallback.xml"


class FallbackExportError(Exception):
    """The document cannot be written as asked (the message says why)."""


def export(settings: Settings, directory: Path, base_url: str | None) -> list[Path]:
    """Write DIR/fallback.xml (and DIR/audio/... for recorded prompts); the files written."""
    flow = load_flows(settings.flows_dir)[MAIN_FLOW]
    step = engine.enter(flow, "technical_difficulty", CallState())
    recordings = sorted({u.audio for u in step.utterances if u.audio})
    if recordings and not base_url:
        raise FallbackExportError(
            f"the message plays {len(recordings)} recording(s): pass --base-url, the address "
            "the directory will be served from, so Twilio can fetch them there"
        )
    root = (base_url or "").rstrip("/")

    def audio_url(path: str) -> str:
        # The same layout and content-hashed URL as the hotline's own /ivr-audio/, so with
        # --base-url PUBLIC_BASE_URL the document is byte for byte what /twilio/fallback answers.
        version = file_hash(settings.flows_dir / path)[:16]
        return f"{root}/ivr-audio/{path}?v={version}"

    body = twiml.render_message(step.utterances, audio_url)
    directory.mkdir(parents=True, exist_ok=True)
    written = [directory / DOCUMENT]
    written[0].write_text(body, encoding="utf-8")
    for recording in recordings:
        target = directory / "ivr-audio" / recording
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(settings.flows_dir / recording, target)
        written.append(target)
    return written
