"""The IVR engine: what a caller hears and where the call goes, for each key, silence, mistake."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import pytest

from hotline.ivr import engine
from hotline.ivr.engine import NotAMenu, UnknownNode
from hotline.ivr.loader import load_flows
from hotline.ivr.model import (
    CallState,
    Flow,
    Gather,
    Hangup,
    Node,
    NodeKind,
    Prompt,
    PromptText,
    RequestCallback,
    RouteTo,
    Step,
    Transition,
    Voice,
)

FLOWS_DIR = Path(__file__).resolve().parents[2] / "ivr_flows"
TATYANA = "Polly.Tatyana"
JOANNA = "Polly.Joanna"


@pytest.fixture(scope="module")
def flow() -> Flow:
    # Without the shipped Kazakh audio: these tests read what the voices say (Kazakh borrows the
    # Russian text). tests/integration/test_kazakh_audio.py covers the audio.
    return load_flows(FLOWS_DIR, with_recordings=False)["default"]


def heard(step: Step) -> str:
    """Everything the caller hears in a step, as one text."""
    return " | ".join(utterance.text for utterance in step.utterances)


def voices(step: Step) -> list[str]:
    return [utterance.voice for utterance in step.utterances]


def waits_at(step: Step) -> str | None:
    return step.end.node_id if isinstance(step.end, Gather) else None


def at_topic(language: str = "ru", tries: int = 0) -> CallState:
    return CallState(language=language, tries=tries)


# --- a new call --------------------------------------------------------------------------------


def test_a_new_call_hears_the_greeting_with_emergency_numbers_then_the_language_menu(flow):
    step = engine.start(flow)

    assert waits_at(step) == "language"
    assert step.state == CallState()
    assert step.visited == ("greeting", "language")
    # Voices read each digit: "one one two", not "one hundred twelve".
    assert "1 1 2" in heard(step) and "1 0 2" in heard(step)
    assert "112" not in heard(step)


def test_before_a_language_is_chosen_every_language_is_offered_in_its_own_language(flow):
    step = engine.start(flow)
    text = heard(step)

    # No Kazakh recording ships yet: the Russian voice offers Kazakh in Russian (the fallback).
    assert "Для казахского языка нажмите 1" in text
    assert "Для русского языка нажмите 2" in text
    assert "For English, press 3" in text
    assert set(voices(step)) == {TATYANA, JOANNA}


def test_the_greeting_borrowed_for_kazakh_is_not_said_twice(flow):
    step = engine.start(flow)

    assert heard(step).count("Вы позвонили на кризисную линию") == 1
    assert heard(step).count("You have reached the crisis line") == 1


# --- keys at the menus ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("node", "digits", "state", "waits", "routes_to", "language", "visited"),
    [
        ("language", "1", CallState(), "topic", None, "kk", ("language:1", "topic")),
        ("language", "2", CallState(), "topic", None, "ru", ("language:2", "topic")),
        ("language", "3", CallState(), "topic", None, "en", ("language:3", "topic")),
        (
            "language",
            "0",
            CallState(),
            "language",
            None,
            None,
            ("language:0", "emergency_numbers_all_languages", "language"),
        ),
        ("topic", "1", at_topic(), None, "violence", "ru", ("topic:1", "route:violence")),
        ("topic", "2", at_topic(), None, "trafficking", "ru", ("topic:2", "route:trafficking")),
        ("topic", "3", at_topic("en"), None, "labor", "en", ("topic:3", "route:labor")),
        ("topic", "0", at_topic(), "topic", None, "ru", ("topic:0", "emergency_numbers", "topic")),
        ("topic", "9", at_topic(), "topic", None, "ru", ("topic:9", "topic")),
    ],
)
def test_a_key_leads_where_the_menu_says(
    flow, node, digits, state, waits, routes_to, language, visited
):
    step = engine.advance(flow, node, digits, state)

    if routes_to:
        assert step.end == RouteTo(routes_to)
    else:
        assert waits_at(step) == waits
    assert step.state.language == language
    assert step.state.topic == routes_to
    assert step.visited == visited


@pytest.mark.parametrize(
    ("language", "expected", "voice"),
    [
        ("ru", "Насилие, в том числе в семье, — нажмите 1", TATYANA),
        ("en", "For violence, including at home, press 1", JOANNA),
        # Twilio has no Kazakh voice: without a recording, the Russian text in the Russian voice.
        ("kk", "Насилие, в том числе в семье, — нажмите 1", TATYANA),
    ],
)
def test_the_topic_menu_is_said_in_the_chosen_language_only(flow, language, expected, voice):
    digit = {"kk": "1", "ru": "2", "en": "3"}[language]
    step = engine.advance(flow, "language", digit, CallState())

    assert expected in heard(step)
    assert voices(step) == [voice]


def test_the_emergency_numbers_are_said_twice_then_the_same_menu_returns(flow):
    step = engine.advance(flow, "topic", "0", at_topic("en"))

    assert heard(step).count("1 1 2") == 2 and heard(step).count("1 0 2") == 2
    assert waits_at(step) == "topic"


def test_choosing_a_topic_says_we_are_connecting_before_routing(flow):
    step = engine.advance(flow, "topic", "2", at_topic("en"))

    assert heard(step) == "We are connecting you with a counselor. Please stay on the line."


# --- silence and wrong keys --------------------------------------------------------------------


@pytest.mark.parametrize("silence", [None, ""])
def test_silence_repeats_the_menu_after_saying_staying_on_the_line_is_enough(flow, silence):
    step = engine.advance(flow, "topic", silence, at_topic("en"))

    assert waits_at(step) == "topic"
    assert step.state.tries == 1
    assert heard(step).startswith("If you cannot press a key right now, just stay on the line.")
    assert "For violence" in heard(step)
    assert step.visited == ("topic:timeout", "topic")


PHONE_NUMBER = "+77011234567"


@pytest.mark.parametrize(
    "digits",
    ["7", "12", "*", "#", "a", " ", PHONE_NUMBER, "1" * 5000],
    ids=["unused key", "two digits", "star", "hash", "letter", "space", "a number", "5000 digits"],
)
def test_a_wrong_key_says_so_and_repeats_the_menu_without_recording_the_key(flow, digits):
    step = engine.advance(flow, "topic", digits, at_topic("en"))

    assert waits_at(step) == "topic"
    assert step.state.tries == 1
    assert heard(step).startswith("That key is not on the menu.")
    # The path names the event, never the keys: a "wrong key" may be a whole phone number.
    assert step.visited == ("topic:invalid", "topic")


@pytest.mark.parametrize(
    ("inputs", "outcome"),
    [
        # The menu is said at most three times (the first and two repeats); then the default.
        ((None, None), "topic"),
        ((None, None, None), "route:violence"),
        (("7", "8", "#"), "route:violence"),
        ((None, "7", None), "route:violence"),
        # Hearing the menu again (9) is not a mistake and does not use up a try.
        ((None, "9", None, "9"), "topic"),
        ((None, "9", None, "9", None), "route:violence"),
        # A valid key starts the count again at the next menu visit.
        ((None, None, "0", None, None), "topic"),
    ],
)
def test_silences_and_wrong_keys_count_together_until_the_default(flow, inputs, outcome):
    state = at_topic()
    step = None
    for digits in inputs:
        step = engine.advance(flow, "topic", digits, state)
        state = step.state
    assert step is not None
    if outcome == "topic":
        assert waits_at(step) == "topic"
    else:
        assert step.end == RouteTo("violence")
        assert step.visited[-1] == outcome


def test_a_silent_caller_at_the_topic_menu_reaches_the_violence_line(flow):
    step = engine.advance(flow, "topic", None, at_topic("kk", tries=2))

    assert step.end == RouteTo("violence")
    assert step.state == CallState(language="kk", topic="violence", tries=0)
    assert step.visited == ("topic:timeout", "route:violence")
    assert "Соединяем вас с консультантом" in heard(step)


def test_a_silent_caller_at_the_language_menu_continues_in_russian(flow):
    state = CallState()
    for _ in range(3):
        step = engine.advance(flow, "language", None, state)
        state = step.state

    assert waits_at(step) == "topic"
    assert step.state == CallState(language="ru", tries=0)
    # Said once, in the language just chosen for the caller, not in all three.
    assert heard(step).startswith("Продолжим на русском языке.")
    assert "We will continue in Russian" not in heard(step)
    assert voices(step) == [TATYANA, TATYANA]


def test_a_wrong_key_at_the_language_menu_is_explained_in_every_language(flow):
    step = engine.advance(flow, "language", "5", CallState())

    assert "Такой кнопки нет в меню." in heard(step)
    assert "That key is not on the menu." in heard(step)
    assert waits_at(step) == "language"


# --- entry points used by routing and the edge -------------------------------------------------


@pytest.mark.parametrize(
    ("language", "expected", "absent"),
    [
        ("en", "nobody can take your call right now", "никто из консультантов"),
        ("ru", "никто из консультантов не может ответить", "nobody can take"),
        (None, "nobody can take your call right now", None),
    ],
)
def test_nobody_available_says_the_emergency_numbers_and_hangs_up(flow, language, expected, absent):
    step = engine.enter(flow, "nobody_available", CallState(language=language, topic="labor"))

    assert step.end == Hangup()
    assert expected in heard(step)
    assert "1 1 2" in heard(step) and "1 0 2" in heard(step)
    if absent:
        assert absent not in heard(step)
    assert step.visited == ("nobody_available",)


def test_entering_a_node_from_outside_starts_its_count_afresh(flow):
    step = engine.enter(flow, "topic", CallState(language="ru", tries=2))

    assert step.state.tries == 0


def test_restart_apologizes_and_offers_the_languages_again(flow):
    step = engine.enter(flow, "restart", CallState())

    assert heard(step).startswith("Извините, давайте начнём сначала.")
    assert waits_at(step) == "language"


def test_a_language_the_flow_does_not_speak_falls_back_to_the_default(flow):
    step = engine.enter(flow, "topic", CallState(language="de"))

    assert voices(step) == [TATYANA]


# --- lost or forged places in the menu ---------------------------------------------------------


@pytest.mark.parametrize("node", ["no_such_node", "", "../../etc", PHONE_NUMBER])
def test_an_unknown_node_raises_unknown_node_without_echoing_input(flow, node):
    with pytest.raises(UnknownNode) as raised:
        engine.advance(flow, node, "123456789", at_topic())

    assert "123456789" not in str(raised.value)
    assert PHONE_NUMBER not in str(raised.value)


@pytest.mark.parametrize("node", ["greeting", "route_violence", "nobody_available"])
def test_input_at_a_node_that_does_not_wait_for_a_key_is_refused(flow, node):
    with pytest.raises(NotAMenu):
        engine.advance(flow, node, "1", at_topic())
    # The edge catches UnknownNode for both cases and restarts the menu.
    assert issubclass(NotAMenu, UnknownNode)


def test_entering_an_unknown_node_raises_unknown_node(flow):
    with pytest.raises(UnknownNode):
        engine.enter(flow, "nobody_avaliable", CallState())


# --- recordings, fallback voices and variables -------------------------------------------------


def small_flow(kk: PromptText, ru: PromptText, variables: dict[str, str] | None = None) -> Flow:
    """A flow with one hangup node, to look at how one prompt is spoken."""
    en = PromptText("en", "Call {emergency}.")
    node = Node(id="bye", kind=NodeKind.HANGUP, prompt=Prompt({"kk": kk, "ru": ru, "en": en}))
    return Flow(
        name="small",
        source=Path("small.yaml"),
        start="bye",
        languages=("kk", "ru", "en"),
        default_language="ru",
        nodes={"bye": node},
        voices={
            "ru": Voice("ru-RU", TATYANA),
            "en": Voice("en-US", JOANNA),
            "kk": Voice("ru-RU", TATYANA, text_from="ru"),
        },
        variables={"emergency": "112"} if variables is None else variables,
    )


KK_TEXT = PromptText("kk", "{emergency} нөміріне қоңырау шалыңыз.")
RU_TEXT = PromptText("ru", "Звоните {emergency}.")


@pytest.mark.parametrize(
    ("kk", "ru", "language", "expected"),
    [
        # A Kazakh recording is played; its text is kept for transcripts, with the number as is.
        (
            replace(KK_TEXT, audio="audio/kk/bye.mp3"),
            RU_TEXT,
            "kk",
            [("audio/kk/bye.mp3", "112 нөміріне қоңырау шалыңыз.")],
        ),
        # No Kazakh recording: the Russian text, read by the voice configured for Kazakh.
        (KK_TEXT, RU_TEXT, "kk", [(None, "Звоните 1 1 2.")]),
        # An explicit fallback text wins over the borrowed Russian one.
        (
            replace(KK_TEXT, fallback="Для казахского: {emergency}."),
            RU_TEXT,
            "kk",
            [(None, "Для казахского: 1 1 2.")],
        ),
        # A Russian recording plays for Russian callers.
        (
            KK_TEXT,
            replace(RU_TEXT, audio="audio/ru/bye.mp3"),
            "ru",
            [("audio/ru/bye.mp3", "Звоните 112.")],
        ),
        # All languages with Kazakh recorded: three different utterances, in flow order.
        (
            replace(KK_TEXT, audio="audio/kk/bye.mp3"),
            RU_TEXT,
            None,
            [
                ("audio/kk/bye.mp3", "112 нөміріне қоңырау шалыңыз."),
                (None, "Звоните 1 1 2."),
                (None, "Call 1 1 2."),
            ],
        ),
        # All languages without a Kazakh recording: the borrowed Russian is said only once.
        (KK_TEXT, RU_TEXT, None, [(None, "Звоните 1 1 2."), (None, "Call 1 1 2.")]),
    ],
    ids=["kk recorded", "kk borrows ru", "kk fallback", "ru recorded", "all, kk recorded", "all"],
)
def test_recordings_come_first_and_kazakh_falls_back_to_the_russian_voice(
    kk, ru, language, expected
):
    step = engine.enter(small_flow(kk, ru), "bye", CallState(language=language))

    assert [(u.audio, u.text) for u in step.utterances] == expected
    for utterance in step.utterances:
        if utterance.audio is None and utterance.text.startswith("Call"):
            assert (utterance.voice, utterance.tts_language) == (JOANNA, "en-US")
        elif utterance.audio is None:
            assert (utterance.voice, utterance.tts_language) == (TATYANA, "ru-RU")


@pytest.mark.parametrize(
    ("value", "spoken"),
    [
        ("112", "Звоните 1 1 2."),
        ("8 800 080 7777", "Звоните 8 800 080 7777."),  # already written for reading: left alone
        ("the police", "Звоните the police."),
    ],
)
def test_only_digit_only_variables_are_spaced_for_the_voice(value, spoken):
    flow = small_flow(KK_TEXT, RU_TEXT, variables={"emergency": value})
    step = engine.enter(flow, "bye", CallState(language="ru"))

    assert heard(step) == spoken


# --- call variables ------------------------------------------------------------------------------


def test_call_variables_are_kept_sorted_so_equal_states_compare_equal():
    one = CallState(language="ru").with_vars(window="morning").with_vars(identify="no")
    other = CallState(language="ru", vars=(("window", "morning"), ("identify", "no")))

    assert one == other
    assert one.vars == (("identify", "no"), ("window", "morning"))
    assert one.var("window") == "morning"
    assert one.var("number") is None


def test_with_vars_returns_a_new_state_and_none_removes_a_variable():
    state = CallState(topic="labor").with_vars(last_two="67", window="any")

    changed = state.with_vars(last_two=None, window="evening")

    assert changed.vars == (("window", "evening"),)
    assert changed.topic == "labor"
    assert state.vars == (("last_two", "67"), ("window", "any"))


# --- collect nodes and the callback kind -------------------------------------------------------


def says(text: str) -> Prompt:
    return Prompt(
        {lang: PromptText(lang, f"{text} ({lang})") for lang in ("kk", "ru")}
        | {"en": PromptText("en", text)}
    )


def consent_flow(**entry: Node) -> Flow:
    """A small consent-like flow: a menu that sets variables, a collect node, a callback."""
    nodes = [
        Node(
            id="when",
            kind=NodeKind.MENU,
            prompt=says("When? Ending in {last_two}."),
            options={
                "1": Transition("ask", set_vars={"window": "morning"}),
                "2": Transition("again"),
            },
            timeout_seconds=5,
            max_retries=1,
            on_invalid=says("Wrong key."),
            on_exhausted=Transition("bye"),
        ),
        Node(
            id="ask",
            kind=NodeKind.COLLECT,
            prompt=says("Type the number, then hash."),
            next="request",
            timeout_seconds=10,
            max_digits=15,
            expect="phone",
            max_retries=2,
            on_timeout=says("We did not hear a number."),
            on_invalid=says("Not a number we can call."),
            on_exhausted=Transition("when", set_vars={"window": "none"}),
        ),
        Node(id="request", kind=NodeKind.CALLBACK, prompt=says("One moment.")),
        Node(id="again", kind=NodeKind.ROUTE, prompt=says("Connecting.")),
        Node(id="bye", kind=NodeKind.HANGUP, prompt=says("Call {emergency}. {last_two}")),
        *entry.values(),
    ]
    return Flow(
        name="consent",
        source=Path("consent.yaml"),
        start="when",
        languages=("kk", "ru", "en"),
        default_language="ru",
        nodes={node.id: node for node in nodes},
        voices={
            "ru": Voice("ru-RU", TATYANA),
            "en": Voice("en-US", JOANNA),
            "kk": Voice("ru-RU", TATYANA, text_from="ru"),
        },
        variables={"emergency": "112"},
        runtime_variables=("last_two",),
    )


CONSENT = consent_flow()
CALLER = CallState(language="en", topic="labor").with_vars(last_two="67")


def test_a_collect_node_waits_for_digits_ending_with_hash():
    step = engine.enter(CONSENT, "ask", CALLER)

    assert step.end == Gather(
        node_id="ask", timeout_seconds=10, num_digits=None, finish_on_key="#", max_digits=15
    )
    assert heard(step) == "Type the number, then hash."
    assert step.visited == ("ask",)


def test_a_menu_still_waits_for_one_key():
    step = engine.enter(CONSENT, "when", CALLER)

    assert step.end == Gather(node_id="when", timeout_seconds=5)
    assert (step.end.num_digits, step.end.finish_on_key, step.end.max_digits) == (1, "", None)


@pytest.mark.parametrize(
    ("valid", "silent", "tries", "waits", "end", "said", "visited", "window"),
    [
        # The edge accepted the number: on to `next`, the count starts again.
        (True, False, 1, None, RequestCallback(), "One moment.", ("ask:entered", "request"), None),
        # A wrong number, or nothing typed: said so, and the same question again.
        (
            False,
            False,
            0,
            "ask",
            None,
            "Not a number we can call. | Type the number, then hash.",
            ("ask:invalid", "ask"),
            None,
        ),
        (
            False,
            True,
            1,
            "ask",
            None,
            "We did not hear a number. | Type the number, then hash.",
            ("ask:timeout", "ask"),
            None,
        ),
        # Silence wins over `valid`: with nothing typed, nothing can have been accepted.
        (True, True, 0, "ask", None, "We did not hear a number.", ("ask:timeout", "ask"), None),
        # The third mistake or silence takes on_exhausted, with its variables.
        (False, False, 2, "when", None, "When?", ("ask:invalid", "when"), "none"),
        (False, True, 2, "when", None, "When?", ("ask:timeout", "when"), "none"),
    ],
    ids=["valid", "invalid", "silent", "silent but valid", "invalid exhausted", "silent exhausted"],
)
def test_what_was_typed_at_a_collect_node_leads_where_the_edge_judged(
    valid, silent, tries, waits, end, said, visited, window
):
    state = replace(CALLER.with_vars(number="token"), tries=tries)

    step = engine.collected(CONSENT, "ask", valid, state, silent=silent)

    if waits:
        assert waits_at(step) == waits
    else:
        assert step.end == end
    assert heard(step).startswith(said)
    assert step.visited == visited
    assert step.state.var("window") == window
    # The variables the edge put in (the number's token) go on with the call, never into the path.
    assert step.state.var("number") == "token"
    assert not any("token" in entry for entry in step.visited)


def test_mistakes_at_a_collect_node_are_counted_until_on_exhausted():
    state = CALLER
    outcomes = []
    for silent in (False, True, False):
        step = engine.collected(CONSENT, "ask", False, state, silent=silent)
        state = step.state
        outcomes.append((waits_at(step), step.state.tries))

    assert outcomes == [("ask", 1), ("ask", 2), ("when", 0)]


def test_a_valid_entry_resets_the_count():
    step = engine.collected(CONSENT, "ask", True, replace(CALLER, tries=2))

    assert step.state.tries == 0


def test_a_collect_node_without_on_timeout_just_asks_again_after_silence():
    flow = consent_flow()
    flow.nodes["ask"] = replace(flow.nodes["ask"], on_timeout=None)

    step = engine.collected(flow, "ask", False, CALLER, silent=True)

    assert heard(step) == "Type the number, then hash."


@pytest.mark.parametrize("node", ["when", "request", "again", "bye"])
def test_digits_for_a_node_that_does_not_collect_them_are_refused(node):
    with pytest.raises(NotAMenu):
        engine.collected(CONSENT, node, True, CALLER)


def test_a_key_at_a_collect_node_is_refused_as_at_any_node_that_is_not_a_menu():
    with pytest.raises(NotAMenu):
        engine.advance(CONSENT, "ask", "1", CALLER)


def test_collected_at_an_unknown_node_raises_unknown_node_without_echoing_it():
    with pytest.raises(UnknownNode) as raised:
        engine.collected(CONSENT, PHONE_NUMBER, True, CALLER)

    assert PHONE_NUMBER not in str(raised.value)


def test_a_callback_node_hands_the_call_to_the_callback_service_with_its_variables():
    state = CALLER.with_vars(window="morning", number="self")

    step = engine.enter(CONSENT, "request", state)

    assert step.end == RequestCallback()
    assert step.state == state
    assert step.visited == ("request",)
    assert heard(step) == "One moment."


# --- transitions that set variables --------------------------------------------------------------


def test_a_key_sets_the_variables_its_option_names_and_keeps_the_others():
    step = engine.advance(CONSENT, "when", "1", CALLER)

    assert waits_at(step) == "ask"
    assert step.state.vars == (("last_two", "67"), ("window", "morning"))
    assert (step.state.language, step.state.topic) == ("en", "labor")
    assert step.visited == ("when:1", "ask")


def test_variables_are_carried_through_menus_that_set_none():
    state = CALLER.with_vars(identify="no")

    step = engine.advance(CONSENT, "when", "1", state)
    step = engine.collected(CONSENT, "ask", True, step.state)

    assert step.state.vars == (("identify", "no"), ("last_two", "67"), ("window", "morning"))


def test_a_transition_overwrites_a_variable_set_before():
    step = engine.advance(CONSENT, "when", "1", CALLER.with_vars(window="evening"))

    assert step.state.var("window") == "morning"


# --- runtime variables ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("state", "expected"),
    [
        # Digits are spaced for the voice like the flow's numbers: "six seven".
        (CALLER, "When? Ending in 6 7."),
        # The edge did not supply it: said as nothing, never a crash and never "{last_two}".
        (CallState(language="en"), "When? Ending in ."),
        # A value that is not only digits is said as it is.
        (CallState(language="en").with_vars(last_two="x7"), "When? Ending in x7."),
    ],
    ids=["supplied", "missing", "not digits"],
)
def test_runtime_variables_are_filled_in_from_the_call(state, expected):
    step = engine.enter(CONSENT, "when", state)

    assert heard(step) == expected


def test_a_runtime_variable_is_filled_in_in_every_language_and_in_retry_prompts():
    step = engine.advance(CONSENT, "when", "7", CallState().with_vars(last_two="05"))

    assert "When? Ending in 0 5." in heard(step)  # en
    assert "When? Ending in 0 5. (ru)" in heard(step)  # ru, and kk through the Russian voice


def test_a_flow_variable_wins_over_a_call_variable_of_the_same_name():
    state = CALLER.with_vars(emergency="999")

    step = engine.advance(CONSENT, "when", "9", replace(state, tries=1))

    assert "Call 1 1 2." in heard(step)
    assert "9 9 9" not in heard(step)


def test_an_unknown_variable_in_an_unchecked_flow_is_said_as_written():
    flow = small_flow(PromptText("kk", "{nothing}"), PromptText("ru", "{nothing}"))

    step = engine.enter(flow, "bye", CallState(language="ru").with_vars(other="1"))

    assert heard(step) == "{nothing}"


# --- routes without a topic ----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("topic", "visited"),
    [("trafficking", ("when:2", "route:trafficking")), (None, ("when:2", "route"))],
)
def test_a_route_without_a_topic_goes_back_to_the_topic_the_caller_chose(topic, visited):
    state = replace(CALLER, topic=topic)

    step = engine.advance(CONSENT, "when", "2", state)

    assert step.end == RouteTo(topic=topic)
    assert step.state.topic == topic
    assert step.visited == visited
    assert heard(step) == "Connecting."
