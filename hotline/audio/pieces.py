"""What must be recorded: every distinct text the hotline says, per language, in flow order.

A text said in several places (the "wrong key" notice) is one piece, recorded once; its file is
named after the first place a caller hears it.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

from ..callbacks.prompts import NAMES, CallbackPrompts, load_prompts
from ..ivr.loader import load_flows
from ..ivr.model import Flow, Voice
from .manifest import text_hash
from .spots import Spot, flow_spots, is_variable, spoken_parts

CALLBACK_SOURCE = "callback_prompts"
MAIN_FLOW = "default"


@dataclass
class Piece:
    """One text to record in one language, and every place it is said."""

    language: str
    slot: str  # names its file: audio/<language>/<slot>.mp3
    text: str  # exactly what the recording says, numbers as they are said ("1 1 2")
    spots: list[Spot] = field(default_factory=list)
    # The language has no voice of its own (Kazakh): without audio, callers hear another language.
    needs_audio: bool = False
    explicit: str | None = None  # audio: named in the flow file itself (path under ivr_flows/)

    @property
    def text_sha256(self) -> str:
        return text_hash(self.text)


@dataclass
class Sources:
    """The flows and callback prompts that say things, read without their audio."""

    flows_dir: Path
    flows: dict[str, Flow]
    callback_prompts: CallbackPrompts | None

    @property
    def languages(self) -> list[str]:
        found: list[str] = []
        for flow in self.flows.values():
            found += [lang for lang in flow.languages if lang not in found]
        return found


def read_sources(flows_dir: Path, callback_prompts: Path | None) -> Sources:
    """Load the flows (raise FlowError) and, when given, the callback prompts file."""
    flows = load_flows(flows_dir, with_recordings=False)
    prompts = None
    if callback_prompts is not None:
        prompts = load_prompts(callback_prompts, flows_dir, with_recordings=False)
    return Sources(flows_dir, flows, prompts)


def collect(sources: Sources, language: str | None = None) -> list[Piece]:
    """Every piece (in `language`, or all), main flow first, then the others, then callbacks."""
    found: dict[tuple[str, str], Piece] = {}

    def add(lang: str, slot: str, text: str, spot: Spot, voice: Voice | None, explicit: str | None):
        if language is not None and lang != language:
            return
        key = (lang, text_hash(text))
        piece = found.get(key)
        if piece is None:
            needs = voice is not None and voice.text_from is not None
            piece = found[key] = Piece(lang, slot, text, needs_audio=needs, explicit=explicit)
        piece.spots.append(spot)

    for flow in _ordered(sources.flows):
        for spot, prompt in flow_spots(flow):
            for lang, text in prompt.texts.items():
                parts = spoken_parts(flow, text.text)
                pieces = [p for p in parts if not is_variable(p)]
                for number, part in enumerate(pieces, start=1):
                    slot, where = spot.slot, spot
                    if len(parts) > 1:
                        slot = f"{spot.slot}.part{number}"
                        what = f"{spot.what}, part {number} of {len(pieces)} (digits between)"
                        where = Spot(slot, spot.source, spot.node, what)
                    add(lang, slot, part, where, flow.voices.get(lang), text.audio)
        for lang, words in flow.digits.items():
            for digit, word in enumerate(words):
                slot = f"{flow.name}.digit_{digit}"
                spot = Spot(slot, flow.name, "digits", f"the digit {digit}, inside numbers")
                add(lang, slot, word, spot, flow.voices.get(lang), None)
    prompts = sources.callback_prompts
    if prompts is not None:
        for name in NAMES:
            for lang, text in prompts.texts[name].items():
                spot = Spot(f"{CALLBACK_SOURCE}.{name}", CALLBACK_SOURCE, name, "callback whisper")
                add(lang, spot.slot, " ".join(text.text.split()), spot, prompts.voices.get(lang),
                    text.audio)  # fmt: skip
    return list(found.values())


def _ordered(flows: dict[str, Flow]) -> Iterable[Flow]:
    if MAIN_FLOW in flows:
        yield flows[MAIN_FLOW]
    for name in sorted(flows):
        if name != MAIN_FLOW:
            yield flows[name]
