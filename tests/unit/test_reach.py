"""Which steps may say a runtime variable, checked against what the engine really says."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import pytest

from hotline.ivr import engine
from hotline.ivr.loader import load_flows
from hotline.ivr.model import (
    CallState,
    Flow,
    Gather,
    Node,
    NodeKind,
    Prompt,
    PromptText,
    Step,
    Transition,
    Voice,
)
from hotline.ivr.reach import steps_saying_runtime_variables
from hotline.telephony.consent import DETOURS

FLOWS_DIR = Path(__file__).resolve().parents[2] / "ivr_flows"
DIGITS = "97"  # what the edge would supply as last_two; the voice says "9 7"


def said(step: Step) -> str:
    return " ".join(utterance.text for utterance in step.utterances)


def steps_from(flow: Flow, node_id: str, detours: dict[str, str]) -> list[Step]:
    """Every step the engine can answer at `node_id`: each key, silence, a wrong key, each try."""
    node = flow.nodes[node_id]
    steps = []
    for language in (None, *flow.languages):
        for tries in range(node.max_retries + 1):
            state = CallState(language=language, tries=tries).with_vars(last_two=DIGITS)
            if node.kind is NodeKind.MENU:
                for key in [*node.options, *node.repeat_keys, None, "0123456789"]:
                    steps.append(engine.advance(flow, node_id, key, state))
            else:
                for valid, silent in [(True, False), (False, False), (False, True)]:
                    steps.append(engine.collected(flow, node_id, valid, state, silent))
    # What the edge enters instead where a step stops at a detour's node (consent.adjust).
    for step in list(steps):
        if isinstance(step.end, Gather) and step.end.node_id in detours:
            steps.append(engine.enter(flow, detours[step.end.node_id], step.state))
    return steps


def says_the_digits(flow: Flow, node_id: str, detours: dict[str, str]) -> bool:
    return any(
        "9 7" in said(step) or DIGITS in said(step) for step in steps_from(flow, node_id, detours)
    )


def waiting_nodes(flow: Flow) -> list[str]:
    return [n.id for n in flow.nodes.values() if n.kind in (NodeKind.MENU, NodeKind.COLLECT)]


def test_in_the_shipped_flow_only_the_callback_number_steps_read_the_callers_digits():
    flow = load_flows(FLOWS_DIR, with_recordings=False)["default"]

    found = steps_saying_runtime_variables(flow, DETOURS)

    # The offer's key 1 and the number menu itself (its retries) read "ending in 9 7" back.
    assert found == {"callback_offer", "callback_number"}
    # The language and topic menus, every call's first steps, never need the caller's number.
    assert "language" not in found and "topic" not in found
    for node_id in waiting_nodes(flow):
        assert (node_id in found) == says_the_digits(flow, node_id, DETOURS), node_id


def says(text: str) -> Prompt:
    return Prompt({lang: PromptText(lang, text) for lang in ("ru", "en")})


def one_key_menu(node_id: str, text: str) -> Node:
    """A menu saying `text`, whose only key (1) says goodbye."""
    return Node(id=node_id, kind=NodeKind.MENU, prompt=says(text),
                options={"1": Transition("bye")}, timeout_seconds=5)  # fmt: skip


def tricky_flow(**changes: Node) -> Flow:
    """The digits said in the corners a walk reaches: after message nodes, in a notice, a
    transition's own prompt, on_exhausted, a collect node's next, a detour."""
    nodes = {
        "menu": Node(
            id="menu",
            kind=NodeKind.MENU,
            prompt=says("Press 1."),
            options={"1": Transition("hello"), "2": Transition("typing", prompt=says("Fine."))},
            timeout_seconds=5,
            max_retries=1,
            on_exhausted=Transition("bye"),
        ),
        "hello": Node(id="hello", kind=NodeKind.MESSAGE, prompt=says("Hello."), next="more"),
        "more": Node(id="more", kind=NodeKind.MESSAGE, prompt=None, next="read_back"),
        "read_back": one_key_menu("read_back", "Ending in {last_two}?"),
        "typing": Node(
            id="typing",
            kind=NodeKind.COLLECT,
            prompt=says("Type it."),
            next="plain",
            timeout_seconds=5,
            max_retries=1,
            on_exhausted=Transition("bye"),
        ),
        "plain": one_key_menu("plain", "Plain menu."),
        "hidden": Node(id="hidden", kind=NodeKind.MESSAGE, prompt=says("Hidden."), next="bye"),
        "bye": Node(id="bye", kind=NodeKind.HANGUP, prompt=says("Goodbye.")),
    }
    nodes.update(changes)
    return Flow(
        name="tricky",
        source=Path("tricky.yaml"),
        start="menu",
        languages=("ru", "en"),
        default_language="ru",
        nodes=nodes,
        voices={"ru": Voice("ru-RU", "Polly.Tatyana"), "en": Voice("en-US", "Polly.Joanna")},
        runtime_variables=("last_two",),
    )


BASE = tricky_flow()
READ_BACK = says("Ending in {last_two}.")


@pytest.mark.parametrize(
    ("flow", "detours"),
    [
        (BASE, {}),
        # The digits in a wrong-key notice, a transition's prompt, the goodbye after the last try.
        (tricky_flow(plain=replace(BASE.nodes["plain"], on_invalid=READ_BACK)), {}),
        (
            tricky_flow(
                menu=replace(
                    BASE.nodes["menu"], options={"2": Transition("typing", prompt=READ_BACK)}
                )
            ),
            {},
        ),
        (tricky_flow(bye=replace(BASE.nodes["bye"], prompt=READ_BACK)), {}),
        # Said only where the edge detours a step that stopped at the plain menu.
        (tricky_flow(hidden=replace(BASE.nodes["hidden"], prompt=READ_BACK)), {"plain": "hidden"}),
        # A flow variable of the same name wins: the call's digits are never said.
        (replace(BASE, variables={"last_two": "00"}), {}),
    ],
    ids=["message chain", "notice", "transition", "exhausted", "detour", "flow variable"],
)
def test_a_step_is_found_exactly_when_the_engine_would_say_the_digits(flow, detours):
    found = steps_saying_runtime_variables(flow, detours)

    for node_id in waiting_nodes(flow):
        assert (node_id in found) == says_the_digits(flow, node_id, detours), node_id


def test_a_flow_without_runtime_variables_needs_them_nowhere():
    assert steps_saying_runtime_variables(replace(BASE, runtime_variables=())) == frozenset()
