"""Render the engine's steps as TwiML. The only module that knows TwiML's shape."""

from __future__ import annotations

from collections.abc import Callable, Iterable

from twilio.twiml.voice_response import Gather as TwimlGather
from twilio.twiml.voice_response import VoiceResponse

from ..ivr.model import Gather, Hangup, RequestCallback, RouteTo, Step, Utterance

# Builds an absolute URL for a path and query parameters.
UrlFor = Callable[..., str]


def add_utterances(
    target: VoiceResponse | TwimlGather, utterances: Iterable[Utterance], audio_url: UrlFor
) -> None:
    """A recording when the prompt has one, else text-to-speech in the prompt's voice."""
    for utterance in utterances:
        if utterance.audio:
            target.play(audio_url(utterance.audio))
        else:
            target.say(utterance.text, voice=utterance.voice, language=utterance.tts_language)


def render_step(
    step: Step,
    step_url: Callable[[Gather, Step], str],
    redirect_url: Callable[[RouteTo | RequestCallback, Step], str],
    audio_url: UrlFor,
) -> str:
    """TwiML for one IVR step: what the caller hears, then a Gather, a hand-off or a hangup."""
    response = VoiceResponse()
    end = step.end
    if isinstance(end, Gather):
        url = step_url(end, step)
        gather = response.gather(
            input="dtmf",
            num_digits=end.num_digits,  # None (a typed number): until the finish key
            timeout=end.timeout_seconds,
            action=url,
            method="POST",
            # In a menu '#' would end the Gather with no digits (silence): it is a wrong key.
            finish_on_key=end.finish_on_key,
        )
        # Prompts inside the Gather so a caller who knows the menu can press a key at once.
        add_utterances(gather, step.utterances, audio_url)
        # Reached only on silence: come back to the same menu with no digits.
        response.redirect(url, method="POST")
    elif isinstance(end, RouteTo | RequestCallback):
        add_utterances(response, step.utterances, audio_url)
        response.redirect(redirect_url(end, step), method="POST")
    elif isinstance(end, Hangup):
        add_utterances(response, step.utterances, audio_url)
        response.hangup()
    return str(response)


def ask_for_one_key(
    utterances: Iterable[Utterance],
    action_url: str,
    no_key_url: str,
    audio_url: UrlFor,
    timeout_seconds: int,
) -> str:
    """Say `utterances` while waiting for one key (a volunteer's whisper); no key: `no_key_url`."""
    response = VoiceResponse()
    gather = response.gather(
        input="dtmf", num_digits=1, timeout=timeout_seconds, action=action_url, method="POST"
    )
    add_utterances(gather, utterances, audio_url)
    response.redirect(no_key_url, method="POST")
    return str(response)


def render_message(utterances: Iterable[Utterance], audio_url: UrlFor, hangup: bool = True) -> str:
    """TwiML that says something and (by default) ends the call gracefully."""
    response = VoiceResponse()
    add_utterances(response, utterances, audio_url)
    if hangup:
        response.hangup()
    return str(response)


def empty() -> str:
    """An empty response: what status callbacks should get."""
    return str(VoiceResponse())
