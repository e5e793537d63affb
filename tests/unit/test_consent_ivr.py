"""The callback consent in the shipped default.yaml, walked by engine calls as the edge does."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import pytest

from hotline.ivr import engine
from hotline.ivr.loader import load_flows
from hotline.ivr.model import (
    CallState,
    Flow,
    Gather,
    Hangup,
    NodeKind,
    RequestCallback,
    RouteTo,
    Step,
)

FLOWS_DIR = Path(__file__).resolve().parents[2] / "ivr_flows"
TOKEN = "gAAAAB-encrypted-number-token=="  # what the edge puts in vars for a typed number
ENTRY_POINTS = (
    "callback_offer",
    "callback_number_withheld",
    "callback_confirmed_any",
    "callback_confirmed_morning",
    "callback_confirmed_afternoon",
    "callback_confirmed_evening",
    "callback_not_possible",
)


@pytest.fixture(scope="module")
def flow() -> Flow:
    return load_flows(FLOWS_DIR)["default"]


@dataclass(frozen=True)
class Typed:
    """What the edge reports for digits typed at a collect node (it never passes the digits)."""

    valid: bool
    silent: bool = False


Input = str | None | Typed  # a key, silence at a menu, or a typed entry


def heard(step: Step) -> str:
    return " | ".join(utterance.text for utterance in step.utterances)


def walk(flow: Flow, step: Step, inputs: list[Input]) -> list[Step]:
    """Answer each Gather in turn as the edge would; return every step."""
    steps = [step]
    for given in inputs:
        assert isinstance(step.end, Gather), f"the call ended before {given!r}: {step.visited}"
        node = step.end.node_id
        if isinstance(given, Typed):
            state = step.state.with_vars(number=TOKEN) if given.valid else step.state
            step = engine.collected(flow, node, given.valid, state, silent=given.silent)
        else:
            step = engine.advance(flow, node, given, step.state)
        steps.append(step)
    return steps


def caller(language: str = "ru", topic: str = "violence", last_two: str | None = "67") -> CallState:
    """A caller routing found nobody for, with what the edge adds: the number's last two digits."""
    return CallState(language=language, topic=topic).with_vars(last_two=last_two)


def offer(flow: Flow, state: CallState) -> Step:
    return engine.enter(flow, "callback_offer", state)


# --- the whole path ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("inputs", "number", "window", "identify"),
    [
        (["1", "1", "1", "1"], "self", "any", "yes"),
        (["1", "1", "2", "2"], "self", "morning", "no"),
        (["1", "2", Typed(True), "3", "1"], TOKEN, "afternoon", "yes"),
        # A wrong number and a silence first: asked again each time, then accepted.
        (["1", "2", Typed(False), Typed(False, silent=True), Typed(True), "4", "2"], TOKEN,
         "evening", "no"),
        # Wrong keys and silence at the menus do not choose anything; the caller still can.
        (["1", "7", "1", None, "2", "5", "2"], "self", "morning", "no"),
    ],
    ids=["own number, any time", "own number, morning", "typed", "typed after mistakes", "slips"],
)  # fmt: skip
def test_a_consenting_caller_reaches_the_callback_request_with_every_choice_set(
    flow, inputs, number, window, identify
):
    steps = walk(flow, offer(flow, caller()), inputs)
    last = steps[-1]

    assert last.end == RequestCallback()
    assert last.state.var("number") == number
    assert last.state.var("window") == window
    assert last.state.var("identify") == identify
    assert (last.state.language, last.state.topic) == ("ru", "violence")
    assert last.visited[-1] == "callback_request"
    # The path names nodes and keys, never the number or its token.
    path = [entry for step in steps for entry in step.visited]
    assert not any(TOKEN in entry or "67" in entry for entry in path)
    assert "callback_enter:entered" in path or number == "self"


def test_a_caller_with_a_hidden_number_is_asked_to_type_one(flow):
    step = engine.enter(flow, "callback_number_withheld", caller("en", last_two=None))

    assert heard(step) == (
        "Your number is hidden, so please enter the number we should call. | "
        "Please type the number, starting with 8, then press the hash key."
    )
    assert step.end == Gather(
        node_id="callback_enter",
        timeout_seconds=10,
        num_digits=None,
        finish_on_key="#",
        max_digits=15,
    )
    last = walk(flow, step, [Typed(True), "1", "2"])[-1]
    assert last.end == RequestCallback()
    assert last.state.vars == (("identify", "no"), ("number", TOKEN), ("window", "any"))


# --- what the caller hears -----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("language", "expected"),
    [
        ("en", "ending in 6 7, press 1"),
        ("ru", "с последними цифрами 6 7, нажмите 1"),
    ],
)
def test_the_number_is_read_back_by_its_last_two_digits_only(flow, language, expected):
    step = walk(flow, offer(flow, caller(language)), ["1"])[-1]

    assert step.end == Gather(node_id="callback_number", timeout_seconds=6)
    assert expected in heard(step)
    assert len(step.utterances) == 1


def test_in_kazakh_the_number_is_played_in_pieces_with_the_recorded_digits(flow):
    step = walk(flow, offer(flow, caller("kk")), ["1"])[-1]

    assert [u.audio for u in step.utterances] == [
        "audio/kk/default.callback_number.part1.mp3",
        "audio/kk/default.digit_6.mp3",
        "audio/kk/default.digit_7.mp3",
        "audio/kk/default.callback_number.part2.mp3",
    ]


def test_without_kazakh_audio_the_russian_voice_reads_the_number(tmp_path):
    (tmp_path / "default.yaml").write_text((FLOWS_DIR / "default.yaml").read_text("utf-8"), "utf-8")
    bare = load_flows(tmp_path)["default"]
    step = walk(bare, offer(bare, caller("kk")), ["1"])[-1]

    assert "с последними цифрами 6 7, нажмите 1" in heard(step)
    assert [u.audio for u in step.utterances] == [None]


def test_the_offer_names_its_three_choices(flow):
    step = offer(flow, caller("en"))

    assert heard(step) == (
        "Nobody can answer right now. To be called back at a time that is safe for you, press 1. "
        "For the emergency numbers, press 2. To try again to reach a counselor, press 3."
    )
    assert step.visited == ("callback_offer",)


def test_key_2_says_the_emergency_numbers_then_offers_again(flow):
    step = engine.advance(flow, "callback_offer", "2", caller("en"))

    assert heard(step).count("1 1 2") == 2 and heard(step).count("1 0 2") == 2
    assert step.end == Gather(node_id="callback_offer", timeout_seconds=6)
    assert step.visited == ("callback_offer:2", "emergency_numbers_callback", "callback_offer")


@pytest.mark.parametrize("topic", ["violence", "trafficking", "labor"])
def test_key_3_tries_again_for_the_topic_the_caller_chose(flow, topic):
    step = engine.advance(flow, "callback_offer", "3", caller("en", topic))

    assert step.end == RouteTo(topic=topic)
    assert step.visited == ("callback_offer:3", f"route:{topic}")
    assert heard(step) == "We are connecting you with a counselor. Please stay on the line."


@pytest.mark.parametrize(
    ("window", "language", "expected"),
    [
        ("any", "en", "as soon as possible"),
        ("morning", "en", "in the morning, between 9 and 12"),
        ("afternoon", "en", "in the afternoon, between 12 and 5 pm"),
        ("evening", "en", "in the evening, between 5 and 9 pm"),
        ("morning", "ru", "утром, с 9 до 12"),
        ("afternoon", "ru", "днём, с 12 до 17"),
        ("evening", "ru", "вечером, с 17 до 21"),
    ],
)
def test_the_confirmation_says_when_to_expect_the_call_and_hangs_up(
    flow, window, language, expected
):
    step = engine.enter(flow, f"callback_confirmed_{window}", caller(language))

    assert step.end == Hangup()
    assert expected in heard(step)
    assert "1 1 2" in heard(step)


@pytest.mark.parametrize("window", ["any", "morning", "afternoon", "evening"])
def test_in_kazakh_the_confirmation_plays_its_kazakh_audio(flow, window):
    step = engine.enter(flow, f"callback_confirmed_{window}", caller("kk"))

    assert [u.audio for u in step.utterances] == [
        f"audio/kk/default.callback_confirmed_{window}.mp3"
    ]


def test_a_request_that_could_not_be_registered_gives_the_emergency_numbers(flow):
    step = engine.enter(flow, "callback_not_possible", caller("en"))

    assert step.end == Hangup()
    assert heard(step).startswith("Sorry, we could not register your request.")
    assert "1 1 2" in heard(step) and "1 0 2" in heard(step)


# --- no choice is ever assumed -------------------------------------------------------------------


@pytest.mark.parametrize(
    ("before", "stuck"),
    [
        (["1"], [None, None, None]),  # which number
        (["1", "2"], [Typed(False), Typed(False, silent=True), Typed(False)]),  # typing it
        (["1", "1"], [None, "7", None]),  # when
        (["1", "1", "2"], ["9", None, "0"]),  # whether to say who calls
    ],
    ids=["number", "typed number", "window", "identify"],
)
def test_three_silences_or_mistakes_go_back_to_the_offer_choosing_nothing(flow, before, stuck):
    steps = walk(flow, offer(flow, caller()), [*before, *stuck])
    last = steps[-1]

    assert last.end == Gather(node_id="callback_offer", timeout_seconds=6)
    assert not any(isinstance(step.end, RequestCallback) for step in steps)
    # Whatever was chosen before stays, but nothing was chosen for the caller here.
    assert last.state.var("identify") is None
    assert last.state.var("window") == ("morning" if len(before) == 3 else None)
    assert last.state.tries == 0


def test_three_silences_at_the_offer_end_with_the_emergency_numbers(flow):
    last = walk(flow, offer(flow, caller("en")), [None, None, None])[-1]

    assert last.end == Hangup()
    assert last.visited == ("callback_offer:timeout", "nobody_available")
    assert "1 1 2" in heard(last)


# --- the shipped flow ----------------------------------------------------------------------------


def test_the_edge_finds_every_consent_node_it_enters_by_name(flow):
    for entry in ENTRY_POINTS:
        assert entry in flow.entry_points
    assert flow.runtime_variables == ("last_two",)
    assert flow.nodes["callback_request"].kind is NodeKind.CALLBACK
    assert flow.nodes["callback_enter"].expect == "phone"


def test_the_consent_prompts_are_written_in_kazakh(flow):
    kazakh_letters = set("әғқңөұүі")
    for node in flow.nodes.values():
        if node.id.startswith("callback_") and node.prompt is not None:
            text = node.prompt.texts["kk"].text.lower()
            assert kazakh_letters & set(text), node.id
