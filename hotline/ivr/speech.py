"""Turn a prompt into what the caller hears: recordings first, text-to-speech as the fallback."""

from __future__ import annotations

import re
from collections.abc import Mapping

from .model import Flow, Prompt, PromptText, Utterance

# {name} in a prompt text is replaced by the flow's variable of that name (emergency numbers), or by
# the call variable of that name (runtime variables the edge supplies, e.g. last_two).
VARIABLE = re.compile(r"\{([^{}]*)\}")
_DIGITS = re.compile(r"[0-9]+")


def variable_names(text: str) -> list[str]:
    """The {variable} names a prompt text uses, in order."""
    return VARIABLE.findall(text)


def substitute(text: str, variables: Mapping[str, str], for_speech: bool) -> str:
    """Fill in {variables}; for speech, space digit-only values so voices read each digit."""

    def value(match: re.Match[str]) -> str:
        name = match.group(1)
        if name not in variables:
            return match.group(0)  # the validator reports it; a caller should still hear the rest
        found = variables[name]
        # "112" read as "one hundred twelve" is not the number a caller must dial; "1 1 2" is.
        if for_speech and _DIGITS.fullmatch(found):
            return " ".join(found)
        return found

    return VARIABLE.sub(value, text)


def say(
    flow: Flow,
    prompt: Prompt | None,
    language: str | None,
    call_vars: Mapping[str, str] | None = None,
) -> tuple[Utterance, ...]:
    """The prompt in `language`, or in every flow language in order when it is None.

    `call_vars` (the call's CallState.vars) fill in the flow's runtime variables.
    """
    if prompt is None:
        return ()
    languages = flow.languages if language is None else (language,)
    values = _values(flow, call_vars or {})
    heard: list[Utterance] = []
    for lang in languages:
        pieces = _recorded_in_pieces(prompt.texts.get(lang), flow, lang, values)
        if pieces:
            heard.extend(pieces)
            continue
        utterance = _utterance(flow, prompt, lang, values)
        # A language that borrows another's text (Kazakh read from Russian) would otherwise make
        # the caller hear the same sentence twice in a row in an all-languages prompt.
        if utterance is not None and utterance not in heard:
            heard.append(utterance)
    return tuple(heard)


def _recorded_in_pieces(
    text: PromptText | None, flow: Flow, lang: str, values: Mapping[str, str]
) -> list[Utterance]:
    """The recorded pieces of a text that says a runtime variable, digits included; [] if none.

    A value that is not all digits (or is missing) cannot be played from the digit recordings:
    the caller then hears the whole prompt from the voice instead.
    """
    voice = flow.voices.get(lang)
    if text is None or text.audio_parts is None or voice is None:
        return []
    said = substitute(text.text, values, for_speech=False)
    heard: list[Utterance] = []
    for part in text.audio_parts.parts:
        names = VARIABLE.fullmatch(part)
        files = [part]
        if names is not None:
            value = values.get(names.group(1), "")
            if not _DIGITS.fullmatch(value):
                return []
            files = [text.audio_parts.digits[int(digit)] for digit in value]
        heard.extend(Utterance(said, voice.tts_language, voice.voice, audio=f) for f in files)
    return heard


def _values(flow: Flow, call_vars: Mapping[str, str]) -> dict[str, str]:
    # A runtime variable the edge did not supply is said as nothing: a call never fails for it.
    values = dict.fromkeys(flow.runtime_variables, "")
    values.update(call_vars)
    values.update(flow.variables)  # the flow's own numbers win: a call cannot change them
    return values


def _utterance(
    flow: Flow, prompt: Prompt, lang: str, values: Mapping[str, str]
) -> Utterance | None:
    text = prompt.texts.get(lang)
    voice = flow.voices.get(lang)
    if text is None or voice is None:
        return None  # only in a flow that skipped validation: say what we can, never fail a call
    if text.audio:
        return Utterance(
            text=substitute(text.text, values, for_speech=False),
            tts_language=voice.tts_language,
            voice=voice.voice,
            audio=text.audio,
        )
    spoken = _tts_text(prompt, text, voice.text_from)
    return Utterance(
        text=substitute(spoken, values, for_speech=True),
        tts_language=voice.tts_language,
        voice=voice.voice,
    )


def _tts_text(prompt: Prompt, text: PromptText, text_from: str | None) -> str:
    """The text a voice can read: the language's own, or the borrowed language's."""
    if text_from is None:
        return text.text
    if text.fallback is not None:
        return text.fallback
    borrowed = prompt.texts.get(text_from)
    return borrowed.text if borrowed is not None else text.text
