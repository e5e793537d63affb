"""The IVR flow as data, and the steps the engine hands to the telephony edge.

Pure Python: nothing here knows about Flask, Twilio, SQLAlchemy or Redis.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from enum import StrEnum
from pathlib import Path

# Ids shared by flows, routing, the roster, call records and the dashboard: add one everywhere.
LANGUAGES = ("kk", "ru", "en")
TOPICS = ("violence", "trafficking", "labor")  # labor: unemployment and labor rights


class NodeKind(StrEnum):
    MESSAGE = "message"  # say a prompt, then go on to `next`
    MENU = "menu"  # say a prompt and wait for one key
    ROUTE = "route"  # hand the call to routing with a topic (or the topic the call already has)
    HANGUP = "hangup"  # say a prompt (optional) and end the call
    COLLECT = "collect"  # say a prompt and wait for several digits ending with '#'
    CALLBACK = "callback"  # say a prompt (optional) and hand the call to the callback service


@dataclass(frozen=True)
class PromptText:
    """One prompt in one language: recorded audio first, text-to-speech as the fallback."""

    language: str
    text: str
    audio: str | None = None  # path relative to the flow file's directory (the flows directory)
    # What a borrowed voice (Voice.text_from) says when there is no recording. Needed where the
    # borrowed language's text says something else, e.g. "for Kazakh press 1" in the language menu.
    fallback: str | None = None
    # Recorded in pieces, for a text that says a runtime variable ({last_two}): see AudioParts.
    audio_parts: AudioParts | None = None


@dataclass(frozen=True)
class AudioParts:
    """A recording of a text that says a number known only during the call, in pieces.

    `parts` are audio files in order, with "{name}" where the runtime variable goes; the variable's
    value is played digit by digit from `digits`, ten recordings of the digits 0 to 9.
    """

    parts: tuple[str, ...]
    digits: tuple[str, ...]


@dataclass(frozen=True)
class Prompt:
    """A prompt in every language of the flow, keyed by language code (kk, ru, en)."""

    texts: dict[str, PromptText]


@dataclass(frozen=True)
class Transition:
    """Where a key (or silence, or a wrong key) takes the call."""

    target: str  # node id
    set_language: str | None = None
    set_topic: str | None = None
    prompt: Prompt | None = None  # said before entering target, e.g. "that key is not on the menu"
    # Call variables to set (YAML `set:`), e.g. {"window": "morning"}; read back by the edge.
    set_vars: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class Node:
    id: str
    kind: NodeKind
    prompt: Prompt | None = None
    # Before the caller picked a language, say the prompt in every language of the flow in order.
    all_languages: bool = False
    next: str | None = None  # MESSAGE; COLLECT: where a valid entry goes
    options: dict[str, Transition] = field(default_factory=dict)  # MENU: key -> transition
    repeat_keys: frozenset[str] = frozenset()  # MENU: keys that repeat the menu
    timeout_seconds: int = 0  # MENU, COLLECT
    max_retries: int = 0  # MENU, COLLECT: silences / wrong entries before `on_exhausted`
    on_timeout: Prompt | None = None  # MENU, COLLECT: said before repeating after silence
    on_invalid: Prompt | None = None  # MENU, COLLECT: said before repeating after a wrong entry
    on_exhausted: Transition | None = None  # MENU, COLLECT: the documented default after retries
    topic: str | None = None  # ROUTE: None re-routes to the topic the call already has
    max_digits: int | None = None  # COLLECT
    expect: str | None = None  # COLLECT: what the edge checks the digits against ("phone")


@dataclass(frozen=True)
class Flow:
    name: str
    source: Path
    start: str
    languages: tuple[str, ...]
    default_language: str
    nodes: dict[str, Node]
    # How to speak each language when a prompt has no recording: {lang: Voice}
    voices: dict[str, Voice]
    variables: dict[str, str] = field(default_factory=dict)
    # Nodes that code outside the graph enters by name (routing, the edge), e.g. nobody_available.
    entry_points: tuple[str, ...] = ()
    # {names} prompts may use whose values the edge supplies per call in CallState.vars.
    runtime_variables: tuple[str, ...] = ()
    # How recordings say a runtime variable's digits, per language: the words for 0 to 9
    # (YAML `digits:`). Each is recorded like a prompt; see AudioParts.
    digits: dict[str, tuple[str, ...]] = field(default_factory=dict)


@dataclass(frozen=True)
class Voice:
    """Text-to-speech settings for one language.

    Twilio has no Kazakh voice, so Kazakh usually falls back to the Russian text spoken by a Russian
    voice (`text_from: ru`): most Kazakh speakers understand Russian, while a Russian voice reading
    Kazakh text mangles the letters Russian lacks.
    """

    tts_language: str  # e.g. ru-RU
    voice: str  # e.g. Polly.Tatyana
    text_from: str | None = None  # use this language's text when no recording exists


# --- What the engine hands to the telephony edge -------------------------------------------------


@dataclass(frozen=True)
class Utterance:
    """One thing the caller hears: a recording if there is one, else text for text-to-speech."""

    text: str
    tts_language: str
    voice: str
    audio: str | None = None  # path relative to the flow file's directory (the flows directory)


@dataclass(frozen=True)
class CallState:
    """What the IVR knows about a call; carried in signed action URLs, so any process serves it."""

    language: str | None = None
    topic: str | None = None
    tries: int = 0  # silences and wrong keys at the current menu
    # Call variables, (name, value) sorted by name so that equal states compare equal: what the
    # flow `set` (window, identify) and what the edge supplies (last_two, the number's token).
    vars: tuple[tuple[str, str], ...] = ()

    def __post_init__(self) -> None:
        # Sorted and one value per name, however the state was built (e.g. from a URL).
        object.__setattr__(self, "vars", tuple(sorted(dict(self.vars).items())))

    def var(self, name: str) -> str | None:
        """The value of call variable `name`, or None when it is not set."""
        return dict(self.vars).get(name)

    def with_vars(self, **values: str | None) -> CallState:
        """A new state with `values` set; a value of None removes that variable."""
        merged = dict(self.vars)
        for name, value in values.items():
            if value is None:
                merged.pop(name, None)
            else:
                merged[name] = value
        return replace(self, vars=tuple(merged.items()))


@dataclass(frozen=True)
class Gather:
    """Wait for input at `node_id`; silence after `timeout_seconds` comes back with no digits.

    A menu waits for one key (num_digits 1). A collect node waits for several digits ending with
    `finish_on_key` ("#"), at most `max_digits` of them (num_digits None).
    """

    node_id: str
    timeout_seconds: int
    num_digits: int | None = 1
    finish_on_key: str = ""
    max_digits: int | None = None


@dataclass(frozen=True)
class RouteTo:
    topic: str | None  # None: the call has no topic yet; routing decides


@dataclass(frozen=True)
class Hangup:
    pass


@dataclass(frozen=True)
class RequestCallback:
    """Hand the call to the callback service: the consent is in the step's CallState.vars."""


@dataclass(frozen=True)
class Step:
    """What the caller hears next and where the call goes: a gather, route, callback or hangup."""

    utterances: tuple[Utterance, ...]
    state: CallState
    end: Gather | RouteTo | Hangup | RequestCallback
    # The anonymized IVR path this step adds: node ids, "menu:key" for a chosen key,
    # "menu:timeout" / "menu:invalid" (never the keys pressed), "route:topic",
    # "collect:entered" / "collect:invalid" / "collect:timeout" (never the digits typed).
    visited: tuple[str, ...] = ()
